// The plan scenario bench: 射阳县 seeded as the plan has it at the end of 2024 (through the registry code), the mixed Zipf load against the node, a verdict per target.
// Usage: npm run bench:plan -- [--per-enterprise 1000 | --identifiers 10000000] [--seconds 10] [--connections 100] [--cold 20000]
//        [--register 20000] [--database idnode_bench_plan] [--reset] [--smoke [--no-reset]] [--strict].
//        Needs DATABASE_URL (its server hosts the bench database) and REDIS_URL.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import pg from 'pg';
import { request } from 'undici';
import { DEFAULT_CASE_POLICY, parseHandle } from '../handle/identifier.js';
import type { RegistryContext } from '../registry/context.js';
import { STATUS } from '../registry/db.js';
import { applyEnterprise, approveEnterprise } from '../registry/enterprises.js';
import { MAX_BATCH_ITEMS, registerBatch, type RegisterItem } from '../registry/identifiers.js';
import { openPostgresStore } from '../registry/open.js';
import { DEFAULT_PLAN_FILE, loadPlan, planProgress, type Plan } from '../registry/plan.js';
import { creditCodeCheckChar } from '../registry/rules.js';
import type { Actor, Store } from '../registry/store.js';
import { normaliseTemplateInput } from '../registry/template-rules.js';
import { createTemplate } from '../registry/templates.js';
import { openKeyFile } from '../src/key-file.js';
import { readdirSync, readFileSync } from 'node:fs';
import { BenchUsageError, parseBenchArgs, positiveInt, runMain } from './args.js';
import { childPids, cpuMicros, fmtInt, fmtMB, load, RESULTS_DIR, rssBytes, seededRandom, shuffle, startNode, writeReport, zipf, type LoadRequest, type LoadResult, type Proc } from './lib.js';
import { ProgressBar } from './progress.js';
import { benchContext, benchTemplateBody, snmsToken, syntheticItems } from './registration.js';

// --- options ------------------------------------------------------------------------------------------------------------

export interface PlanBenchOptions {
  perEnterprise: number;
  /** identifiers in all (spread over the enterprises; overrides perEnterprise), or null */
  identifiers: number | null;
  /** distinct identifiers resolved once each by a node with empty caches (cold resolution) */
  cold: number;
  /** identifiers registered over HTTP (2 calls in flight) into the seeded database, then removed */
  register: number;
  seconds: number;
  connections: number;
  database: string;
  reset: boolean;
  smoke: boolean;
  /** exit 2 when a verdict fails (default: the verdict is in the report, the exit code says only whether the bench ran) */
  strict: boolean;
}

export const DEFAULT_DATABASE = 'idnode_bench_plan';
export const SMOKE_DATABASE = 'idnode_bench_plan_smoke';

const USAGE = `usage: node dist/bench/plan.js [--per-enterprise N | --identifiers N] [--seconds N] [--connections N] [--cold N] [--register N] [--database NAME] [--reset] [--smoke [--no-reset]] [--strict]
  --per-enterprise N  identifiers per enterprise (default 1000: 300,000 in all)
  --identifiers N     identifiers in all, spread over the 300 enterprises (10000000: national size; seeding shows a progress bar)
  --cold N            distinct identifiers resolved once each by a fresh node, caches empty (default 20000)
  --register N        identifiers registered over HTTP batchCreate, 2 calls in flight, at this size; removed afterwards (default 20000)
  --seconds N         measured load duration (default 10)
  --connections N     concurrent connections (default 100)
  --database NAME     database on DATABASE_URL's server, created if missing and kept (default ${DEFAULT_DATABASE})
  --reset             drop and recreate the database first
  --smoke             tiny run: 5 per enterprise, 2 s, 10 connections, database ${SMOKE_DATABASE} reset every time
  --no-reset          with --smoke: keep the smoke database of the previous run (shows that nothing is re-seeded)
  --strict            exit 2 when any verdict is FAIL
  --help, -h          this text`;

export function parseOptions(argv: readonly string[]): PlanBenchOptions {
  const v = parseBenchArgs(
    argv,
    {
      'per-enterprise': { type: 'string' },
      identifiers: { type: 'string' },
      cold: { type: 'string' },
      register: { type: 'string' },
      seconds: { type: 'string' },
      connections: { type: 'string' },
      database: { type: 'string' },
      reset: { type: 'boolean' },
      smoke: { type: 'boolean' },
      'no-reset': { type: 'boolean' },
      strict: { type: 'boolean' },
    },
    USAGE,
  );
  const smoke = v.smoke === true;
  if (v['no-reset'] && !smoke) throw new BenchUsageError('--no-reset only applies to --smoke (other databases are kept unless --reset)');
  if (v['no-reset'] && v.reset) throw new BenchUsageError('--reset and --no-reset contradict each other');
  if (v.identifiers !== undefined && v['per-enterprise'] !== undefined) throw new BenchUsageError('give --identifiers or --per-enterprise, not both');
  const database = v.database ?? (smoke ? SMOKE_DATABASE : DEFAULT_DATABASE);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new BenchUsageError('--database must be a lower-case SQL identifier (a-z, 0-9, _)');
  return {
    perEnterprise: positiveInt('per-enterprise', v['per-enterprise'], smoke ? 5 : 1000, 1_000_000),
    identifiers: v.identifiers === undefined ? null : positiveInt('identifiers', v.identifiers, 1, 100_000_000),
    cold: positiveInt('cold', v.cold, smoke ? 200 : 20_000, 1_000_000),
    register: positiveInt('register', v.register, smoke ? 200 : 20_000, 1_000_000),
    seconds: positiveInt('seconds', v.seconds, smoke ? 2 : 10, 600),
    connections: positiveInt('connections', v.connections, smoke ? 10 : 100, 1000),
    database,
    reset: smoke ? v['no-reset'] !== true : v.reset === true,
    smoke,
    strict: v.strict === true,
  };
}

// --- the county as the plan has it -------------------------------------------------------------------------------------

