// Shared bench machinery: start the node and the ceilings as separate processes, drive autocannon with prebuilt
// request lists, and read the server's CPU time and RSS from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
/** bench/results in the source tree (this file runs from dist/bench). */
export const RESULTS_DIR = join(here, '../../bench/results');

export interface Proc {
  child: ChildProcess;
  pid: number;
  port: number;
  /** stops the process and waits for it to exit */
  stop(): Promise<void>;
}

function startProcess(args: string[], env: Record<string, string>, ready: RegExp, what: string): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.length > 100_000) out = out.slice(-50_000);
      const m = ready.exec(out);
      if (m && !done) {
        done = true;
        resolve({
          child,
          pid: child.pid!,
          port: Number(m[1]),
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(t);
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      if (!done) reject(new Error(`${what} exited ${code} before it was ready:\n${out}`));
    });
    setTimeout(() => {
      if (!done) {
        child.kill('SIGKILL');
        reject(new Error(`${what} did not start within 60 s:\n${out}`));
      }
    }, 60_000).unref();
  });
}

/** `idnode serve` as its own process (the built CLI), listening on a free loopback port. */
export function startNode(env: Record<string, string>, extraArgs: string[] = []): Promise<Proc> {
  // BENCH_NODE_ARGS reaches only the node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a scenario
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return startProcess(
    [...nodeArgs, ...extraArgs, join(here, '../src/cli.js'), 'serve'],
    { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', NATIVE_PORT: '0', ...env },
    /serving on http:\/\/[^:\s]+:(\d+)/,
    'idnode serve',
  );
}

/** A ceiling server (bench/ceiling.ts): `const`, `redis` or `pg`. */
export function startCeiling(mode: 'const' | 'redis' | 'pg', env: Record<string, string> = {}): Promise<Proc> {
  return startProcess([join(here, 'ceiling.js')], { CEILING: mode, PORT: '0', ...env }, /listening (\d+)/, `ceiling ${mode}`);
}

/** The native ceiling (bench/ceiling-native.ts), answering every request with `answer` (one whole answer). */
export function startNativeCeiling(answer: Buffer): Promise<Proc> {
  return startProcess([join(here, 'ceiling-native.js')], { NATIVE_ANSWER: answer.toString('hex'), PORT: '0' }, /listening (\d+)/, 'native ceiling');
}

const CLK_TCK = 100; // Linux USER_HZ

/** User + system CPU time of a process (all its threads), in microseconds; 0 when unreadable. */
export function cpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (fields 14 and 15 of stat(5), counted from after the comm field)
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes; 0 when unreadable. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Child pids (cluster workers) of a process, from /proc. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface LoadRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  port: number;
  requests: LoadRequest[];
  connections: number;
  /** seconds (bounded) */
  duration?: number;
  /** or a fixed number of requests */
  amount?: number;
  /** the server's pid, for CPU and RSS (its cluster workers are included) */
  pid?: number;
  /**
   * connection i starts at request i·length/connections (so the connections do not walk the list in lockstep), and
   * the list is built once and shared instead of once per connection
   */
  stagger?: boolean;
  /** called for every response with its request's method, status and latency in ms (to split latency by kind) */
  onResponse?: (method: string, status: number, ms: number) => void;
  /** autocannon's sampling interval in ms (default 1000; rps is per second either way): a short one ends an
   *  amount-bounded pass as soon as it is done instead of at the next whole second */
  sampleMs?: number;
}

export interface LoadResult {
  requests: number;
  /** how long the run took, seconds */
  seconds: number;
  /** requests ÷ seconds */
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  non2xx: number;
  /** server CPU microseconds per request (user + system, workers included) */
  cpuUsPerReq: number | null;
  /** the server's largest RSS seen during the run, bytes (workers summed) */
  rssMaxBytes: number | null;
  /** responses per HTTP status (e.g. to count expected 302s or 404s as success) */
  statusCodes: Record<string, number>;
}

