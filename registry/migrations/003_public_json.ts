// Migration 003 (frozen): handles keep their public answer pre-serialised (Handle JSON), computed on every write.
import type { Kysely } from 'kysely';

// Rows written before this migration (or by code that does not set it) have NULL: readers compute it then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('handles').addColumn('public_json', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('handles').dropColumn('public_json').execute();
}
