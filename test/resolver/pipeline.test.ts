// Resolution pipeline, memory-only and over real Redis: single-flight, negative caching, serve-stale, authoritative reads, prefetch, tokens, races, batches, hidden prefixes.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { RecordError } from '../../handle/record-json.js';
import { hasRedis, redisNamespace } from '../helpers/services.js';
import { RedisServer } from '../helpers/redis-server.js';
import { ManualClock } from '../../resolver/clock.js';
import { createResolver, type CreateResolverOptions } from '../../resolver/pipeline.js';
import type { Resolution, Resolver } from '../../resolver/types.js';
import { val } from '../helpers/values.js';
import { TestSource } from './helpers.js';

// With Redis, a private redis-server per file: any other vitest run's global teardown deletes every idnode-t-* key
// on the shared REDIS_URL server, which would turn the Redis hits these tests expect into misses.

function handleOf(r: Resolution): string | null {
  return r.found ? r.record.handle : null;
}

function urlOf(r: Resolution | undefined): unknown {
  return r?.found ? r.record.values[0]?.data.value : null;
}

const modes = [
  { name: 'memory only', redis: false },
  { name: 'with Redis', redis: true },
] as const;

for (const mode of modes) {
  describe.skipIf(mode.redis && !hasRedis)(`pipeline (${mode.name})`, () => {
    let server: RedisServer | null = null;
    let admin: Redis | null = null;
    let open: Resolver[] = [];
    let ns = '';

    beforeAll(async () => {
      if (!mode.redis) return;
      server = await RedisServer.start();
      admin = new Redis(server.url);
    });
    afterAll(async () => {
      await admin?.quit();
      await server?.stop();
    });
    afterEach(async () => {
      await Promise.all(open.map((r) => r.close()));
      open = [];
      ns = '';
    });

    async function make(source: TestSource, clock: ManualClock, cache: Partial<CreateResolverOptions['cache']> = {}) {
      if (ns === '') ns = redisNamespace();
      const r = await createResolver({
        source,
        clock,
        redis: mode.redis ? { url: server!.url, namespace: ns } : null,
        cache: { maxBytes: 1 << 20, ...cache },
      });
      open.push(r);
      return r;
    }

    /** The shared tier's copy running out (Redis TTLs follow real time, not the manual clock). */
    async function expireShared(key: string): Promise<void> {
      if (admin === null) return;
      const keys = await admin.keys(`${ns}h:*:${key}`);
      if (keys.length > 0) await admin.del(...keys);
    }

    it('single-flight: 100 concurrent resolves of a missing key make exactly one source read', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock());
      const all = await Promise.all(Array.from({ length: 100 }, () => r.resolve('88.1/missing')));
      expect(source.reads).toBe(1);
      expect(all.every((x) => !x.found && x.tier === 'store')).toBe(true);
      const s = r.stats();
      expect(s.misses).toBe(100);
      expect(s.storeReads).toBe(1);
      if (mode.redis) expect(s.redisMisses).toBe(1);

      source.put('88.1/here', '88.1/HERE', [val(1, 'URL', 'u')]);
      const found = await Promise.all(Array.from({ length: 100 }, () => r.resolve('88.1/here')));
      expect(source.reads).toBe(2);
      expect(new Set(found.map((x) => (x.found ? x.record : null))).size).toBe(1);
      expect(handleOf(found[0]!)).toBe('88.1/HERE');
    });

    it('an authoritative read during a running lookup starts afresh, and the older answer is not cached over it', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock());
      source.put('88.1/sf', '88.1/SF', [val(1, 'URL', 'old')]);
      const hold = source.holdNextRead();
      const cached = r.resolve('88.1/sf');
      await hold.started; // the running lookup read "old"
      source.put('88.1/sf', '88.1/SF', [val(1, 'URL', 'new')]);
      const auth = await r.resolve('88.1/sf', { authoritative: true });
      expect(urlOf(auth)).toBe('new');
      hold.release();
      expect(urlOf(await cached)).toBe('old');
      expect(source.reads).toBe(2);
      const after = await r.resolve('88.1/sf');
      expect(after.tier).toBe('memory');
      expect(urlOf(after)).toBe('new');
    });

    it('caches "not found" for negativeTtl, and invalidate() lifts it at once', async () => {
      const source = new TestSource();
      const clock = new ManualClock();
      const r = await make(source, clock);
      expect(await r.resolve('88.1/x')).toEqual({ found: false, tier: 'store', stale: false, token: expect.anything() });
      expect(await r.resolve('88.1/x')).toMatchObject({ found: false, tier: 'memory', stale: false });
      expect(r.stats().negativeHits).toBe(1);
      expect(source.reads).toBe(1);

      source.put('88.1/x', '88.1/X', [val(1, 'URL', 'u')]);
      expect((await r.resolve('88.1/x')).found).toBe(false); // still the cached negative answer
      await r.invalidate({ keys: ['88.1/x'] });
      const after = await r.resolve('88.1/x');
      expect(after.found && after.tier).toBe('store');

      // and a negative entry runs out after negativeTtl (60 s; a hit before its last 6 s starts no prefetch)
      expect((await r.resolve('88.1/y')).tier).toBe('store');
      clock.advance(53_999);
      expect((await r.resolve('88.1/y')).tier).toBe('memory');
      clock.advance(6_001);
      await expireShared('88.1/y');
      expect((await r.resolve('88.1/y')).tier).toBe('store');
    });

    it('serves a stale entry only when the source fails, and only within the stale window', async () => {
      const source = new TestSource();
      const clock = new ManualClock();
      const r = await make(source, clock, { staleTtl: 120 });
      source.put('88.1/s', '88.1/S', [val(1, 'URL', 'u', 60)]);
      expect((await r.resolve('88.1/s')).tier).toBe('store');

      // expired but the source works: refetched, not stale
      clock.advance(60_000);
      await expireShared('88.1/s');
      const refetched = await r.resolve('88.1/s');
      expect(refetched.tier).toBe('store');
      expect(refetched.stale).toBe(false);

      // expired and the source fails: the stale copy is served (without a token: nothing may be kept from it)
      clock.advance(60_000);
      await expireShared('88.1/s');
      source.fail = true;
      const stale = await r.resolve('88.1/s');
      expect(stale).toMatchObject({ found: true, tier: 'memory', stale: true });
      expect(stale.token).toBeUndefined();
      expect(handleOf(stale)).toBe('88.1/S');
      expect(r.stats().staleServed).toBe(1);
      expect(r.peek('88.1/s')).toBeUndefined();

      // past the stale window: the error propagates
      clock.advance(120_000);
      await expect(r.resolve('88.1/s')).rejects.toThrow('source unavailable');
      // nothing cached at all: the error propagates
      await expect(r.resolve('88.1/never')).rejects.toThrow('source unavailable');
      expect(r.stats().staleServed).toBe(1);
    });

    it('authoritative reads bypass the caches, then refresh them; they never serve stale', async () => {
      const source = new TestSource();
      const clock = new ManualClock();
      const r = await make(source, clock);
      source.put('88.1/a', '88.1/A', [val(1, 'URL', 'v1')]);
      expect(urlOf(await r.resolve('88.1/a'))).toBe('v1');
      source.put('88.1/a', '88.1/A', [val(1, 'URL', 'v2')]); // changed without invalidation
      expect(urlOf(await r.resolve('88.1/a'))).toBe('v1');

      const auth = await r.resolve('88.1/a', { authoritative: true });
      expect(auth.tier).toBe('store');
      expect(urlOf(auth)).toBe('v2');
      expect(source.reads).toBe(2);

      const cached = await r.resolve('88.1/a');
      expect(cached.tier).toBe('memory');
      expect(urlOf(cached)).toBe('v2');

      if (mode.redis) {
        const other = await make(source, clock);
        const shared = await other.resolve('88.1/a');
        expect(shared.tier).toBe('redis');
        expect(urlOf(shared)).toBe('v2');
      }

      source.fail = true;
      await expect(r.resolve('88.1/a', { authoritative: true })).rejects.toThrow('source unavailable');
    });

    it('a fetch started before invalidate() returns its answer but is not cached', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock());
      source.put('88.1/f', '88.1/F', [val(1, 'URL', 'old')]);
      const hold = source.holdNextRead();
      const before = r.resolve('88.1/f');
      await hold.started; // the store has answered "old"
      source.put('88.1/f', '88.1/F', [val(1, 'URL', 'new')]);
      await r.invalidate({ keys: ['88.1/f'] });
      hold.release();
      expect(urlOf(await before)).toBe('old');

      const next = await r.resolve('88.1/f');
      expect(next.tier).toBe('store'); // neither memory nor Redis kept "old"
      expect(urlOf(next)).toBe('new');
      expect(urlOf(await r.resolve('88.1/f'))).toBe('new');
    });

    it('a resolve after invalidate() does not join the fetch that started before it (register, then resolve: never stale)', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock());
      const hold = source.holdNextRead();
      const before = r.resolve('88.1/j');
      await hold.started; // the store has answered "not found"
      source.put('88.1/j', '88.1/J', [val(1, 'URL', 'new')]);
      await r.invalidate({ keys: ['88.1/j'] });
      const after = r.resolve('88.1/j');
      hold.release();
      expect((await before).found).toBe(false);
      expect(urlOf(await after)).toBe('new');
      expect(source.reads).toBe(2);
      expect((await r.resolve('88.1/j')).tier).toBe('memory');
      expect(urlOf(await r.resolve('88.1/j'))).toBe('new');
    });

    it('prefetch: a hit in the last tenth of the TTL rereads the store once, in the background, past Redis', async () => {
      const source = new TestSource();
      const clock = new ManualClock();
      const r = await make(source, clock);
      source.put('88.1/p', '88.1/P', [val(1, 'URL', 'old', 100)]);
      expect((await r.resolve('88.1/p')).tier).toBe('store');
      clock.advance(89_999); // before the window (the last 10 s)
      expect((await r.resolve('88.1/p')).tier).toBe('memory');
      expect(r.peek('88.1/p')?.tier).toBe('memory');
      expect(source.reads).toBe(1);

      source.put('88.1/p', '88.1/P', [val(1, 'URL', 'new', 100)]);
      clock.advance(1); // inside it: answered from memory at once, and one background read starts
      const hit = await r.resolve('88.1/p');
      expect(hit.tier).toBe('memory');
      expect(urlOf(hit)).toBe('old');
      expect(r.peek('88.1/p')?.tier).toBe('memory'); // no second prefetch while one runs
      await expect.poll(() => r.stats().prefetches).toBe(1);
      await expect.poll(() => urlOf(r.peek('88.1/p'))).toBe('new');
      expect(source.reads).toBe(2);

      // the refreshed entry outlives the old one's expiry; resolutions counted never include the prefetch
      clock.advance(10_001);
      expect((await r.resolve('88.1/p')).tier).toBe('memory');
      expect(r.stats().storeReads).toBe(1);
      expect(r.stats().prefetches).toBe(1);
      if (mode.redis) {
        // the prefetch refilled Redis too
        const other = await make(source, clock);
        const shared = await other.resolve('88.1/p');
        expect(shared.tier).toBe('redis');
        expect(urlOf(shared)).toBe('new');
      }
    });

    it('a token from peek stays current until its entry is invalidated, expires, or a prefix is hidden', async () => {
      const source = new TestSource();
      const clock = new ManualClock();
      const r = await make(source, clock);
      source.put('88.1/t', '88.1/T', [val(1, 'URL', 'u', 100)]);
      await r.resolve('88.1/t');
      const first = r.peek('88.1/t');
      expect(first?.token).toBeDefined();
      const hits = r.stats().hits;
      expect(r.isCurrent(first!.token!)).toBe(true);
      expect(r.stats().hits).toBe(hits + 1);

      await r.invalidate({ keys: ['88.1/t'] });
      expect(r.isCurrent(first!.token!)).toBe(false);
      expect(r.stats().hits).toBe(hits + 1);

      await r.resolve('88.1/t');
      const second = r.peek('88.1/t')!;
      expect(r.isCurrent(second.token!)).toBe(true);
      source.hidden.add('88.1');
      await r.invalidate({ prefixKeys: ['88.1'] });
      expect(r.isCurrent(second.token!)).toBe(false);
      expect(r.peek('88.1/t')).toMatchObject({ found: false, hidden: true });
      source.hidden.delete('88.1');
      await r.invalidate({ prefixKeys: ['88.1'] });
      const third = r.peek('88.1/t')!;
      expect(third.found).toBe(true);
      expect(r.isCurrent(third.token!)).toBe(true);

      // negative entries have tokens too
      await r.resolve('88.1/none');
      const neg = r.peek('88.1/none')!;
      expect(neg).toMatchObject({ found: false, tier: 'memory' });
      expect(r.isCurrent(neg.token!)).toBe(true);

      clock.advance(100_000);
      expect(r.isCurrent(third.token!)).toBe(false);
      expect(r.isCurrent(neg.token!)).toBe(false);
    });

    it('a memory hit allocates nothing: the same answer object until the entry changes', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock());
      source.put('88.1/same', '88.1/SAME', [val(1, 'URL', 'u')]);
      await r.resolve('88.1/same');
      const a = await r.resolve('88.1/same');
      expect(r.peek('88.1/same')).toBe(a);
      expect(await r.resolve('88.1/same')).toBe(a);
      await r.invalidate({ keys: ['88.1/same'] });
      await r.resolve('88.1/same');
      expect(r.peek('88.1/same')).not.toBe(a);
    });

    it('a record whose stored values are corrupt resolves (nothing parses it) and throws RecordError only when read', async () => {
      const source = new TestSource();
      const clock = new ManualClock();
      const r = await make(source, clock);
      source.putText('88.1/bad', { handle: '88.1/BAD', valuesJson: '[{"index":1}]', publicJson: '[]' });
      const got = await r.resolve('88.1/bad');
      expect(got.found).toBe(true);
      if (!got.found) return;
      expect(got.record.publicJson).toBe('[]');
      expect(() => got.record.values).toThrow(RecordError);
      expect((await r.resolve('88.1/bad')).tier).toBe('memory');
      if (mode.redis) {
        // copied into Redis as it is: another instance gets the same text
        const other = await make(source, clock);
        const shared = await other.resolve('88.1/bad');
        expect(shared.tier).toBe('redis');
        expect(shared.found && shared.record.publicJson).toBe('[]');
      }
    });

    it('maxBytes 0: every resolve goes past the memory tier', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock(), { maxBytes: 0 });
      source.put('88.1/z', '88.1/Z', [val(1, 'URL', 'u')]);
      await r.resolve('88.1/z');
      const second = await r.resolve('88.1/z');
      expect(second.tier).toBe(mode.redis ? 'redis' : 'store');
      expect(second.token).toBeUndefined();
      expect(r.peek('88.1/z')).toBeUndefined();
      expect(r.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 0, misses: 2 });
    });
  });
}

