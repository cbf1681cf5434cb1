// The embedded store's data-folder lock: DATA_DIR/idnode.lock names the one process (pid, host) that has the folder open.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';

/** The lock's file name inside the data folder. */
export const LOCK_FILE = 'idnode.lock';

/** What a lock file says about its holder. */
export interface LockOwner {
  pid: number;
  host: string;
  /** the command line that took it (e.g. `cli.js serve`) */
  command: string;
  /** ISO time it was taken */
  started: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat), which tells a reused pid apart */
  startTicks?: number;
  /** Linux: the boot it was taken in (a lock from before a reboot is stale) */
  bootId?: string;
  /** makes every lock's text unique, so a takeover can tell the stale lock it saw from a fresh one */
  nonce: string;
}

/** The data folder is held by another process (or is already open in this one). Exit code 2 in the CLI. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly lockPath: string,
    /** null: the lock file could not be read as a lock */
    readonly owner: LockOwner | null,
    message: string,
  ) {
    super(message);
    this.name = 'DataDirLockedError';
  }
}

/** A held lock; release() removes the file if it is still ours (idempotent). */
export interface DataDirLock {
  readonly path: string;
  readonly owner: LockOwner;
  release(): Promise<void>;
}

/** The nonces of the locks this process holds or is taking: a lock naming our own pid is ours only with one of them. */
const mine = new Set<string>();

function procStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces; field 22 (starttime) is the 20th after it
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = Number(fields[19]);
    return Number.isSafeInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0 || typeof o.host !== 'string' || typeof o.nonce !== 'string') return null;
    return {
      pid: o.pid as number,
      host: o.host,
      command: typeof o.command === 'string' ? o.command : '?',
      started: typeof o.started === 'string' ? o.started : '?',
      ...(Number.isSafeInteger(o.startTicks) ? { startTicks: o.startTicks as number } : {}),
      ...(typeof o.bootId === 'string' ? { bootId: o.bootId } : {}),
      nonce: o.nonce,
    };
  } catch {
    return null;
  }
}

/**
 * Whether the process a lock names may still hold it. On another host it cannot be checked, so it counts as
 * running. On this host: gone after a reboot, gone when `kill(pid, 0)` says ESRCH, gone when the pid now belongs to
 * a process that started at another time (pid reuse; e.g. pid 1 again in a restarted container).
 */
export function ownerRunning(o: LockOwner): boolean {
  if (o.host !== hostname()) return true;
  const boot = currentBootId();
  if (o.bootId !== undefined && boot !== undefined && o.bootId !== boot) return false;
  if (o.pid === process.pid) return mine.has(o.nonce);
  try {
    process.kill(o.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it runs, as another user
  }
  if (o.startTicks !== undefined) {
    const now = procStartTicks(o.pid);
    if (now !== undefined && now !== o.startTicks) return false;
  }
  return true;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function unlinkQuiet(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Creates `path` holding `text`, atomically and only if it does not exist (a hard link of a finished temp file). */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, text, { flag: 'wx', mode: 0o644 });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlinkQuiet(tmp);
  }
}

type Outcome = { won: true } | { won: false; owner: LockOwner | null; text: string };

/**
 * Takes `path` for `text`. A lock whose holder is gone is taken over under a second lock named after that stale
 * lock's text (`<path>.takeover-<hash>`, taken the same way, so a takeover that dies half-way is itself stale):
 * of several processes finding the same stale lock, only the one holding the takeover lock removes it (after
 * reading it again: still that very text), and then all race to create the file, which only one can.
 */
async function take(path: string, text: string, depth: number): Promise<Outcome> {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (await createExclusive(path, text)) return { won: true };
    const seen = await readText(path);
    if (seen === null) continue; // released meanwhile: try again
    const owner = parseOwner(seen);
    if (owner === null || ownerRunning(owner) || depth >= 3) return { won: false, owner, text: seen };
    const guard = `${path}.takeover-${createHash('sha256').update(seen).digest('hex').slice(0, 16)}`;
    const got = await take(guard, text, depth + 1);
    if (got.won) {
      try {
        if ((await readText(path)) === seen) await unlinkQuiet(path);
      } finally {
        if ((await readText(guard)) === text) await unlinkQuiet(guard);
      }
    } else {
      // another process is taking it over just now: give it a moment, then look again
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
  }
  const seen = (await readText(path)) ?? '';
  return { won: false, owner: parseOwner(seen), text: seen };
}

function lockedMessage(dataDir: string, path: string, owner: LockOwner | null): string {
  if (owner === null) {
    return (
      `DATA_DIR ${dataDir} is locked, but its lock file ${path} cannot be read as an idnode lock. ` +
      `If no idnode uses this folder, delete that file and start again.`
    );
  }
  if (owner.pid === process.pid && owner.host === hostname()) {
    return `DATA_DIR ${dataDir} is already open in this process (pid ${process.pid}, since ${owner.started}): close its store first.`;
  }
  const where = owner.host === hostname() ? `pid ${owner.pid}` : `pid ${owner.pid} on host ${owner.host}`;
  return (
    `DATA_DIR ${dataDir} is in use by another idnode process: ${where} (${owner.command}, since ${owner.started}). ` +
    `The embedded store's data folder takes one process at a time: stop that process first, or set another DATA_DIR` +
    (owner.host === hostname() ? '' : `; if no idnode runs on ${owner.host} any more, delete ${path}`) +
    '.'
  );
}

/**
 * Locks a data folder (which must exist) for this process, or throws DataDirLockedError naming the holder. The lock
 * goes with release(), or with the process's exit; one left by a killed process is taken over by the next opener.
 */
export async function lockDataDir(dataDir: string, opts: { command?: string } = {}): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_FILE);
  const startTicks = procStartTicks(process.pid);
  const bootId = currentBootId();
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    command: opts.command ?? [basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)].join(' '),
    started: new Date().toISOString(),
    ...(startTicks !== undefined ? { startTicks } : {}),
    ...(bootId !== undefined ? { bootId } : {}),
    nonce: randomBytes(8).toString('hex'),
  };
  const text = `${JSON.stringify(owner)}\n`;
  mine.add(owner.nonce);
  let got: Outcome;
  try {
    got = await take(path, text, 0);
  } catch (err) {
    mine.delete(owner.nonce);
    throw err;
  }
  if (!got.won) {
    mine.delete(owner.nonce);
    throw new DataDirLockedError(dataDir, path, got.owner, lockedMessage(dataDir, path, got.owner));
  }
  // process.exit() and fatal errors skip close(): the lock still goes (SIGKILL leaves it, stale, for the next opener)
  const onExit = () => {
    try {
      if (readFileSync(path, 'utf8') === text) unlinkSync(path);
    } catch {
      // gone already
    }
  };
  process.on('exit', onExit);
  let released: Promise<void> | undefined;
  return {
    path,
    owner,
    release() {
      released ??= (async () => {
        process.off('exit', onExit);
        try {
          if ((await readText(path)) === text) await unlinkQuiet(path);
        } finally {
          mine.delete(owner.nonce);
        }
      })();
      return released;
    },
  };
}