// autocannon internals the stagger and onResponse options rely on (pipelining 1): setupClient runs before a client
// sends its first request (its iterator's current one), requests without setupRequest are built once and never
// rebuilt, and a client's current request is the one whose response is being reported.
interface AutocannonClient {
  requestIterator: {
    currentRequestIndex: number;
    currentRequest: { method?: string };
    requests: { method?: string }[];
    setRequests(requests: unknown[]): void;
  };
}
interface AutocannonEvents {
  on(event: 'response', f: (client: AutocannonClient, status: number, bytes: number, ms: number) => void): void;
}

/**
 * A setupClient for `stagger`: the first client builds the request list once, every client shares it and starts
 * at request i·n/connections. (autocannon otherwise deep-clones and builds the whole list per connection: ~0.5 s and
 * ~20 MB per connection for 50,000 requests, blocking the event loop while the first connections' requests are timed.)
 */
function staggerClients(requests: unknown[], connections: number): (client: AutocannonClient) => void {
  let next = 0;
  let shared: { method?: string }[] | null = null;
  return (client) => {
    const it = client.requestIterator;
    if (shared === null) {
      it.setRequests(requests);
      shared = it.requests;
    } else {
      it.requests = shared;
    }
    const at = Math.floor(((next++ % connections) * shared.length) / connections);
    it.currentRequestIndex = at;
    it.currentRequest = shared[at]!;
  };
}

/** Runs autocannon over a prebuilt request list (no per-request setup work in the generator). */
export async function load(o: LoadOptions): Promise<LoadResult> {
  const pids = () => (o.pid === undefined ? [] : [o.pid, ...childPids(o.pid)]);
  const cpu = () => pids().reduce((a, p) => a + cpuMicros(p), 0);
  const rss = () => pids().reduce((a, p) => a + rssBytes(p), 0);
  let rssMax = o.pid === undefined ? 0 : rss();
  const sampler = o.pid === undefined ? undefined : setInterval(() => (rssMax = Math.max(rssMax, rss())), 250);
  const cpu0 = cpu();
  const requests = o.requests.map((q) => ({ method: q.method ?? 'GET', path: q.path, headers: q.headers, body: q.body }));
  const stagger = o.stagger === true && requests.length > 1;
  const opts = {
    url: `http://127.0.0.1:${o.port}`,
    connections: o.connections,
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.duration ?? 5 }),
    // staggered: each client gets a one-request placeholder (cheap to clone), then the shared list in setupClient
    requests: stagger ? requests.slice(0, 1) : requests,
    timeout: 10,
    ...(o.sampleMs !== undefined ? { sampleInt: o.sampleMs } : {}),
    ...(stagger ? { setupClient: staggerClients(requests, o.connections) } : {}),
  };
  const run = autocannon(opts) as ReturnType<typeof autocannon> & Partial<AutocannonEvents>;
  if (o.onResponse !== undefined && run.on !== undefined) {
    const f = o.onResponse;
    run.on('response', (client, status, _bytes, ms) => f(client.requestIterator.currentRequest.method ?? 'GET', status, ms));
  }
  const r = await run;
  const cpu1 = cpu();
  if (sampler) clearInterval(sampler);
  const total = r.requests.total;
  return {
    requests: total,
    seconds: r.duration,
    rps: r.duration > 0 ? total / r.duration : 0,
    p50: r.latency.p50,
    p99: r.latency.p99,
    p999: r.latency.p99_9 ?? r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    cpuUsPerReq: o.pid === undefined || total === 0 ? null : (cpu1 - cpu0) / total,
    rssMaxBytes: o.pid === undefined ? null : rssMax,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count])),
  };
}

/** A small seeded PRNG (mulberry32), so a run (or a failing fuzz case) can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates, in place. */
export function shuffle<T>(a: T[], rnd: () => number = Math.random): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** A sampler of ranks 0…n-1 with Zipf(s) probabilities (rank 0 the most frequent). */
export function zipf(n: number, s = 1, rnd: () => number = Math.random): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / Math.pow(k + 1, s);
    cdf[k] = sum;
  }
  return () => {
    const u = rnd() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Writes bench/results/<name>.md and .json. */
export function writeReport(name: string, md: string, json: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${name}.md`), md.endsWith('\n') ? md : `${md}\n`);
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtMB = (b: number | null) => (b === null ? '-' : `${(b / 1048576).toFixed(0)} MB`);
