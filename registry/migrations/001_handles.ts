// Migration 001 (frozen): the handles table (one row per handle, values as JSONB) and the audit log.
import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add 002_… instead. Typed as Kysely<any> on purpose, so later
// changes to db.ts cannot change what this migration does.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('handles')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('handle', 'text', (c) => c.notNull())
    .addColumn('prefix_key', 'text', (c) => c.notNull())
    .addColumn('values', 'jsonb', (c) => c.notNull())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('handles_prefix_key_key_idx').on('handles').columns(['prefix_key', 'key']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('address', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('handle', 'text', (c) => c.notNull())
    .addColumn('handle_key', 'text', (c) => c.notNull())
    .addColumn('before', 'jsonb')
    .addColumn('after', 'jsonb')
    .execute();
  await db.schema.createIndex('audit_log_handle_key_at_idx').on('audit_log').columns(['handle_key', 'at']).execute();
  await db.schema.createIndex('audit_log_actor_at_idx').on('audit_log').columns(['actor', 'at']).execute();
  await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
  await db.schema.dropTable('handles').execute();
}
