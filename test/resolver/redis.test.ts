// The Redis layer and invalidation bus against real Redis: acks, generation guard, epoch-named keys, bad payloads, Redis down, subscription lost.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { hasRedis, redisNamespace } from '../helpers/services.js';
import { RedisServer } from '../helpers/redis-server.js';
import { InvalidationBus, type BusChange } from '../../resolver/bus.js';
import { ManualClock } from '../../resolver/clock.js';
import { Counters } from '../../resolver/counters.js';
import { RedisLayer } from '../../resolver/layers/redis.js';
import { StoreLayer } from '../../resolver/layers/store.js';
import { TtlPolicy } from '../../resolver/memory-cache.js';
import { createResolver, type ResolverRedisOptions } from '../../resolver/pipeline.js';
import { closeRedisClient, createRedisClient, waitReady } from '../../resolver/redis-client.js';
import { decodePayload } from '../../resolver/redis-payload.js';
import type { Resolution, Resolver } from '../../resolver/types.js';
import { val } from '../helpers/values.js';
import { TestSource, ThrowawayRedis, freePort } from './helpers.js';

// A private redis-server for the file: any other vitest run's global teardown deletes every idnode-t-* key on the
// shared REDIS_URL server, which would turn the Redis hits these tests expect into misses.

function urlOf(r: Resolution | undefined): unknown {
  return r?.found ? r.record.values[0]?.data.value : null;
}