describe('batched store reads', () => {
  it('misses of one event-loop turn share one read(keys) call, answered in key order; a lone miss reads one key', async () => {
    const source = new TestSource();
    for (let i = 0; i < 20; i++) source.put(`88.1/k${i}`, `88.1/K${i}`, [val(1, 'URL', `u${i}`)]);
    const r = await createResolver({ source, cache: { maxBytes: 1 << 20 } });
    try {
      // every other key is missing: answers must line up with their keys, not with the found rows
      const keys = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? `88.1/k${i / 2}` : `88.1/none${i}`));
      const got = await Promise.all(keys.map((k) => r.resolve(k)));
      expect(got.map((g) => urlOf(g))).toEqual(keys.map((_, i) => (i % 2 === 0 ? `u${i / 2}` : null)));
      expect(source.batches).toEqual([keys]);
      expect(r.stats().storeReads).toBe(40);

      expect((await r.resolve('88.1/alone')).found).toBe(false);
      expect(source.batches.slice(1)).toEqual([['88.1/alone']]);
    } finally {
      await r.close();
    }
  });

  it('a turn of more than 128 misses goes out in reads of at most 128 keys', async () => {
    const source = new TestSource();
    const r = await createResolver({ source, cache: { maxBytes: 1 << 20 } });
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => r.resolve(`88.1/m${i}`)));
      expect(source.batches.map((b) => b.length)).toEqual([128, 128, 44]);
    } finally {
      await r.close();
    }
  });

  it('a failed batched read fails only the resolutions in it', async () => {
    const source = new TestSource();
    source.put('88.1/ok', '88.1/OK', [val(1, 'URL', 'ok')]);
    const r = await createResolver({ source, cache: { maxBytes: 1 << 20 } });
    try {
      source.fail = true;
      const failed = await Promise.allSettled([r.resolve('88.1/ok'), r.resolve('88.1/other')]);
      expect(failed.map((x) => x.status)).toEqual(['rejected', 'rejected']);
      source.fail = false;
      expect(urlOf(await r.resolve('88.1/ok'))).toBe('ok');
    } finally {
      await r.close();
    }
  });
});