export const NODE_PREFIX = '88.320924';
export const TEMPLATE_VERSION = 'v1';
const ADMIN_SECRET = 'plan-bench-admin-secret';
const ADMIN_AUTH = `Basic ${Buffer.from(`${encodeURIComponent(`300:0.NA/${NODE_PREFIX}`)}:${ADMIN_SECRET}`).toString('base64')}`;
const ACTOR: Actor = { id: 'bench:plan' };

/** One seeded enterprise: the n-th (1-based), deterministic so that re-runs find it. */
export interface EnterpriseSpec {
  n: number;
  town: string;
  creditCode: string;
  name: string;
  username: string;
  /** the prefix it is delegated (88.320924.<n>) */
  prefix: string;
}

/** The plan's last year (the column the county is seeded to). */
export function lastYear(plan: Plan): number {
  return plan.years[plan.years.length - 1]!;
}

/** A valid unified social credit code for enterprise n: 9 1 320924 BN<n, 7 digits> + check character. */
export function creditCodeFor(n: number): string {
  const first17 = `91${'320924'}BN${String(n).padStart(7, '0')}`;
  return first17 + creditCodeCheckChar(first17);
}

/** The enterprises of the plan's last-year column, town by town in plan order (towns without a target get none). */
export function planEnterprises(plan: Plan): EnterpriseSpec[] {
  const year = String(lastYear(plan));
  const out: EnterpriseSpec[] = [];
  for (const town of plan.towns) {
    const count = town.identifierRegisteredEnterprises?.[year] ?? 0;
    for (let k = 1; k <= count; k++) {
      const n = out.length + 1;
      const no = String(n).padStart(3, '0');
      out.push({
        n,
        town: town.name,
        creditCode: creditCodeFor(n),
        name: `射阳县${town.name}标识压测企业${no}有限公司`,
        username: `plan_bench_${no}`,
        prefix: `${NODE_PREFIX}.${n}`,
      });
    }
  }
  return out;
}

/** The template every enterprise gets: the registration bench's four fields plus an optional URL item. */
export function planTemplateBody(prefix: string) {
  const body = benchTemplateBody(prefix, TEMPLATE_VERSION);
  return {
    ...body,
    description: 'plan scenario bench',
    items: [...body.items, { name: '产品链接', idType: 'URL', idIndex: 2004, metadata: { type: 'string', minLength: 0, maxLength: 255 } }],
  };
}

/** The suffix of identifier `serial` (as syntheticItems spells it). */
export function suffixOf(serial: number): string {
  return `PUMP-2024-${String(serial).padStart(8, '0')}`;
}

/** Identifiers [start, end) of one enterprise; every fourth carries a URL value (index 2004). */
export function enterpriseItems(prefix: string, start: number, end: number): RegisterItem[] {
  const items = syntheticItems(prefix, TEMPLATE_VERSION, end - start, start);
  items.forEach((it, k) => {
    if ((start + k) % 4 === 0) {
      (it.value as unknown[]).push({ index: 2004, type: 'URL', auth: '', data: { format: 'string', value: `https://trace.example.com/${it.handle}` } });
    }
  });
  return items;
}

// --- seeding --------------------------------------------------------------------------------------------------------------

export interface SeedReport {
  seconds: number;
  enterprises: { total: number; alreadyApproved: number; applied: number; approved: number };
  templates: { total: number; alreadyPresent: number; created: number };
  identifiers: { target: number; before: number; registered: number; after: number };
  /** whether ANALYZE ran (after new data, or when the tables had never been analyzed) */
  analyzed: boolean;
  /** true when the run found everything in place and wrote nothing */
  nothingNew: boolean;
}

const log = (s: string) => process.stderr.write(`[bench:plan] ${s}\n`);

/** Runs `f` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Identifiers per prefix key (only the given ones). */
async function identifierCounts(ctx: RegistryContext, prefixKeys: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (prefixKeys.length === 0) return out;
  const rows = await ctx.store.db
    .selectFrom('handles')
    .select((eb) => ['prefix_key', eb.fn.countAll().as('n')])
    .where('prefix_key', 'in', [...prefixKeys])
    .groupBy('prefix_key')
    .execute();
  for (const r of rows) out.set(r.prefix_key, Number(r.n));
  return out;
}

/**
 * Seeds what is missing, per enterprise: applied (and approved with its prefix), its template, and identifiers up to
 * `perEnterprise`. Returns the prefix of each enterprise (in spec order) and what was done.
 */
