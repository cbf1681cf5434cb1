// Resolution pipeline behaviour, memory-only and over real Redis: single-flight, negative caching, serve-stale,
// authoritative reads, and invalidation of fetches already in flight.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { hasRedis, redisNamespace, redisUrl } from '../helpers/services.js';
import { ManualClock } from '../../resolver/clock.js';
import { createResolver, type CreateResolverOptions } from '../../resolver/pipeline.js';
import type { Resolution, Resolver } from '../../resolver/types.js';
import { TestSource, val } from './helpers.js';

function handleOf(r: Resolution): string | null {
  return r.found ? r.record.handle : null;
}

function urlOf(r: Resolution): unknown {
  return r.found ? r.record.values[0]?.data.value : null;
}

const modes = [
  { name: 'memory only', redis: false },
  { name: 'with Redis', redis: true },
] as const;

for (const mode of modes) {
  describe.skipIf(mode.redis && !hasRedis)(`pipeline (${mode.name})`, () => {
    let admin: Redis | null = null;
    let open: Resolver[] = [];
    let ns = '';

    beforeAll(() => {
      if (mode.redis) admin = new Redis(redisUrl);
    });
    afterAll(async () => {
      await admin?.quit();
    });
    afterEach(async () => {
      await Promise.all(open.map((r) => r.close()));
      open = [];
      if (admin && ns) {
        const keys = await admin.keys(`${ns}*`);
        if (keys.length > 0) await admin.del(...keys);
      }
      ns = '';
    });

    async function make(source: TestSource, clock: ManualClock, cache: Partial<CreateResolverOptions['cache']> = {}) {
      if (ns === '') ns = redisNamespace();
      const r = await createResolver({
        source,
        clock,
        redis: mode.redis ? { url: redisUrl, namespace: ns } : null,
        cache: { maxBytes: 1 << 20, ...cache },
      });
      open.push(r);
      return r;
    }

    /** The shared tier's copy running out (Redis TTLs follow real time, not the manual clock). */
    async function expireShared(key: string): Promise<void> {
      if (admin) await admin.del(`${ns}h:${key}`);
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

    it('caches "not found" for negativeTtl, and invalidate() lifts it at once', async () => {
      const source = new TestSource();
      const clock = new ManualClock();
      const r = await make(source, clock);
      expect(await r.resolve('88.1/x')).toEqual({ found: false, tier: 'store', stale: false });
      expect(await r.resolve('88.1/x')).toEqual({ found: false, tier: 'memory', stale: false });
      expect(r.stats().negativeHits).toBe(1);
      expect(source.reads).toBe(1);

      source.put('88.1/x', '88.1/X', [val(1, 'URL', 'u')]);
      expect((await r.resolve('88.1/x')).found).toBe(false); // still the cached negative answer
      await r.invalidate(['88.1/x']);
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

      // expired and the source fails: the stale copy is served
      clock.advance(60_000);
      await expireShared('88.1/s');
      source.fail = true;
      const stale = await r.resolve('88.1/s');
      expect(stale).toMatchObject({ found: true, tier: 'memory', stale: true });
      expect(handleOf(stale)).toBe('88.1/S');
      expect(r.stats().staleServed).toBe(1);

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
      await r.invalidate(['88.1/f']);
      hold.release();
      expect(urlOf(await before)).toBe('old');

      const next = await r.resolve('88.1/f');
      expect(next.tier).toBe('store'); // neither memory nor Redis kept "old"
      expect(urlOf(next)).toBe('new');
      expect(urlOf(await r.resolve('88.1/f'))).toBe('new');
    });

    it('a resolve after invalidate() does not join the fetch that started before it', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock());
      const hold = source.holdNextRead();
      const before = r.resolve('88.1/j');
      await hold.started; // the store has answered "not found"
      source.put('88.1/j', '88.1/J', [val(1, 'URL', 'new')]);
      await r.invalidate(['88.1/j']);
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
      await expect.poll(() => urlOf(r.peek('88.1/p') ?? { found: false, tier: 'memory', stale: false })).toBe('new');
      expect(source.reads).toBe(2);

      // the refreshed entry outlives the old one's expiry; resolutions counted never include the prefetch
      clock.advance(10_001);
      expect((await r.resolve('88.1/p')).tier).toBe('memory');
      expect(r.stats().storeReads).toBe(1);
      expect(r.stats().prefetches).toBe(1);
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

      await r.invalidate(['88.1/t']);
      expect(r.isCurrent(first!.token!)).toBe(false);
      expect(r.stats().hits).toBe(hits + 1);

      await r.resolve('88.1/t');
      const second = r.peek('88.1/t')!;
      expect(r.isCurrent(second.token!)).toBe(true);
      await r.setPrefixHidden('88.1', true);
      expect(r.isCurrent(second.token!)).toBe(false);
      expect(r.peek('88.1/t')).toMatchObject({ found: false, hidden: true });
      await r.setPrefixHidden('88.1', false);
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

    it('maxBytes 0: every resolve goes past the memory tier', async () => {
      const source = new TestSource();
      const r = await make(source, new ManualClock(), { maxBytes: 0 });
      source.put('88.1/z', '88.1/Z', [val(1, 'URL', 'u')]);
      await r.resolve('88.1/z');
      const second = await r.resolve('88.1/z');
      expect(second.tier).toBe(mode.redis ? 'redis' : 'store');
      expect(r.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 0, misses: 2 });
    });
  });
}

