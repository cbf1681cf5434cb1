#!/usr/bin/env node
// The idnode command line: serve, migrate, resolve <handle>.
import { HandleError } from '../handle/codes.js';
import { parseHandle } from '../handle/identifier.js';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig, workerCount, type Config } from './config.js';
import { openNode, openStore, type Logger } from './node.js';
import { planProgress, progressToCsv, progressToTable } from '../registry/plan.js';
import { ImportError, runImport } from './import.js';
import { serveClusterMetrics } from './metrics-cluster.js';
import { startServer } from './server.js';

const stderrLog: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`${m}\n`),
  error: (m) => process.stderr.write(`${m}\n`),
};

const USAGE = `usage: idnode <command>
  serve               run the node (HTTP on PORT, default 8000)
  migrate             apply database migrations and exit
  resolve <handle>    print a handle's values as Handle JSON
  plan [--csv|--json] the county plan's progress per town and year (PLAN_FILE)
  import <file> --prefix <p> [--template <v>] [--batch <n>]
                      register identifiers from CSV or NDJSON (per item; re-running changes nothing)
Settings come from the environment: PORT HOST NODE_PREFIX ADMIN_SECRET DATABASE_URL REDIS_URL DATA_DIR
CACHE_MAX_BYTES ... (see README).`;

async function serve(config: Config): Promise<void> {
  const workers = workerCount(config, availableParallelism());
  if (workers > 1 && cluster.isPrimary) return servePrimary(config, workers);
  const running = await startServer(config, cluster.isWorker ? quietInfo : stderrLog);
  const where = running.node.store.kind === 'pglite' ? `embedded PGlite in ${config.DATA_DIR}` : 'PostgreSQL';
  if (cluster.isWorker) process.send?.({ listening: running.url, where, native: running.native?.tcpPort });
  else stderrLog.info(`idnode ${running.node.prefix} serving on ${running.url} (${where}${config.REDIS_URL ? ' + Redis' : ''})`);
  if (running.native !== null && !cluster.isWorker) stderrLog.info(`native Handle protocol on tcp/udp port ${running.native.tcpPort}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!cluster.isWorker) stderrLog.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (err) => {
        stderrLog.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** Worker logs: warnings and errors only (the primary says what is being served). */
const quietInfo = { ...stderrLog, info: () => {} };

/**
 * The cluster primary: forks the workers (they share the listening socket), restarts one that dies, and on
 * SIGINT/SIGTERM stops them all gracefully. Workers keep their caches in step through Redis, like separate hosts.
 */
function servePrimary(config: Config, workers: number): Promise<void> {
  serveClusterMetrics(); // before forking: the workers' /metrics ask the primary for all workers' metrics
  let stopping = false;
  let announced = false;
  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: { listening?: string; where?: string; native?: number }) => {
      if (m.listening !== undefined && !announced) {
        announced = true;
        stderrLog.info(`idnode ${config.NODE_PREFIX} serving on ${m.listening} (${m.where} + Redis, ${workers} workers)`);
        if (m.native !== undefined) stderrLog.info(`native Handle protocol on tcp/udp port ${m.native}`);
      }
    });
  };
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    stderrLog.warn(`worker ${w.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, 1000).unref();
  });
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stderrLog.info(`${signal}: shutting down ${workers} workers`);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), 12_000).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return Promise.resolve();
}

async function migrate(config: Config): Promise<void> {
  const store = await openStore(config);
  try {
    await store.migrate();
    stderrLog.info(`migrations applied (${store.kind})`);
  } finally {
    await store.close();
  }
}

