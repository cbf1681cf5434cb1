// One process per embedded data folder: a second serve, and import/resolve/plan/migrate, beside a running node are refused.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { ADMIN_SECRET, NODE_PREFIX } from '../helpers/node.js';

const cli = 'dist/src/cli.js';
// Each node boots PGlite from the folder (the first one runs initdb): seconds each, more on a loaded machine.
const BOOT_MS = 90_000;

describe('the embedded data folder is locked to one process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idnode-datalock-'));
  const dataDir = join(dir, 'data');
  const lockFile = join(dataDir, 'idnode.lock');
  const embedded = { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
  const env = { ...process.env, ...embedded, NODE_PREFIX, ADMIN_SECRET, PORT: '0', HOST: '127.0.0.1', NATIVE_PORT: '0', WORKERS: '1', LOG_LEVEL: 'warn' };
  const run = (...args: string[]) => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 30_000 });
    return { ...r, ms: Date.now() - started };
  };
  let first: ChildNode;
  let second: ChildNode | undefined;
  const lockPid = () => (JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number }).pid;
  const handleStatus = async (base: string) => {
    const r = await request(`${base}/api/handles/${NODE_PREFIX}/LOCK-1`);
    await r.body.dump();
    return r.statusCode;
  };

  beforeAll(async () => {
    writeFileSync(join(dir, 'one.csv'), 'suffix\nLOCK-1\n');
    first = await startChildNode(embedded, BOOT_MS);
  }, BOOT_MS + 5_000);
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a running serve holds DATA_DIR/idnode.lock with its pid', () => {
    expect(lockPid()).toBe(first.pid);
  });

  it('a second serve on the same DATA_DIR exits 2 at once, naming DATA_DIR and the running pid', async () => {
    const r = run('serve');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`DATA_DIR ${dataDir}`);
    expect(r.stderr).toContain(`pid ${first.pid}`);
    expect(r.stderr).toContain('stop that process first');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
    expect(r.ms).toBeLessThan(15_000); // it never boots PGlite
    expect(await first.alive()).toBe(true);
    expect(lockPid()).toBe(first.pid);
  });

  it('import, resolve, plan and migrate beside it are refused with what to do instead, and write nothing', async () => {
    const imp = run('import', join(dir, 'one.csv'), '--prefix', NODE_PREFIX);
    expect(imp.status, imp.stderr).toBe(2);
    expect(imp.stdout).toBe('');
    expect(imp.stderr).toContain(`idnode import: DATA_DIR ${dataDir} is in use by another idnode process: pid ${first.pid}`);
    expect(imp.stderr).toContain('POST /identityv2/data/batchCreate');
    for (const [args, hint] of [
      [['resolve', `${NODE_PREFIX}/LOCK-1`], 'GET /api/handles/'],
      [['plan'], 'GET /operator/plan'],
      [['migrate'], 'applied the migrations'],
    ] as const) {
      const r = run(...args);
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`DATA_DIR ${dataDir}`);
      expect(r.stderr).toContain(`pid ${first.pid}`);
      expect(r.stderr).toContain(hint);
    }
    expect(await handleStatus(first.base)).toBe(404);
    expect(lockPid()).toBe(first.pid);
  });

  it('after the node is killed (SIGKILL leaves its lock) the next serve takes the stale lock over; a clean stop removes it', async () => {
    first.child.kill('SIGKILL');
    expect(await first.alive(5_000)).toBe(false);
    expect(lockPid()).toBe(first.pid);
    second = await startChildNode(embedded, BOOT_MS);
    expect(lockPid()).toBe(second.pid);
    expect(await handleStatus(second.base)).toBe(404);
    await second.stop();
    expect(second.exited()).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
    // with no node running the commands open the folder again, and give it back when they are done
    const r = run('resolve', `${NODE_PREFIX}/LOCK-1`);
    expect(r.status, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout).responseCode).toBe(100);
    expect(existsSync(lockFile)).toBe(false);
  }, 2 * BOOT_MS);
});
