// The bench suite (`npm run bench`): idnode's resolution scenarios (HTTP and native Handle protocol) and batchCreate against references measured in the same run; Markdown + JSON in bench/results/.
// Usage: npm run build && node dist/bench/run.js [--seconds 5] [--connections 100] [--keys 20000 | --identifiers 1000000]
//        [--only hot,warm,…] [--rounds 3] [--workers 1] [--smoke]            (needs DATABASE_URL and REDIS_URL)
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { DEFAULT_CASE_POLICY, parseHandle } from '../handle/identifier.js';
import { sameValues } from '../handle/ops.js';
import { stringValue } from '../handle/value.js';
import { openPostgresStore } from '../registry/open.js';
import { createHandles } from '../registry/handles.js';
import type { BulkItem, Store } from '../registry/store.js';
import { normaliseTemplateInput } from '../registry/template-rules.js';
import { createTemplate } from '../registry/templates.js';
import {
  childPids,
  cpuMicros,
  fmtInt,
  fmtMB,
  load,
  rssBytes,
  shuffle,
  startCeiling,
  startNativeCeiling,
  startNode,
  writeReport,
  zipf,
  type LoadRequest,
  type LoadResult,
  type Proc,
} from './lib.js';
import { BenchUsageError, parseBenchArgs, positiveInt, runMain } from './args.js';
import { captureAnswer, freeNativePort, nativeLoad, waitNative, type NativeTransport } from './native-load.js';
import { benchContext, benchTemplateBody, measureRawInsert, rawPayloads, scratchDatabase, syntheticItems, type Rate } from './registration.js';

export const SCENARIOS = ['hot', 'warm', 'cold', 'negative', 'filtered', 'proxy', 'mixed', 'registration', 'native'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** The report's rows (and the JSON's `scenarios` keys): one per scenario, but native has one per transport. */
export const ROWS = ['hot', 'warm', 'cold', 'negative', 'filtered', 'proxy', 'mixed', 'registration', 'native-tcp', 'native-tcp-new', 'native-udp'] as const;
export type RowName = (typeof ROWS)[number];
const NATIVE_TRANSPORTS = ['tcp', 'tcp-new', 'udp'] as const;

const NODE_PREFIX = '88.320924';
const ADMIN_ID = `300%3A0.NA/${NODE_PREFIX}`;
const SEED_BATCH = 2000;
const REG_BATCH = 2000;
const REG_PREFIX = `${NODE_PREFIX}.900`;
const REG_VERSION = '1.0';
/** timed request lists hold at most this many requests (a uniform sample of the keys): autocannon builds every
 *  request once per connection, and a 5 s run sends fewer requests than this anyway */
const LIST_CAP = 50_000;
/** connections of the untimed passes (each builds the whole list once) */
const PASS_CONNECTIONS = 32;
/** requests of a JIT warm-up before a timed run that needs no full pass */
const JIT_WARMUP = 5000;

export interface BenchOptions {
  seconds: number;
  connections: number;
  keys: number;
  only: ScenarioName[];
  workers: number;
  /** interleaved rounds of ceiling and scenario (ratios are the median of the rounds' ratios) */
  rounds: number;
  smoke: boolean;
  /** report name: bench/results/<out>.md and .json */
  out: string;
}

const USAGE = `usage: node dist/bench/run.js [options]      (DATABASE_URL and REDIS_URL must be set)
  --seconds N        seconds per timed run (default 5)
  --rounds N         timed runs of each scenario, each next to a run of its ceiling, in ABBA order (default 3)
  --connections N    autocannon connections (default 100)
  --keys N           identifiers seeded (default 20000); --identifiers N is the same
  --only a,b         scenarios to run: ${SCENARIOS.join(', ')}
                     (native: Handle protocol resolution over TCP — keep-alive, and a new connection per
                     request — and UDP, next to HTTP hot on the same node)
  --workers N        WORKERS for the node processes (default 1: one process, like the ceilings)
  --out NAME         write bench/results/NAME.md and .json (default bench)
  --smoke            tiny run for CI: 1 s, 1 round, 10 connections, 200 keys (explicit options still apply)
  --help, -h         this text`;

/** Options of a run; `--smoke` changes the defaults, options given explicitly still apply. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const v = parseBenchArgs(
    argv,
    {
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      keys: { type: 'string' },
      identifiers: { type: 'string' },
      only: { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string' },
      smoke: { type: 'boolean' },
    },
    USAGE,
  );
  const smoke = v.smoke === true;
  if (v.keys !== undefined && v.identifiers !== undefined) throw new BenchUsageError(`--keys and --identifiers are the same option: give one\n${USAGE}`);
  let only = [...SCENARIOS];
  if (v.only !== undefined) {
    const names = v.only.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
    if (names.length === 0 || bad.length > 0) throw new BenchUsageError(`--only: unknown scenario ${bad.join(', ') || '(none)'}\n${USAGE}`);
    only = SCENARIOS.filter((s) => names.includes(s));
  }
  const out = v.out ?? 'bench';
  if (!/^[A-Za-z0-9._-]+$/.test(out)) throw new BenchUsageError(`--out needs a file name (letters, digits, . _ -)\n${USAGE}`);
  return {
    seconds: positiveInt('seconds', v.seconds, smoke ? 1 : 5),
    connections: positiveInt('connections', v.connections, smoke ? 10 : 100),
    keys: positiveInt(v.identifiers !== undefined ? 'identifiers' : 'keys', v.identifiers ?? v.keys, smoke ? 200 : 20000),
    only,
    workers: positiveInt('workers', v.workers, 1),
    rounds: positiveInt('rounds', v.rounds, smoke ? 1 : 3),
    smoke,
    out,
  };
}

// ---- figures ----

/** Share of the resolutions answered by each tier, from /metrics deltas (percent; coalesced misses are the rest). */
export interface TierHits {
  resolutions: number;
  memoryPct: number;
  redisPct: number;
  storePct: number;
}

