// Migration 004 (frozen): the cache epoch, one row: shared-cache entries are named by it (resolver/coherence.ts).
import { sql, type Kysely } from 'kysely';

// Frozen once shipped: typed as Kysely<any> so later changes to db.ts cannot change what it does.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('cache_epoch')
    .addColumn('id', 'smallint', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('epoch', 'bigint', (c) => c.notNull())
    // the run id of the Redis server the epoch was last checked against (null: never)
    .addColumn('redis_run_id', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.insertInto('cache_epoch').values({ id: 1, epoch: 1 }).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('cache_epoch').execute();
}
