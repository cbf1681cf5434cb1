// The shared Redis tier and the invalidation bus against real Redis: cross-instance invalidation with acks, the
// generation-guarded fill, Redis slow/down/restarted, and the memory flush after a subscriber reconnect.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { hasRedis, redisNamespace, redisUrl } from '../helpers/services.js';
import { ManualClock } from '../../resolver/clock.js';
import { createResolver, type ResolverRedisOptions } from '../../resolver/pipeline.js';
import { RedisTier, closeRedisClient, createRedisClient, waitReady } from '../../resolver/redis-tier.js';
import { InvalidationBus } from '../../resolver/bus.js';
import { buildRecord, encodeForRedis } from '../../resolver/record.js';
import type { Resolution, Resolver } from '../../resolver/types.js';
import { TestSource, ThrowawayRedis, freePort, val } from './helpers.js';

function urlOf(r: Resolution): unknown {
  return r.found ? r.record.values[0]?.data.value : null;
}

describe.skipIf(!hasRedis)('Redis tier and invalidation bus', () => {
  let resolvers: Resolver[] = [];
  let clients: Redis[] = [];
  let buses: InvalidationBus[] = [];
  let servers: ThrowawayRedis[] = [];
  let namespaces: string[] = [];

  afterEach(async () => {
    for (const b of buses) b.close();
    await Promise.all(resolvers.map((r) => r.close()));
    await Promise.all(clients.map(closeRedisClient));
    await Promise.all(servers.map((s) => s.kill()));
    if (namespaces.length > 0) {
      const admin = new Redis(redisUrl);
      for (const ns of namespaces) {
        const keys = await admin.keys(`${ns}*`);
        if (keys.length > 0) await admin.del(...keys);
      }
      await admin.quit();
    }
    resolvers = [];
    clients = [];
    buses = [];
    servers = [];
    namespaces = [];
  });

  function ns(): string {
    const n = redisNamespace();
    namespaces.push(n);
    return n;
  }

  function client(url = redisUrl): Redis {
    const c = createRedisClient(url);
    clients.push(c);
    return c;
  }

  async function resolverOn(
    source: TestSource,
    namespace: string,
    instanceId: string,
    redis: Partial<ResolverRedisOptions> = {},
    clock = new ManualClock(),
  ): Promise<Resolver> {
    const r = await createResolver({
      source,
      clock,
      instanceId,
      redis: { url: redisUrl, namespace, ...redis },
      cache: { maxBytes: 1 << 20 },
    });
    resolvers.push(r);
    return r;
  }

  it('A.invalidate() returns only when B has dropped the key: B\'s very next resolve sees the write', async () => {
    const space = ns();
    const source = new TestSource();
    // a long ack timeout: if acks were miscounted, invalidate() would take seconds
    const a = await resolverOn(source, space, 'A', { ackTimeoutMs: 5000 });
    const b = await resolverOn(source, space, 'B', { ackTimeoutMs: 5000 });

    expect(await b.resolve('88.1/new')).toEqual({ found: false, tier: 'store', stale: false });
    expect(await b.resolve('88.1/new')).toEqual({ found: false, tier: 'memory', stale: false });
    // the second instance gets B's negative answer from Redis
    expect(await a.resolve('88.1/new')).toEqual({ found: false, tier: 'redis', stale: false });
    expect(a.stats()).toMatchObject({ redisHits: 1, storeReads: 0 });

    source.put('88.1/new', '88.1/NEW', [val(1, 'URL', 'registered')]);
    const t0 = performance.now();
    await a.invalidate(['88.1/new']);
    expect(performance.now() - t0).toBeLessThan(2000);

    const seen = await b.resolve('88.1/new');
    expect(seen.found).toBe(true);
    expect(seen.tier).toBe('store');
    expect(urlOf(seen)).toBe('registered');
    // B filled Redis; A's next resolve is a Redis hit
    const fromRedis = await a.resolve('88.1/new');
    expect(fromRedis.tier).toBe('redis');
    expect(urlOf(fromRedis)).toBe('registered');
    expect(a.stats().redisHits).toBe(2);
    expect(source.reads).toBe(2);
  });

  it('hiding a prefix on A hides it on B before setPrefixHidden returns; showing it brings it back', async () => {
    const space = ns();
    const source = new TestSource();
    source.put('88.1.7/P1', '88.1.7/p1', [val(1, 'URL', 'pump')]);
    const a = await resolverOn(source, space, 'A', { ackTimeoutMs: 5000 });
    const b = await resolverOn(source, space, 'B', { ackTimeoutMs: 5000 });
    expect((await b.resolve('88.1.7/P1')).found).toBe(true);
    expect((await b.resolve('88.1.7/P1')).tier).toBe('memory');
    await a.setPrefixHidden('88.1.7', true);
    expect(await b.resolve('88.1.7/P1')).toEqual({ found: false, tier: 'memory', stale: false, hidden: true });
    expect(await a.resolve('88.1.7/P1')).toMatchObject({ found: false, hidden: true });
    expect((await b.resolve('88.1.7/P1', { includeHidden: true })).found).toBe(true);
    // a different prefix is not affected: it is simply absent, not hidden
    expect(await b.resolve('88.1.70/P1')).toEqual({ found: false, tier: 'store', stale: false });
    await a.setPrefixHidden('88.1.7', false);
    expect((await b.resolve('88.1.7/P1')).found).toBe(true);
  });

  it('the bus counts PUBLISH receivers and waits for that many acks (or the ack timeout)', async () => {
    const space = ns();
    const got: Record<string, string[][]> = { x: [], y: [], z: [] };
    const mk = (id: string, ackTimeoutMs = 5000): InvalidationBus => {
      const bus = new InvalidationBus({
        cmd: client(),
        sub: client(),
        namespace: space,
        instanceId: id,
        ackTimeoutMs,
        onInvalidate: (keys) => got[id]!.push(keys),
        onResync: () => {},
        onError: () => {},
      });
      buses.push(bus);
      bus.start();
      return bus;
    };
    const x = mk('x');
    const y = mk('y');
    const z = mk('z', 300);
    for (const bus of [x, y, z]) expect(await bus.waitSubscribed(2000)).toBe(true);

    expect(await x.publish(['k1', 'k2'])).toEqual({ receivers: 3, acks: 3, timedOut: false });
    expect(got).toEqual({ x: [], y: [['k1', 'k2']], z: [['k1', 'k2']] });

    // a subscriber that never acks: the publisher gives up after its ack timeout
    const silent = client();
    await waitReady(silent, 2000);
    await silent.subscribe(`${space}inv`);
    const t0 = performance.now();
    const res = await z.publish(['k3']);
    expect(res).toEqual({ receivers: 4, acks: 3, timedOut: true });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('generation guard (tier): a fill after an invalidation does not land', async () => {
    const space = ns();
    const errors: unknown[] = [];
    const reader = new RedisTier(client(), space, (e) => errors.push(e));
    const writer = new RedisTier(client(), space, (e) => errors.push(e));
    await Promise.all([waitReady(reader.client, 2000), waitReady(writer.client, 2000)]);

    const before = await reader.read('k');
    expect(before).toEqual({ kind: 'miss', gen: '' });
    expect(await writer.invalidate(['k'])).toBe(true);
    const stale = encodeForRedis(buildRecord('K', 'k', [val(1, 'URL', 'old')], 1_700_000_000), Date.now() + 10_000);
    expect(await reader.fill('k', before.kind === 'miss' ? before.gen : '?', stale, 10_000)).toBe(false);
    expect(await reader.client.get(`${space}h:k`)).toBeNull();

    const now = await reader.read('k');
    expect(now).toEqual({ kind: 'miss', gen: '1' });
    expect(await reader.fill('k', '1', stale, 10_000)).toBe(true);
    const hit = await reader.read('k');
    expect(hit).toEqual({ kind: 'hit', payload: stale, gen: null });
    expect(await reader.readGen('k')).toBe('1');
    const pttl = await reader.client.pttl(`${space}h:k`);
    expect(pttl > 9_000 && pttl <= 10_000).toBe(true);
    expect(errors).toEqual([]);
  });

  it('generation guard (pipeline): a slow reader cannot put the old answer back after a writer\'s invalidation', async () => {
    const space = ns();
    const source = new TestSource();
    const b = await resolverOn(source, space, 'B');
    // a writer that bumps the generation but whose bus message has not reached B: only the guard protects Redis
    const writer = new RedisTier(client(), space, () => {});
    await waitReady(writer.client, 2000);

    source.put('88.1/g', '88.1/G', [val(1, 'URL', 'old')]);
    const hold = source.holdNextRead();
    const slow = b.resolve('88.1/g');
    await hold.started; // B read "old" from the store
    source.put('88.1/g', '88.1/G', [val(1, 'URL', 'new')]);
    await writer.invalidate(['88.1/g']);
    hold.release();
    expect(urlOf(await slow)).toBe('old');
    expect(await writer.client.get(`${space}h:88.1/g`)).toBeNull();

    // a fresh instance therefore reads the store, not the old answer
    const c = await resolverOn(source, space, 'C');
    const fresh = await c.resolve('88.1/g');
    expect(fresh.tier).toBe('store');
    expect(urlOf(fresh)).toBe('new');
  });

  it('generation guard (pipeline, full invalidate): the in-flight fill lands nowhere', async () => {
    const space = ns();
    const source = new TestSource();
    const a = await resolverOn(source, space, 'A');
    const b = await resolverOn(source, space, 'B');
    const hold = source.holdNextRead();
    const slow = b.resolve('88.1/h');
    await hold.started; // B read "not found"
    source.put('88.1/h', '88.1/H', [val(1, 'URL', 'new')]);
    await a.invalidate(['88.1/h']);
    hold.release();
    expect((await slow).found).toBe(false);
    const admin = client();
    await waitReady(admin, 2000);
    expect(await admin.get(`${space}h:88.1/h`)).toBeNull();
    expect(urlOf(await b.resolve('88.1/h'))).toBe('new');
    expect(urlOf(await a.resolve('88.1/h'))).toBe('new');
  });

  it('Redis stalled or down never fails a resolution, and invalidate() does not throw', async () => {
    const srv = await ThrowawayRedis.start();
    servers.push(srv);
    const source = new TestSource();
    source.put('88.1/one', '88.1/ONE', [val(1, 'URL', '1')]);
    source.put('88.1/two', '88.1/TWO', [val(1, 'URL', '2')]);
    source.put('88.1/three', '88.1/THREE', [val(1, 'URL', '3')]);
    const r = await createResolver({
      source,
      clock: new ManualClock(),
      redis: { url: srv.url, namespace: 'idnode-down:', commandTimeout: 100, maxReconnectDelayMs: 100 },
      cache: { maxBytes: 1 << 20 },
    });
    resolvers.push(r);
    expect((await r.resolve('88.1/one')).tier).toBe('store'); // fresh server: the fill went through EVAL fallback
    const other = await createResolver({
      source,
      redis: { url: srv.url, namespace: 'idnode-down:' },
      cache: { maxBytes: 1 << 20 },
    });
    resolvers.push(other);
    expect((await other.resolve('88.1/one')).tier).toBe('redis');

    // stalled: commands time out after commandTimeout, the store answers
    srv.pause();
    let t0 = performance.now();
    const slow = await r.resolve('88.1/two');
    expect(slow.found && slow.tier).toBe('store');
    expect(performance.now() - t0).toBeLessThan(1000);
    t0 = performance.now();
    await expect(r.invalidate(['88.1/two'])).resolves.toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(1000);
    srv.resume();

    // down
    await srv.kill();
    t0 = performance.now();
    const down = await r.resolve('88.1/three');
    expect(down.found && down.tier).toBe('store');
    expect((await r.resolve('88.1/one')).tier).toBe('memory');
    await expect(r.invalidate(['88.1/one'])).resolves.toBeUndefined();
    const again = await r.resolve('88.1/one');
    expect(again.found && again.tier).toBe('store');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.stats().redisErrors).toBeGreaterThan(0);

    // back: the instances reconnect, flush their memory (invalidations may have been missed) and share again
    await srv.launch();
    await vi.waitFor(() => expect(r.stats().entries).toBe(0), { timeout: 5000, interval: 20 });
    await vi.waitFor(
      async () => {
        await r.invalidate(['88.1/two']);
        expect((await r.resolve('88.1/two')).tier).toBe('store');
        expect((await other.resolve('88.1/two')).tier).toBe('redis');
      },
      { timeout: 5000, interval: 50 },
    );
  });

  it('starts without Redis when it is unreachable, and resolves from the store', async () => {
    const port = await freePort();
    const source = new TestSource();
    source.put('88.1/s', '88.1/S', [val(1, 'URL', 's')]);
    const t0 = performance.now();
    const r = await createResolver({
      source,
      redis: { url: `redis://127.0.0.1:${port}`, namespace: 'idnode-none:', connectTimeout: 200 },
      cache: { maxBytes: 1 << 20 },
    });
    resolvers.push(r);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await r.resolve('88.1/s')).tier).toBe('store');
    await expect(r.invalidate(['88.1/s'])).resolves.toBeUndefined();
  });

  it('after the subscriber connection reconnects, the memory cache is cleared', async () => {
    const space = ns();
    const source = new TestSource();
    const a = await resolverOn(source, space, 'A');
    const b = await resolverOn(source, space, 'B');
    await b.resolve('88.1/k1');
    source.put('88.1/k2', '88.1/K2', [val(1, 'URL', 'v')]);
    await b.resolve('88.1/k2');
    expect(b.stats().entries).toBe(2);

    const admin = client();
    await waitReady(admin, 2000);
    const list = (await admin.client('LIST')) as string;
    const line = list.split('\n').find((l) => l.includes(` name=${space}B:sub `));
    const id = line?.match(/^id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await admin.client('KILL', 'ID', id!);

    // entries only drop once B is subscribed again (the ManualClock never expires them)
    await vi.waitFor(() => expect(b.stats().entries).toBe(0), { timeout: 5000, interval: 10 });
    expect((await b.resolve('88.1/k1')).found).toBe(false);
    source.put('88.1/k1', '88.1/K1', [val(1, 'URL', 'w')]);
    await a.invalidate(['88.1/k1']);
    expect(urlOf(await b.resolve('88.1/k1'))).toBe('w');
  });
});