/**
 * One measured run, idnode or ceiling: lib's LoadResult with `non2xx` recounted as the responses whose status the
 * scenario does not expect (2xx; 404 for negative; 302 for proxy).
 */
export type Measured = LoadResult;

export interface ScenarioResult extends Measured {
  /** 'req/s', or 'items/s' for registration */
  unit: string;
  /** the reference the ratio is taken to (a ceiling; the raw insert for registration; HTTP hot on the same node for native over open connections; the node:net floor for native-tcp-new) */
  ceiling: string;
  ratio: number;
  /** the reference's rate measured alongside */
  ceilingRps: number;
  /** the ceiling's server CPU per request ÷ idnode's (1 = as cheap as the ceiling; steadier than the req/s ratio) */
  cpuRatio: number | null;
  hits: TierHits | null;
  note?: string;
  raw?: { unnest: Rate; recordset: Rate; binary: Rate };
}

export interface Verdict {
  goal: string;
  target: string;
  measured: string;
  result: 'PASS' | 'FAIL' | 'n/a';
  note?: string;
}

type Expect = (status: number) => boolean;
const is2xx: Expect = (s) => s >= 200 && s < 300;

function measured(r: LoadResult, expect: Expect): Measured {
  let ok = 0;
  let all = 0;
  for (const [code, n] of Object.entries(r.statusCodes)) {
    all += n;
    if (expect(Number(code))) ok += n;
  }
  return { ...r, non2xx: all - ok };
}

const median = (xs: readonly number[]) => {
  const a = xs.slice().sort((x, y) => x - y);
  const mid = a.length >> 1;
  return a.length % 2 === 1 ? a[mid]! : (a[mid - 1]! + a[mid]!) / 2;
};

