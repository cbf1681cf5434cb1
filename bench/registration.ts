// Registration throughput bench: identifiers/s through HTTP batchCreate with 1, 2 and 4 calls in flight next to the raw insert and COPY ceilings, same run and database.
// Usage: npm run build && node dist/bench/registration.js [--items 20000] [--batch 2000] [--in-flight 1,2,4] [--repeat 2] [--no-import]
// DATABASE_URL: a throw-away database is created on its server and dropped afterwards; without it PGlite in memory.
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { request } from 'undici';
import { DEFAULT_CASE_POLICY, parseHandle, type CasePolicy } from '../handle/identifier.js';
import type { HandleValue } from '../handle/types.js';
import { stringValue } from '../handle/value.js';
import type { RegistryContext } from '../registry/context.js';
import type { Database } from '../registry/db.js';
import { registerBatch, type RegisterItem } from '../registry/identifiers.js';
import { openPgliteStore, openPostgresStore } from '../registry/open.js';
import type { Actor, Store } from '../registry/store.js';
import { normaliseTemplateInput } from '../registry/template-rules.js';
import { publicValuesJson } from '../handle/json.js';
import { binaryTextArray } from '../registry/text-array.js';
import { createTemplate } from '../registry/templates.js';
import { BenchUsageError, parseBenchArgs, positiveInt, runMain } from './args.js';
import { cpuMicros } from './lib.js';

/** A throughput figure. */
export interface Rate {
  items: number;
  seconds: number;
  perSecond: number;
  /** for whole commands: including process start-up (opening the store, migrations) */
  wallSeconds?: number;
  wallPerSecond?: number;
  /** calls (statements, COPYs, HTTP requests) in flight at once */
  inFlight?: number;
  /** CPU per item: the node process (HTTP), and the database's processes on this machine (null when not local) */
  nodeCpuUs?: number;
  dbCpuUs?: number | null;
}

/** One row as the raw insert writes it: the same columns and JSON the registry stores in `handles`. */
export interface RawPayload {
  key: string;
  handle: string;
  prefixKey: string;
  /** the value list, already JSON */
  values: string;
  /** the public answer the store keeps next to the values (handles.public_json) */
  publicJson: string;
}

/** The template the synthetic items follow (four string fields, like a typical product template). */
export function benchTemplateBody(prefix: string, version: string) {
  return {
    prefix,
    version,
    industryCategory: 'C',
    industrySpecific: '34',
    industryTrade: '344',
    industrySubclass: '3441',
    type: 1,
    description: 'registration bench',
    items: [
      { name: '产品名称', idType: 'productName', idIndex: 2000, required: true, metadata: { type: 'string', minLength: 1, maxLength: 64 } },
      { name: '型号', idType: 'model', idIndex: 2001, metadata: { type: 'string', minLength: 0, maxLength: 64 } },
      { name: '生产日期', idType: 'productionDate', idIndex: 2002, metadata: { type: 'string', minLength: 10, maxLength: 10 } },
      { name: '生产企业', idType: 'manufacturer', idIndex: 2003, metadata: { type: 'string', minLength: 0, maxLength: 128 } },
    ],
  };
}

/** `n` SNMS registration items under `prefix` for benchTemplateBody's template (`start` offsets the suffixes). */
export function syntheticItems(prefix: string, templateVersion: string, n: number, start = 0): RegisterItem[] {
  const out: RegisterItem[] = [];
  for (let i = start; i < start + n; i++) {
    const serial = String(i).padStart(8, '0');
    out.push({
      handle: `${prefix}/PUMP-2024-${serial}`,
      templateVersion,
      value: [
        { index: 2000, type: 'productName', auth: '', data: { format: 'string', value: `离心泵 IS80-65-160 #${serial}` } },
        { index: 2001, type: 'model', auth: '', data: { format: 'string', value: 'IS80-65-160' } },
        { index: 2002, type: 'productionDate', auth: '', data: { format: 'string', value: '2024-05-06' } },
        { index: 2003, type: 'manufacturer', auth: '', data: { format: 'string', value: '射阳县某某泵业有限公司' } },
      ],
    });
  }
  return out;
}

