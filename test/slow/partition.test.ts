// Two instances through a Redis partition or restart: once a PUT is acknowledged, no GET on either ever answers the old value.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { parseHandle } from '../../handle/identifier.js';
import { admin, NODE_PREFIX, startTestServer, type Reply, type TestServer } from '../helpers/node.js';
import { RedisServer } from '../helpers/redis-server.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Cleanup } from '../helpers/cleanup.js';

// Every scenario runs its own redis-server (behind the proxy for partitions): the shared REDIS_URL server is not used,
// because any other vitest run's global teardown deletes every idnode-t-* key there — the OLD entry this file is about.

const P = NODE_PREFIX;
const OLD = 'https://old.example.com';
const NEW = 'https://new.example.com';
/** how often both instances are asked, ms */
const TICK_MS = 100;
/** how long both instances are watched once Redis is reachable again, ms (their reconnect backoff is capped at 2 s) */
const AFTER_HEAL_MS = 3000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const body = (url: string) => [{ index: 1, type: 'URL', data: url }];

/** One GET on one instance; `at` is Date.now() when asked. */
interface Answer {
  at: number;
  instance: string;
  value: string;
  /** what the handle's value key held in Redis at that tick, read straight from the server (never through the proxy) */
  redis: string;
}

/** A scenario's record: every answer given after the PUT of NEW was acknowledged, and when Redis came back. */
interface Run {
  answers: Answer[];
  healAt: number;
}

function valueOf(r: Reply): string {
  if (r.status !== 200) return `HTTP ${r.status}`;
  const v = (r.json?.values as { index: number; data: { value: unknown } }[] | undefined)?.find((x) => x.index === 1);
  return v === undefined ? 'no index 1' : String(v.data.value);
}