/** Several timed runs of one side as one figure: rates over the summed time, latencies the rounds' median. */
export function combine(runs: readonly Measured[]): Measured {
  if (runs.length === 1) return runs[0]!;
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const cpu = runs.every((r) => r.cpuUsPerReq !== null) ? runs.reduce((a, r) => a + r.cpuUsPerReq! * r.requests, 0) : null;
  const statusCodes: Record<string, number> = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + n;
  return {
    requests,
    seconds,
    rps: seconds > 0 ? requests / seconds : 0,
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    p999: median(runs.map((r) => r.p999)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    cpuUsPerReq: cpu === null || requests === 0 ? null : cpu / requests,
    rssMaxBytes: runs.every((r) => r.rssMaxBytes === null) ? null : Math.max(...runs.map((r) => r.rssMaxBytes ?? 0)),
    statusCodes,
  };
}

type Metrics = Map<string, number>;

/** The node's /metrics: one view over all its workers (counters summed), once it counts every worker. */
async function metrics(proc: Proc, workers: number): Promise<Metrics> {
  for (let attempt = 1; ; attempt++) {
    const res = await request(`http://127.0.0.1:${proc.port}/metrics`, { reset: true });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const m: Metrics = new Map();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const sp = line.lastIndexOf(' ');
      m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
    }
    // idnode_process_info: one sample per process counted (a worker still starting is not yet)
    const processes = [...m.keys()].filter((k) => k.startsWith('idnode_process_info{')).length;
    if (processes >= workers) return m;
    if (attempt === 50) throw new Error(`/metrics counts ${processes} of ${workers} workers`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Adds the counters' change from `before` to `after` into `acc` (to sum several runs' deltas). */
function addDelta(acc: Metrics, before: Metrics, after: Metrics): void {
  for (const [k, v] of after) acc.set(k, (acc.get(k) ?? 0) + v - (before.get(k) ?? 0));
}

function tierHits(before: Metrics, after: Metrics): TierHits {
  const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const memory = d('idnode_resolutions_total{tier="memory"}');
  const redis = d('idnode_resolutions_total{tier="redis"}');
  const store = d('idnode_resolutions_total{tier="store"}');
  const resolutions = memory + d('idnode_cache_misses_total');
  const pct = (n: number) => (resolutions === 0 ? 0 : (100 * n) / resolutions);
  return { resolutions, memoryPct: pct(memory), redisPct: pct(redis), storePct: pct(store) };
}

// ---- data ----

const benchHandle = (i: number) => `${NODE_PREFIX}/BENCH-${String(i).padStart(8, '0')}`;
const unknownHandle = (i: number) => `${NODE_PREFIX}/NOPE-${String(i).padStart(8, '0')}`;

const value = stringValue;

/** Seeds `n` identifiers through the registry's bulk create (what batchCreate and import use). */
async function seed(store: Store, n: number, log: (m: string) => void): Promise<void> {
  const actor = { id: 'bench' };
  const t0 = Date.now();
  for (let start = 0; start < n; start += SEED_BATCH) {
    const nowSec = Math.floor(Date.now() / 1000);
    const items: BulkItem[] = [];
    for (let i = start; i < Math.min(n, start + SEED_BATCH); i++) {
      const id = parseHandle(benchHandle(i), DEFAULT_CASE_POLICY);
      items.push({
        ref: { handle: id.handle, key: id.key, prefixKey: id.prefixKey },
        values: [value(1, 'URL', `https://example.com/products/${id.handle}`, nowSec), value(2, 'EMAIL', 'service@example.com', nowSec)],
      });
    }
    const res = await createHandles(benchContext(store), items, actor, 'handle.create', sameValues);
    const bad = res.findIndex((r) => r === 'exists');
    if (bad >= 0) throw new Error(`seeding: ${items[bad]!.ref.handle} exists with other values`);
    if ((start / SEED_BATCH) % 50 === 49) log(`  seeded ${fmtInt(start + SEED_BATCH)} / ${fmtInt(n)}`);
  }
  log(`seeded ${fmtInt(n)} identifiers in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Stores `<ns>ceiling:<handle>` = the node's answer for every key (the body of one answer, with the handle replaced). */
async function seedRedisCeiling(redis: Redis, ns: string, handles: readonly string[], sample: string, sampleHandle: string): Promise<void> {
  const parts = sample.split(sampleHandle);
  for (let i = 0; i < handles.length; i += 5000) {
    const p = redis.pipeline();
    for (const h of handles.slice(i, i + 5000)) p.set(`${ns}ceiling:${h}`, parts.join(h));
    const res = await p.exec();
    const err = res?.find(([e]) => e !== null)?.[0];
    if (err) throw err;
  }
}

async function deleteNamespace(redis: Redis, ns: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${ns}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;

// ---- the run ----

export async function main(argv: readonly string[]): Promise<number> {
  const opt = parseOptions(argv);
  const databaseUrl = process.env.DATABASE_URL ?? '';
  const redisUrl = process.env.REDIS_URL ?? '';
  if (!/^postgres(ql)?:\/\//.test(databaseUrl) || !/^rediss?:\/\//.test(redisUrl)) {
    throw new BenchUsageError(
      'the bench needs PostgreSQL and Redis: set DATABASE_URL (postgres://…; a throw-away database is created on its server and dropped) ' +
        'and REDIS_URL (redis://…; keys go under a unique namespace that is deleted afterwards), e.g.\n' +
        '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm run bench',
    );
  }
  const started = Date.now();
  const log = (m: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);
  const want = new Set(opt.only);
  const ns = `idnode-bench-${randomBytes(4).toString('hex')}:`;
  const secret = `bench-${randomBytes(12).toString('hex')}`;
  const adminAuth = `Basic ${Buffer.from(`${ADMIN_ID}:${secret}`).toString('base64')}`;

  // Everything set up is torn down in reverse order, on success, failure or a signal.
  const cleanups: { what: string; f: () => Promise<unknown> }[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (let c = cleanups.pop(); c !== undefined; c = cleanups.pop()) {
        try {
          await c.f();
        } catch (err) {
          log(`cleanup (${c.what}) failed: ${(err as Error).message}`);
        }
      }
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const scenarios: Partial<Record<RowName, ScenarioResult>> = {};
  const ceilings: Record<string, Measured> = {};
  let cacheMaxBytes: number | null = null;
  let answerBytes: number | null = null;
  let nativePort: number | null = null;

  try {
    // ---- set-up: scratch database, seeded through the registry code; Redis namespace ----
    const scratch = await scratchDatabase(databaseUrl);
    cleanups.push({ what: 'drop the scratch database', f: () => scratch.drop() });
    log(`scratch database ${new URL(scratch.url).pathname.slice(1)}, Redis namespace ${ns}`);
    const store = await openPostgresStore(scratch.url, { poolSize: 4 });
    cleanups.push({ what: 'close the store', f: () => store.close() });
    await store.migrate();
    await seed(store, opt.keys, log);
    const ctx = benchContext(store);
    if (want.has('registration')) {
      await createTemplate(ctx, normaliseTemplateInput(benchTemplateBody(REG_PREFIX, REG_VERSION), 'create'), { id: 'bench' });
    }
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
    cleanups.push({ what: 'close the Redis client', f: () => redis.quit() });
    cleanups.push({
      what: `delete Redis keys ${ns}*`,
      f: async () => log(`deleted ${await deleteNamespace(redis, ns)} Redis keys under ${ns}`),
    });

    // ---- request lists ----
    const handles = Array.from({ length: opt.keys }, (_, i) => benchHandle(i));
    const shuffled = shuffle(handles.slice());
    const allPaths: LoadRequest[] = shuffled.map((h) => ({ path: `/api/handles/${h}` }));
    const sample = shuffled.slice(0, LIST_CAP);
    const hotList = allPaths.slice(0, LIST_CAP);
    const negativeCount = opt.smoke ? 200 : 5000;
    const negativeList: LoadRequest[] = shuffle(Array.from({ length: negativeCount }, (_, i) => ({ path: `/api/handles/${unknownHandle(i)}` })));
    const filteredList: LoadRequest[] = sample.map((h) => ({ path: `/api/handles/${h}?type=URL` }));
    const proxyList: LoadRequest[] = sample.map((h) => ({ path: `/${h}` }));
    const mixedCount = opt.smoke ? 2000 : 20000;
    const mixedWrites = Math.max(1, Math.round(mixedCount / 100));
    const mixedList: LoadRequest[] = [];
    {
      const rank = zipf(opt.keys, 1);
      const byRank = shuffle(handles.slice());
      for (let i = 0; i < mixedCount; i++) {
        const h = byRank[rank()]!;
        mixedList.push(
          i < mixedWrites
            ? {
                method: 'PUT',
                path: `/api/handles/${h}?index=1`,
                headers: { 'content-type': 'application/json', authorization: adminAuth },
                body: JSON.stringify([{ index: 1, type: 'URL', data: `https://example.com/v2/${h}` }]),
              }
            : { path: `/api/handles/${h}` },
        );
      }
      shuffle(mixedList);
    }

    // ---- helpers over lib's load ----
    /** An untimed pass: every request of `list` at least once (connections start spread over the list). */
    const pass = async (proc: Proc, list: LoadRequest[], expect: Expect, what: string) => {
      const c = Math.min(opt.connections, PASS_CONNECTIONS, list.length);
      const r = await load({ port: proc.port, requests: list, connections: c, amount: c * Math.ceil(list.length / c), stagger: true, sampleMs: 100 });
      const m = measured(r, expect);
      if (m.errors > 0 || m.non2xx > 0) throw new Error(`${what}: ${m.errors} errors, statuses ${JSON.stringify(m.statusCodes)}`);
    };
    const timed = async (proc: Proc, list: LoadRequest[], expect: Expect) =>
      measured(await load({ port: proc.port, pid: proc.pid, requests: list, connections: opt.connections, duration: opt.seconds, stagger: true }), expect);

    const procs: Partial<Record<'const' | 'redis' | 'pg', Proc>> = {};
    const ceiling = async (mode: 'const' | 'redis' | 'pg', env: Record<string, string> = {}) => {
      let p = procs[mode];
      if (p === undefined) {
        p = await startCeiling(mode, env);
        procs[mode] = p;
        const stop = p.stop;
        cleanups.push({ what: `stop ceiling ${mode}`, f: stop });
      }
      return p;
    };
    const warmedCeilings = new Set<string>();
    const nodeEnv = (extra: Record<string, string>) => ({
      DATABASE_URL: scratch.url,
      ADMIN_SECRET: secret,
      ADMIN_USER: 'admin',
      NODE_PREFIX,
      CASE_SENSITIVE_SUFFIX: 'false',
      WORKERS: String(opt.workers),
      REDIS_NAMESPACE: ns,
      ...extra,
    });
    const withNode = async (what: string, env: Record<string, string>, f: (node: Proc) => Promise<void>) => {
      const node = await startNode(nodeEnv(env));
      const entry = { what: `stop the ${what} node`, f: node.stop };
      cleanups.push(entry);
      log(`${what} node up (pid ${node.pid}, port ${node.port})`);
      try {
        await f(node);
      } finally {
        const at = cleanups.indexOf(entry);
        if (at >= 0) cleanups.splice(at, 1);
        await node.stop();
      }
    };
    /**
     * Timed runs of the node, each next to a timed run of a reference, in ABBA order so a machine that speeds up or
     * slows down during the bench weighs on both sides alike; the ratio is the median of the rounds' ratios. The
     * reference's figures are recorded under `ref.name`. Tier hits are the /metrics deltas around the node's runs only
     * (the reference may run on the same node: native's does).
     */
    const abba = async (
      label: string,
      node: Proc,
      mine: () => Promise<Measured>,
      ref: { name: string; run: () => Promise<Measured> },
    ): Promise<Omit<ScenarioResult, 'note' | 'raw'>> => {
      log(`scenario ${label} (${opt.rounds} round${opt.rounds === 1 ? '' : 's'} against ${ref.name})`);
      const deltas: Metrics = new Map();
      const runMine = async () => {
        const before = await metrics(node, opt.workers);
        const r = await mine();
        addDelta(deltas, before, await metrics(node, opt.workers));
        return r;
      };
      const ours: Measured[] = [];
      const theirs: Measured[] = [];
      for (let i = 0; i < opt.rounds; i++) {
        if (i % 2 === 0) {
          theirs.push(await ref.run());
          ours.push(await runMine());
        } else {
          ours.push(await runMine());
          theirs.push(await ref.run());
        }
      }
      const m = combine(ours);
      const c = combine(theirs);
      ceilings[ref.name] = c;
      const ratio = median(ours.map((r, i) => r.rps / theirs[i]!.rps));
      const cpuRatio = m.cpuUsPerReq && c.cpuUsPerReq ? c.cpuUsPerReq / m.cpuUsPerReq : null;
      return { ...m, unit: 'req/s', ceiling: ref.name, ceilingRps: c.rps, ratio, cpuRatio, hits: tierHits(new Map(), deltas) };
    };
    /** An HTTP scenario against its ceiling process (same list unless `ref.list`), the ceiling warmed once first. */
    const scenario = async (
      name: ScenarioName & RowName,
      node: Proc,
      list: LoadRequest[],
      expect: Expect,
      ref: { name: string; proc: Proc; list?: LoadRequest[] },
      note?: string,
    ) => {
      const refList = ref.list ?? list;
      if (!warmedCeilings.has(ref.name)) {
        await pass(ref.proc, refList.slice(0, JIT_WARMUP), is2xx, `warm-up of ceiling ${ref.name}`);
        warmedCeilings.add(ref.name);
      }
      const r = await abba(name, node, () => timed(node, list, expect), { name: ref.name, run: () => timed(ref.proc, refList, is2xx) });
      scenarios[name] = { ...r, ...(note ? { note } : {}) };
    };
    /** A timed native run over the hot keys (answers other than responseCode 1 count as non-2xx). */
    const nativeTimed = async (proc: Proc, transport: NativeTransport, port = nativePort!) => {
      const { firstError, ...r } = await nativeLoad({ port, transport, handles: sample, connections: opt.connections, duration: opt.seconds, pid: proc.pid });
      if (firstError !== null) log(`native ${transport}: ${r.errors} errors, the first: ${firstError}`);
      return measured(r, (rc) => rc === 1);
    };

    // ---- warm: Redis hits (in-process cache off) vs fastify + one ioredis GET ----
    if (want.has('warm')) {
      await withNode('warm (CACHE_MAX_BYTES=0, Redis)', { REDIS_URL: redisUrl, CACHE_MAX_BYTES: '0' }, async (node) => {
        const h0 = shuffled[0]!;
        const res = await request(`http://127.0.0.1:${node.port}/api/handles/${h0}`);
        const body = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`the node answered ${res.statusCode} for ${h0}: ${body}`);
        answerBytes = Buffer.byteLength(body);
        await seedRedisCeiling(redis, ns, handles, body, h0);
        const c = await ceiling('redis', { REDIS_URL: redisUrl, CEILING_NS: `${ns}ceiling:` });
        log('warm: one pass over every key fills Redis');
        await pass(node, allPaths, is2xx, 'warm pass');
        await scenario('warm', node, hotList, is2xx, { name: 'redis', proc: c });
      });
    }

    // ---- cold: every request reads PostgreSQL vs fastify + one indexed pg lookup ----
    if (want.has('cold')) {
      await withNode('cold (CACHE_MAX_BYTES=0, no Redis)', { REDIS_URL: '', CACHE_MAX_BYTES: '0' }, async (node) => {
        const c = await ceiling('pg', { DATABASE_URL: scratch.url });
        await pass(node, hotList.slice(0, JIT_WARMUP), is2xx, 'cold warm-up');
        await scenario('cold', node, hotList, is2xx, { name: 'pg', proc: c });
      });
    }

    // ---- the default node (in-process cache, Redis): hot, negative, filtered, proxy, registration ----
    // (and native: the Handle protocol listeners on a port picked here, next to HTTP hot on the same node)
    const onHot: ScenarioName[] = ['hot', 'negative', 'filtered', 'proxy', 'registration', 'native'];
    if (onHot.some((s) => want.has(s))) {
      if (want.has('native')) nativePort = await freeNativePort();
      // the bench's native connections all come from loopback: lift the per-address cap to the total
      const defaultEnv = { REDIS_URL: redisUrl, ...(nativePort !== null ? { NATIVE_PORT: String(nativePort), NATIVE_MAX_CONNECTIONS_PER_ADDRESS: '1024' } : {}) };
      await withNode(`default (in-process cache + Redis${nativePort !== null ? `, native on ${nativePort}` : ''})`, defaultEnv, async (node) => {
        cacheMaxBytes = (await metrics(node, opt.workers)).get('idnode_cache_max_bytes') ?? null;
        const ref = async (name: string, list?: LoadRequest[]) => ({ name, proc: await ceiling('const'), ...(list ? { list } : {}) });

        const fillHot = async () => {
          log('hot: one pass over every key fills the in-process cache');
          await pass(node, allPaths, is2xx, 'hot pass');
          // more keys than the timed list: pass over its keys again so they are the ones the byte budget keeps
          if (allPaths.length > hotList.length) await pass(node, hotList, is2xx, 'hot pass over the timed keys');
          // and once more, now that every key is cached: the answers are memoised and the JIT has seen the hit path
          // (the ceiling gets its JIT warm-up too)
          await pass(node, hotList, is2xx, 'hot warm-up over cached keys');
        };
        if (want.has('hot')) {
          await fillHot();
          await scenario('hot', node, hotList, is2xx, await ref('const'));
        }
        if (want.has('native')) {
          if (!want.has('hot')) await fillHot();
          const port = nativePort!;
          await waitNative(port);
          for (const transport of NATIVE_TRANSPORTS) {
            // JIT warm-up, and a check that every request is answered with success before anything is timed
            const w = await nativeLoad({ port, transport, handles: sample, connections: Math.min(opt.connections, PASS_CONNECTIONS), amount: JIT_WARMUP });
            if (w.errors > 0 || w.non2xx > 0) {
              throw new Error(`native ${transport} warm-up: ${w.errors} errors${w.firstError ? ` (first: ${w.firstError})` : ''}, responseCodes ${JSON.stringify(w.statusCodes)}`);
            }
          }
          // a new connection per request is weighed against node's own floor: a bare node:net server answering the
          // node's own bytes (bench/ceiling-native.ts); the rows on open connections against HTTP hot on the node
          const floor = await startNativeCeiling(await captureAnswer(port, sample[0]!));
          cleanups.push({ what: 'stop the native ceiling', f: floor.stop });
          await nativeLoad({ port: floor.port, transport: 'tcp-new', handles: sample, connections: Math.min(opt.connections, PASS_CONNECTIONS), amount: JIT_WARMUP });
          for (const transport of NATIVE_TRANSPORTS) {
            const row = `native-${transport}` as const;
            const perConnection = transport === 'tcp-new';
            const r = perConnection
              ? await abba(row, node, () => nativeTimed(node, transport), { name: 'node:net floor (tcp-new)', run: () => nativeTimed(floor, transport, floor.port) })
              : await abba(row, node, () => nativeTimed(node, transport), { name: `http hot (next to ${row})`, run: () => timed(node, hotList, is2xx) });
            const ref = ceilings[r.ceiling]!;
            const whose = perConnection ? "the bare server's" : "HTTP's";
            const cpu =
              r.cpuUsPerReq !== null && ref.cpuUsPerReq !== null
                ? `CPU per request ${r.cpuUsPerReq.toFixed(1)} vs ${ref.cpuUsPerReq.toFixed(1)} µs = ${(r.cpuUsPerReq / ref.cpuUsPerReq).toFixed(2)} × ${whose}`
                : 'CPU per request not measured';
            const how =
              transport === 'tcp'
                ? `${opt.connections} keep-alive connections, one request outstanding on each`
                : transport === 'tcp-new'
                  ? `a new connection per request, ${opt.connections} at a time, closed by the client after the answer (as CNRI's client library resolves)`
                  : `one socket, ${opt.connections} requests outstanding`;
            const against = perConnection
              ? `vs a bare node:net server answering the node's own bytes (node's floor for a connection), measured alongside`
              : 'vs HTTP hot measured alongside';
            scenarios[row] = {
              ...r,
              note:
                `resolution over native ${transport === 'udp' ? 'UDP' : 'TCP'} (${how}), same keys and node as HTTP hot; ` +
                `${against}: ${r.ratio.toFixed(2)} × its req/s, ${cpu}`,
            };
          }
        }
        if (want.has('negative')) {
          await pass(node, negativeList, (s) => s === 404, 'negative pass');
          // "at least as fast as hot" is measured against hot itself: HTTP hot on the same node, in the same rounds
          await scenario('negative', node, negativeList, (s) => s === 404, { name: 'http hot (next to negative)', proc: node, list: hotList }, 'ratio to HTTP hot on the same node, measured alongside');
        }
        if (want.has('filtered')) {
          await pass(node, filteredList.slice(0, JIT_WARMUP), is2xx, 'filtered warm-up');
          await scenario('filtered', node, filteredList, is2xx, await ref('const (?type=URL)'));
        }
        if (want.has('proxy')) {
          await pass(node, proxyList.slice(0, JIT_WARMUP), (s) => s === 302, 'proxy warm-up');
          await scenario('proxy', node, proxyList, (s) => s === 302, await ref('const (proxy run)', hotList), 'GET /<handle> → 302 (counted as success); ratio to const on the /api/handles list');
        }
        if (want.has('registration')) {
          log('registration: batchCreate over HTTP');
          scenarios.registration = await registration(node, store, secret, Math.min(opt.keys, 20000));
        }
      });
    }

    // ---- mixed on a node of its own: its RSS is the mixed load's, not what the scenarios before it left behind ----
    if (want.has('mixed')) {
      await withNode('mixed (in-process cache + Redis)', { REDIS_URL: redisUrl }, async (node) => {
        cacheMaxBytes ??= (await metrics(node, opt.workers)).get('idnode_cache_max_bytes') ?? null;
        await pass(node, mixedList.slice(0, JIT_WARMUP), is2xx, 'mixed warm-up');
        const c = { name: 'const (mixed run)', proc: await ceiling('const'), list: hotList };
        await scenario('mixed', node, mixedList, is2xx, c, `Zipf(s=1) over ${fmtInt(opt.keys)} keys, ${mixedWrites} of ${mixedCount} requests PUT, on a fresh node; ratio to const on the hot list`);
      });
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }

  // ---- verdicts and report ----
  const verdicts = judge(scenarios, ceilings, opt, cacheMaxBytes);
  const seconds = (Date.now() - started) / 1000;
  const cpus = os.cpus();
  const settings = {
    seconds: opt.seconds,
    connections: opt.connections,
    keys: opt.keys,
    workers: opt.workers,
    rounds: opt.rounds,
    smoke: opt.smoke,
    out: opt.out,
    only: opt.only,
    timedListLength: Math.min(opt.keys, LIST_CAP),
    negativeKeys: opt.smoke ? 200 : 5000,
    mixedRequests: opt.smoke ? 2000 : 20000,
    registrationItems: Math.min(opt.keys, 20000),
    cacheMaxBytes,
    answerBytes,
    nativePort,
    node: process.version,
    cpu: `${cpus[0]?.model.trim() ?? 'unknown'} × ${cpus.length}`,
    platform: `${os.platform()} ${os.release()}`,
    totalMemory: os.totalmem(),
  };
  const json = { when: new Date(started).toISOString(), runSeconds: seconds, settings, scenarios, ceilings, verdicts };
  const md = report(json);
  writeReport(opt.out, md, json);
  process.stdout.write(md.endsWith('\n') ? md : `${md}\n`);
  log(`done in ${seconds.toFixed(1)} s: bench/results/${opt.out}.md and ${opt.out}.json`);
  const bad = Object.values(scenarios).some((s) => s.errors > 0 || s.non2xx > 0);
  return bad ? 1 : 0;
}

