// Migration 008 (frozen once shipped): secret_key_copies — each HS_SECKEY written in plain text kept sealed under the node's password key, so native challenge-response can check a MAC.
import { sql, type Kysely } from 'kysely';

// Frozen once shipped: typed as Kysely<any> so later changes to db.ts cannot change what it does. Stored HS_SECKEY
// values are scrypt hashes, which cannot check a MAC over a challenge; the write path (registry/handles.ts) keeps,
// in the same transaction as the handle row, the plain secret sealed under the password key file (outside the
// database): `<key id>:<iv>.<tag>.<ciphertext>` of {"k": handle key, "i": index, "s": secret, "h": the stored hash}.
// A copy goes with its handle (ON DELETE CASCADE). Empty at first: secrets stored before this have no copy until
// they are set again.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('secret_key_copies')
    .addColumn('handle_key', 'text', (c) => c.notNull().references('handles.key').onDelete('cascade'))
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('secret_key_copies_pkey', ['handle_key', 'idx'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('secret_key_copies').execute();
}
