// The data-folder lock (registry/data-lock.ts): one holder, stale locks taken over once, races with one winner.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, LOCK_FILE, lockDataDir, type DataDirLock } from '../../registry/data-lock.js';
import { openPgliteStore } from '../../registry/open.js';

const root = mkdtempSync(join(tmpdir(), 'idnode-lock-'));
let n = 0;
let dir: string;
beforeEach(() => {
  dir = join(root, String(++n));
  mkdirSync(dir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const lockPath = () => join(dir, LOCK_FILE);
const lockJson = () => JSON.parse(readFileSync(lockPath(), 'utf8')) as { pid: number; host: string; nonce: string };

/** A pid that ran on this host and has exited. */
function deadPid(): number {
  const pid = spawnSync('true').pid;
  expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  return pid;
}

function staleLock(pid: number, extra: Record<string, unknown> = {}): string {
  const text = `${JSON.stringify({ pid, host: hostname(), command: 'cli.js serve', started: '2020-01-01T00:00:00.000Z', nonce: 'old', ...extra })}\n`;
  writeFileSync(lockPath(), text);
  return text;
}

async function refusal(p: Promise<unknown>): Promise<DataDirLockedError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirLockedError);
  return err as DataDirLockedError;
}

describe('lockDataDir', () => {
  it('holds the folder until release; a second taker is refused with DATA_DIR and the pid; release is idempotent', async () => {
    const lock = await lockDataDir(dir, { command: 'test' });
    expect(lockJson()).toMatchObject({ pid: process.pid, host: hostname(), command: 'test' });
    const err = await refusal(lockDataDir(dir));
    expect(err.message).toContain(`DATA_DIR ${dir}`);
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.owner?.pid).toBe(process.pid);
    await lock.release();
    await lock.release();
    expect(existsSync(lockPath())).toBe(false);
    const again = await lockDataDir(dir);
    await again.release();
  });

  it('refuses a lock held by a running process, naming its pid and what to do', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const ticks = Number(readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
      const text = staleLock(child.pid!, { startTicks: ticks });
      const err = await refusal(lockDataDir(dir));
      expect(err.message).toMatch(new RegExp(`DATA_DIR ${dir} is in use by another idnode process: pid ${child.pid} \\(cli\\.js serve, since 2020`));
      expect(err.message).toContain('stop that process first');
      expect(readFileSync(lockPath(), 'utf8')).toBe(text);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a lock whose process is gone (ESRCH), or whose pid now belongs to a process started at another time', async () => {
    staleLock(deadPid());
    const a = await lockDataDir(dir);
    expect(lockJson().pid).toBe(process.pid);
    await a.release();

    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      staleLock(child.pid!, { startTicks: 1 }); // that pid, but a process that started at another time
      const b = await lockDataDir(dir);
      expect(lockJson().pid).toBe(process.pid);
      await b.release();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a lock naming this very pid that this process does not hold (pid 1 again in a restarted container)', async () => {
    staleLock(process.pid);
    const lock = await lockDataDir(dir);
    expect(lockJson().nonce).not.toBe('old');
    await lock.release();
  });

  it('refuses a lock from another host (it cannot be checked) and one it cannot read, saying which file to delete', async () => {
    writeFileSync(lockPath(), JSON.stringify({ pid: 4242, host: 'elsewhere.example', command: 'cli.js serve', started: 'x', nonce: 'n' }));
    const other = await refusal(lockDataDir(dir));
    expect(other.message).toContain('pid 4242 on host elsewhere.example');
    expect(other.message).toContain(`delete ${lockPath()}`);
    writeFileSync(lockPath(), 'garbage');
    const bad = await refusal(lockDataDir(dir));
    expect(bad.owner).toBeNull();
    expect(bad.message).toContain(`DATA_DIR ${dir}`);
    expect(bad.message).toContain(`delete that file`);
  });

  it('of many takers racing for one stale lock in one process, exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      staleLock(deadPid(), { nonce: `old-${round}` });
      // staggered by a few event-loop turns, so that some read the stale lock while others already replace it (a
      // takeover that just deletes the stale file and creates its own lets two of them win here)
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, async (_, i) => {
          for (let t = 0; t < i * 3; t++) await new Promise((r) => setImmediate(r));
          return lockDataDir(dir);
        }),
      );
      const won = results.filter((r): r is PromiseFulfilledResult<DataDirLock> => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DataDirLockedError);
      expect(lockJson().nonce).toBe(won[0]!.value.owner.nonce);
      await won[0]!.value.release();
      expect(existsSync(lockPath())).toBe(false);
    }
  });

  it('of processes taking one stale lock at once, one wins and the others are refused while it holds it; the lock goes with process.exit', async () => {
    const mod = resolve('dist/registry/data-lock.js');
    expect(existsSync(mod), 'run npm run build first').toBe(true);
    // each child waits for a common start time, tries, says whether it won, and holds on until told to exit, which it
    // does without release(); so any two winners would hold the lock at the same time
    const script = `
      const { lockDataDir } = await import(${JSON.stringify(mod)});
      await new Promise((r) => setTimeout(r, Number(process.argv[2]) - Date.now()));
      let won = false;
      try { await lockDataDir(process.argv[1]); won = true; } catch (e) { if (e.name !== 'DataDirLockedError') throw e; }
      process.stdout.write(won ? 'won' : 'lost');
      process.stdin.on('data', () => process.exit(0));`;
    {
      staleLock(deadPid());
      const at = Date.now() + 1500;
      const children = Array.from({ length: 4 }, () => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', script, dir, String(at)], { stdio: ['pipe', 'pipe', 'inherit'] });
        const exited = new Promise<number | null>((done) => c.on('exit', (code) => done(code)));
        const said = new Promise<string>((done) => c.stdout.once('data', (b: Buffer) => done(b.toString())));
        return { c, exited, said };
      });
      const outs = await Promise.all(children.map((x) => Promise.race([x.said, x.exited.then((code) => `exited ${code}`)])));
      for (const x of children) x.c.stdin.write('exit\n');
      expect(await Promise.all(children.map((x) => x.exited))).toEqual([0, 0, 0, 0]);
      expect(outs.sort()).toEqual(['lost', 'lost', 'lost', 'won']);
      expect(existsSync(lockPath()), 'the winner exited: its lock is gone').toBe(false);
    }
  });
});

describe('openPgliteStore on a data folder', () => {
  it('takes the lock before PGlite opens the folder (closing gives it back: test/slow/data-lock-cli.test.ts)', async () => {
    writeFileSync(lockPath(), JSON.stringify({ pid: 7, host: 'elsewhere.example', command: 'serve', started: 'x', nonce: 'n' }));
    await refusal(openPgliteStore(dir));
    expect(existsSync(join(dir, 'PG_VERSION')), 'PGlite never touched the folder').toBe(false);
  });
});