export async function seed(ctx: RegistryContext, specs: readonly EnterpriseSpec[], towns: readonly string[], perEnterprise: number): Promise<{ prefixes: string[]; report: SeedReport }> {
  const t0 = process.hrtime.bigint();
  const db = ctx.store.db;
  const byCode = async () =>
    new Map(
      (await db.selectFrom('enterprises').select(['id', 'credit_code', 'status', 'town']).where('credit_code', 'in', specs.map((s) => s.creditCode)).execute()).map((r) => [
        r.credit_code,
        { id: Number(r.id), status: Number(r.status), town: r.town },
      ]),
    );

  // 1. enterprises: apply what is missing, approve what is pending
  let found = await byCode();
  const alreadyApproved = specs.filter((s) => found.get(s.creditCode)?.status === STATUS.ENABLED).length;
  const toApply = specs.filter((s) => !found.has(s.creditCode));
  let applied = 0;
  if (toApply.length > 0) log(`applying ${toApply.length} enterprises …`);
  await pool(toApply, 4, async (s) => {
    await applyEnterprise(
      ctx,
      {
        name: s.name,
        creditCode: s.creditCode,
        town: s.town,
        industry: 'C3441',
        address: `江苏省盐城市射阳县${s.town}`,
        contactName: '张工',
        contactPhone: '0515-82300000',
        contactEmail: `${s.username}@example.com`,
        username: s.username,
        password: { plain: 'plan-bench-password' },
      },
      ACTOR,
      towns,
    );
    if (++applied % 50 === 0) log(`  applied ${applied}/${toApply.length}`);
  });
  found = await byCode();
  for (const s of specs) {
    const e = found.get(s.creditCode)!;
    if (e.town !== s.town) throw new Error(`enterprise ${s.creditCode} is in ${e.town}, expected ${s.town}: use --reset`);
    if (![STATUS.ENABLED, STATUS.PENDING_REVIEW, STATUS.UNDER_REVIEW].includes(e.status as 1 | 4 | 5)) {
      throw new Error(`enterprise ${s.creditCode} has status ${e.status} (not approved, not pending): use --reset`);
    }
  }
  const toApprove = specs.filter((s) => found.get(s.creditCode)!.status !== STATUS.ENABLED);
  let approved = 0;
  if (toApprove.length > 0) log(`approving ${toApprove.length} enterprises (prefixes ${NODE_PREFIX}.<n>) …`);
  await pool(toApprove, 4, async (s) => {
    await approveEnterprise(ctx, found.get(s.creditCode)!.id, { prefix: s.prefix }, ACTOR);
    if (++approved % 50 === 0) log(`  approved ${approved}/${toApprove.length}`);
  });

  // each enterprise's prefix as the database has it (the named one when it holds several)
  const ids = specs.map((s) => found.get(s.creditCode)!.id);
  const prefixRows = await db.selectFrom('prefixes').select(['prefix', 'prefix_key', 'enterprise_id', 'status']).where('enterprise_id', 'in', ids).execute();
  const prefixes = specs.map((s, i) => {
    const mine = prefixRows.filter((p) => Number(p.enterprise_id) === ids[i] && Number(p.status) === STATUS.ENABLED);
    const p = mine.find((x) => x.prefix === s.prefix) ?? mine[0];
    if (p === undefined) throw new Error(`enterprise ${s.creditCode} has no enabled prefix: use --reset`);
    return p;
  });

  // 2. templates
  const keys = prefixes.map((p) => p.prefix_key);
  const haveTemplate = new Set(
    (await db.selectFrom('templates').select('prefix_key').where('version', '=', TEMPLATE_VERSION).where('prefix_key', 'in', keys).execute()).map((r) => r.prefix_key),
  );
  const toTemplate = prefixes.filter((p) => !haveTemplate.has(p.prefix_key));
  if (toTemplate.length > 0) log(`creating ${toTemplate.length} templates (${TEMPLATE_VERSION}) …`);
  await pool(toTemplate, 4, async (p) => {
    await createTemplate(ctx, normaliseTemplateInput(planTemplateBody(p.prefix), 'create'), ACTOR);
  });

  // 3. identifiers: top each prefix up to perEnterprise (serials are registered in order, so the first `count` exist)
  const target = specs.length * perEnterprise;
  const countsBefore = await identifierCounts(ctx, keys);
  const sumOf = (m: Map<string, number>) => keys.reduce((a, k) => a + Math.min(perEnterprise, m.get(k) ?? 0), 0);
  const before = sumOf(countsBefore);
  let counts = countsBefore;
  for (let pass = 0; pass < 2; pass++) {
    const ranges: { prefix: string; start: number }[] = [];
    for (const p of prefixes) {
      const have = counts.get(p.prefix_key) ?? 0;
      // first pass: from what is there; second (only if holes remain): from 0, batchCreate being idempotent
      if (have < perEnterprise) ranges.push({ prefix: p.prefix, start: pass === 0 ? have : 0 });
    }
    if (ranges.length === 0) break;
    const missing = ranges.reduce((a, r) => a + perEnterprise - r.start, 0);
    log(`${pass === 0 ? 'registering' : 'repairing'} ${fmtInt(missing)} identifiers under ${ranges.length} prefixes (batchCreate, ${MAX_BATCH_ITEMS} per call) …`);
    const chunks = chunked(ranges, perEnterprise);
    const bar = new ProgressBar(missing, 'identifiers');
    let sent = 0;
    await pool(chunks, 2, async (chunk) => {
      const items = chunk.flatMap((c) => enterpriseItems(c.prefix, c.start, c.end));
      const res = await registerBatch(ctx, items, 'create', ACTOR);
      const bad = res.find((r) => r.outcome !== 'created' && r.outcome !== 'unchanged' && r.outcome !== 'exists');
      if (bad) throw new Error(`batchCreate refused ${bad.handle}: ${JSON.stringify(bad)}`);
      sent += items.length;
      bar.update(sent);
    });
    counts = await identifierCounts(ctx, keys);
  }
  const after = sumOf(counts);
  const nothingNew = applied === 0 && approved === 0 && toTemplate.length === 0 && after === before;

  // 4. planner statistics: servers with autovacuum off (or not yet run) plan the registry's aggregates (planProgress)
  // on none, which costs seconds at 300k identifiers
  const neverAnalyzed = Number(
    (
      await sql<{ n: string }>`select count(*) as n from pg_stat_user_tables
        where relname in ('handles', 'enterprises', 'prefixes', 'templates') and last_analyze is null and last_autoanalyze is null`.execute(db)
    ).rows[0]?.n ?? 0,
  );
  const analyzed = !nothingNew || neverAnalyzed > 0;
  if (analyzed) {
    log('analyze (planner statistics) …');
    await sql`analyze handles, enterprises, prefixes, templates`.execute(db);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const report: SeedReport = {
    seconds,
    enterprises: { total: specs.length, alreadyApproved, applied, approved },
    templates: { total: specs.length, alreadyPresent: specs.length - toTemplate.length, created: toTemplate.length },
    identifiers: { target, before, registered: after - before, after },
    analyzed,
    nothingNew,
  };
  return { prefixes: prefixes.map((p) => p.prefix), report };
}

/** Ranges of one or more enterprises cut into batchCreate calls of at most MAX_BATCH_ITEMS items. */
function chunked(ranges: readonly { prefix: string; start: number }[], end: number): { prefix: string; start: number; end: number }[][] {
  const out: { prefix: string; start: number; end: number }[][] = [];
  let cur: { prefix: string; start: number; end: number }[] = [];
  let size = 0;
  for (const r of ranges) {
    let s = r.start;
    while (s < end) {
      const take = Math.min(end - s, MAX_BATCH_ITEMS - size);
      cur.push({ prefix: r.prefix, start: s, end: s + take });
      size += take;
      s += take;
      if (size === MAX_BATCH_ITEMS) {
        out.push(cur);
        cur = [];
        size = 0;
      }
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export function describeSeed(r: SeedReport): string {
  const e = r.enterprises;
  const parts = [
    `enterprises: ${e.alreadyApproved}/${e.total} already approved${e.applied || e.approved ? `, ${e.applied} applied, ${e.approved} approved` : ' (skipped)'}`,
    `templates: ${r.templates.alreadyPresent}/${r.templates.total} present${r.templates.created ? `, ${r.templates.created} created` : ' (skipped)'}`,
    `identifiers: ${fmtInt(r.identifiers.before)}/${fmtInt(r.identifiers.target)} present${r.identifiers.registered ? `, ${fmtInt(r.identifiers.registered)} registered` : ' (skipped)'}`,
  ];
  return `seeding took ${r.seconds.toFixed(1)} s — ${parts.join('; ')}${r.analyzed ? '; ANALYZE run' : ''}${r.nothingNew ? ' — seeded nothing new' : ''}`;
}

// --- the database ---------------------------------------------------------------------------------------------------------

/** The bench database on the server of `serverUrl`: created when missing, dropped first with `reset`. */
async function ensureDatabase(serverUrl: string, name: string, reset: boolean): Promise<{ url: string; created: boolean }> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  let created = false;
  try {
    if (reset) await admin.query(`drop database if exists ${name} with (force)`);
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount! > 0;
    if (!exists) {
      await admin.query(`create database ${name}`);
      created = true;
    }
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), created };
}

// --- the load ----------------------------------------------------------------------------------------------------------

export const LOAD_REQUESTS = 50_000;
export const WRITE_EVERY = 100; // 1 % writes

/**
 * `count` requests over the identifiers (enterprise e, serial s) with Zipf(1) popularity — ranks mapped to identifiers
 * through a random permutation, so the hot ones are spread over the enterprises — 1 in WRITE_EVERY a Handle-face PUT
 * of index 1 (URL) by the node admin, the rest resolution GETs.
 */
export function buildRequests(prefixes: readonly string[], perEnterprise: number, count: number, rnd: () => number): { requests: LoadRequest[]; distinct: number } {
  const keys = prefixes.length * perEnterprise;
  const perm = shuffle(Array.from({ length: keys }, (_, i) => i), rnd);
  const rank = zipf(keys, 1, rnd);
  const seen = new Set<number>();
  const requests: LoadRequest[] = [];
  for (let i = 0; i < count; i++) {
    const j = perm[rank()]!;
    seen.add(j);
    const handle = `${prefixes[Math.floor(j / perEnterprise)]!}/${suffixOf(j % perEnterprise)}`;
    if (i % WRITE_EVERY === WRITE_EVERY - 1) {
      requests.push({
        method: 'PUT',
        path: `/api/handles/${handle}?index=1`,
        headers: { 'content-type': 'application/json', authorization: ADMIN_AUTH },
        body: JSON.stringify([{ index: 1, type: 'URL', data: `https://example.com/v2/${handle}` }]),
      });
    } else {
      requests.push({ method: 'GET', path: `/api/handles/${handle}` });
    }
  }
  return { requests: shuffle(requests, rnd), distinct: seen.size };
}

export interface Latency {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function latencyOf(samples: number[]): Latency {
  const a = Float64Array.from(samples).sort();
  const q = (p: number) => (a.length === 0 ? 0 : a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)]!);
  return { count: a.length, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: a.length === 0 ? 0 : a[a.length - 1]! };
}

/** GET on a fresh connection (so that a cluster hands it to its next worker). */
function getFresh(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

/**
 * Resolution counters by tier of the whole node: /metrics is one view summed over its workers, and names the
 * processes it counts (`idnode_process_info`, one per worker) — `processes` says how many.
 */
async function tierCounters(port: number): Promise<{ tiers: Record<string, number>; processes: number; evictions: number; cacheBytes: number; cacheMaxBytes: number }> {
  const text = await getFresh(port, '/metrics');
  const tiers: Record<string, number> = {};
  for (const m of text.matchAll(/^idnode_resolutions_total\{tier="(\w+)"\} (\d+)/gm)) tiers[m[1]!] = Number(m[2]);
  const one = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return {
    tiers,
    processes: [...text.matchAll(/^idnode_process_info\{/gm)].length,
    evictions: one('idnode_cache_evictions_total'),
    cacheBytes: one('idnode_cache_bytes'),
    cacheMaxBytes: one('idnode_cache_max_bytes'),
  };
}

async function check(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<void> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
}

async function deleteRedisKeys(url: string, namespace: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  let n = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) n += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return n;
}

// --- verdict -------------------------------------------------------------------------------------------------------------

export interface VerdictRow {
  target: string;
  /** what the target is and where it comes from */
  source: string;
  /** 'min': measured must be ≥ target; 'max': ≤ target */
  kind: 'min' | 'max';
  targetValue: number;
  measured: number;
  unit: string;
  pass: boolean;
  /** measured / target ('min') or target / measured ('max'); null when not defined (measured 0 on a 'max') */
  headroom: number | null;
  note?: string;
}

function verdict(target: string, source: string, kind: 'min' | 'max', targetValue: number, measured: number, unit: string, extraPass = true, note?: string): VerdictRow {
  const pass = extraPass && (kind === 'min' ? measured >= targetValue : measured <= targetValue);
  const headroom = kind === 'min' ? (targetValue > 0 ? measured / targetValue : null) : measured > 0 ? targetValue / measured : null;
  return { target, source, kind, targetValue, measured, unit, pass, headroom, ...(note === undefined ? {} : { note }) };
}

export const P99_TARGET_MS = 50;
export const RPS_TARGET = 5000;

const fmtNum = (n: number, unit: string) => (unit === 'ms' ? `${n.toFixed(n < 10 ? 2 : 1)} ms` : unit === 'req/s' ? `${fmtInt(n)} req/s` : fmtInt(n));

export function verdictTable(rows: readonly VerdictRow[]): string {
  const lines = ['| target | source | required | measured | verdict | headroom |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const req = `${r.kind === 'min' ? '≥' : '≤'} ${fmtNum(r.targetValue, r.unit)}`;
    const measured = fmtNum(r.measured, r.unit) + (r.note ? ` (${r.note})` : '');
    lines.push(`| ${r.target} | ${r.source} | ${req} | ${measured} | ${r.pass ? 'PASS' : 'FAIL'} | ${r.headroom === null ? '—' : `${r.headroom.toFixed(2)}×`} |`);
  }
  return lines.join('\n');
}

// --- national size --------------------------------------------------------------------------------------------------------

/** issue 13: at 10 M identifiers, 10× the whole country's average rate (1.5 亿 a day ≈ 1 736/s), p99 under 30 ms */
export const NATIONAL_RPS_TARGET = 17_000;
export const NATIONAL_P99_MS = 30;
/** issue 13: identifiers/s over HTTP with two calls in flight */
export const REGISTRATION_TARGET = 20_000;

/** `n` distinct identifiers drawn uniformly (seeded) from the key space, as GETs. */
export function coldRequests(prefixes: readonly string[], perEnterprise: number, n: number, rnd: () => number): LoadRequest[] {
  const total = prefixes.length * perEnterprise;
  const picked = new Set<number>();
  if (n * 2 >= total) for (const j of shuffle(Array.from({ length: total }, (_, i) => i), rnd).slice(0, n)) picked.add(j);
  else while (picked.size < n) picked.add(Math.floor(rnd() * total));
  return [...picked].map((j) => ({ method: 'GET', path: `/api/handles/${prefixes[Math.floor(j / perEnterprise)]!}/${suffixOf(j % perEnterprise)}` }));
}

/** One size's figures, kept in bench/results/plan-scale-<identifiers>.json so that sizes can be set side by side. */
export interface ScaleRow {
  when: string;
  identifiers: number;
  handlesRows: number;
  handlesBytes: number;
  auditBytes: number;
  cold: { requests: number; rps: number; p50: number; p99: number; errors: number; storeReads: number };
  mixed: { rps: number; p50: number; p99: number; errors: number };
  registrationPerSecond: number;
  rssAfterBytes: number;
  workers: number;
}

function readScaleRows(): ScaleRow[] {
  let files: string[];
  try {
    files = readdirSync(RESULTS_DIR).filter((f) => /^plan-scale-\d+\.json$/.test(f));
  } catch {
    return [];
  }
  return files.map((f) => JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as ScaleRow).sort((a, b) => a.identifiers - b.identifiers);
}

export function scaleTable(rows: readonly ScaleRow[]): string {
  if (rows.length === 0) return '(no full runs yet)';
  const head = `| | ${rows.map((r) => `${fmtInt(r.identifiers)} identifiers`).join(' | ')} |`;
  const line = (name: string, f: (r: ScaleRow) => string) => `| ${name} | ${rows.map(f).join(' | ')} |`;
  return [
    head,
    `|---|${rows.map(() => '---').join('|')}|`,
    line('handles table + indexes', (r) => fmtMB(r.handlesBytes)),
    line('cold resolution req/s (p50 / p99 ms)', (r) => `${fmtInt(r.cold.rps)} (${r.cold.p50.toFixed(1)} / ${r.cold.p99.toFixed(1)})`),
    line('mixed load req/s (resolution p50 / p99 ms)', (r) => `${fmtInt(r.mixed.rps)} (${r.mixed.p50.toFixed(2)} / ${r.mixed.p99.toFixed(2)})`),
    line('registration over HTTP, 2 in flight (ids/s)', (r) => fmtInt(r.registrationPerSecond)),
    line('errors (cold / mixed)', (r) => `${r.cold.errors} / ${r.mixed.errors}`),
    line('node RSS after the load', (r) => fmtMB(r.rssAfterBytes)),
    line('measured', (r) => r.when.slice(0, 16).replace('T', ' ')),
  ].join('\n');
}

/** Rows and sizes of the handle and audit tables. */
async function databaseSize(url: string): Promise<{ rows: number; handlesBytes: number; auditBytes: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ n: string; h: string; a: string }>(
      "select (select count(*) from handles) as n, pg_total_relation_size('handles') as h, pg_total_relation_size('audit_log') as a",
    );
    return { rows: Number(r.rows[0]!.n), handlesBytes: Number(r.rows[0]!.h), auditBytes: Number(r.rows[0]!.a) };
  } finally {
    await c.end();
  }
}