describe('hidden prefixes', () => {
  it('are read from the source at start, hide every handle under them, and are re-read on invalidate({prefixKeys})', async () => {
    const source = new TestSource();
    source.put('88.1.2/A', '88.1.2/a', [val(1, 'URL', 'x')]);
    source.put('88.1.3/A', '88.1.3/a', [val(1, 'URL', 'y')]);
    source.hidden.add('88.1.2');
    const r = await createResolver({ source, cache: { maxBytes: 1 << 20 } });
    try {
      expect(await r.resolve('88.1.2/A')).toMatchObject({ found: false, hidden: true });
      expect(await r.resolve('88.1.2/A', { authoritative: true })).toMatchObject({ found: false, hidden: true });
      expect(r.peek('88.1.2/A')).toMatchObject({ found: false, hidden: true });
      expect((await r.resolve('88.1.3/A')).found).toBe(true);
      // no store read for a hidden handle
      expect(source.readsByKey.get('88.1.2/A')).toBeUndefined();
      // prefixes derived from a hidden one are hidden with it; a sibling that merely shares characters is not
      source.put('88.1.2.9/B', '88.1.2.9/b', [val(1, 'URL', 'z')]);
      source.put('88.1.23/C', '88.1.23/c', [val(1, 'URL', 'w')]);
      expect(await r.resolve('88.1.2.9/B')).toMatchObject({ found: false, hidden: true });
      expect((await r.resolve('88.1.23/C')).found).toBe(true);

      // the source changed, but nothing said so: still hidden
      source.hidden.delete('88.1.2');
      expect(await r.resolve('88.1.2/A')).toMatchObject({ hidden: true });
      await r.invalidate({ prefixKeys: ['88.1.2'] });
      expect((await r.resolve('88.1.2/A')).found).toBe(true);
      expect((await r.resolve('88.1.2.9/B')).found).toBe(true);

      source.hidden.add('88.1.3');
      await r.invalidate({ prefixKeys: ['88.1.3'] });
      expect(await r.resolve('88.1.3/A')).toMatchObject({ found: false, hidden: true });

      // a re-read that fails keeps the set in force, does not throw (the write is committed), and is retried
      source.failHidden = true;
      source.hidden.clear();
      await expect(r.invalidate({ prefixKeys: ['88.1.3'] })).resolves.toBeUndefined();
      expect(await r.resolve('88.1.3/A')).toMatchObject({ hidden: true });
      source.failHidden = false;
      await vi.waitFor(async () => expect((await r.resolve('88.1.3/A')).found).toBe(true), { timeout: 5000, interval: 20 });
    } finally {
      await r.close();
    }
  });
});
