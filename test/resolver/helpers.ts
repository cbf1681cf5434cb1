// Shared test fixtures for the resolver suites: values, a controllable RecordSource double, throwaway redis-servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import type { HandleValue } from '../../handle/types.js';
import { DEFAULT_PERMISSIONS } from '../../handle/types.js';
import type { RecordSource } from '../../resolver/types.js';

export function val(index: number, type: string, value: string, ttl = 86400, publicRead = true): HandleValue {
  return {
    index,
    type,
    data: { format: 'string', value },
    ttlType: 'relative',
    ttl,
    timestamp: 1_700_000_000,
    permissions: { ...DEFAULT_PERMISSIONS, publicRead },
    references: [],
  };
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(v: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A test double of the resolver's SOURCE interface: a Map with read counters, a failure switch, and a gate that
 * holds the next read after it has looked up its (then current) answer — a "slow reader".
 */
export class TestSource implements RecordSource {
  readonly data = new Map<string, { handle: string; values: HandleValue[] }>();
  reads = 0;
  readonly readsByKey = new Map<string, number>();
  fail = false;
  private gate: { release: Deferred; started: Deferred } | null = null;

  put(key: string, handle: string, values: HandleValue[]): void {
    this.data.set(key, { handle, values });
  }

  /** The next read captures its answer, signals `started`, and waits for `release()`. */
  holdNextRead(): { started: Promise<void>; release: () => void } {
    const g = { release: deferred(), started: deferred() };
    this.gate = g;
    return { started: g.started.promise, release: () => g.release.resolve() };
  }

  async getHandle(key: string): Promise<{ handle: string; values: HandleValue[] } | null> {
    this.reads++;
    this.readsByKey.set(key, (this.readsByKey.get(key) ?? 0) + 1);
    await Promise.resolve();
    if (this.fail) throw new Error('source unavailable');
    const answer = this.data.get(key) ?? null;
    const g = this.gate;
    if (g !== null) {
      this.gate = null;
      g.started.resolve();
      await g.release.promise;
    }
    return answer === null ? null : { handle: answer.handle, values: answer.values.slice() };
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.once('connect', () => sock.write('PING\r\n'));
  });
}

/** A throwaway redis-server on a free loopback port (no persistence). Always call kill(). */
export class ThrowawayRedis {
  private proc: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(port?: number): Promise<ThrowawayRedis> {
    const r = new ThrowawayRedis(port ?? (await freePort()));
    await r.launch();
    return r;
  }

  /** Starts (again) on the same port. */
  async launch(): Promise<void> {
    if (this.proc !== null) throw new Error('already running');
    const proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    this.proc = proc;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    for (let i = 0; i < 100; i++) {
      if (await ping(this.port)) return;
      if (proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    await exited;
    this.proc = null;
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** SIGSTOP / SIGCONT: a server that accepts nothing and answers nothing (a stalled Redis). */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (p === null) return;
    this.proc = null;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await exited;
  }
}
