// Two instances on one PostgreSQL and a replicated Redis (a 3+3 Redis Cluster, then Sentinel with a master and two replicas) under bounded load while a master is SIGKILLed: every resolution answered, none older than an acknowledged write, both back on Redis without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../resolver/key-slot.js';
import type { ResolverStats } from '../../resolver/types.js';
import { admin, NODE_PREFIX, startTestServer, type Reply, type TestServer } from '../helpers/node.js';
import { RedisClusterFixture, RedisSentinelFixture } from '../helpers/redis-topologies.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const HANDLES = 16;
/** reading loops per instance (the bound on the load) */
const READERS = 3;
const body = (seq: number) => [{ index: 1, type: 'URL', data: `https://example.com/v/${seq}` }];

function seqOf(r: Reply): number | null {
  const v = (r.json?.values as { index: number; data: { value: unknown } }[] | undefined)?.find((x) => x.index === 1)?.data.value;
  const m = typeof v === 'string' ? /\/v\/(\d+)$/.exec(v) : null;
  return m ? Number(m[1]) : null;
}

interface Counts {
  reads: number;
  readFailures: string[];
  stale: string[];
  writes: number;
  writeFailures: string[];
}

/** What a scenario reports (printed, and asserted on by its tests). */
interface Outcome extends Counts {
  log: string[];
  /** per instance: the stats when the master was killed, when the watch ended, and after three more seconds of load */
  stats: { atKill: ResolverStats; atEnd: ResolverStats; later: ResolverStats }[];
  busSubscribed: boolean[];
  redisState: string[];
}

/** The bus subscription state, read from the resolver (as test/resolver/coherence.test.ts reaches into it). */
function subscribed(s: TestServer): boolean {
  return (s.node.resolver as unknown as { coherence: { bus: { subscribed: boolean } } | null }).coherence?.bus.subscribed === true;
}

/**
 * Instances A and B on `dbUrl` and `redisUrl` (a fresh namespace); handles H0…H15 written; then writes (alternately
 * through A and B) and READERS reading loops per instance for `warmMs`, `kill()`, `watchMs` more, and a last stretch
 * of three seconds to see Redis used again. A read counts as stale when it answers a value older than the newest one
 * whose PUT was acknowledged before the read was sent.
 */
