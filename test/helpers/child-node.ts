// Runs `idnode serve` as a child process (one process, no workers) so tests can watch it exit and read its memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ADMIN_SECRET, NODE_PREFIX } from './node.js';

export interface ChildNode {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:<port> (https:// with TLS_CERT and TLS_KEY) */
  base: string;
  /** 0 when started with NATIVE_PORT=0 (native face off) */
  nativePort: number;
  /** everything it wrote to stdout and stderr so far */
  log(): string;
  /** null while it runs; the exit code (or signal name) once it has exited */
  exited(): number | string | null;
  /** true when it answers /healthz; false (after waiting up to `ms` for its exit to be seen) when it does not */
  alive(ms?: number): Promise<boolean>;
  /** VmRSS of the process, bytes */
  rss(): number;
  stop(): Promise<void>;
}

/** A port number free on 127.0.0.1 for both TCP and UDP just now (NATIVE_PORT=0 turns the native face off). */
export async function freePort(): Promise<number> {
  for (;;) {
    const tcp = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as { port: number }).port));
    });
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    try {
      udp.close();
    } catch {
      // never bound
    }
    await new Promise<void>((r) => tcp.close(() => r()));
    if (udpFree) return port;
  }
}

/**
 * Starts a node with `env` over the settings tests always give (PORT=0 on 127.0.0.1, a free native port, one
 * process, the test admin secret, LOG_LEVEL=warn). Resolves once it says where it serves HTTP and native (HTTP only
 * with NATIVE_PORT=0); with WORKERS=n that is once the primary says so, after the first worker listens.
 */
export async function startChildNode(env: Record<string, string>, timeoutMs = 30_000): Promise<ChildNode> {
  const nativeOff = env.NATIVE_PORT === '0';
  const nativePort = nativeOff ? 0 : await freePort();
  // a data folder of its own unless the test names one: the node keeps files there (its password key file, with
  // DATABASE_URL too), which must neither land in the checkout nor be shared with other tests' nodes
  const ownDataDir = env.DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), 'idnode-child-')) : null;
  const child = spawn(process.execPath, ['dist/src/cli.js', 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      NATIVE_PORT: String(nativePort),
      WORKERS: '1',
      NODE_PREFIX,
      ADMIN_SECRET,
      LOG_LEVEL: 'warn',
      ...(ownDataDir !== null ? { DATA_DIR: ownDataDir } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let exit: number | string | null = null;
  // 'close', not 'exit': by then stdout and stderr are drained, so a child failing at start shows all it said
  const exitSeen = new Promise<void>((resolve) =>
    child.once('close', (code, signal) => {
      exit = code ?? signal ?? 'unknown';
      if (ownDataDir !== null) rmSync(ownDataDir, { recursive: true, force: true });
      resolve();
    }),
  );
  const started = new Promise<{ base: string; nativePort: number }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node did not start: ${log}`)), timeoutMs);
    const on = (b: Buffer) => {
      log += b.toString();
      const http = /serving on (https?:\/\/127\.0\.0\.1:\d+)/.exec(log);
      const native = /native Handle protocol on tcp\/udp port (\d+)/.exec(log);
      if (http && (native || nativeOff)) {
        clearTimeout(t);
        resolve({ base: http[1]!, nativePort: native ? Number(native[1]) : 0 });
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    void exitSeen.then(() => {
      clearTimeout(t);
      reject(new Error(`node exited (${exit}) before serving: ${log}`));
    });
  });
  let where: { base: string; nativePort: number };
  try {
    where = await started;
  } catch (e) {
    // it never said where it serves: do not leave it running
    if (exit === null) {
      child.kill('SIGKILL');
      await exitSeen;
    }
    throw e;
  }
  const node: ChildNode = {
    child,
    pid: child.pid!,
    ...where,
    log: () => log,
    exited: () => exit,
    async alive(ms = 2000) {
      if (exit !== null) return false;
      try {
        const r = await request(`${where.base}/healthz`, { reset: true, headersTimeout: ms, bodyTimeout: ms });
        await r.body.dump();
        if (r.statusCode === 200) return exit === null;
      } catch {
        // refused or cut: it is gone or going
      }
      await Promise.race([exitSeen, new Promise((r) => setTimeout(r, ms))]);
      return false;
    },
    rss() {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (!m) throw new Error('no VmRSS');
      return Number(m[1]) * 1024;
    },
    async stop() {
      if (exit !== null) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitSeen;
      clearTimeout(force);
    },
  };
  return node;
}
