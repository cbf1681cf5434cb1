// The cache epoch as the store keeps it: read it, and move it on (optionally only if the recorded Redis run id is
// still the one expected), for the resolver's coherence rules.
import { sql } from 'kysely';
import type { Store } from './store.js';

export interface CacheEpochRow {
  epoch: number;
  redisRunId: string | null;
}

export async function readCacheEpoch(store: Store): Promise<CacheEpochRow> {
  const row = await store.db.selectFrom('cache_epoch').select(['epoch', 'redis_run_id']).where('id', '=', 1).executeTakeFirstOrThrow();
  return { epoch: Number(row.epoch), redisRunId: row.redis_run_id };
}

/**
 * Moves the epoch on. With `o`, only while the recorded run id is still `o.expectRunId` (recording `o.runId`):
 * another instance that got there first has already moved it. Answers the epoch in force afterwards.
 */
export async function bumpCacheEpoch(store: Store, o?: { expectRunId: string | null; runId: string }): Promise<CacheEpochRow> {
  let q = store.db
    .updateTable('cache_epoch')
    .set({ epoch: sql<string>`epoch + 1`, updated_at: sql<Date>`now()`, ...(o ? { redis_run_id: o.runId } : {}) })
    .where('id', '=', 1);
  if (o) q = o.expectRunId === null ? q.where('redis_run_id', 'is', null) : q.where('redis_run_id', '=', o.expectRunId);
  const row = await q.returning(['epoch', 'redis_run_id']).executeTakeFirst();
  return row === undefined ? readCacheEpoch(store) : { epoch: Number(row.epoch), redisRunId: row.redis_run_id };
}
