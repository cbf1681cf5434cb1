// Shared test fixtures for the resolver suites: URL records, a controllable RecordSource double, throwaway redis-servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server } from 'node:net';
import { publicValuesJson } from '../../handle/json.js';
import type { HandleValue } from '../../handle/types.js';
import { recordFromValues } from '../../resolver/record.js';
import type { CacheEpoch, RecordSource, RecordText, ResolvedRecord } from '../../resolver/types.js';
import { T0, val } from '../helpers/values.js';

/** A resolved record of one URL value (index 1, relative TTL `ttl`), handle `handle` upper-cased, key `handle`. */
export function urlRecord(handle: string, ttl: number, url = `https://example.com/${handle}`, nowSec = T0): ResolvedRecord {
  return recordFromValues(handle.toUpperCase(), handle, [val(1, 'URL', url, ttl)], nowSec);
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

/** A hold placed on the source: the next call captures its answer, signals `started`, and waits for `release()`. */
export interface Hold {
  started: Promise<void>;
  release: () => void;
}

function hold(): { hold: Hold; started: Deferred; released: Deferred } {
  const started = deferred();
  const released = deferred();
  return { hold: { started: started.promise, release: () => released.resolve() }, started, released };
}

/**
 * A test double of the resolver's narrow RecordSource interface: records as text in a Map (written the way the
 * registry writes them, or as raw text for corrupt rows), read counters, failure switches, a gate that holds the next
 * read after it has looked up its (then current) answer — a "slow reader" — and the cache epoch kept in memory with
 * the registry's compare-and-set semantics (registry/cache-epoch.ts).
 */
export class TestSource implements RecordSource {
  readonly data = new Map<string, RecordText>();
  /** hidden prefix keys (suspended enterprises) */
  readonly hidden = new Set<string>();
  /** store reads: one per key asked for */
  reads = 0;
  readonly readsByKey = new Map<string, number>();
  /** every read(keys) call, as asked */
  readonly batches: string[][] = [];
  fail = false;
  failHidden = false;
  failEpoch = false;
  epoch: CacheEpoch = { epoch: 0, redisRunId: null };
  epochReads = 0;
  /** successful bumps of the epoch (a compare-and-set that lost counts nothing) */
  epochBumps = 0;
  private readGate: ReturnType<typeof hold> | null = null;
  private epochGate: ReturnType<typeof hold> | null = null;

  /** Stores a record as a write would: its values JSON and its public answer. */
  put(key: string, handle: string, values: HandleValue[]): void {
    this.data.set(key, { handle, valuesJson: JSON.stringify(values), publicJson: publicValuesJson(values) });
  }

  /** Stores a record's text as given (a corrupt row, a row without public JSON). */
  putText(key: string, text: RecordText): void {
    this.data.set(key, { ...text });
  }

  delete(key: string): void {
    this.data.delete(key);
  }

  /** The next read captures its answers, signals `started`, and waits for `release()`. */
  holdNextRead(): Hold {
    const g = hold();
    this.readGate = g;
    return g.hold;
  }

  /** The next cacheEpoch() call waits for `release()` before answering (a slow store during verification). */
  holdNextEpochRead(): Hold {
    const g = hold();
    this.epochGate = g;
    return g.hold;
  }

  async read(keys: readonly string[]): Promise<(RecordText | null)[]> {
    this.batches.push([...keys]);
    for (const key of keys) {
      this.reads++;
      this.readsByKey.set(key, (this.readsByKey.get(key) ?? 0) + 1);
    }
    await Promise.resolve();
    if (this.fail) throw new Error('source unavailable');
    const answers = keys.map((k) => {
      const t = this.data.get(k);
      return t === undefined ? null : { ...t };
    });
    const g = this.readGate;
    if (g !== null) {
      this.readGate = null;
      g.started.resolve();
      await g.released.promise;
    }
    return answers;
  }

  async hiddenPrefixKeys(): Promise<string[]> {
    await Promise.resolve();
    if (this.failHidden) throw new Error('source unavailable (suspensions)');
    return [...this.hidden];
  }

  async cacheEpoch(): Promise<CacheEpoch> {
    this.epochReads++;
    const answer = { ...this.epoch };
    await Promise.resolve();
    if (this.failEpoch) throw new Error('source unavailable (epoch)');
    const g = this.epochGate;
    if (g !== null) {
      this.epochGate = null;
      g.started.resolve();
      await g.released.promise;
    }
    return answer;
  }

  async bumpCacheEpoch(o?: { expectRunId: string | null; runId: string }): Promise<CacheEpoch> {
    await Promise.resolve();
    if (this.failEpoch) throw new Error('source unavailable (epoch)');
    if (o === undefined || this.epoch.redisRunId === o.expectRunId) {
      this.epoch = { epoch: this.epoch.epoch + 1, redisRunId: o === undefined ? this.epoch.redisRunId : o.runId };
      this.epochBumps++;
    }
    return { ...this.epoch };
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
  /** while killed: a listener holding the port that drops every connection, so that no other test's server started
   *  meanwhile on a free port can take it and be reconnected to as if this one were back */
  private holder: Server | null = null;
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
    const holder = this.holder;
    this.holder = null;
    if (holder !== null) await new Promise<void>((r) => holder.close(() => r()));
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
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await exited;
    const holder = createServer((sock) => sock.destroy());
    holder.unref();
    await new Promise<void>((resolve) => {
      holder.once('error', () => resolve()); // taken already: nothing to hold
      holder.listen(this.port, '127.0.0.1', () => {
        this.holder = holder;
        resolve();
      });
    });
  }
}