/** Identifiers/s through POST /identityv2/data/batchCreate on the running node (admin token, bodies prebuilt). */
async function registration(node: Proc, store: Store, secret: string, n: number): Promise<ScenarioResult> {
  const base = `http://127.0.0.1:${node.port}`;
  const login = await request(`${base}/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: secret }),
  });
  const tok = (await login.body.json()) as { data?: { token?: string } };
  if (login.statusCode !== 200 || typeof tok.data?.token !== 'string') throw new Error(`/identity/token answered ${login.statusCode}: ${JSON.stringify(tok)}`);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${tok.data.token}` };
  const post = async (body: string) => {
    const res = await request(`${base}/identityv2/data/batchCreate`, { method: 'POST', headers, body, bodyTimeout: 120_000, headersTimeout: 120_000 });
    const r = (await res.body.json()) as { status: number; message: string; data?: { handle: string; msg: string }[] };
    const bad = r.status !== 1 ? r.message : r.data?.find((x) => x.msg !== 'success')?.msg;
    if (bad !== undefined) throw new Error(`batchCreate over HTTP refused: ${bad}`);
  };
  const chunks = (items: ReturnType<typeof syntheticItems>) => {
    const out: string[] = [];
    for (let i = 0; i < items.length; i += REG_BATCH) out.push(JSON.stringify(items.slice(i, i + REG_BATCH)));
    return out;
  };
  // warm-up on items outside the measured range
  for (const b of chunks(syntheticItems(REG_PREFIX, REG_VERSION, Math.min(REG_BATCH, n), 10_000_000))) await post(b);

  const items = syntheticItems(REG_PREFIX, REG_VERSION, n);
  const bodies = chunks(items);
  const pids = () => [node.pid, ...childPids(node.pid)];
  const cpu = () => pids().reduce((a, p) => a + cpuMicros(p), 0);
  const rss = () => pids().reduce((a, p) => a + rssBytes(p), 0);
  let rssMax = rss();
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rss())), 250);
  const calls: number[] = [];
  const cpu0 = cpu();
  const t0 = process.hrtime.bigint();
  try {
    for (const b of bodies) {
      const c0 = process.hrtime.bigint();
      await post(b);
      calls.push(Number(process.hrtime.bigint() - c0) / 1e6);
    }
  } finally {
    clearInterval(sampler);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuUs = cpu() - cpu0;
  rssMax = Math.max(rssMax, rss());
  // the database's own multi-row insert rate, same rows, for reference (faster of the two methods)
  const payloads = rawPayloads(items);
  const unnest = await measureRawInsert(store.db, payloads, REG_BATCH, 'unnest');
  const recordset = await measureRawInsert(store.db, payloads, REG_BATCH, 'recordset');
  const binary = await measureRawInsert(store.db, payloads, REG_BATCH, 'binary');
  const raw = Math.max(unnest.perSecond, recordset.perSecond, binary.perSecond);
  const sorted = calls.slice().sort((a, b) => a - b);
  const rps = n / secs;
  return {
    requests: n,
    seconds: secs,
    rps,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    p999: quantile(sorted, 0.999),
    errors: 0,
    non2xx: 0,
    statusCodes: { '200': bodies.length },
    cpuUsPerReq: cpuUs / n,
    rssMaxBytes: rssMax,
    unit: 'items/s',
    ceiling: 'raw insert',
    ratio: rps / raw,
    ceilingRps: raw,
    cpuRatio: null,
    hits: null,
    note: `${fmtInt(n)} identifiers, ${REG_BATCH} per call (latency = per call, CPU = per identifier); raw multi-row insert ${fmtInt(raw)} items/s`,
    raw: { unnest, recordset, binary },
  };
}

