// Migration 005 (frozen): secret keys are never public — stored public answers that showed an HS_SECKEY are recomputed.
import { sql, type Kysely } from 'kysely';

// Frozen once shipped: typed as Kysely<any> so later changes to db.ts cannot change what it does. Rows whose values
// hold an HS_SECKEY (any case) lose their pre-serialised public answer: readers compute it again (003: NULL means
// "compute it"), now without the secret. The cache epoch moves on so no shared-cache entry from before is read again.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    update handles set public_json = null
    where public_json is not null
      and exists (select 1 from jsonb_array_elements("values") v where upper(v->>'type') = 'HS_SECKEY')`.execute(db);
  await sql`update cache_epoch set epoch = epoch + 1, updated_at = now()`.execute(db);
}

export async function down(): Promise<void> {
  // nothing to undo: the public answers are recomputed from the values on the next write
}