async function resolve(config: Config, handle: string | undefined): Promise<number> {
  if (!handle) {
    stderrLog.error('usage: idnode resolve <handle>');
    return 2;
  }
  const node = await openNode({ ...config, REDIS_URL: undefined }, stderrLog);
  try {
    const id = parseHandle(handle, node.policy);
    const res = await node.resolver.resolve(id.key, { authoritative: true });
    if (!res.found) {
      process.stdout.write(`${JSON.stringify({ responseCode: 100, handle, message: 'Handle Not Found' })}\n`);
      return 1;
    }
    process.stdout.write(`{"responseCode":1,"handle":${JSON.stringify(handle)},"values":${res.record.publicValuesJson}}\n`);
    return 0;
  } finally {
    await node.close();
  }
}

/** `--name value` options after the positional arguments. */
function options(args: string[], known: string[]): { positional: string[]; opts: Record<string, string | true> } {
  const positional: string[] = [];
  const opts: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const name = a.slice(2);
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      opts[name] = next;
      i++;
    } else opts[name] = true;
  }
  return { positional, opts };
}

class UsageError extends Error {}

async function plan(config: Config, args: string[]): Promise<number> {
  const { opts } = options(args, ['csv', 'json']);
  const node = await openNode({ ...config, REDIS_URL: undefined }, stderrLog);
  try {
    const p = await planProgress(node.registry, node.plan);
    process.stdout.write(opts.csv ? progressToCsv(p) : opts.json ? `${JSON.stringify(p, null, 2)}\n` : progressToTable(p));
    return 0;
  } finally {
    await node.close();
  }
}

async function importFile(config: Config, args: string[]): Promise<number> {
  const { positional, opts } = options(args, ['prefix', 'template', 'batch']);
  const file = positional[0];
  if (file === undefined || typeof opts.prefix !== 'string') throw new UsageError('usage: idnode import <file> --prefix <p> [--template <v>] [--batch <n>]');
  if (opts.template === true || opts.batch === true) throw new UsageError('--template and --batch take a value');
  const batch = opts.batch === undefined ? undefined : Number(opts.batch);
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1 || batch > 2000)) throw new UsageError('--batch must be 1–2000');
  // With REDIS_URL the import's invalidations reach every running node; PGlite's data folder must not be in use.
  const node = await openNode(config, stderrLog);
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  try {
    const s = await runImport(node, {
      file,
      prefix: opts.prefix,
      template: typeof opts.template === 'string' ? opts.template : undefined,
      batchSize: batch,
      progress: (done, sum) => {
        const rate = Math.round((done * 1000) / Math.max(1, Date.now() - started));
        const line = `${done} read · ${sum.created} created · ${sum.unchanged} unchanged · ${sum.rejected.length} rejected · ${rate}/s`;
        process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      },
    });
    if (tty) process.stderr.write('\n');
    const secs = ((Date.now() - started) / 1000).toFixed(2);
    process.stdout.write(`imported ${file} in ${secs}s: ${s.created} created, ${s.unchanged} unchanged, ${s.rejected.length} rejected (${s.read} read)\n`);
    for (const r of s.rejected.slice(0, 50)) process.stdout.write(`  line ${r.line}${r.handle ? ` ${r.handle}` : ''}: ${r.reason}\n`);
    if (s.rejected.length > 50) process.stdout.write(`  … and ${s.rejected.length - 50} more\n`);
    return s.rejected.length > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof ImportError) {
      stderrLog.error(`idnode import: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    await node.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd === undefined ? 2 : 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      stderrLog.error(`idnode: ${err.message}`);
      return 2;
    }
    throw err;
  }
  switch (cmd) {
    case 'serve':
      await serve(config);
      return -1; // keep running
    case 'migrate':
      await migrate(config);
      return 0;
    case 'resolve':
      return resolve(config, rest[0]);
    case 'plan':
      return plan(config, rest);
    case 'import':
      return importFile(config, rest);
    default:
      stderrLog.error(`idnode: unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    if (err instanceof UsageError) {
      stderrLog.error(`idnode: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    const msg = err instanceof HandleError ? `${err.message} (responseCode ${err.code})` : (err as Error).message;
    stderrLog.error(`idnode: ${msg}`);
    process.exitCode = 1;
  },
);