function judge(
  s: Partial<Record<RowName, ScenarioResult>>,
  ceilings: Record<string, Measured>,
  opt: BenchOptions,
  cacheMaxBytes: number | null,
): Verdict[] {
  const v: Verdict[] = [];
  const ratioGoal = (goal: string, name: RowName, min: number) => {
    const r = s[name];
    v.push(
      r === undefined
        ? { goal, target: `≥ ${min.toFixed(2)}`, measured: '-', result: 'n/a', note: 'not run' }
        : {
            goal,
            target: `≥ ${min.toFixed(2)} × ${r.ceiling}`,
            measured: `${r.ratio.toFixed(2)} (${fmtInt(r.rps)} vs ${fmtInt(r.ceilingRps)} req/s)`,
            result: r.ratio >= min ? 'PASS' : 'FAIL',
          },
    );
  };
  ratioGoal('hot resolve vs bare fastify', 'hot', 0.9);
  ratioGoal('warm resolve vs fastify + ioredis', 'warm', 0.85);
  ratioGoal('cold resolve vs fastify + pg', 'cold', 0.85);

  const hot = s.hot;
  const neg = s.negative;
  v.push(
    neg === undefined
      ? { goal: 'negative at least as fast as hot', target: 'negative req/s ≥ hot req/s', measured: '-', result: 'n/a', note: 'not run' }
      : {
          goal: 'negative at least as fast as hot',
          target: 'negative req/s ≥ HTTP hot req/s on the same node, measured alongside',
          measured: `${neg.ratio.toFixed(2)} (${fmtInt(neg.rps)} vs ${fmtInt(neg.ceilingRps)} req/s; CPU ${neg.cpuUsPerReq?.toFixed(1) ?? '-'} vs ${ceilings[neg.ceiling]?.cpuUsPerReq?.toFixed(1) ?? '-'} µs/req)`,
          result: neg.ratio >= 1 ? 'PASS' : 'FAIL',
        },
  );

  const cHot = ceilings.const;
  const at100 = opt.connections === 100 ? undefined : `goal stated at 100 connections; measured at ${opt.connections}`;
  v.push(
    hot === undefined || cHot === undefined
      ? { goal: 'hot p99 vs bare fastify p99', target: '≤ 1.5 × const p99', measured: '-', result: 'n/a', note: 'not run' }
      : {
          goal: 'hot p99 vs bare fastify p99',
          target: `≤ 1.5 × ${cHot.p99} ms = ${(1.5 * cHot.p99).toFixed(1)} ms`,
          measured: `${hot.p99} ms`,
          result: hot.p99 <= 1.5 * cHot.p99 ? 'PASS' : 'FAIL',
          ...(at100 ? { note: at100 } : {}),
        },
  );

  const mixed = s.mixed;
  const at1M = opt.keys >= 1_000_000 ? undefined : `goal stated with 1 M identifiers; this run seeded ${fmtInt(opt.keys)} (--identifiers 1000000)`;
  if (mixed === undefined || mixed.rssMaxBytes === null || cacheMaxBytes === null) {
    v.push({ goal: 'RSS under mixed load', target: '< 2 × CACHE_MAX_BYTES + 200 MB', measured: '-', result: 'n/a', note: 'not run' });
  } else {
    const limit = 2 * cacheMaxBytes + 200 * 1024 * 1024;
    v.push({
      goal: 'RSS under mixed load',
      target: `< 2 × ${fmtMB(cacheMaxBytes)} + 200 MB = ${fmtMB(limit)}`,
      measured: fmtMB(mixed.rssMaxBytes),
      result: mixed.rssMaxBytes < limit ? 'PASS' : 'FAIL',
      note: [at1M, 'max RSS of the node during mixed (a node of its own, started for it)'].filter(Boolean).join('; '),
    });
  }

  // the native path skips HTTP parsing and JSON: per request it should cost the server less CPU than HTTP hot (on
  // connections that stay open, as HTTP hot's do: a new TCP connection per request is a row of its own, not judged here)
  const judged = NATIVE_TRANSPORTS.filter((t) => t !== 'tcp-new');
  const native = judged.flatMap((t) => {
    const r = s[`native-${t}`];
    const mine = r?.cpuUsPerReq ?? null;
    const http = r === undefined ? null : (ceilings[r.ceiling]?.cpuUsPerReq ?? null);
    return mine === null || http === null ? [] : [{ t, mine, http }];
  });
  v.push(
    native.length === 0
      ? { goal: 'native beats HTTP per core', target: 'native CPU µs/req < HTTP hot CPU µs/req', measured: '-', result: 'n/a', note: 'not run' }
      : {
          goal: 'native beats HTTP per core',
          target: 'native CPU µs/req < HTTP hot CPU µs/req (same node, measured alongside)',
          measured: native.map((n) => `${n.t} ${n.mine.toFixed(1)} vs ${n.http.toFixed(1)} µs/req (${(n.mine / n.http).toFixed(2)} ×)`).join('; '),
          result: native.every((n) => n.mine < n.http) ? 'PASS' : 'FAIL',
          ...(native.length < judged.length ? { note: `only ${native.map((n) => n.t).join(', ')} measured` } : {}),
        },
  );
  return v;
}