describe.skipIf(!hasRedis)('Redis layer and invalidation bus', () => {
  let server: RedisServer;
  let redisUrl = '';
  let resolvers: Resolver[] = [];
  let clients: Redis[] = [];
  let buses: InvalidationBus[] = [];
  let servers: ThrowawayRedis[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    redisUrl = server.url;
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    for (const b of buses) b.close();
    await Promise.all(resolvers.map((r) => r.close()));
    await Promise.all(clients.map(closeRedisClient));
    await Promise.all(servers.map((s) => s.kill()));
    resolvers = [];
    clients = [];
    buses = [];
    servers = [];
  });

  async function client(url = redisUrl): Promise<Redis> {
    const c = createRedisClient(url) as Redis; // a redis:// URL: one server
    clients.push(c);
    expect(await waitReady(c, 2000)).toBe(true);
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

  /** A Redis layer over the source, outside any resolver: a writer whose bus message never reaches anyone. */
  async function bareLayer(source: TestSource, namespace: string, epoch: number): Promise<RedisLayer> {
    const clock = new ManualClock();
    const counters = new Counters();
    return new RedisLayer(new StoreLayer(source, clock, counters), await client(), namespace, { epoch }, new TtlPolicy(), clock, counters);
  }

  it('A.invalidate() returns only when B has dropped the key: B\'s very next resolve sees the write', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    // a long ack timeout: if acks were miscounted, invalidate() would take seconds
    const a = await resolverOn(source, space, 'A', { ackTimeoutMs: 5000 });
    const b = await resolverOn(source, space, 'B', { ackTimeoutMs: 5000 });

    expect(await b.resolve('88.1/new')).toMatchObject({ found: false, tier: 'store', stale: false });
    expect(await b.resolve('88.1/new')).toMatchObject({ found: false, tier: 'memory', stale: false });
    // the second instance gets B's negative answer from Redis
    expect(await a.resolve('88.1/new')).toMatchObject({ found: false, tier: 'redis', stale: false });
    expect(a.stats()).toMatchObject({ redisHits: 1, storeReads: 0 });

    source.put('88.1/new', '88.1/NEW', [val(1, 'URL', 'registered')]);
    const t0 = performance.now();
    await a.invalidate({ keys: ['88.1/new'] });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(source.epochBumps).toBe(1); // the one at first connection: the invalidation was confirmed, no epoch move

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

  it('suspending a prefix through A hides it on B before A.invalidate returns; lifting it shows it again', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    source.put('88.1.7/P1', '88.1.7/p1', [val(1, 'URL', 'pump')]);
    const a = await resolverOn(source, space, 'A', { ackTimeoutMs: 5000 });
    const b = await resolverOn(source, space, 'B', { ackTimeoutMs: 5000 });
    expect((await b.resolve('88.1.7/P1')).found).toBe(true);
    expect((await b.resolve('88.1.7/P1')).tier).toBe('memory');
    source.hidden.add('88.1.7');
    await a.invalidate({ prefixKeys: ['88.1.7'] });
    expect(b.peek('88.1.7/P1')).toMatchObject({ found: false, hidden: true });
    expect(await b.resolve('88.1.7/P1')).toMatchObject({ found: false, tier: 'memory', stale: false, hidden: true });
    expect(await a.resolve('88.1.7/P1')).toMatchObject({ found: false, hidden: true });
    // a different prefix is not affected: it is simply absent, not hidden
    expect(await b.resolve('88.1.70/P1')).toMatchObject({ found: false, tier: 'store', stale: false });
    expect(await b.resolve('88.1.70/P1')).not.toHaveProperty('hidden');
    source.hidden.delete('88.1.7');
    await a.invalidate({ prefixKeys: ['88.1.7'] });
    expect((await b.resolve('88.1.7/P1')).found).toBe(true);
  });

  it('a suspension change reaches every other instance even when the writer cannot re-read the suspensions itself', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    source.put('88.1.9/X', '88.1.9/x', [val(1, 'URL', 'x')]);
    // A's view of the same store, whose suspension reads fail on demand
    let failA = false;
    const viaA = {
      read: (keys: readonly string[]) => source.read(keys),
      hiddenPrefixKeys: () => (failA ? Promise.reject(new Error('store unreachable from A')) : source.hiddenPrefixKeys()),
      cacheEpoch: () => source.cacheEpoch(),
      bumpCacheEpoch: (o?: { expectRunId: string | null; runId: string }) => source.bumpCacheEpoch(o),
    };
    const a = await createResolver({ source: viaA, clock: new ManualClock(), instanceId: 'A', redis: { url: redisUrl, namespace: space, epochPollMs: 100 }, cache: { maxBytes: 1 << 20 } });
    resolvers.push(a);
    const b = await resolverOn(source, space, 'B', { epochPollMs: 100 });
    expect((await b.resolve('88.1.9/X')).found).toBe(true);

    source.hidden.add('88.1.9');
    failA = true;
    await expect(a.invalidate({ prefixKeys: ['88.1.9'] })).resolves.toBeUndefined();
    expect(b.peek('88.1.9/X')).toMatchObject({ found: false, hidden: true });
    // A catches up once it can read the store again
    failA = false;
    await vi.waitFor(() => expect(a.peek('88.1.9/X')).toMatchObject({ hidden: true }), { timeout: 5000, interval: 20 });
  });

  it('the bus counts PUBLISH receivers and waits for that many acks (or the ack timeout)', async () => {
    const space = redisNamespace();
    const got: Record<string, BusChange[]> = { x: [], y: [], z: [] };
    const mk = async (id: string, ackTimeoutMs = 5000, onChange?: (c: BusChange) => Promise<void>): Promise<InvalidationBus> => {
      const bus = new InvalidationBus({
        cmd: await client(),
        sub: await client(),
        namespace: space,
        instanceId: id,
        ackTimeoutMs,
        onChange:
          onChange ??
          (async (c) => {
            got[id]!.push(c);
          }),
        onSubscribed: () => {},
        onUnsubscribed: () => {},
        onError: () => {},
      });
      buses.push(bus);
      bus.start();
      return bus;
    };
    const x = await mk('x');
    const y = await mk('y');
    const z = await mk('z', 300);
    for (const bus of [x, y, z]) expect(await bus.waitSubscribed(2000)).toBe(true);

    expect(await x.publish({ keys: ['k1', 'k2'], prefixes: false })).toEqual({ receivers: 3, acks: 3, complete: true });
    // the publisher applied its own change already: only the others are told
    expect(got).toEqual({ x: [], y: [{ keys: ['k1', 'k2'], prefixes: false }], z: [{ keys: ['k1', 'k2'], prefixes: false }] });
    expect(await y.publish({ keys: [], prefixes: true })).toEqual({ receivers: 3, acks: 3, complete: true });
    expect(got.z!.at(-1)).toEqual({ keys: [], prefixes: true });
    // nothing to say: nothing published
    expect(await y.publish({ keys: [], prefixes: false })).toEqual({ receivers: 0, acks: 0, complete: true });

    // a subscriber that never acks: the publisher gives up after its ack timeout
    const silent = await client();
    await silent.subscribe(`${space}inv`);
    let t0 = performance.now();
    expect(await z.publish({ keys: ['k3'], prefixes: false })).toEqual({ receivers: 4, acks: 3, complete: false });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    await silent.unsubscribe();

    // an instance that cannot apply a change does not ack it either
    await mk('w', 5000, async () => {
      throw new Error('cannot apply');
    });
    expect(await buses.at(-1)!.waitSubscribed(2000)).toBe(true);
    t0 = performance.now();
    expect(await z.publish({ keys: ['k4'], prefixes: false })).toEqual({ receivers: 4, acks: 3, complete: false });
  });

  it('the bus reports losing and regaining its subscription', async () => {
    const space = redisNamespace();
    const events: string[] = [];
    const sub = await client();
    const id = await sub.client('ID');
    const bus = new InvalidationBus({
      cmd: await client(),
      sub,
      namespace: space,
      instanceId: 'q',
      onChange: async () => {},
      onSubscribed: () => events.push('subscribed'),
      onUnsubscribed: () => events.push('unsubscribed'),
      onError: () => {},
    });
    buses.push(bus);
    bus.start();
    expect(await bus.waitSubscribed(2000)).toBe(true);
    const admin = await client();
    await admin.client('KILL', 'ID', String(id));
    await vi.waitFor(() => expect(events).toEqual(['subscribed', 'unsubscribed', 'subscribed']), { timeout: 5000, interval: 20 });
    expect(bus.subscribed).toBe(true);
  });

  it('generation guard (layer): a fill after an invalidation does not land; the next one does, with its TTL', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    source.put('88.1/k', '88.1/K', [val(1, 'URL', 'old', 10)]);
    const reader = await bareLayer(source, space, 7);
    const writer = await bareLayer(source, space, 7);
    const admin = await client();

    const hold = source.holdNextRead();
    const slow = reader.lookup('88.1/k', {});
    await hold.started; // the reader has read the generation ('' = none) and the store's "old"
    source.put('88.1/k', '88.1/K', [val(1, 'URL', 'new', 10)]);
    expect(await writer.invalidate(7, ['88.1/k'])).toBe(true);
    hold.release();
    expect(urlOf({ found: true, record: (await slow).record!, tier: 'store', stale: false })).toBe('old');
    expect(await admin.get(`${space}h:7:88.1/k`)).toBeNull();
    expect(await admin.get(`${space}g:7:88.1/k`)).toBe('1');

    const next = await reader.lookup('88.1/k', {});
    expect(next.tier).toBe('store');
    const payload = await admin.get(`${space}h:7:88.1/k`);
    expect(payload).not.toBeNull();
    expect(decodePayload(payload!).text?.valuesJson).toContain('"new"');
    const pttl = await admin.pttl(`${space}h:7:88.1/k`);
    expect(pttl > 9_000 && pttl <= 10_000).toBe(true);
    const hit = await reader.lookup('88.1/k', {});
    expect(hit.tier).toBe('redis');
    expect(hit.record?.values[0]?.data.value).toBe('new');
    // another epoch's keys are never read
    const later = await bareLayer(source, space, 8);
    expect((await later.lookup('88.1/k', {})).tier).toBe('store');
  });

  it('generation guard (pipeline): a slow reader cannot put the old answer back after a writer\'s invalidation', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    const b = await resolverOn(source, space, 'B');
    // a writer that bumps the generation but whose bus message has not reached B: only the guard protects Redis
    const writer = await bareLayer(source, space, source.epoch.epoch);
    const admin = await client();

    source.put('88.1/g', '88.1/G', [val(1, 'URL', 'old')]);
    const hold = source.holdNextRead();
    const slow = b.resolve('88.1/g');
    await hold.started; // B read "old" from the store
    source.put('88.1/g', '88.1/G', [val(1, 'URL', 'new')]);
    expect(await writer.invalidate(source.epoch.epoch, ['88.1/g'])).toBe(true);
    hold.release();
    expect(urlOf(await slow)).toBe('old');
    expect(await admin.keys(`${space}h:*`)).toEqual([]);

    // a fresh instance therefore reads the store, not the old answer
    const c = await resolverOn(source, space, 'C');
    const fresh = await c.resolve('88.1/g');
    expect(fresh.tier).toBe('store');
    expect(urlOf(fresh)).toBe('new');
  });

  it('generation guard (pipeline, full invalidate): the in-flight fill lands nowhere', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    const a = await resolverOn(source, space, 'A');
    const b = await resolverOn(source, space, 'B');
    const hold = source.holdNextRead();
    const slow = b.resolve('88.1/h');
    await hold.started; // B read "not found"
    source.put('88.1/h', '88.1/H', [val(1, 'URL', 'new')]);
    await a.invalidate({ keys: ['88.1/h'] });
    hold.release();
    expect((await slow).found).toBe(false);
    const admin = await client();
    expect(await admin.keys(`${space}h:*`)).toEqual([]);
    expect(urlOf(await b.resolve('88.1/h'))).toBe('new');
    expect(urlOf(await a.resolve('88.1/h'))).toBe('new');
  });

  it('values live under keys named by the cache epoch; an unreadable payload there is a miss, and is overwritten', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    source.put('88.1/e', '88.1/E', [val(1, 'URL', 'e')]);
    const a = await resolverOn(source, space, 'A');
    const epoch = source.epoch.epoch;
    expect(epoch).toBeGreaterThan(0);
    await a.resolve('88.1/e');
    const admin = await client();
    expect(await admin.keys(`${space}h:*`)).toEqual([`${space}h:${epoch}:88.1/e`]);

    // an older format (or damage) under the current epoch
    await admin.set(`${space}h:${epoch}:88.1/old`, '1["88.1/OLD",[]]', 'PX', 60_000);
    source.put('88.1/old', '88.1/OLD', [val(1, 'URL', 'from the store')]);
    const b = await resolverOn(source, space, 'B');
    const errors = b.stats().redisErrors;
    const got = await b.resolve('88.1/old');
    expect(got.tier).toBe('store');
    expect(urlOf(got)).toBe('from the store');
    expect(b.stats().redisErrors).toBe(errors + 1);
    expect((await admin.get(`${space}h:${epoch}:88.1/old`))?.startsWith('4')).toBe(true);
    const c = await resolverOn(source, space, 'C');
    expect((await c.resolve('88.1/old')).tier).toBe('redis');
  });

  it('Redis stalled or down never fails a resolution, and invalidate() does not throw', async () => {
    const srv = await ThrowawayRedis.start();
    servers.push(srv);
    const source = new TestSource();
    source.put('88.1/one', '88.1/ONE', [val(1, 'URL', '1')]);
    source.put('88.1/two', '88.1/TWO', [val(1, 'URL', '2')]);
    source.put('88.1/three', '88.1/THREE', [val(1, 'URL', '3')]);
    const opts = { url: srv.url, namespace: 'idnode-down:', commandTimeout: 100, maxReconnectDelayMs: 100, epochPollMs: 100 };
    const r = await createResolver({ source, clock: new ManualClock(), instanceId: 'R', redis: opts, cache: { maxBytes: 1 << 20 } });
    resolvers.push(r);
    expect((await r.resolve('88.1/one')).tier).toBe('store'); // fresh server: the fill went through the EVAL fallback
    const other = await createResolver({ source, instanceId: 'O', redis: opts, cache: { maxBytes: 1 << 20 } });
    resolvers.push(other);
    expect((await other.resolve('88.1/one')).tier).toBe('redis');

    // stalled: commands time out after commandTimeout, the store answers
    srv.pause();
    let t0 = performance.now();
    const slow = await r.resolve('88.1/two');
    expect(slow.found && slow.tier).toBe('store');
    expect(performance.now() - t0).toBeLessThan(1000);
    t0 = performance.now();
    const bumps = source.epochBumps;
    await expect(r.invalidate({ keys: ['88.1/two'] })).resolves.toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(source.epochBumps).toBe(bumps + 1); // not confirmed: the epoch moved on instead
    srv.resume();

    // down: nothing fresh is kept in memory meanwhile (invalidations would be missed), every resolve reads the store
    await srv.kill();
    t0 = performance.now();
    const down = await r.resolve('88.1/three');
    expect(down.found && down.tier).toBe('store');
    await vi.waitFor(() => expect(r.peek('88.1/one')).toBeUndefined(), { timeout: 3000, interval: 20 });
    expect((await r.resolve('88.1/one')).tier).toBe('store');
    expect((await r.resolve('88.1/one')).tier).toBe('store');
    await expect(r.invalidate({ keys: ['88.1/one'] })).resolves.toBeUndefined();
    const again = await r.resolve('88.1/one');
    expect(again.found && again.tier).toBe('store');
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.stats().redisErrors).toBeGreaterThan(0);

    // back: the instances reconnect, trust their memory again and share through Redis again
    await srv.launch();
    await vi.waitFor(
      async () => {
        await r.invalidate({ keys: ['88.1/two'] });
        expect((await r.resolve('88.1/two')).tier).toBe('store');
        expect((await r.resolve('88.1/two')).tier).toBe('memory');
        expect((await other.resolve('88.1/two')).tier).toBe('redis');
      },
      { timeout: 8000, interval: 100 },
    );
  });

  it('starts without Redis when it is unreachable, and resolves from the store', async () => {
    const port = await freePort();
    const source = new TestSource();
    source.put('88.1/s', '88.1/S', [val(1, 'URL', 's')]);
    const t0 = performance.now();
    const r = await createResolver({
      source,
      redis: { url: `redis://127.0.0.1:${port}`, namespace: 'idnode-none:', connectTimeout: 200, epochPollMs: 100 },
      cache: { maxBytes: 1 << 20 },
    });
    resolvers.push(r);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await r.resolve('88.1/s')).tier).toBe('store');
    expect((await r.resolve('88.1/s')).tier).toBe('store'); // never trusted: nothing kept fresh
    await expect(r.invalidate({ keys: ['88.1/s'] })).resolves.toBeUndefined();
  });

  it('a shared Redis cache needs a source with a cache epoch', async () => {
    const source = new TestSource();
    const bare = { read: source.read.bind(source), hiddenPrefixKeys: source.hiddenPrefixKeys.bind(source) };
    await expect(createResolver({ source: bare, redis: { url: redisUrl }, cache: { maxBytes: 1 << 20 } })).rejects.toThrow(/cache epoch/);
  });

  it('while the subscriber connection is down and after it is back, what memory held is stale-only', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    const a = await resolverOn(source, space, 'A');
    const b = await resolverOn(source, space, 'B');
    await b.resolve('88.1/k1');
    source.put('88.1/k2', '88.1/K2', [val(1, 'URL', 'v')]);
    await b.resolve('88.1/k2');
    expect(b.peek('88.1/k1')).toBeDefined();
    expect(b.peek('88.1/k2')).toBeDefined();

    const admin = await client();
    const list = (await admin.client('LIST')) as string;
    const line = list.split('\n').find((l) => l.includes(` name=${space}B:sub `));
    const id = line?.match(/^id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await admin.client('KILL', 'ID', id!);

    // the entries stay (for serve-stale) but none is fresh (the ManualClock never expires them)
    await vi.waitFor(() => expect(b.peek('88.1/k2')).toBeUndefined(), { timeout: 5000, interval: 10 });
    expect(b.peek('88.1/k1')).toBeUndefined();
    expect(b.stats().entries).toBe(2);
    // and once subscribed again, B trusts what it caches anew (k2 comes back from Redis, then from memory)
    await vi.waitFor(
      async () => {
        expect(urlOf(await b.resolve('88.1/k2'))).toBe('v');
        expect(b.peek('88.1/k2')).toBeDefined();
      },
      { timeout: 5000, interval: 50 },
    );
    expect((await b.resolve('88.1/k1')).found).toBe(false);
    source.put('88.1/k1', '88.1/K1', [val(1, 'URL', 'x')]);
    await a.invalidate({ keys: ['88.1/k1'] });
    expect(urlOf(await b.resolve('88.1/k1'))).toBe('x');
  });
});