async function scenario(dbUrl: string, redisUrl: string, namespace: string, kill: () => Promise<string>, warmMs = 3000, watchMs = 12_000): Promise<Outcome> {
  const shared = { databaseUrl: dbUrl, namespace };
  const env = { REDIS_URL: redisUrl };
  const a = await startTestServer('postgres+redis', env, shared);
  const b = await startTestServer('postgres+redis', env, shared).catch(async (e) => {
    await a.close();
    throw e;
  });
  const instances = [a, b];
  try {
    const handle = (i: number) => `${NODE_PREFIX}/FAILOVER-${namespace.slice(8, 16)}-${i}`;
    const acked = new Map<number, { seq: number; at: number }[]>();
    let seq = 0;
    for (let i = 0; i < HANDLES; i++) {
      const s = ++seq;
      const r = await a.send('PUT', `/api/handles/${handle(i)}`, body(s), admin());
      expect(r.status, r.text).toBeLessThan(300);
      acked.set(i, [{ seq: s, at: Date.now() }]);
    }
    for (const s of instances) for (let i = 0; i < HANDLES; i++) expect((await s.get(`/api/handles/${handle(i)}`)).status).toBe(200);

    const c: Counts = { reads: 0, readFailures: [], stale: [], writes: 0, writeFailures: [] };
    const t0 = Date.now();
    const log: string[] = [];
    const mark = (what: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    let stop = false;
    const writer = async () => {
      let n = 0;
      while (!stop) {
        const i = n % HANDLES;
        const via = instances[n++ % 2]!;
        const s = ++seq;
        try {
          const r = await via.send('PUT', `/api/handles/${handle(i)}`, body(s), admin());
          c.writes++;
          if (r.status === 200 && r.json?.responseCode === 1) acked.get(i)!.push({ seq: s, at: Date.now() });
          else c.writeFailures.push(`${handle(i)} v${s}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
        } catch (e) {
          c.writeFailures.push(`${handle(i)} v${s}: ${(e as Error).message}`);
        }
        await sleep(30);
      }
    };
    const reader = async (s: TestServer, name: string, offset: number) => {
      let k = offset;
      while (!stop) {
        const i = k++ % HANDLES;
        const startedAt = Date.now();
        const mustSee = acked.get(i)!.filter((x) => x.at < startedAt).reduce((m, x) => Math.max(m, x.seq), 0);
        try {
          const r = await s.get(`/api/handles/${handle(i)}`);
          c.reads++;
          const got = r.status === 200 ? seqOf(r) : null;
          if (got === null) c.readFailures.push(`${name} ${handle(i)} at ${startedAt - t0} ms: HTTP ${r.status} ${r.text.slice(0, 200)}`);
          else if (got < mustSee) c.stale.push(`${name} ${handle(i)} at ${startedAt - t0} ms: v${got} after v${mustSee} was acknowledged`);
        } catch (e) {
          c.reads++;
          c.readFailures.push(`${name} ${handle(i)}: ${(e as Error).message}`);
        }
        await sleep(5);
      }
    };
    const loops = [writer()];
    for (let j = 0; j < READERS; j++) loops.push(reader(a, 'A', j * 5), reader(b, 'B', j * 5 + 2));

    await sleep(warmMs);
    const atKill = instances.map((s) => s.node.resolver.stats());
    mark(await kill());
    await sleep(watchMs);
    const atEnd = instances.map((s) => s.node.resolver.stats());
    mark('watch over');
    await sleep(3000);
    const later = instances.map((s) => s.node.resolver.stats());
    stop = true;
    await Promise.all(loops);
    mark(`done: ${c.reads} reads, ${c.readFailures.length} failed, ${c.stale.length} stale; ${c.writes} writes, ${c.writeFailures.length} failed`);
    return {
      ...c,
      log,
      stats: instances.map((_, i) => ({ atKill: atKill[i]!, atEnd: atEnd[i]!, later: later[i]! })),
      busSubscribed: instances.map(subscribed),
      redisState: instances.map((s) => s.node.redisState()),
    };
  } finally {
    await Promise.all(instances.map((s) => s.close()));
  }
}

function report(title: string, o: Outcome): void {
  const st = o.stats.map(
    (s, i) =>
      `${'AB'[i]}: redis hits ${s.atKill.redisHits} → ${s.atEnd.redisHits} → ${s.later.redisHits}, redis errors ${s.atKill.redisErrors} → ${s.later.redisErrors}, ` +
      `epoch changes ${s.atKill.epochChanges} → ${s.later.epochChanges}, store reads ${s.atKill.storeReads} → ${s.later.storeReads}`,
  );
  console.log(`${title}\n  ${o.log.join('\n  ')}\n  ${st.join('\n  ')}`);
}

function assertOutcome(o: Outcome): void {
  expect(o.reads).toBeGreaterThan(500);
  expect(o.writes).toBeGreaterThan(20);
  expect(o.readFailures, 'resolutions that failed').toEqual([]);
  expect(o.stale, 'resolutions older than an acknowledged write').toEqual([]);
  expect(o.writeFailures, 'writes that failed').toEqual([]);
  for (const [i, s] of o.stats.entries()) {
    const who = `instance ${'AB'[i]}`;
    // the failover moved the epoch on (a new master: a new run id), and Redis is read again afterwards
    expect(s.later.epochChanges, `${who}: epoch changes`).toBeGreaterThan(s.atKill.epochChanges);
    expect(s.later.redisHits, `${who}: Redis hits in the last three seconds`).toBeGreaterThan(s.atEnd.redisHits);
  }
  expect(o.busSubscribed, 'bus subscriptions at the end').toEqual([true, true]);
  expect(o.redisState, 'Redis connection state at the end').toEqual(['ready', 'ready']);
}

describe.skipIf(!hasPostgres || !hasRedis)('replicated Redis failing over under load', () => {
  let db: { url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    db = await tempPostgres();
  });
  afterAll(async () => {
    await db?.drop();
  });

  describe('Redis Cluster, 3 masters and 3 replicas: the master of the bus\'s slot killed', () => {
    let cluster: RedisClusterFixture | undefined;
    let outcome: Outcome;

    beforeAll(async () => {
      cluster = await RedisClusterFixture.start({ masters: 3, replicas: 1 });
      const ns = redisNamespace();
      outcome = await scenario(db!.url, cluster.url, ns, async () => {
        const port = await cluster!.masterOf(keySlot(`{${ns}bus}:inv`));
        await cluster!.node(port).kill();
        return `kill -9 of the master on port ${port} (the bus's shard, a third of the keys)`;
      });
      report('Redis Cluster failover', outcome);
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('every resolution was answered, none older than an acknowledged write, no write failed', () => {
      assertOutcome(outcome);
    });
  });

  describe('Sentinel, a master and 2 replicas watched by 3 sentinels: the master killed', () => {
    let set: RedisSentinelFixture | undefined;
    let outcome: Outcome;

    beforeAll(async () => {
      set = await RedisSentinelFixture.start({ replicas: 2, sentinels: 3 });
      outcome = await scenario(db!.url, set.url, redisNamespace(), async () => {
        const port = await set!.masterPort();
        await set!.dataNode(port).kill();
        return `kill -9 of the master on port ${port}`;
      });
      report('Sentinel failover', outcome);
    }, 120_000);
    afterAll(async () => {
      await set?.stop();
    });

    it('every resolution was answered, none older than an acknowledged write, no write failed', () => {
      assertOutcome(outcome);
    });
  });
});