function fmt(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(2)}s`;
}

/** Runs of OLD answers per instance, one line each, times from the heal (negative: Redis still cut off). */
function staleRuns(run: Run): string[] {
  const out: string[] = [];
  for (const instance of [...new Set(run.answers.map((a) => a.instance))]) {
    let stale: Answer[] = [];
    const flush = (): void => {
      if (stale.length === 0) return;
      const f = stale[0]!;
      const l = stale[stale.length - 1]!;
      out.push(
        `${instance} answered OLD ×${stale.length} from ${fmt(f.at - run.healAt)} to ${fmt(l.at - run.healAt)} after the heal` +
          ` (Redis then: ${f.redis} … ${l.redis})`,
      );
      stale = [];
    };
    for (const a of run.answers.filter((x) => x.instance === instance)) {
      if (a.value === OLD) stale.push(a);
      else flush();
    }
    flush();
  }
  return out;
}

function finalAnswers(run: Run): Record<string, string> {
  const last: Record<string, string> = {};
  for (const a of run.answers) last[a.instance] = a.value;
  return last;
}

/** The invariant over every answer after the acknowledgement, then the answers the watch ended on. */
function assertNeverOld(run: Run): void {
  expect(run.answers.length).toBeGreaterThan(0);
  expect.soft(staleRuns(run), 'answers of OLD after the PUT of NEW was acknowledged').toEqual([]);
  expect(finalAnswers(run), `answers ${fmt(AFTER_HEAL_MS)} after the heal`).toEqual({ 'A (writer)': NEW, B: NEW });
}

describe.skipIf(!hasPostgres || !hasRedis)('an acknowledged write is never hidden by an older cache entry across Redis partitions and restarts', () => {
  let db: { url: string; drop: () => Promise<void> } | undefined;
  const cleanup = new Cleanup();
  let seq = 0;

  beforeAll(async () => {
    db = await tempPostgres();
  });
  afterEach(cleanup.run);
  afterAll(async () => {
    await cleanup.run();
    await db?.drop();
  });

  async function redisServer(persistent: boolean): Promise<RedisServer> {
    const server = await RedisServer.start({ persistent });
    cleanup.push(() => server.stop());
    return server;
  }

  /** A proxy in front of a fresh (non-persistent) redis-server. */
  async function proxiedRedis(): Promise<{ proxy: TcpProxy; server: RedisServer }> {
    const server = await redisServer(false);
    const proxy = await TcpProxy.open('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    return { proxy, server };
  }

  /**
   * Reads the handle's value straight from `url`: `OLD with 3597 s to live`, `no entry`, `unreachable`… Shared-cache
   * keys are named by the cache epoch (`<ns>h:<epoch>:<key>`); the newest epoch's entry is the one reported.
   */
  function observer(url: string, namespace: string, key: string): () => Promise<string> {
    const c = new Redis(url, {
      commandTimeout: 300,
      connectTimeout: 300,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    c.on('error', () => {});
    cleanup.push(async () => c.disconnect(false));
    return async () => {
      try {
        const found = await c.keys(`${namespace}h:*:${key}`);
        const epochOf = (k: string) => Number(k.slice(namespace.length + 2, k.indexOf(':', namespace.length + 2)));
        const valueKey = found.sort((x, y) => epochOf(y) - epochOf(x))[0];
        if (valueKey === undefined) return 'no entry';
        const [v, ttl] = await Promise.all([c.get(valueKey), c.pttl(valueKey)]);
        if (v === null) return 'no entry';
        const what = v.includes(OLD) ? 'OLD' : v.includes(NEW) ? 'NEW' : 'other';
        return `${what} with ${Math.round(ttl / 1000)} s to live`;
      } catch {
        return 'unreachable';
      }
    };
  }

  /** The observer's reading once it reaches the server (again: it retries every 50 ms). */
  async function redisNow(read: () => Promise<string>): Promise<string> {
    for (let i = 0; ; i++) {
      const r = await read();
      if (r !== 'unreachable' || i >= 40) return r;
      await sleep(50);
    }
  }

  interface Pair {
    a: TestServer;
    b: TestServer;
    path: string;
    redis: () => Promise<string>;
  }

  /**
   * Instances A and B on the shared database and a fresh namespace, both with REDIS_URL = `instanceUrl`; handle H
   * created with OLD and resolved on both, so it sits in both memories and in Redis (checked at `directUrl`).
   */
  async function pair(instanceUrl: string, directUrl: string): Promise<Pair> {
    const shared = { databaseUrl: db!.url, namespace: redisNamespace() };
    const a = await startTestServer('postgres+redis', { REDIS_URL: instanceUrl }, shared);
    cleanup.push(() => a.close());
    const b = await startTestServer('postgres+redis', { REDIS_URL: instanceUrl }, shared);
    cleanup.push(() => b.close());
    const handle = `${P}/PARTITION-${++seq}`;
    const path = `/api/handles/${handle}`;
    const created = await a.send('PUT', path, body(OLD), admin());
    expect(created.status, created.text).toBeLessThan(300);
    // A misses and fills Redis, B takes it from Redis; the second round is answered from memory
    for (const s of [a, b, a, b]) expect(valueOf(await s.get(path))).toBe(OLD);
    const redis = observer(directUrl, shared.namespace, parseHandle(handle, a.node.policy).key);
    expect(await redisNow(redis)).toMatch(/^OLD with \d+ s to live$/);
    return { a, b, path, redis };
  }

  /** PUT NEW through A: it must be acknowledged. */
  async function write(p: Pair): Promise<void> {
    const put = await p.a.send('PUT', p.path, body(NEW), admin());
    expect(put.status, put.text).toBeGreaterThanOrEqual(200);
    expect(put.status, put.text).toBeLessThan(300);
  }

  /** GETs H on both instances every TICK_MS until `until` (a Date.now() time), appending to `answers`. */
  async function watch(p: Pair, until: number, answers: Answer[]): Promise<void> {
    while (Date.now() < until) {
      const t = Date.now();
      const [ra, rb, redis] = await Promise.all([p.a.get(p.path), p.b.get(p.path), p.redis()]);
      answers.push({ at: t, instance: 'A (writer)', value: valueOf(ra), redis }, { at: t, instance: 'B', value: valueOf(rb), redis });
      await sleep(Math.max(0, t + TICK_MS - Date.now()));
    }
  }

  /** Cuts Redis off behind the proxy for `ms`, PUTs NEW through A meanwhile, heals, watches AFTER_HEAL_MS. */
  async function partitionScenario(blackhole: boolean, ms: number): Promise<Run> {
    const { proxy, server } = await proxiedRedis();
    const p = await pair(`redis://127.0.0.1:${proxy.port}`, server.url);
    const answers: Answer[] = [];
    await proxy.stop({ blackhole });
    const healAt = Date.now() + ms;
    if (!blackhole) await sleep(200); // both instances have seen their connections close
    await write(p); // in a blackhole its Redis commands time out (250 ms each) instead of failing at once
    // the partition really kept the invalidation from Redis
    expect(await p.redis()).toMatch(/^OLD /);
    await watch(p, healAt, answers);
    await proxy.start();
    await watch(p, Date.now() + AFTER_HEAL_MS, answers);
    return { answers, healAt };
  }

  /**
   * SIGKILLs Redis, PUTs NEW through A while it is down, restarts it from its dir after `ms`, watches. `onDisk` is
   * what the dir held before the restart; `reloaded` the value key as first read after it.
   */
  async function restartScenario(persistent: boolean, ms: number): Promise<Run & { onDisk: string; reloaded: string }> {
    const server = await redisServer(persistent);
    const p = await pair(server.url, server.url);
    const answers: Answer[] = [];
    await server.kill();
    const restartAt = Date.now() + ms;
    await sleep(200);
    await write(p);
    await watch(p, restartAt, answers);
    const onDisk = await server.persisted();
    await server.restart();
    const healAt = Date.now();
    const reloaded = await redisNow(p.redis);
    await watch(p, healAt + AFTER_HEAL_MS, answers);
    return { answers, healAt, onDisk, reloaded };
  }

  it('(a) Redis unreachable for 4 s (connections dropped, reconnects refused), PUT acknowledged meanwhile: never OLD again', { timeout: 30_000 }, async () => {
    assertNeverOld(await partitionScenario(false, 4000));
  });

  it('(b) Redis blackholed for 3 s (connections kept open, every byte dropped), PUT acknowledged meanwhile: never OLD again', { timeout: 30_000 }, async () => {
    assertNeverOld(await partitionScenario(true, 3000));
  });

  it('(c) Redis with persistence (AOF, fsync always) SIGKILLed, PUT acknowledged while it is down, restarted with its data: never OLD again', { timeout: 30_000 }, async () => {
    const run = await restartScenario(true, 2000);
    expect(run.onDisk).toContain(OLD); // the restarted server gets H's old entry back from its AOF
    assertNeverOld(run);
  });

  it('(c2) Redis restarted from a snapshot older than a PUT whose invalidation it had acknowledged: never OLD again', { timeout: 30_000 }, async () => {
    // What is on disk lags the writes (RDB snapshots, AOF fsync everysec); here one explicit SAVE before the PUT.
    const server = await redisServer(false);
    const p = await pair(server.url, server.url);
    const saver = new Redis(server.url, { maxRetriesPerRequest: 0 });
    cleanup.push(async () => saver.disconnect());
    expect(await saver.save()).toBe('OK');
    saver.disconnect();
    expect(await server.persisted()).toContain(OLD); // the snapshot holds H's old entry

    const answers: Answer[] = [];
    const writeAt = Date.now();
    await write(p); // Redis up: generation bumped, value deleted, B acked — none of it on disk
    await watch(p, writeAt + 1000, answers);
    expect(finalAnswers({ answers, healAt: 0 })).toEqual({ 'A (writer)': NEW, B: NEW });
    await server.kill();
    await sleep(300);
    await server.restart();
    const healAt = Date.now();
    await watch(p, healAt + AFTER_HEAL_MS, answers);
    assertNeverOld({ answers, healAt });
  });

  describe('(d) Redis without persistence SIGKILLed, PUT acknowledged while it is down, restarted empty', () => {
    let run: (Run & { onDisk: string; reloaded: string }) | undefined;

    beforeAll(async () => {
      run = await restartScenario(false, 2000);
    }, 30_000);
    afterAll(cleanup.run);

    it('never OLD again, on either instance', () => {
      assertNeverOld(run!);
    });

    it('regression guard: Redis comes back empty and is never refilled with OLD, the writer never answers OLD, both end on NEW', () => {
      expect(run!.onDisk).toBe('');
      expect(run!.reloaded).toMatch(/^(no entry|NEW )/);
      const after = run!.answers.filter((a) => a.at >= run!.healAt);
      expect(after.filter((a) => a.redis.startsWith('OLD')).map((a) => `${fmt(a.at - run!.healAt)}: ${a.redis}`)).toEqual([]);
      expect(run!.answers.filter((a) => a.instance === 'A (writer)' && a.value === OLD).map((a) => fmt(a.at - run!.healAt))).toEqual([]);
      expect(finalAnswers(run!)).toEqual({ 'A (writer)': NEW, B: NEW });
    });
  });
});