/** The rows batchCreate would store for `items` (string values with the template's types, plus TEMPLATE at 1001). */
export function rawPayloads(items: readonly RegisterItem[], policy: CasePolicy = DEFAULT_CASE_POLICY, nowSec = Math.floor(Date.now() / 1000)): RawPayload[] {
  const value = (index: number, type: string, v: string): HandleValue => stringValue(index, type, v, nowSec);
  return items.map((it) => {
    const id = parseHandle(it.handle, policy);
    const given = it.value as { index: number; type: string; data: { value: string } }[];
    const values = [value(1001, 'TEMPLATE', it.templateVersion), ...given.map((g) => value(g.index, g.type, g.data.value))];
    return { key: id.key, handle: id.handle, prefixKey: id.prefixKey, values: JSON.stringify(values), publicJson: publicValuesJson(values) };
  });
}

/**
 * How the raw insert ships its rows: `unnest` of text[]/jsonb[] array parameters written as array literals,
 * `recordset` — one JSON parameter expanded by jsonb_to_recordset (what the store's bulk writes used before), or
 * `binary` — unnest of text arrays in PostgreSQL's binary array format, values cast to JSONB in the insert (what the
 * store's bulk create uses on PostgreSQL: registry/text-array.ts). `binary` needs `pg` (not PGlite).
 */
export type RawMethod = 'unnest' | 'recordset' | 'binary';

/**
 * The raw rate: multi-row inserts of the rows the store keeps (values and their pre-serialised public answer;
 * `insert … select`, `batch` rows per statement, each its own transaction, no audit, no validation) into a scratch
 * table created like `handles` (same columns, keys and indexes), dropped
 * afterwards. The payloads are serialised before the clock starts: this is the database's rate, not the node's.
 */
export async function measureRawInsert(
  db: Kysely<Database>,
  payloads: readonly RawPayload[],
  batch = 2000,
  method: RawMethod = 'unnest',
  inFlight = 1,
): Promise<Rate> {
  const table = `bench_raw_${randomBytes(4).toString('hex')}`;
  await sql`create table ${sql.id(table)} (like handles including all)`.execute(db);
  try {
    const chunks: RawPayload[][] = [];
    for (let i = 0; i < payloads.length; i += batch) chunks.push(payloads.slice(i, i + batch));
    const json =
      method === 'recordset'
        ? chunks.map((c) => `[${c.map((r) => `{"k":${JSON.stringify(r.key)},"h":${JSON.stringify(r.handle)},"p":${JSON.stringify(r.prefixKey)},"v":${r.values},"j":${JSON.stringify(r.publicJson)}}`).join(',')}]`)
        : [];
    const insert = async (n: number) => {
      const chunk = chunks[n]!;
      if (method === 'recordset') {
        await sql`
          insert into ${sql.id(table)} (key, handle, prefix_key, values, public_json, version)
          select t.k, t.h, t.p, t.v, t.j, 1 from jsonb_to_recordset(${json[n]}::jsonb) as t(k text, h text, p text, v jsonb, j text)`.execute(db);
      } else if (method === 'binary') {
        // the arrays are encoded inside the clock, as the store does per batch
        const col = (f: (r: RawPayload) => string) => binaryTextArray(chunk.map(f));
        await sql`
          insert into ${sql.id(table)} (key, handle, prefix_key, values, public_json, version)
          select k, h, p, v::jsonb, j, 1
          from unnest(${col((c) => c.key)}::text[], ${col((c) => c.handle)}::text[], ${col((c) => c.prefixKey)}::text[],
                      ${col((c) => c.values)}::text[], ${col((c) => c.publicJson)}::text[]) as t(k, h, p, v, j)`.execute(db);
      } else {
        await sql`
          insert into ${sql.id(table)} (key, handle, prefix_key, values, public_json, version)
          select k, h, p, v, j, 1
          from unnest(${chunk.map((c) => c.key)}::text[], ${chunk.map((c) => c.handle)}::text[],
                      ${chunk.map((c) => c.prefixKey)}::text[], ${chunk.map((c) => c.values)}::jsonb[],
                      ${chunk.map((c) => c.publicJson)}::text[]) as t(k, h, p, v, j)`.execute(db);
      }
    };
    const t0 = process.hrtime.bigint();
    await inParallel(chunks.length, inFlight, insert);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { items: payloads.length, seconds, perSecond: payloads.length / seconds, inFlight };
  } finally {
    await sql`drop table if exists ${sql.id(table)}`.execute(db);
  }
}

