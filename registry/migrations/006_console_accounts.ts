// Migration 006 (frozen once shipped): users.tokens_valid_after (a password reset or a disable ends the tokens issued before it) and enterprises.handle_secret_enc (the handle credential sealed for its one-time reveal).
import type { Kysely } from 'kysely';

// Frozen once shipped: typed as Kysely<any> so later changes to db.ts cannot change what it does. Both columns are
// nullable and start NULL: every token issued so far stays valid, and no enterprise has a credential waiting to be shown.
export async function up(db: Kysely<any>): Promise<void> {
  // tokens issued (their signed issue time) before this instant are refused; NULL: none refused
  await db.schema.alterTable('users').addColumn('tokens_valid_after', 'timestamptz').execute();
  // `<key id>:<iv>.<tag>.<ciphertext>` under the node's password key (kept outside the database) of
  // {"prefix","secret"}: the enterprise's handle credential until it has been shown once; NULL: nothing to show
  await db.schema.alterTable('enterprises').addColumn('handle_secret_enc', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('enterprises').dropColumn('handle_secret_enc').execute();
  await db.schema.alterTable('users').dropColumn('tokens_valid_after').execute();
}