describe('batched store reads', () => {
  it('misses of one event-loop turn share one getHandles call; a lone miss uses getHandle', async () => {
    const source = new TestSource();
    for (let i = 0; i < 20; i++) source.put(`88.1/k${i}`, `88.1/K${i}`, [val(1, 'URL', `u${i}`)]);
    const batches: string[][] = [];
    const batched = Object.assign(source, {
      getHandles: async (keys: string[]) => {
        batches.push(keys);
        return Promise.all(keys.map((k) => source.getHandle(k)));
      },
    });
    const r = await createResolver({ source: batched, cache: { maxBytes: 1 << 20 } });
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => r.resolve(`88.1/k${i}`)));
    expect(got.map((g) => urlOf(g))).toEqual(Array.from({ length: 20 }, (_, i) => `u${i}`));
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(20);
    expect(r.stats().storeReads).toBe(20);

    const before = source.reads;
    expect((await r.resolve('88.1/alone')).found).toBe(false);
    expect(batches).toHaveLength(1);
    expect(source.reads).toBe(before + 1);
    await r.close();
  });
});

describe('hidden prefixes', () => {
  it('are read from the source at start, hide every handle under them, and can be shown again', async () => {
    const source = new TestSource();
    source.put('88.1.2/A', '88.1.2/a', [val(1, 'URL', 'x')]);
    source.put('88.1.3/A', '88.1.3/a', [val(1, 'URL', 'y')]);
    const hiddenSource = Object.assign(source, { hiddenPrefixKeys: async () => ['88.1.2'] });
    const r = await createResolver({ source: hiddenSource, cache: { maxBytes: 1 << 20 } });
    expect(await r.resolve('88.1.2/A')).toMatchObject({ found: false, hidden: true });
    expect((await r.resolve('88.1.3/A')).found).toBe(true);
    expect((await r.resolve('88.1.2/A', { includeHidden: true })).found).toBe(true);
    // prefixes derived from a hidden one are hidden with it; a sibling that merely shares characters is not
    source.put('88.1.2.9/B', '88.1.2.9/b', [val(1, 'URL', 'z')]);
    source.put('88.1.23/C', '88.1.23/c', [val(1, 'URL', 'w')]);
    expect(await r.resolve('88.1.2.9/B')).toMatchObject({ found: false, hidden: true });
    expect((await r.resolve('88.1.23/C')).found).toBe(true);
    expect(r.isPrefixHidden('88.1.2.9')).toBe(true);
    expect(r.isPrefixHidden('88.1')).toBe(false);
    await r.setPrefixHidden('88.1.2', false);
    expect((await r.resolve('88.1.2/A')).found).toBe(true);
    expect((await r.resolve('88.1.2.9/B')).found).toBe(true);
    await r.setPrefixHidden('88.1.3', true);
    expect((await r.resolve('88.1.3/A')).found).toBe(false);
    await r.close();
  });
});