const ms = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1));
const pct = (n: number) => (n >= 99.95 || n === 0 ? n.toFixed(0) : n.toFixed(1));

function report(j: {
  when: string;
  runSeconds: number;
  settings: Record<string, unknown> & { seconds: number; connections: number; keys: number; cacheMaxBytes: number | null };
  scenarios: Partial<Record<RowName, ScenarioResult>>;
  ceilings: Record<string, Measured>;
  verdicts: Verdict[];
}): string {
  const st = j.settings;
  const lines: string[] = [
    `# idnode bench — ${j.when}`,
    '',
    `${st.seconds} s per run, ${st.connections} connections, ${fmtInt(st.keys)} identifiers, WORKERS=${String(st.workers)}; ` +
      `node ${String(st.node)} on ${String(st.cpu)} (${String(st.platform)}), load generator on the same machine. ` +
      `Ratios are to the ceiling measured in this run with the same request list, connections and duration: ` +
      `the median of ${String(st.rounds)} round${st.rounds === 1 ? '' : 's'}, each a run of the ceiling next to a run of the scenario (ABBA order).`,
    '',
    '| scenario | req/s | ratio to ceiling | p50 ms | p99 ms | p99.9 ms | errors | non-2xx | CPU µs/req | CPU ratio | RSS max | hits mem / redis / store % |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const name of ROWS) {
    const r = j.scenarios[name];
    if (r === undefined) continue;
    const hits = r.hits === null ? '-' : `${pct(r.hits.memoryPct)} / ${pct(r.hits.redisPct)} / ${pct(r.hits.storePct)}`;
    lines.push(
      `| ${name} | ${fmtInt(r.rps)}${r.unit === 'req/s' ? '' : ` ${r.unit}`} | ${r.ratio.toFixed(2)} × ${r.ceiling} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ` +
        `${r.errors} | ${r.non2xx} | ${r.cpuUsPerReq === null ? '-' : r.cpuUsPerReq.toFixed(0)} | ${r.cpuRatio === null ? '-' : r.cpuRatio.toFixed(2)} | ${fmtMB(r.rssMaxBytes)} | ${hits} |`,
    );
  }
  lines.push('', '**Ceilings** (same run, same lists):', '', '| ceiling | req/s | p50 ms | p99 ms | p99.9 ms | errors | non-2xx | CPU µs/req | RSS max |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, c] of Object.entries(j.ceilings)) {
    lines.push(`| ${name} | ${fmtInt(c.rps)} | ${ms(c.p50)} | ${ms(c.p99)} | ${ms(c.p999)} | ${c.errors} | ${c.non2xx} | ${c.cpuUsPerReq === null ? '-' : c.cpuUsPerReq.toFixed(0)} | ${fmtMB(c.rssMaxBytes)} |`);
  }
  lines.push('', '**Speed goals** (issue 4):', '', '| goal | target | measured | result | note |', '|---|---|---|---|---|');
  for (const v of j.verdicts) lines.push(`| ${v.goal} | ${v.target} | ${v.measured} | ${v.result} | ${v.note ?? ''} |`);
  const notes = ROWS.flatMap((n) => (j.scenarios[n]?.note ? [`- ${n}: ${j.scenarios[n]!.note}`] : []));
  const hasNative = NATIVE_TRANSPORTS.some((t) => j.scenarios[`native-${t}`] !== undefined);
  lines.push(
    '',
    'Notes:',
    '- non-2xx counts responses outside what the scenario expects (negative expects 404, proxy 302); errors are transport errors and timeouts.',
    '- hits: share of resolutions answered by the in-process cache / Redis / PostgreSQL, from /metrics before and after the timed run (the rest were coalesced misses).',
    '- CPU µs/req: user + system CPU of the server process per request (the steadiest figure on a shared machine); CPU ratio = the ceiling\'s CPU µs/req ÷ the scenario\'s (1.00 = as cheap as the ceiling).',
    ...(hasNative
      ? [
          `- native-tcp / native-tcp-new / native-udp: Handle protocol (RFC 3652) resolution of the hot keys on the default node's native port ${String(st.nativePort)}, requests prebuilt by bench/native-load.ts; ` +
            'the reference of native-tcp and native-udp is HTTP hot on the same node, measured alongside in ABBA rounds (its figures are in the ceilings table), so ratio > 1 = native serves more req/s and CPU ratio > 1 = native costs the server less CPU per request; ' +
            "the reference of native-tcp-new is bench/ceiling-native.ts, a bare node:net server with no limits or timers answering every request with the node's own answer bytes, so its ratio says how close the node comes to what node itself costs per connection; " +
            'non-2xx there counts answers whose responseCode is not 1 (success), errors include timeouts (UDP 2 s).',
        ]
      : []),
    ...notes,
    '',
    'Settings:',
    '',
    `- ${st.seconds} s per timed run, ${st.connections} connections, WORKERS=${String(st.workers)}${st.smoke ? ' (smoke run)' : ''}; scenarios: ${(st.only as string[]).join(', ')}`,
    `- ${fmtInt(st.keys)} identifiers seeded; timed lists of ${fmtInt(Number(st.timedListLength))} requests; ${fmtInt(Number(st.negativeKeys))} unknown handles; ` +
      `mixed list of ${fmtInt(Number(st.mixedRequests))} requests; ${fmtInt(Number(st.registrationItems))} identifiers registered`,
    `- CACHE_MAX_BYTES of the default node: ${st.cacheMaxBytes === null ? '-' : fmtInt(st.cacheMaxBytes)}; one answer: ${st.answerBytes === null ? '-' : `${String(st.answerBytes)} bytes`}`,
    `- node ${String(st.node)}, ${String(st.cpu)}, ${String(st.platform)}, ${fmtMB(Number(st.totalMemory))} RAM; run time ${j.runSeconds.toFixed(0)} s`,
  );
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(() => main(process.argv.slice(2)));
