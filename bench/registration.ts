// Registration throughput bench: the raw PostgreSQL multi-row insert rate vs identifiers/s through batchCreate, same run and database.
// Usage: npm run build && node dist/bench/registration.js [--items 20000] [--batch 2000]
// DATABASE_URL: a throw-away database is created on its server and dropped afterwards; without it PGlite in memory.
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import { createTemplate } from '../registry/templates.js';
import { parseBenchArgs, positiveInt, runMain } from './args.js';

/** A throughput figure. */
export interface Rate {
  items: number;
  seconds: number;
  perSecond: number;
  /** for whole commands: including process start-up (opening the store, migrations) */
  wallSeconds?: number;
  wallPerSecond?: number;
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
 * How the raw insert ships its rows: `unnest` of text[]/jsonb[] array parameters, or `recordset` — one JSON
 * parameter expanded by jsonb_to_recordset (what the store's bulk writes use: no array-literal escaping).
 */
export type RawMethod = 'unnest' | 'recordset';

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
    const t0 = process.hrtime.bigint();
    for (const [n, chunk] of chunks.entries()) {
      if (method === 'recordset') {
        await sql`
          insert into ${sql.id(table)} (key, handle, prefix_key, values, public_json, version)
          select t.k, t.h, t.p, t.v, t.j, 1 from jsonb_to_recordset(${json[n]}::jsonb) as t(k text, h text, p text, v jsonb, j text)`.execute(db);
      } else {
        await sql`
          insert into ${sql.id(table)} (key, handle, prefix_key, values, public_json, version)
          select k, h, p, v, j, 1
          from unnest(${chunk.map((c) => c.key)}::text[], ${chunk.map((c) => c.handle)}::text[],
                      ${chunk.map((c) => c.prefixKey)}::text[], ${chunk.map((c) => c.values)}::jsonb[],
                      ${chunk.map((c) => c.publicJson)}::text[]) as t(k, h, p, v, j)`.execute(db);
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { items: payloads.length, seconds, perSecond: payloads.length / seconds };
  } finally {
    await sql`drop table if exists ${sql.id(table)}`.execute(db);
  }
}

/** Identifiers/s through batchCreate (registerBatch 'create', `batch` items per call); throws unless every item succeeds. */
export async function measureBatchCreate(ctx: RegistryContext, items: readonly RegisterItem[], actor: Actor, batch = 2000): Promise<Rate> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < items.length; i += batch) {
    const res = await registerBatch(ctx, items.slice(i, i + batch), 'create', actor);
    const bad = res.find((r) => r.outcome !== 'created' && r.outcome !== 'unchanged');
    if (bad) throw new Error(`batchCreate refused ${bad.handle}: ${JSON.stringify(bad)}`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { items: items.length, seconds, perSecond: items.length / seconds };
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

/** Identifiers/s through the node's SNMS batchCreate over HTTP (bodies serialised before the clock starts). */
export async function measureHttpBatchCreate(databaseUrl: string, items: readonly RegisterItem[], batch: number): Promise<Rate> {
  const { child, port } = await startNode(databaseUrl);
  try {
    const base = `http://127.0.0.1:${port}`;
    const login = await request(`${base}/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: BENCH_SECRET }),
    });
    const token = ((await login.body.json()) as { data: { token: string } }).data.token;
    const bodies: string[] = [];
    for (let i = 0; i < items.length; i += batch) bodies.push(JSON.stringify(items.slice(i, i + batch)));
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const t0 = process.hrtime.bigint();
    for (const body of bodies) {
      const res = await request(`${base}/identityv2/data/batchCreate`, { method: 'POST', headers, body, bodyTimeout: 120_000 });
      const r = (await res.body.json()) as { status: number; message: string; data: { handle: string; msg: string }[] };
      const bad = r.status !== 1 ? r.message : r.data.find((x) => x.msg !== 'success')?.msg;
      if (bad !== undefined) throw new Error(`batchCreate over HTTP refused: ${bad}`);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { items: items.length, seconds, perSecond: items.length / seconds };
  } finally {
    child.kill('SIGTERM');
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

const USAGE = `usage: node dist/bench/registration.js [--items N] [--batch N]      (DATABASE_URL: PostgreSQL, else PGlite in memory)
  --items N     identifiers registered on each path (default 20000)
  --batch N     identifiers per batch (default 2000)
  --help, -h    this text`;

async function main(argv: readonly string[]): Promise<void> {
  const v = parseBenchArgs(argv, { items: { type: 'string' }, batch: { type: 'string' } }, USAGE);
  const ITEMS = positiveInt('items', v.items, 20000);
  const BATCH = positiveInt('batch', v.batch, 2000);
  const databaseUrl = process.env.DATABASE_URL ?? '';
  const here = dirname(fileURLToPath(import.meta.url));

  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | null = null;
  let store: Store;
  if (databaseUrl) {
    scratch = await scratchDatabase(databaseUrl);
    store = await openPostgresStore(scratch.url, { poolSize: 4 });
  } else {
    process.stdout.write('DATABASE_URL not set: measuring on PGlite in memory (embedded), not PostgreSQL.\n');
    store = await openPgliteStore(null);
  }
  try {
    await store.migrate();
    const ctx = benchContext(store);
    const actor: Actor = { id: 'bench' };
    const prefix = '88.320924.900';
    const version = '1.0';
    await createTemplate(ctx, normaliseTemplateInput(benchTemplateBody(prefix, version), 'create'), actor);

    // Warm-up (JIT, plans, connections) on items outside the measured range, every path.
    const warm = syntheticItems(prefix, version, Math.min(BATCH, 2000), 10_000_000);
    await measureRawInsert(store.db, rawPayloads(warm), BATCH, 'unnest');
    await measureRawInsert(store.db, rawPayloads(warm), BATCH, 'recordset');
    await measureBatchCreate(ctx, warm, actor, BATCH);

    const items = syntheticItems(prefix, version, ITEMS);
    const payloads = rawPayloads(items);
    const rawUnnest = await measureRawInsert(store.db, payloads, BATCH, 'unnest');
    const rawRecordset = await measureRawInsert(store.db, payloads, BATCH, 'recordset');
    const registry = await measureBatchCreate(ctx, items, actor, BATCH);
    // The node itself, as a separate process on the same database: the SNMS API and `idnode import`.
    let http: Rate | null = null;
    let cliImport: Rate | null = null;
    if (databaseUrl && scratch) {
      for (const p of ['88.320924.901', '88.320924.902']) {
        await createTemplate(ctx, normaliseTemplateInput(benchTemplateBody(p, version), 'create'), actor);
      }
      http = await measureHttpBatchCreate(scratch.url, syntheticItems('88.320924.901', version, ITEMS), BATCH);
      cliImport = await measureImport(scratch.url, '88.320924.902', version, syntheticItems('88.320924.902', version, ITEMS), BATCH);
    }
    // The ceiling is the faster raw method, so the ratio is never flattered by a slow baseline.
    const raw = rawRecordset.perSecond >= rawUnnest.perSecond ? rawRecordset : rawUnnest;
    const ratio = registry.perSecond / raw.perSecond;

    const backend = databaseUrl ? 'postgresql' : 'pglite (in memory)';
    const result = {
      when: new Date().toISOString(),
      backend,
      items: ITEMS,
      batch: BATCH,
      rawUnnest,
      rawRecordset,
      raw,
      registry,
      ratio,
      http,
      httpRatio: http ? http.perSecond / raw.perSecond : null,
      cliImport,
      importRatio: cliImport ? cliImport.perSecond / raw.perSecond : null,
    };
    const row = (name: string, r: Rate) =>
      `| ${name} | ${r.items} | ${r.seconds.toFixed(2)} | ${fmt(r.perSecond)} | ${(r.perSecond / raw.perSecond).toFixed(2)} |`;
    const md = [
      `Registration throughput on ${backend}, ${ITEMS} identifiers in batches of ${BATCH}, same run and database.`,
      'Raw = multi-row insert of the same rows (values and public answer) into a scratch copy of `handles`, payloads pre-serialised, no validation, no audit;',
      'the ratio is to the faster raw method.',
      '',
      '| path | items | seconds | items/s | ratio to raw |',
      '|---|---|---|---|---|',
      row('raw insert, unnest(text[], jsonb[])', rawUnnest),
      row('raw insert, jsonb_to_recordset (one JSON parameter)', rawRecordset),
      row('registry batchCreate (parse, template checks, insert, audit rows)', registry),
      ...(http ? [row('node over HTTP: POST /identityv2/data/batchCreate (separate process, token auth)', http)] : []),
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
    await store.close();
    await scratch?.drop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(() => main(process.argv.slice(2)));