/** Runs `f(0) … f(n - 1)` with at most `limit` running at once. */
export async function inParallel(n: number, limit: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await f(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, n)) }, worker));
}

/** A `COPY … FROM STDIN` of `data` on a `pg` client (pg runs the protocol; this hands it the rows when it asks). */
class CopyIn extends pg.Query {
  constructor(
    text: string,
    private readonly data: Buffer,
  ) {
    super(text);
  }
  handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void }): void {
    connection.sendCopyFromChunk(this.data);
    connection.endCopyFrom();
  }
}

function copyIn(client: pg.Client, text: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const q = client.query(new CopyIn(text, data) as unknown as pg.QueryConfig) as unknown as CopyIn;
    q.on('end', () => resolve());
    q.on('error', reject);
  });
}

/** COPY's text format escapes: backslash, tab, newline, carriage return. */
const copyText = (s: string) => s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));

/**
 * The COPY rate: `COPY … FROM STDIN` (text format) of the same rows into a scratch copy of `handles`, `batch` rows per
 * COPY, each its own transaction, `inFlight` connections at once, no audit, no validation. The rows are formatted
 * before the clock starts. PostgreSQL only (`url`): the fastest way rows enter the table, the ceiling of any write path.
 */
export async function measureCopy(url: string, payloads: readonly RawPayload[], batch = 2000, inFlight = 1): Promise<Rate> {
  const table = `bench_copy_${randomBytes(4).toString('hex')}`;
  const clients = Array.from({ length: Math.max(1, inFlight) }, () => new pg.Client({ connectionString: url }));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    await clients[0]!.query(`create table ${table} (like handles including all)`);
    const data: Buffer[] = [];
    for (let i = 0; i < payloads.length; i += batch) {
      const rows = payloads.slice(i, i + batch).map((r) => `${copyText(r.key)}\t${copyText(r.handle)}\t${copyText(r.prefixKey)}\t${copyText(r.values)}\t${copyText(r.publicJson)}\t1\n`);
      data.push(Buffer.from(rows.join('')));
    }
    const idle = [...clients];
    const t0 = process.hrtime.bigint();
    await inParallel(data.length, clients.length, async (n) => {
      const c = idle.pop()!;
      try {
        await copyIn(c, `copy ${table} (key, handle, prefix_key, values, public_json, version) from stdin`, data[n]!);
      } finally {
        idle.push(c);
      }
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { items: payloads.length, seconds, perSecond: payloads.length / seconds, inFlight };
  } finally {
    await clients[0]!.query(`drop table if exists ${table}`).catch(() => {});
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** Identifiers/s through batchCreate (registerBatch 'create', `batch` items per call, `inFlight` calls at once); throws unless every item succeeds. */
export async function measureBatchCreate(ctx: RegistryContext, items: readonly RegisterItem[], actor: Actor, batch = 2000, inFlight = 1): Promise<Rate> {
  const t0 = process.hrtime.bigint();
  await inParallel(Math.ceil(items.length / batch), inFlight, async (n) => {
    const res = await registerBatch(ctx, items.slice(n * batch, (n + 1) * batch), 'create', actor);
    const bad = res.find((r) => r.outcome !== 'created' && r.outcome !== 'unchanged');
    if (bad) throw new Error(`batchCreate refused ${bad.handle}: ${JSON.stringify(bad)}`);
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { items: items.length, seconds, perSecond: items.length / seconds, inFlight };
}

/** A registry context for benches: no caches to tell, so events do nothing. */
export function benchContext(store: Store): RegistryContext {
  return {
    store,
    nodePrefix: '88.320924',
    nodePrefixKey: '88.320924',
    policy: DEFAULT_CASE_POLICY,
    now: () => new Date(),
    events: { changed: async () => {} },
  };
}

/** A throw-away database on the server of `url`; `drop()` removes it. */
export async function scratchDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `idnode_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const BENCH_SECRET = 'registration-bench-secret';

/** Starts `idnode serve` on `databaseUrl` (no Redis, so only the database is measured) and returns its port. */
function startNode(databaseUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const here = dirname(fileURLToPath(import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, '../src/cli.js'), 'serve'], {
      env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: '', PORT: '0', HOST: '127.0.0.1', ADMIN_SECRET: BENCH_SECRET, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /serving on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`idnode serve exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`idnode serve did not start: ${out}`)), 60_000).unref();
  });
}

