// Cache coherence against private redis-servers: epoch moved on and lease waited, other instances polling it, run-id check after a restart, command timeouts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { hasRedis, redisNamespace } from '../helpers/services.js';
import { RedisServer } from '../helpers/redis-server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createResolver, type ResolverRedisOptions } from '../../resolver/pipeline.js';
import type { Resolution, Resolver } from '../../resolver/types.js';
import { val } from '../helpers/values.js';
import { TestSource, ThrowawayRedis } from './helpers.js';
import { Cleanup } from '../helpers/cleanup.js';

const OLD = 'https://old.example.com';
const NEW = 'https://new.example.com';
const K = '88.1/COHERENT';

function urlOf(r: Resolution | undefined): unknown {
  return r?.found ? r.record.values[0]?.data.value : null;
}

/** The resolver's Redis connections (command, subscriber): not part of its contract, read here to watch them. */
function connectionsOf(r: Resolver): { cmd: Redis; sub: Redis } {
  const clients = (r as unknown as { clients: Redis[] }).clients;
  expect(clients).toHaveLength(2);
  return { cmd: clients[0]!, sub: clients[1]! };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.skipIf(!hasRedis)('cache coherence across instances, partitions and Redis restarts', () => {
  const cleanup = new Cleanup();
  afterEach(cleanup.run);

  async function redisServer(persistent = false): Promise<RedisServer> {
    const s = await RedisServer.start({ persistent });
    cleanup.push(() => s.stop());
    return s;
  }

  async function resolver(source: TestSource, url: string, namespace: string, instanceId: string, redis: Partial<ResolverRedisOptions> = {}, maxBytes = 1 << 20): Promise<Resolver> {
    const r = await createResolver({ source, instanceId, redis: { url, namespace, maxReconnectDelayMs: 100, ...redis }, cache: { maxBytes } });
    cleanup.push(() => r.close());
    return r;
  }

  function admin(url: string): Redis {
    const c = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    c.on('error', () => {});
    cleanup.push(async () => c.disconnect());
    return c;
  }

  /** Records when the source's epoch was moved on (a wrapper: the double still does the work). */
  function watchBumps(source: TestSource): number[] {
    const at: number[] = [];
    const bump = source.bumpCacheEpoch.bind(source);
    source.bumpCacheEpoch = async (o) => {
      const before = source.epoch.epoch;
      const e = await bump(o);
      if (e.epoch !== before) at.push(performance.now());
      return e;
    };
    return at;
  }

  describe.each([
    { name: 'connections dropped', blackhole: false },
    { name: 'blackholed (commands time out)', blackhole: true },
  ])('(1) an invalidation that cannot reach Redis ($name)', ({ blackhole }) => {
    it('moves the store epoch on, and invalidate() returns only after the lease', async () => {
      const server = await redisServer();
      const proxy = await TcpProxy.open('127.0.0.1', server.port);
      cleanup.push(() => proxy.close());
      const source = new TestSource();
      source.put(K, K, [val(1, 'URL', OLD)]);
      const pollMs = 200;
      const lease = 2 * pollMs + 200;
      const a = await resolver(source, `redis://127.0.0.1:${proxy.port}`, redisNamespace(), 'A', { epochPollMs: pollMs, commandTimeout: 100 });
      const bumps = watchBumps(source);
      const epoch = source.epoch.epoch;

      // reachable: confirmed at once, the epoch stays
      let t0 = performance.now();
      await a.invalidate({ keys: [K] });
      expect(performance.now() - t0).toBeLessThan(lease);
      expect(source.epoch.epoch).toBe(epoch);

      await proxy.stop({ blackhole });
      if (!blackhole) await vi.waitFor(() => expect(connectionsOf(a).cmd.status).not.toBe('ready'), { timeout: 2000, interval: 10 });
      source.put(K, K, [val(1, 'URL', NEW)]);
      t0 = performance.now();
      await a.invalidate({ keys: [K] });
      const returned = performance.now();
      expect(source.epoch.epoch).toBe(epoch + 1);
      expect(bumps).toHaveLength(1);
      // the lease is waited after the epoch moved (timers never fire early; 2 ms for clock granularity)
      expect(returned - bumps[0]!).toBeGreaterThanOrEqual(lease - 2);
      expect(bumps[0]!).toBeGreaterThanOrEqual(t0);
    });
  });

  it('(2) a second instance polling the same source sees the new epoch within the lease and no longer answers its memory copy', async () => {
    const server = await redisServer();
    const proxy = await TcpProxy.open('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const source = new TestSource();
    source.put(K, K, [val(1, 'URL', OLD)]);
    const ns = redisNamespace();
    const opts = { epochPollMs: 200, ackTimeoutMs: 500 };
    const a = await resolver(source, `redis://127.0.0.1:${proxy.port}`, ns, 'A', opts);
    const b = await resolver(source, server.url, ns, 'B', opts);
    expect(urlOf(await a.resolve(K))).toBe(OLD);
    expect((await b.resolve(K)).tier).toBe('redis');
    expect(b.peek(K)?.tier).toBe('memory');
    const epoch = source.epoch.epoch;

    // A is cut off from Redis; B still reaches it, and hears nothing of A's write
    await proxy.stop();
    await vi.waitFor(() => expect(connectionsOf(a).cmd.status).not.toBe('ready'), { timeout: 2000, interval: 10 });
    source.put(K, K, [val(1, 'URL', NEW)]);
    // the store changed, nobody said so yet: B answers its memory copy (this is what must end)
    expect(urlOf(await b.resolve(K))).toBe(OLD);
    expect((await b.resolve(K)).tier).toBe('memory');

    // watch B while A's invalidation runs: the last moment B still answered OLD from memory
    let lastOld = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (urlOf(b.peek(K)) === OLD) lastOld = performance.now();
        await sleep(5);
      }
    })();
    await a.invalidate({ keys: [K] });
    const returned = performance.now();
    watching = false;
    await watcher;

    expect(source.epoch.epoch).toBe(epoch + 1);
    expect(lastOld).toBeLessThan(returned);
    expect(b.peek(K)).toBeUndefined();
    const after = await b.resolve(K);
    expect(urlOf(after)).toBe(NEW);
    expect(after.tier).toBe('store');
    expect(b.stats().epochChanges).toBe(1);
    // Redis still holds OLD under the old epoch (A could not delete it): only the epoch keeps B from reading it
    const direct = admin(server.url);
    expect(await direct.get(`${ns}h:${epoch}:${K}`)).toContain(OLD);
    expect(await direct.get(`${ns}h:${epoch + 1}:${K}`)).toContain(NEW);
  });

  it('(3) after a Redis restart (new run id) the epoch moves on before Redis is read again: a value restored from disk is never served', async () => {
    const server = await redisServer(false);
    const source = new TestSource();
    source.put(K, K, [val(1, 'URL', OLD)]);
    const ns = redisNamespace();
    // polls far apart: the only epoch reads are the run-id checks; no memory cache: every resolution asks Redis
    const a = await resolver(source, server.url, ns, 'A', { epochPollMs: 60_000 }, 0);
    expect(urlOf(await a.resolve(K))).toBe(OLD);
    const epoch = source.epoch.epoch;
    const direct = admin(server.url);
    const oldKey = `${ns}h:${epoch}:${K}`;
    expect(await direct.get(oldKey)).toContain(OLD);
    expect(await direct.save()).toBe('OK'); // a snapshot holding OLD, older than the write below

    // the write is confirmed by Redis (deleted, generation bumped) and the epoch stays — but none of it reaches disk
    source.put(K, K, [val(1, 'URL', NEW)]);
    await a.invalidate({ keys: [K] });
    expect(source.epoch.epoch).toBe(epoch);
    expect(urlOf(await a.resolve(K))).toBe(NEW);

    const hold = source.holdNextEpochRead();
    await server.restart();
    // the restarted server has OLD back under the old epoch's key
    await vi.waitFor(async () => expect(await direct.get(oldKey)).toContain(OLD), { timeout: 3000, interval: 20 });

    // A's command connection is up again, its run-id check waits on the store: Redis is not read meanwhile
    await hold.started;
    expect(connectionsOf(a).cmd.status).toBe('ready');
    const redisHits = a.stats().redisHits;
    for (let i = 0; i < 5; i++) {
      const r = await a.resolve(K);
      expect(urlOf(r)).toBe(NEW);
      expect(r.tier).toBe('store');
    }
    expect(a.stats().redisHits).toBe(redisHits);
    hold.release();
    // once verified, Redis is read again: never the restored OLD
    const until = performance.now() + 300;
    while (performance.now() < until) expect(urlOf(await a.resolve(K))).toBe(NEW);
    await vi.waitFor(() => expect(source.epoch.epoch).toBe(epoch + 1), { timeout: 3000, interval: 10 });
    expect(a.stats().epochChanges).toBe(1);

    // from now on Redis is read again, under the new epoch only
    await vi.waitFor(
      async () => {
        expect(urlOf(await a.resolve(K))).toBe(NEW);
        expect(await direct.get(`${ns}h:${epoch + 1}:${K}`)).toContain(NEW);
      },
      { timeout: 3000, interval: 50 },
    );
    // an instance that starts now checks the same run id and takes the same epoch: it never sees OLD either
    const c = await resolver(source, server.url, ns, 'C', { epochPollMs: 60_000 }, 0);
    const fromC = await c.resolve(K);
    expect(urlOf(fromC)).toBe(NEW);
    expect(fromC.tier).toBe('redis');
    expect(source.epoch.epoch).toBe(epoch + 1);
    expect(await direct.get(oldKey)).toContain(OLD);
  });

  it('(4) a command timeout resets the command connection; Redis is read again only after it is verified anew', async () => {
    const srv = await ThrowawayRedis.start();
    cleanup.push(() => srv.kill());
    const source = new TestSource();
    source.put(K, K, [val(1, 'URL', NEW)]);
    const ns = redisNamespace();
    // no memory cache: every resolution asks Redis
    const a = await resolver(source, srv.url, ns, 'A', { commandTimeout: 150, epochPollMs: 60_000 }, 0);
    expect((await a.resolve(K)).tier).toBe('store');
    expect((await a.resolve(K)).tier).toBe('redis');
    const { cmd } = connectionsOf(a);
    const direct = admin(srv.url);
    const cmdId = async () => {
      const list = (await direct.client('LIST')) as string;
      return list.split('\n').find((l) => l.includes(` name=${ns}A:cmd `))?.match(/^id=(\d+)/)?.[1];
    };
    const before = await cmdId();
    expect(before).toBeDefined();
    const statuses: string[] = [];
    const onClose = () => statuses.push(`close (${cmd.status})`);
    cmd.on('close', onClose);
    cleanup.push(async () => cmd.off('close', onClose));

    srv.pause();
    const t0 = performance.now();
    const during = await a.resolve(K);
    expect(urlOf(during)).toBe(NEW);
    expect(during.tier).toBe('store');
    expect(performance.now() - t0).toBeLessThan(1500);
    // the connection whose reply is still owed is dropped (ioredis ends it, and destroys it after its 2 s
    // disconnectTimeout when the server does not answer the FIN) and is being made anew
    await vi.waitFor(() => expect(statuses.length).toBeGreaterThan(0), { timeout: 5000, interval: 5 });
    await vi.waitFor(() => expect(['reconnecting', 'connecting', 'connect']).toContain(cmd.status), { timeout: 5000, interval: 5 });

    const hold = source.holdNextEpochRead();
    srv.resume();
    await hold.started; // connected again; the run-id check is waiting on the store
    expect(cmd.status).toBe('ready');
    const after = await cmdId();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    const redisHits = a.stats().redisHits;
    for (let i = 0; i < 5; i++) expect((await a.resolve(K)).tier).toBe('store');
    expect(a.stats().redisHits).toBe(redisHits);

    hold.release();
    await vi.waitFor(async () => expect((await a.resolve(K)).tier).toBe('redis'), { timeout: 3000, interval: 20 });
    // the same server (same run id): verified without moving the epoch
    expect(a.stats().epochChanges).toBe(0);
  });

  describe('(5) the lease: caches are read only while the polls of the store epoch keep completing', () => {
    it('an instance whose poll stalls stops answering from memory and Redis after one lease, and does again once polls complete', async () => {
      const server = await redisServer();
      const source = new TestSource();
      source.put(K, K, [val(1, 'URL', OLD)]);
      const pollMs = 200;
      const lease = 2 * pollMs + 200;
      const b = await resolver(source, server.url, redisNamespace(), 'B', { epochPollMs: pollMs });
      await vi.waitFor(async () => expect((await b.resolve(K)).tier).toBe('memory'), { timeout: 3000, interval: 20 });

      // the next epoch read hangs: polls stop completing (a stalled event loop, a store that does not answer)
      const hold = source.holdNextEpochRead();
      await hold.started;
      const stalledAt = performance.now();
      await vi.waitFor(async () => expect((await b.resolve(K)).tier).toBe('store'), { timeout: 3 * lease, interval: 20 });
      // not before the lease ran out from the start of the last poll that completed (at most one poll before the stall)
      expect(performance.now() - stalledAt).toBeGreaterThanOrEqual(lease - pollMs - 5);
      expect(urlOf(await b.resolve(K))).toBe(OLD);

      hold.release();
      await vi.waitFor(async () => expect((await b.resolve(K)).tier).toBe('memory'), { timeout: 3000, interval: 20 });
    });

    it('polls that fail because the store is out of reach keep the lease (no write can be acknowledged then)', async () => {
      const server = await redisServer();
      const source = new TestSource();
      source.put(K, K, [val(1, 'URL', OLD)]);
      const pollMs = 200;
      const b = await resolver(source, server.url, redisNamespace(), 'B', { epochPollMs: pollMs });
      await vi.waitFor(async () => expect((await b.resolve(K)).tier).toBe('memory'), { timeout: 3000, interval: 20 });
      const real = source.cacheEpoch.bind(source);
      source.cacheEpoch = async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      };
      await sleep(6 * pollMs);
      expect((await b.resolve(K)).tier).toBe('memory');
      // any other failure of the read is no reason to trust: the lease runs out
      source.cacheEpoch = async () => {
        throw new Error('permission denied for table cache_epoch');
      };
      await vi.waitFor(async () => expect((await b.resolve(K)).tier).not.toBe('memory'), { timeout: 3000, interval: 20 });
      source.cacheEpoch = real;
    });
  });
});