/**
 * Registers `n` new identifiers (suffix SCALE-<run>-<serial>) through the node's SNMS batchCreate, two calls in
 * flight, bodies built before the clock starts; then deletes them, so the seeded data stays as it was. Each call
 * carries one enterprise's identifiers (as an integrator syncing its products sends them), the calls going round the
 * enterprises. Throws unless every item is created.
 */
async function registerAtSize(port: number, url: string, prefixes: readonly string[], n: number): Promise<{ items: number; seconds: number; perSecond: number }> {
  const base = `http://127.0.0.1:${port}`;
  const token = await snmsToken(base, 'admin', ADMIN_SECRET);
  const tag = randomBytes(3).toString('hex').toUpperCase();
  const calls: RegisterItem[][] = [];
  for (let done = 0, i = 0; done < n; i++) {
    const take = Math.min(MAX_BATCH_ITEMS, n - done);
    const prefix = prefixes[i % prefixes.length]!;
    calls.push(syntheticItems(prefix, TEMPLATE_VERSION, take, done).map((it) => ({ ...it, handle: it.handle.replace('/PUMP-2024-', `/SCALE-${tag}-`) })));
    done += take;
  }
  const items = calls.flat();
  const bodies = calls.map((c) => JSON.stringify(c));
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const t0 = process.hrtime.bigint();
  await pool(bodies, 2, async (body) => {
    const res = await request(`${base}/identityv2/data/batchCreate`, { method: 'POST', headers, body, bodyTimeout: 300_000, headersTimeout: 300_000 });
    const r = (await res.body.json()) as { status: number; message: string; data: { handle: string; msg: string }[] };
    const bad = r.status !== 1 ? r.message : r.data.find((x) => x.msg !== 'success')?.msg;
    if (bad !== undefined) throw new Error(`batchCreate over HTTP refused: ${bad}`);
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('delete from handles where key = any($1::text[])', [items.map((it) => parseHandle(it.handle, DEFAULT_CASE_POLICY).key)]);
  } finally {
    await c.end();
  }
  return { items: items.length, seconds, perSecond: items.length / seconds };
}

// --- main ---------------------------------------------------------------------------------------------------------------

export async function main(argv: readonly string[]): Promise<number> {
  const o = parseOptions(argv);
  const serverUrl = process.env.DATABASE_URL ?? '';
  const redisUrl = process.env.REDIS_URL ?? '';
  if (!/^postgres(ql)?:\/\//.test(serverUrl)) throw new BenchUsageError('bench:plan needs DATABASE_URL (postgres://…): the bench database is created on its server');
  if (!/^rediss?:\/\//.test(redisUrl)) throw new BenchUsageError('bench:plan needs REDIS_URL (redis://…)');
  const plan = loadPlan(DEFAULT_PLAN_FILE);
  const year = lastYear(plan);
  const specs = planEnterprises(plan);
  const towns = plan.towns.map((t) => t.name);
  const perEnterprise = o.identifiers === null ? o.perEnterprise : Math.ceil(o.identifiers / specs.length);
  const total = specs.length * perEnterprise;
  const planTotal = plan.totals?.identifierRegisteredEnterprises[String(year)];
  if (planTotal !== undefined && planTotal !== specs.length) {
    throw new Error(`the plan's ${year} towns add up to ${specs.length} enterprises but its total says ${planTotal}`);
  }

  const { url, created } = await ensureDatabase(serverUrl, o.database, o.reset);
  log(`database ${o.database} ${o.reset ? 'reset' : created ? 'created' : 'kept from an earlier run'}; ${specs.length} enterprises × ${fmtInt(perEnterprise)} identifiers`);
  let store: Store | null = await openPostgresStore(url, { poolSize: 6 });
  let node: Proc | null = null;
  const namespace = `idnode-bench-plan:${process.pid}-${randomBytes(3).toString('hex')}:`;
  try {
    await store.migrate();
    // the users' SNMS v1 digests are sealed under a key file the node is then given (it refuses rows it cannot open);
    // one file per bench database, so a database kept from an earlier run keeps its key
    const keyFile = join(tmpdir(), `${o.database}.password-key`);
    const ctx: RegistryContext = { ...benchContext(store), passwordDigests: openKeyFile(keyFile).ring };
    const { prefixes, report: seeding } = await seed(ctx, specs, towns, perEnterprise);
    log(describeSeed(seeding));

    // what the plan asks, as the registry counts it
    const tProgress = Date.now();
    const progress = await planProgress(ctx, plan);
    const progressSeconds = (Date.now() - tProgress) / 1000;
    const idCount = Number(
      (
        await ctx.store.db
          .selectFrom('handles')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('prefix_key', 'in', [...new Set(prefixes.map((p) => p.toUpperCase()))])
          .executeTakeFirstOrThrow()
      ).n,
    );
    await store.close();
    store = null;

    // the node, as its own process over the same database and Redis
    node = await startNode({ DATABASE_URL: url, REDIS_URL: redisUrl, REDIS_NAMESPACE: namespace, ADMIN_SECRET, NODE_PREFIX, PASSWORD_KEY_FILE: keyFile });
    log(`node pid ${node.pid} on 127.0.0.1:${node.port}, Redis namespace ${namespace}`);
    // cold: a node whose caches are empty resolves identifiers it never saw, each once (the store answers)
    const coldList = coldRequests(prefixes, perEnterprise, Math.min(o.cold, total), seededRandom(20250101));
    const coldTiers0 = await tierCounters(node.port);
    const coldSamples: number[] = [];
    log(`cold: ${fmtInt(coldList.length)} distinct identifiers, each resolved once, ${o.connections} connections`);
    const cold = await load({
      port: node.port,
      requests: coldList,
      connections: o.connections,
      amount: coldList.length,
      pid: node.pid,
      stagger: true,
      sampleMs: 100,
      onResponse: (_m, _status, ms) => coldSamples.push(ms),
    });
    const coldTiers1 = await tierCounters(node.port);
    const coldLatency = latencyOf(coldSamples);
    const coldStore = (coldTiers1.tiers.store ?? 0) - (coldTiers0.tiers.store ?? 0);

    const probe = `${prefixes[0]!}/${suffixOf(0)}`;
    await check(node.port, 'GET', `/api/handles/${probe}`);
    await check(node.port, 'PUT', `/api/handles/${probe}?index=1`, { 'content-type': 'application/json', authorization: ADMIN_AUTH }, JSON.stringify([{ index: 1, type: 'URL', data: `https://example.com/v2/${probe}` }]));

    const rnd = seededRandom(20241231);
    const { requests, distinct } = buildRequests(prefixes, perEnterprise, LOAD_REQUESTS, rnd);
    // steady state: the warm-up walks the whole request list once (every identifier the load asks for has been asked
    // for; the cold pass above measures first asks), the smoke run only a second
    const warmLabel = o.smoke ? '1 s' : `one pass over the ${fmtInt(requests.length)} requests`;
    log(`warm-up: ${warmLabel} (untimed), then ${o.seconds} s at ${o.connections} connections over ${fmtInt(requests.length)} prebuilt requests (${fmtInt(distinct)} distinct identifiers, 1 % writes)`);
    const pids = () => [node!.pid, ...childPids(node!.pid)];
    const workers = childPids(node.pid).length;
    const cpuStart = pids().reduce((a, p) => a + cpuMicros(p), 0);
    const tStart = Date.now();
    const tWarm = Date.now();
    await load({ port: node.port, requests, connections: o.connections, ...(o.smoke ? { duration: 1 } : { amount: requests.length, sampleMs: 100 }), stagger: true });
    const warmSeconds = (Date.now() - tWarm) / 1000;
    const tiers0 = await tierCounters(node.port);
    const get: number[] = [];
    const put: number[] = [];
    const genCpu0 = process.cpuUsage();
    const tRun = Date.now();
    const mixed: LoadResult = await load({
      port: node.port,
      requests,
      connections: o.connections,
      duration: o.seconds,
      pid: node.pid,
      stagger: true,
      onResponse: (method, _status, ms) => (method === 'PUT' ? put : get).push(ms),
    });
    const genCpu = process.cpuUsage(genCpu0);
    const generatorCores = (genCpu.user + genCpu.system) / 1e6 / ((Date.now() - tRun) / 1000);
    const tiers1 = await tierCounters(node.port);
    const serverCores = (pids().reduce((a, p) => a + cpuMicros(p), 0) - cpuStart) / 1e6 / ((Date.now() - tStart) / 1000);
    const rssAfter = pids().reduce((a, p) => a + rssBytes(p), 0);
    const resolution = latencyOf(get);
    const writes = latencyOf(put);
    const tierDelta = Object.fromEntries(Object.keys(tiers1.tiers).map((k) => [k, (tiers1.tiers[k] ?? 0) - (tiers0.tiers[k] ?? 0)]));
    const tierTotal = Object.values(tierDelta).reduce((a, b) => a + b, 0);
    const tierText = Object.entries(tierDelta)
      .map(([k, v]) => `${k} ${fmtInt(v)} (${tierTotal > 0 ? ((100 * v) / tierTotal).toFixed(1) : '0'} %)`)
      .join(', ');
    const processesAsked = Math.min(tiers0.processes, tiers1.processes);

    // registration at this size: new identifiers over HTTP batchCreate, two calls in flight, removed afterwards
    log(`registration: ${fmtInt(o.register)} identifiers over HTTP batchCreate (${MAX_BATCH_ITEMS} per call, 2 in flight) into ${fmtInt(total)} …`);
    const registration = await registerAtSize(node.port, url, prefixes, o.register);
    log(`  ${fmtInt(registration.perSecond)} identifiers/s (${registration.seconds.toFixed(1)} s); removed again`);
    const size = await databaseSize(url);
    const scale: ScaleRow = {
      when: new Date().toISOString(),
      identifiers: total,
      handlesRows: size.rows,
      handlesBytes: size.handlesBytes,
      auditBytes: size.auditBytes,
      cold: { requests: cold.requests, rps: cold.rps, p50: coldLatency.p50, p99: coldLatency.p99, errors: cold.errors + cold.non2xx, storeReads: coldStore },
      mixed: { rps: mixed.rps, p50: resolution.p50, p99: resolution.p99, errors: mixed.errors + mixed.non2xx },
      registrationPerSecond: registration.perSecond,
      rssAfterBytes: rssAfter,
      workers,
    };
    if (!o.smoke) writeReport(`plan-scale-${total}`, scaleTable([scale]), scale);

    // verdicts
    const rows: VerdictRow[] = [];
    for (const t of progress.towns) {
      const target = t.target[year];
      if (target === undefined) continue;
      rows.push(verdict(`enterprises registered, ${t.town}`, `plan ${year}`, 'min', target, t.current, ''));
    }
    rows.push(verdict('enterprises registered, total', `plan ${year}`, 'min', progress.totals.target[year] ?? specs.length, progress.totals.current, ''));
    rows.push(verdict('identifiers registered', `${specs.length} × --per-enterprise ${perEnterprise}`, 'min', specs.length * perEnterprise, idCount, ''));
    rows.push(verdict('resolution p99 under the mixed load', "node's own service objective (the plan sets none)", 'max', P99_TARGET_MS, resolution.p99, 'ms'));
    const clean = mixed.errors === 0 && mixed.non2xx === 0;
    rows.push(
      verdict(
        'sustained req/s with zero errors',
        "node's own service objective (the plan sets none)",
        'min',
        RPS_TARGET,
        mixed.rps,
        'req/s',
        clean,
        `${mixed.errors} errors, ${mixed.non2xx} non-2xx`,
      ),
    );
    const scaleNote = `${fmtInt(total)} identifiers`;
    rows.push(verdict('mixed req/s, zero errors (national size)', 'issue 13: 10× the country average of 1.5 亿/day, at 10 M identifiers', 'min', NATIONAL_RPS_TARGET, mixed.rps, 'req/s', clean, scaleNote));
    rows.push(verdict('resolution p99, mixed load (national size)', 'issue 13, at 10 M identifiers', 'max', NATIONAL_P99_MS, resolution.p99, 'ms', true, scaleNote));
    rows.push(verdict('registration over HTTP, 2 calls in flight', 'issue 13: a 15 M/day sync in < 13 min', 'min', REGISTRATION_TARGET, registration.perSecond, 'ids/s', true, scaleNote));
    const failed = rows.filter((r) => !r.pass).length;

    const figures = [
      '| figure | value |',
      '|---|---|',
      `| requests measured (${o.seconds} s, ${o.connections} connections) | ${fmtInt(mixed.requests)} (${fmtInt(resolution.count)} GET, ${fmtInt(writes.count)} PUT) |`,
      `| req/s (all) | ${fmtInt(mixed.rps)} |`,
      `| latency, all requests: p50 / p99 / p99.9 | ${mixed.p50} / ${mixed.p99} / ${mixed.p999} ms |`,
      `| resolution (GET) latency: p50 / p99 / p99.9 / max | ${resolution.p50.toFixed(2)} / ${resolution.p99.toFixed(2)} / ${resolution.p999.toFixed(2)} / ${resolution.max.toFixed(1)} ms |`,
      `| write (PUT index=1) latency: p50 / p99 / max | ${writes.p50.toFixed(2)} / ${writes.p99.toFixed(2)} / ${writes.max.toFixed(1)} ms |`,
      `| errors / non-2xx | ${mixed.errors} / ${mixed.non2xx} |`,
      `| server CPU per request | ${mixed.cpuUsPerReq === null ? '-' : `${mixed.cpuUsPerReq.toFixed(0)} µs`} |`,
      `| node processes | ${workers === 0 ? '1 (no cluster)' : `primary + ${workers} workers (WORKERS ${process.env.WORKERS ? `= ${process.env.WORKERS}` : 'default: one per core'})`} |`,
      `| server CPU use (warm-up + run, all processes) | ${serverCores.toFixed(2)} cores |`,
      `| load generator CPU use (this process, same box) | ${generatorCores.toFixed(2)} cores |`,
      `| server RSS, all processes: max during run / after | ${fmtMB(mixed.rssMaxBytes)} / ${fmtMB(rssAfter)} |`,
      `| in-process caches after the run: bytes / budget (all processes), evictions during the run | ${fmtMB(tiers1.cacheBytes)} / ${fmtMB(tiers1.cacheMaxBytes)}, ${fmtInt(tiers1.evictions - tiers0.evictions)} |`,
      `| resolutions by tier during the run (/metrics of ${processesAsked}/${Math.max(1, workers)} processes) | ${tierText} |`,
      `| identifiers in the key space / distinct in the request list | ${fmtInt(specs.length * perEnterprise)} / ${fmtInt(distinct)} |`,
      `| cold resolution (fresh node, ${fmtInt(cold.requests)} distinct identifiers once each): req/s, p50 / p99 | ${fmtInt(cold.rps)} req/s, ${coldLatency.p50.toFixed(2)} / ${coldLatency.p99.toFixed(2)} ms (${fmtInt(coldStore)} store reads, ${cold.errors + cold.non2xx} errors) |`,
      `| registration over HTTP at this size (${fmtInt(registration.items)} identifiers, 2 calls in flight) | ${fmtInt(registration.perSecond)} identifiers/s |`,
      `| handles: rows / table + indexes / audit log | ${fmtInt(size.rows)} / ${fmtMB(size.handlesBytes)} / ${fmtMB(size.auditBytes)} |`,
      `| seeding time | ${seeding.seconds.toFixed(1)} s (${seeding.nothingNew ? 'seeded nothing new' : `${seeding.enterprises.applied} applied, ${seeding.enterprises.approved} approved, ${seeding.templates.created} templates, ${fmtInt(seeding.identifiers.registered)} identifiers`}) |`,
      `| planProgress query time | ${progressSeconds.toFixed(2)} s |`,
    ].join('\n');
    const md = [
      `# Plan scenario — ${plan.county.name}, the ${year} column of ${relative(process.cwd(), DEFAULT_PLAN_FILE) || DEFAULT_PLAN_FILE}`,
      '',
      `${new Date().toISOString()} · database \`${o.database}\` · ${specs.length} enterprises × ${fmtInt(perEnterprise)} identifiers · mixed load: Zipf(s=1) over all identifiers, 1 % writes (Handle PUT index=1), ${o.seconds} s at ${o.connections} connections after a warm-up of ${warmLabel} (${warmSeconds.toFixed(1)} s)${o.smoke ? ' · SMOKE (tiny sizes; figures mean nothing)' : ''}`,
      '',
      `The plan's years are over, so the enterprise rows use \`planProgress\` \`current\` (registered as of now) against the ${year} target; towns without a ${year} target (${plan.towns.filter((t) => t.identifierRegisteredEnterprises?.[String(year)] === undefined).map((t) => t.name).join('、') || 'none'}) got no enterprises. The latency and throughput targets are the node's own service objectives: the plan sets none.`,
      '',
      verdictTable(rows),
      '',
      `**${failed === 0 ? 'all targets PASS' : `${failed} of ${rows.length} targets FAIL`}**`,
      '',
      figures,
      '',
      describeSeed(seeding),
      '',
      '## By size (every full run on this machine, bench/results/plan-scale-*.json)',
      '',
      scaleTable(o.smoke ? [scale] : readScaleRows()),
    ].join('\n');
    const json = {
      when: new Date().toISOString(),
      smoke: o.smoke,
      options: o,
      plan: { file: DEFAULT_PLAN_FILE, county: plan.county.name, year, source: plan.source },
      seeding,
      progress: {
        seconds: progressSeconds,
        towns: progress.towns.map((t) => ({ town: t.town, target: t.target[year] ?? null, current: t.current })),
        total: { target: progress.totals.target[year] ?? null, current: progress.totals.current },
      },
      identifiers: { target: specs.length * perEnterprise, count: idCount },
      scale,
      load: {
        seconds: o.seconds,
        warmSeconds,
        connections: o.connections,
        prebuiltRequests: requests.length,
        distinctIdentifiers: distinct,
        writeShare: 1 / WRITE_EVERY,
        mixed,
        resolution,
        writes,
        workers,
        serverCores,
        generatorCores,
        rssAfterBytes: rssAfter,
        tiers: tierDelta,
        tierProcesses: processesAsked,
      },
      verdict: rows,
      failed,
    };
    const name = o.smoke ? 'plan-smoke' : 'plan';
    writeReport(name, md, json);
    process.stdout.write(`${md}\n\n(written to bench/results/${name}.md and .json)\n`);
    return o.strict && failed > 0 ? 2 : 0;
  } finally {
    if (node) await node.stop();
    if (store) await store.close();
    try {
      const n = await deleteRedisKeys(redisUrl, namespace);
      log(`removed ${n} Redis keys under ${namespace}`);
    } catch (err) {
      log(`could not clean Redis keys under ${namespace}: ${(err as Error).message}`);
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(() => main(process.argv.slice(2)));