/**
 * CPU time (µs) of the PostgreSQL processes on this machine that work for database `name` — its backends and the
 * shared WAL writer, checkpointer and background writer; null when there are none to read (a remote server).
 */
export function databaseCpuMicros(name: string): number | null {
  let total = 0;
  let found = false;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.startsWith('postgres')) continue;
    if (cmd.includes(` ${name} `) || /: (walwriter|checkpointer|background writer)/.test(cmd)) {
      total += cpuMicros(Number(pid));
      found ||= cmd.includes(` ${name} `);
    }
  }
  return found ? total : null;
}

/** The node as a separate process (`idnode serve`, no Redis) with an admin token, for HTTP batchCreate runs. */
export interface HttpNode {
  /** Identifiers/s through POST /identityv2/data/batchCreate, `inFlight` calls at once (bodies serialised first). */
  batchCreate(items: readonly RegisterItem[], batch: number, inFlight: number): Promise<Rate>;
  close(): Promise<void>;
}

/** An SNMS token for `username` from the node at `base` (POST /identity/token). */
export async function snmsToken(base: string, username: string, password: string): Promise<string> {
  const login = await request(`${base}/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return ((await login.body.json()) as { data: { token: string } }).data.token;
}

export async function startHttpNode(databaseUrl: string): Promise<HttpNode> {
  const { child, port } = await startNode(databaseUrl);
  const dbName = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  try {
    const base = `http://127.0.0.1:${port}`;
    const token = await snmsToken(base, 'admin', BENCH_SECRET);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const post = async (body: string) => {
      const res = await request(`${base}/identityv2/data/batchCreate`, { method: 'POST', headers, body, bodyTimeout: 120_000, headersTimeout: 120_000 });
      const r = (await res.body.json()) as { status: number; message: string; data: { handle: string; msg: string }[] };
      const bad = r.status !== 1 ? r.message : r.data.find((x) => x.msg !== 'success')?.msg;
      if (bad !== undefined) throw new Error(`batchCreate over HTTP refused: ${bad}`);
    };
    return {
      async batchCreate(items, batch, inFlight) {
        const bodies: string[] = [];
        for (let i = 0; i < items.length; i += batch) bodies.push(JSON.stringify(items.slice(i, i + batch)));
        const node0 = cpuMicros(child.pid!);
        const db0 = databaseCpuMicros(dbName);
        const t0 = process.hrtime.bigint();
        await inParallel(bodies.length, inFlight, (n) => post(bodies[n]!));
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const db1 = databaseCpuMicros(dbName);
        return {
          items: items.length,
          seconds,
          perSecond: items.length / seconds,
          inFlight,
          nodeCpuUs: (cpuMicros(child.pid!) - node0) / items.length,
          dbCpuUs: db0 === null || db1 === null ? null : (db1 - db0) / items.length,
        };
      },
      async close() {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      },
    };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}

/** Identifiers/s through the node's SNMS batchCreate over HTTP, one call at a time (a node started for it). */
export async function measureHttpBatchCreate(databaseUrl: string, items: readonly RegisterItem[], batch: number, inFlight = 1): Promise<Rate> {
  const node = await startHttpNode(databaseUrl);
  try {
    return await node.batchCreate(items, batch, inFlight);
  } finally {
    await node.close();
  }
}

/** Identifiers/s of `idnode import` of a CSV file (wall time of the whole command, start-up included). */
export async function measureImport(databaseUrl: string, prefix: string, version: string, items: readonly RegisterItem[], batch: number): Promise<Rate> {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'idnode-bench-import-'));
  try {
    const file = join(dir, 'items.csv');
    const csv = ['suffix,productName,model,productionDate,manufacturer'];
    for (const it of items) {
      const v = it.value as { data: { value: string } }[];
      csv.push([it.handle.slice(prefix.length + 1), ...v.map((x) => `"${x.data.value.replace(/"/g, '""')}"`)].join(','));
    }
    writeFileSync(file, csv.join('\n') + '\n');
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [join(here, '../src/cli.js'), 'import', file, '--prefix', prefix, '--template', version, '--batch', String(batch)], {
      env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: '', ADMIN_SECRET: BENCH_SECRET, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 600_000,
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0 || !new RegExp(`${items.length} created`).test(r.stdout)) throw new Error(`idnode import failed (${r.status}): ${r.stdout}${r.stderr}`);
    // The command's own figure (reading the file and registering, after start-up), and the whole command's.
    const own = Number(/ in (\d+(?:\.\d+)?)s:/.exec(r.stdout)?.[1] ?? wall);
    return { items: items.length, seconds: own, perSecond: items.length / own, wallSeconds: wall, wallPerSecond: items.length / wall };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const USAGE = `usage: node dist/bench/registration.js [--items N] [--batch N] [--in-flight 1,2,4] [--repeat N] [--no-import]
                                        (DATABASE_URL: PostgreSQL, else PGlite in memory)
  --items N        identifiers per measured point (default 20000)
  --batch N        identifiers per call (default 2000)
  --in-flight L    calls in flight, comma-separated (default 1,2,4): the curve, next to its ceilings
  --repeat N       runs of the whole curve, to show the noise (default 2)
  --no-import      leave out the idnode import rows
  --help, -h       this text`;

/** One point of the curve: the same number of calls in flight on every path. */
export interface CurvePoint {
  inFlight: number;
  copy: Rate[];
  raw: Rate[];
  http: Rate[];
}

/** Median, smallest and largest of some rates (items/s). */
export function spread(rates: readonly Rate[]): { median: number; min: number; max: number } {
  const v = rates.map((r) => r.perSecond).sort((a, b) => a - b);
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mid = Math.floor(v.length / 2);
  return { median: v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, min: v[0]!, max: v[v.length - 1]! };
}

function parseInFlight(text: string | undefined): number[] {
  if (text === undefined) return [1, 2, 4];
  const list = text.split(',').map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new BenchUsageError(`--in-flight: a comma-separated list of integers 1 … 64, not ${JSON.stringify(text)}`);
  return [...new Set(list)];
}

async function main(argv: readonly string[]): Promise<void> {
  const v = parseBenchArgs(
    argv,
    { items: { type: 'string' }, batch: { type: 'string' }, 'in-flight': { type: 'string' }, repeat: { type: 'string' }, 'no-import': { type: 'boolean' } },
    USAGE,
  );
  const ITEMS = positiveInt('items', v.items, 20000);
  const BATCH = positiveInt('batch', v.batch, 2000);
  const IN_FLIGHT = parseInFlight(v['in-flight']);
  const REPEAT = positiveInt('repeat', v.repeat, 2, 20);
  const databaseUrl = process.env.DATABASE_URL ?? '';
  const here = dirname(fileURLToPath(import.meta.url));
  const say = (s: string) => process.stderr.write(`[bench:registration] ${s}\n`);

  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | null = null;
  let store: Store;
  if (databaseUrl) {
    scratch = await scratchDatabase(databaseUrl);
    store = await openPostgresStore(scratch.url, { poolSize: Math.max(4, ...IN_FLIGHT) + 1 });
  } else {
    process.stdout.write('DATABASE_URL not set: measuring on PGlite in memory (embedded), not PostgreSQL.\n');
    store = await openPgliteStore(null);
  }
  let node: HttpNode | null = null;
  try {
    await store.migrate();
    const ctx = benchContext(store);
    const actor: Actor = { id: 'bench' };
    const version = '1.0';
    const prefix = '88.320924.900';
    const httpPrefix = '88.320924.901';
    const importPrefix = '88.320924.902';
    for (const p of [prefix, httpPrefix, importPrefix]) await createTemplate(ctx, normaliseTemplateInput(benchTemplateBody(p, version), 'create'), actor);
    const onPg = scratch !== null;

    // Warm-up (JIT, plans, connections) on items outside the measured ranges, every path.
    say('warming up …');
    const warm = syntheticItems(prefix, version, Math.min(BATCH, 2000), 90_000_000);
    await measureRawInsert(store.db, rawPayloads(warm), BATCH, 'unnest');
    await measureRawInsert(store.db, rawPayloads(warm), BATCH, 'recordset');
    if (onPg) {
      await measureRawInsert(store.db, rawPayloads(warm), BATCH, 'binary');
      await measureCopy(scratch!.url, rawPayloads(warm), BATCH);
    }
    await measureBatchCreate(ctx, warm, actor, BATCH);
    if (onPg) {
      node = await startHttpNode(scratch!.url);
      await node.batchCreate(syntheticItems(httpPrefix, version, Math.min(2 * BATCH, 4000), 90_000_000), BATCH, 2);
    }

    const items = syntheticItems(prefix, version, ITEMS);
    const payloads = rawPayloads(items);
    // one call at a time, every path (the history of this bench: the array-literal and JSON-document inserts)
    say('single-call paths …');
    const rawUnnest = await measureRawInsert(store.db, payloads, BATCH, 'unnest');
    const rawRecordset = await measureRawInsert(store.db, payloads, BATCH, 'recordset');
    const registry = await measureBatchCreate(ctx, items, actor, BATCH);
    const registry2 = await measureBatchCreate(ctx, syntheticItems(prefix, version, ITEMS, 80_000_000), actor, BATCH, 2);

    // the curve: per point, the ceilings and HTTP with the same calls in flight, interleaved, REPEAT times
    const curve: CurvePoint[] = IN_FLIGHT.map((inFlight) => ({ inFlight, copy: [], raw: [], http: [] }));
    if (onPg) {
      for (let rep = 0; rep < REPEAT; rep++) {
        for (const [i, point] of curve.entries()) {
          say(`run ${rep + 1}/${REPEAT}, ${point.inFlight} in flight …`);
          point.copy.push(await measureCopy(scratch!.url, payloads, BATCH, point.inFlight));
          point.raw.push(await measureRawInsert(store.db, payloads, BATCH, 'binary', point.inFlight));
          // fresh identifiers for every HTTP run (the serial's first digits name the run)
          point.http.push(await node!.batchCreate(syntheticItems(httpPrefix, version, ITEMS, (rep * IN_FLIGHT.length + i + 1) * 1_000_000), BATCH, point.inFlight));
        }
      }
    }
    let cliImport: Rate | null = null;
    if (onPg && v['no-import'] !== true) {
      await node?.close();
      node = null;
      say('idnode import …');
      cliImport = await measureImport(scratch!.url, importPrefix, version, syntheticItems(importPrefix, version, ITEMS), BATCH);
    }

    // One call at a time, the ratio is to the fastest raw insert measured at one in flight (never a slow baseline).
    const raw1 = [rawUnnest, rawRecordset, ...(curve.find((p) => p.inFlight === 1)?.raw ?? [])].reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const backend = onPg ? 'postgresql' : 'pglite (in memory)';
    const points = curve.map((p) => {
      const copy = spread(p.copy);
      const raw = spread(p.raw);
      const http = spread(p.http);
      const mean = (xs: (number | null | undefined)[]) => {
        const ok = xs.filter((x): x is number => typeof x === 'number');
        return ok.length === 0 ? null : ok.reduce((a, b) => a + b, 0) / ok.length;
      };
      return {
        inFlight: p.inFlight,
        copy,
        raw,
        http,
        httpToRaw: http.median / raw.median,
        httpToCopy: http.median / copy.median,
        nodeCpuUs: mean(p.http.map((r) => r.nodeCpuUs)),
        dbCpuUs: mean(p.http.map((r) => r.dbCpuUs)),
        runs: { copy: p.copy, raw: p.raw, http: p.http },
      };
    });
    const result = {
      when: new Date().toISOString(),
      backend,
      items: ITEMS,
      batch: BATCH,
      repeat: REPEAT,
      inFlight: IN_FLIGHT,
      curve: onPg ? points : [],
      rawUnnest,
      rawRecordset,
      raw: raw1,
      registry,
      registry2,
      ratio: registry.perSecond / raw1.perSecond,
      cliImport,
      importRatio: cliImport ? cliImport.perSecond / raw1.perSecond : null,
    };
    const f = (x: { median: number; min: number; max: number }) => `${fmt(x.median)} (${fmt(x.min)}–${fmt(x.max)})`;
    const us = (x: number | null) => (x === null ? '-' : String(Math.round(x)));
    const row = (name: string, r: Rate) => `| ${name} | ${r.items} | ${r.seconds.toFixed(2)} | ${fmt(r.perSecond)} | ${(r.perSecond / raw1.perSecond).toFixed(2)} |`;
    const md = [
      `Registration throughput on ${backend}, ${ITEMS} identifiers per point in batches of ${BATCH}, same run and database.`,
      ...(onPg
        ? [
            '',
            `The curve: identifiers/s with the same number of calls in flight on each path, median of ${REPEAT} runs (smallest–largest: the noise).`,
            'COPY and raw insert are the ceilings: the same rows (values, public answer) into a scratch copy of `handles` (same indexes, compression),',
            'COPY FROM STDIN (text) or insert … select from unnest() of binary text arrays, payloads pre-serialised, no validation, no audit.',
            'HTTP is POST /identityv2/data/batchCreate on `idnode serve` (separate process, token auth, no Redis): validation, row, public answer, audit row, per-item answer.',
            'CPU per identifier (HTTP runs): the node process, and the database processes of this run (its backends, WAL writer, checkpointer, background writer).',
            '',
            '| in flight | COPY /s | raw insert /s | HTTP batchCreate /s | HTTP / raw | HTTP / COPY | node CPU µs/id | db CPU µs/id |',
            '|---|---|---|---|---|---|---|---|',
            ...points.map((p) => `| ${p.inFlight} | ${f(p.copy)} | ${f(p.raw)} | ${f(p.http)} | ${p.httpToRaw.toFixed(2)} | ${p.httpToCopy.toFixed(2)} | ${us(p.nodeCpuUs)} | ${us(p.dbCpuUs)} |`),
          ]
        : []),
      '',
      'One call at a time (and the in-process registry with two); the ratio is to the fastest raw insert at one in flight.',
      '',
      '| path | items | seconds | items/s | ratio to raw |',
      '|---|---|---|---|---|',
      row('raw insert, unnest(text[], jsonb[]) as array literals', rawUnnest),
      row('raw insert, jsonb_to_recordset (one JSON parameter)', rawRecordset),
      row('registry batchCreate in process (parse, template checks, insert, audit rows)', registry),
      row('registry batchCreate in process, 2 in flight', registry2),
      ...(cliImport
        ? [
            row('idnode import (CSV, separate process, after start-up)', cliImport),
            row('idnode import, whole command (start-up included)', { items: cliImport.items, seconds: cliImport.wallSeconds!, perSecond: cliImport.wallPerSecond! }),
          ]
        : []),
    ].join('\n');
    const outDir = join(here, '../../bench/results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'registration.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(join(outDir, 'registration.md'), md + '\n');
    process.stdout.write(md + '\n');
  } finally {
    await node?.close();
    await store.close();
    await scratch?.drop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(() => main(process.argv.slice(2)));
