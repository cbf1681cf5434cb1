// Migration 009 (frozen once shipped): handle values, their public answer and audit before/after are compressed with lz4 instead of pglz where the server has lz4.
import { sql, type Kysely } from 'kysely';

// Frozen once shipped: typed as Kysely<any> so later changes to db.ts cannot change what it does.
//
// Why: a registered identifier's row (values JSONB ~1.6 kB + public_json ~0.7 kB) is past PostgreSQL's 2 kB TOAST
// threshold, so every insert compresses its values; with pglz that was 12 % of the database's CPU in a bulk
// registration (perf, bench/registration.ts), with lz4 the same rows take about a fifth less CPU to write and store in
// about the same space. Only the compression of values written from now on changes (no rewrite, a brief lock); rows
// already stored stay pglz and read as before. A server built without lz4 (PGlite is) keeps pglz: nothing to do.
export async function up(db: Kysely<any>): Promise<void> {
  const r = await sql<{ lz4: boolean }>`
    select coalesce('lz4' = any(enumvals), false) as lz4 from pg_settings where name = 'default_toast_compression'`.execute(db);
  if (r.rows[0]?.lz4 !== true) return;
  await sql`alter table handles alter column "values" set compression lz4, alter column public_json set compression lz4`.execute(db);
  await sql`alter table audit_log alter column "before" set compression lz4, alter column "after" set compression lz4`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const r = await sql<{ lz4: boolean }>`
    select coalesce('lz4' = any(enumvals), false) as lz4 from pg_settings where name = 'default_toast_compression'`.execute(db);
  if (r.rows[0]?.lz4 !== true) return;
  await sql`alter table handles alter column "values" set compression default, alter column public_json set compression default`.execute(db);
  await sql`alter table audit_log alter column "before" set compression default, alter column "after" set compression default`.execute(db);
}
