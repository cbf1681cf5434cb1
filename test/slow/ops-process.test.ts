// Operations seen from outside the process: PostgreSQL out of reach at start (bounded retry, exit 2, password masked),
// the start-up warnings, Redis losses and recoveries in the log, and `npm start` passing the stop signal to the node.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { ADMIN_SECRET, NODE_PREFIX } from '../helpers/node.js';
import { RedisServer } from '../helpers/redis-server.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';

/** The nodes here get a database of their own (rows sealed under another node's password key would stop them). */
let db: Awaited<ReturnType<typeof tempPostgres>> | undefined;
let testDb = '';
/** …and one password key file, since they share that database */
const keyFile = join(mkdtempSync(join(tmpdir(), 'idnode-ops-keys-')), 'password-key');
beforeAll(async () => {
  if (!hasPostgres) return;
  db = await tempPostgres();
  testDb = db.url;
});
afterAll(async () => db?.drop());

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs `idnode serve` to its exit: code and everything it wrote. */
function runToExit(env: Record<string, string>, timeoutMs = 20_000): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/src/cli.js', 'serve'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NATIVE_PORT: '0', WORKERS: '1', NODE_PREFIX, ADMIN_SECRET, LOG_LEVEL: 'warn', REDIS_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, out, ms: Date.now() - t0 });
    });
  });
}

describe('PostgreSQL out of reach at start', () => {
  it('retries for DB_CONNECT_TIMEOUT seconds, then exits 2 naming the setting, what to check, and no password', async () => {
    const port = await closedPort();
    const r = await runToExit({ DATABASE_URL: `postgres://idnode:hunter2-db-pw@127.0.0.1:${port}/idnode`, DB_CONNECT_TIMEOUT: '2' });
    expect(r.code).toBe(2);
    expect(r.out).toContain('DB_CONNECT_TIMEOUT');
    expect(r.out).toContain(`DATABASE_URL=postgres://idnode:***@127.0.0.1:${port}/idnode`);
    expect(r.out).toMatch(/ECONNREFUSED/);
    expect(r.out).toMatch(/Check that PostgreSQL runs/);
    expect(r.out).not.toContain('hunter2-db-pw');
    expect(r.out).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.ms).toBeGreaterThanOrEqual(1500); // it did wait
  }, 30_000);
});

describe.skipIf(!hasPostgres)('start-up warnings and Redis in the log', () => {
  const nodes: ChildNode[] = [];
  let redis: RedisServer | undefined;
  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await redis?.stop();
  });

  it('HOST=0.0.0.0 without ADVERTISED_HOST warns what is advertised and how to change it', async () => {
    const n = await startChildNode({ HOST: '0.0.0.0', DATABASE_URL: testDb, PASSWORD_KEY_FILE: keyFile, REDIS_URL: '' });
    nodes.push(n);
    expect(n.log()).toMatch(/warning: HOST=0\.0\.0\.0 without ADVERTISED_HOST: .* advertises 127\.0\.0\.1.*Set ADVERTISED_HOST/s);
    expect(n.log()).toMatch(/warning: HOST=0\.0\.0\.0 serves plain HTTP .*TLS_CERT and TLS_KEY/s);
    await n.stop();
  }, 40_000);

  it('logs once when Redis is lost and once when it is back', async () => {
    redis = await RedisServer.start();
    const n = await startChildNode({ DATABASE_URL: testDb, PASSWORD_KEY_FILE: keyFile, REDIS_URL: redis.url, REDIS_NAMESPACE: `t-${process.pid}-${Date.now()}:` });
    nodes.push(n);
    expect(n.log()).not.toMatch(/Redis unreachable/);
    await redis.kill();
    await waitFor(() => /Redis unreachable at REDIS_URL=redis:\/\/127\.0\.0\.1/.test(n.log()), 10_000);
    await new Promise((r) => setTimeout(r, 3000)); // several failed reconnects meanwhile
    expect(n.log().match(/Redis unreachable/g)).toHaveLength(1);
    await redis.restart();
    await waitFor(() => /Redis reachable again/.test(n.log()), 15_000);
    await n.stop();
  }, 60_000);
});

describe.skipIf(!hasPostgres)('npm start', () => {
  it('runs the built node itself, so stopping npm stops the node', async () => {
    const npm = spawn('npm', ['start', '--silent'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NATIVE_PORT: '0', WORKERS: '1', NODE_PREFIX, ADMIN_SECRET, LOG_LEVEL: 'warn', DATABASE_URL: testDb, PASSWORD_KEY_FILE: keyFile, DATA_DIR: mkdtempSync(join(tmpdir(), 'idnode-npm-start-')), REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.on('data', (b: Buffer) => (out += b.toString()));
    npm.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor(() => /serving on/.test(out), 30_000);
      // the node is npm's own child (no shell between them that a signal would stop at)
      const children = execFileSync('ps', ['--ppid', String(npm.pid), '-o', 'pid=,args=']).toString();
      const node = /^\s*(\d+)\s+\S*node dist\/src\/cli\.js serve/m.exec(children);
      expect(node, children).not.toBeNull();
      const pid = Number(node![1]);
      const exited = new Promise((r) => npm.once('exit', r));
      npm.kill('SIGTERM');
      await exited;
      await waitFor(() => !isRunning(pid), 12_000);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  }, 60_000);
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
