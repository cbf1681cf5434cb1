// Migration 007 (frozen once shipped): prefixes.hosting — where a delegated prefix's identifiers are served: NULL here, or the enterprise's own node (its address and ports, as SNMS's entPrefixConfig).
import type { Kysely } from 'kysely';

// Frozen once shipped: typed as Kysely<any> so later changes to db.ts cannot change what it does. Starts NULL: every
// delegated prefix stays hosted here.
export async function up(db: Kysely<any>): Promise<void> {
  // {"address","tcpPort","udpPort","httpPort"} of the enterprise's node; NULL: hosted on this node
  await db.schema.alterTable('prefixes').addColumn('hosting', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('prefixes').dropColumn('hosting').execute();
}
