// The shared cache on a real Redis Cluster (3 masters, 3 replicas, started here): key names per slot, reads spread over every node in one turn, invalidations confirmed by a replica and heard over sharded pub/sub, the throttle store.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { ManualClock } from '../../resolver/clock.js';
import { keySlot } from '../../resolver/key-slot.js';
import { createResolver, type ResolverRedisOptions } from '../../resolver/pipeline.js';
import { closeRedisClient, createRedisClient, serverRunId, waitReady } from '../../resolver/redis-client.js';
import type { Resolution, Resolver } from '../../resolver/types.js';
import { RedisThrottleStore } from '../../src/throttle-redis.js';
import { RedisClusterFixture, redisCli } from '../helpers/redis-topologies.js';
import { hasRedis, redisNamespace } from '../helpers/services.js';
import { val } from '../helpers/values.js';
import { TestSource } from './helpers.js';

function urlOf(r: Resolution | undefined): unknown {
  return r?.found ? r.record.values[0]?.data.value : null;
}

describe.skipIf(!hasRedis)('the shared cache on Redis Cluster', () => {
  let cluster: RedisClusterFixture;
  let resolvers: Resolver[] = [];
  let clients: Cluster[] = [];

  beforeAll(async () => {
    cluster = await RedisClusterFixture.start({ masters: 3, replicas: 1 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    await Promise.all(resolvers.map((r) => r.close()));
    await Promise.all(clients.map(closeRedisClient));
    resolvers = [];
    clients = [];
  });

  async function clusterClient(): Promise<Cluster> {
    const c = createRedisClient(cluster.url);
    if (!(c instanceof Cluster)) throw new Error('expected a Cluster client');
    clients.push(c);
    expect(await waitReady(c, 5000)).toBe(true);
    return c;
  }

  async function resolverOn(source: TestSource, namespace: string, instanceId: string, redis: Partial<ResolverRedisOptions> = {}): Promise<Resolver> {
    const r = await createResolver({
      source,
      clock: new ManualClock(),
      instanceId,
      redis: { url: cluster.url, namespace, connectTimeout: 3000, ...redis },
      cache: { maxBytes: 1 << 20 },
    });
    resolvers.push(r);
    return r;
  }

  it('computes the slot of a key as the cluster does, hash tags included', async () => {
    const keys = ['foo', '123456789', '{user1000}.following', 'a{}b', 'a{b}c{d}', '{}{x}', '88.1/{x}', 'idnode:h{7:88.1/a}b{c}}'];
    for (const k of keys) expect(keySlot(k), k).toBe(Number(await redisCli(cluster.nodes[0]!.port, 'CLUSTER', 'KEYSLOT', k)));
    expect(keySlot('123456789')).toBe(12739); // CRC16/XMODEM's check value 0x31C3, mod 16384
  });

  it('names a handle\'s value and generation keys into one slot, whatever braces the handle holds', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    const handles = ['88.1/plain', '88.1/{tag}', '88.1/}{', '88.1/a}b{c}', '88.1/{', '88.1/}'];
    for (const h of handles) source.put(h, h.toUpperCase(), [val(1, 'URL', `u:${h}`)]);
    const a = await resolverOn(source, space, 'A');
    for (const h of handles) expect(urlOf(await a.resolve(h))).toBe(`u:${h}`);
    const admin = await clusterClient();
    for (const h of handles) {
      const epoch = source.epoch.epoch;
      const value = `${space}h{${epoch}:${h}}`;
      const gen = `${space}g{${epoch}:${h}}`;
      expect(keySlot(value), h).toBe(keySlot(gen));
      // the fill wrote the value key under that name, through the script that also read the generation key
      expect(await admin.get(value), h).toContain(`u:${h}`);
    }
    expect(a.stats().redisErrors).toBe(0);
  });

  it('reads many keys asked for in one turn from every node (no CROSSSLOT): all Redis hits on a second instance', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    const keys = Array.from({ length: 300 }, (_, i) => `88.1/k${i}`);
    for (const k of keys) source.put(k, k.toUpperCase(), [val(1, 'URL', `v:${k}`)]);
    const a = await resolverOn(source, space, 'A');
    const b = await resolverOn(source, space, 'B');
    const first = await Promise.all(keys.map((k) => a.resolve(k)));
    expect(first.every((r) => r.tier === 'store')).toBe(true);
    const reads = source.reads;
    const second = await Promise.all(keys.map((k) => b.resolve(k)));
    expect(second.map((r) => r.tier)).toEqual(keys.map(() => 'redis'));
    expect(second.map(urlOf)).toEqual(keys.map((k) => `v:${k}`));
    expect(source.reads).toBe(reads);
    // the keys really are spread over the three masters
    const admin = await clusterClient();
    const masters = new Set(keys.map((k) => admin.slots[keySlot(`${space}h{${source.epoch.epoch}:${k}}`)]![0]));
    expect(masters.size).toBe(3);
    expect(a.stats().redisErrors + b.stats().redisErrors).toBe(0);
  });

  it('confirms an invalidation through a replica (WAIT) and the other instance\'s ack over sharded pub/sub: no epoch move, no lease wait', async () => {
    const space = redisNamespace();
    const source = new TestSource();
    // generous command time (WAIT gets 60 % of it): npm test's files share two cores with the cluster's six servers
    const a = await resolverOn(source, space, 'A', { ackTimeoutMs: 5000, commandTimeout: 1000 });
    const b = await resolverOn(source, space, 'B', { ackTimeoutMs: 5000, commandTimeout: 1000 });
    const keys = Array.from({ length: 40 }, (_, i) => `88.1/w${i}`);
    for (const k of keys) source.put(k, k, [val(1, 'URL', 'old')]);
    for (const r of [a, b, a, b]) for (const k of keys) expect(urlOf(await r.resolve(k))).toBe('old');
    const bumps = source.epochBumps;
    for (const k of keys) source.put(k, k, [val(1, 'URL', 'new')]);
    const t0 = performance.now();
    await a.invalidate({ keys });
    const took = performance.now() - t0;
    expect(source.epochBumps).toBe(bumps); // confirmed: an unconfirmed one moves the epoch on…
    expect(took).toBeLessThan(1000); // …and waits a lease (1.2 s)
    for (const k of keys) expect(urlOf(await b.resolve(k)), k).toBe('new');
    for (const k of keys) expect(urlOf(await a.resolve(k)), k).toBe('new');
  });

  it('verifies the cluster by a fingerprint of every master\'s run id', async () => {
    const c = await clusterClient();
    const id = await serverRunId(c);
    expect(id).toMatch(/^cluster:[0-9a-f]{40}$/);
    expect(await serverRunId(c)).toBe(id);
    const source = new TestSource();
    await resolverOn(source, redisNamespace(), 'A');
    expect(source.epoch.redisRunId).toBe(id);
  });

  it('keeps login failure counts over several keys in one slot (pipelines and MULTIs stay single-slot)', async () => {
    const c = await clusterClient();
    const space = redisNamespace();
    const one = new RedisThrottleStore(c, space);
    const other = new RedisThrottleStore(c, space);
    const now = Date.now();
    await one.hit(['user:alice', 'ip:10.0.0.1', 'ip:10.0.0.2'], now, 60_000);
    await one.hit(['user:alice', 'ip:10.0.0.1'], now + 1, 60_000);
    // the other store has no memory of its own: what it reads comes from Redis
    expect(await other.read(['user:alice', 'ip:10.0.0.1', 'ip:10.0.0.2', 'ip:nobody'], now + 2)).toEqual([
      { count: 2, lastMs: now + 1 },
      { count: 2, lastMs: now + 1 },
      { count: 1, lastMs: now },
      null,
    ]);
    await other.mark(['user:alice'], now + 3, 60_000);
    expect(await one.read(['user:alice'], now + 4)).toEqual([{ count: 0, lastMs: now + 3 }]);
    await other.clear(['user:alice', 'ip:10.0.0.1']);
    const fresh = new RedisThrottleStore(c, space);
    expect(await fresh.read(['user:alice', 'ip:10.0.0.1', 'ip:10.0.0.2'], now + 5)).toEqual([null, null, { count: 1, lastMs: now }]);
  });
});
