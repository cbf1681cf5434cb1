// The store's cache epoch (registry/cache-epoch.ts, migrations 004 and 005) on PGlite and PostgreSQL: read, bump, run-id compare-and-set.
import { describe, expect, it } from 'vitest';
import { bumpCacheEpoch, readCacheEpoch } from '../../registry/cache-epoch.js';
import type { Store } from '../../registry/store.js';
import { backends, useStore } from '../helpers/registry-backends.js';

describe.each(backends)('cache epoch: $name', (backend) => {
  let store: Store;
  useStore(backend, (s) => {
    store = s;
  });

  // One sequence on one store: each step starts from where the previous one left the epoch.
  it('starts at 2 (migration 005 moved it on once) with no run id; a plain bump moves it on and keeps the run id', async () => {
    expect(await readCacheEpoch(store)).toEqual({ epoch: 2, redisRunId: null });
    expect(await bumpCacheEpoch(store)).toEqual({ epoch: 3, redisRunId: null });
    expect(await readCacheEpoch(store)).toEqual({ epoch: 3, redisRunId: null });
  });

  it('a run-id bump moves it on only while the recorded run id is the expected one', async () => {
    // nothing recorded yet: expecting null succeeds and records the run id
    expect(await bumpCacheEpoch(store, { expectRunId: null, runId: 'run-A' })).toEqual({ epoch: 4, redisRunId: 'run-A' });
    // another instance expecting "nothing recorded" comes too late: it gets the epoch in force, unchanged
    expect(await bumpCacheEpoch(store, { expectRunId: null, runId: 'run-B' })).toEqual({ epoch: 4, redisRunId: 'run-A' });
    // expecting a run id that is not the recorded one changes nothing either
    expect(await bumpCacheEpoch(store, { expectRunId: 'run-Z', runId: 'run-B' })).toEqual({ epoch: 4, redisRunId: 'run-A' });
    expect(await bumpCacheEpoch(store, { expectRunId: 'run-A', runId: 'run-B' })).toEqual({ epoch: 5, redisRunId: 'run-B' });
    expect(await readCacheEpoch(store)).toEqual({ epoch: 5, redisRunId: 'run-B' });
    // a plain bump keeps the recorded run id
    expect(await bumpCacheEpoch(store)).toEqual({ epoch: 6, redisRunId: 'run-B' });
  });

  it('instances racing to bump for the same restart move it on once, and all answer the epoch in force', async () => {
    const answers = await Promise.all(['run-C', 'run-D', 'run-E', 'run-F'].map((runId) => bumpCacheEpoch(store, { expectRunId: 'run-B', runId })));
    const after = await readCacheEpoch(store);
    expect(after.epoch).toBe(7);
    expect(['run-C', 'run-D', 'run-E', 'run-F']).toContain(after.redisRunId);
    for (const a of answers) expect(a).toEqual(after);
  });
});
