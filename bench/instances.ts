// The balancer curve (`npm run bench:instances`): HTTP resolution through Debian's HAProxy in front of 1, 2 and 4 idnode instances over one PostgreSQL and Redis, next to one instance asked directly; req/s, latency and server CPU per request (instances and HAProxy apart).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request } from 'undici';
import { BenchUsageError, parseBenchArgs, positiveInt, runMain } from './args.js';
import { cpuMicros, fmtInt, load, shuffle, startNode, type LoadRequest, type LoadResult, type Proc } from './lib.js';
import { freeNativePort } from './native-load.js';
import { scratchDatabase } from './registration.js';

const USAGE = `usage: node dist/bench/instances.js [--counts 1,2,4] [--seconds N] [--connections N] [--keys N] [--rounds N]
      (DATABASE_URL and REDIS_URL required; haproxy from Debian's package)
  --counts L       instance counts behind HAProxy (default 1,2,4)
  --seconds N      seconds per timed run (default 8)
  --connections N  autocannon connections (default 32)
  --keys N         identifiers registered and resolved (default 2000)
  --rounds N       timed runs per count; the figures are their medians (default 2)
  --help, -h       this text`;

const SECRET = 'bench-instances-admin-secret';
const PREFIX = '88.320924';
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

interface Row {
  label: string;
  instances: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** CPU of the instances (summed) per request, µs */
  nodeCpuUs: number;
  /** CPU of HAProxy per request, µs (0 when asked directly) */
  haproxyCpuUs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function haproxyConfig(frontPort: number, ports: readonly number[]): string {
  return [
    'global',
    '  maxconn 4000',
    '  nbthread 1',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  retries 3',
    '  option redispatch 1',
    '  http-reuse safe',
    'listen idnode',
    `  bind 127.0.0.1:${frontPort}`,
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  default-server inter 1s fall 2 rise 1',
    ...ports.map((p, i) => `  server n${i} 127.0.0.1:${p} check`),
    '',
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const v = parseBenchArgs(argv, { counts: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' }, keys: { type: 'string' }, rounds: { type: 'string' } }, USAGE);
  const counts = (v.counts ?? '1,2,4').split(',').map((c) => positiveInt('counts', c.trim(), 1, 16));
  const seconds = positiveInt('seconds', v.seconds, 8, 600);
  const connections = positiveInt('connections', v.connections, 32, 1000);
  const keys = positiveInt('keys', v.keys, 2000, 1_000_000);
  const rounds = positiveInt('rounds', v.rounds, 2, 20);
  const databaseUrl = process.env.DATABASE_URL ?? '';
  const redisUrl = process.env.REDIS_URL ?? '';
  if (!databaseUrl || !redisUrl) throw new BenchUsageError(`DATABASE_URL and REDIS_URL must be set: the instances share one PostgreSQL and one Redis\n${USAGE}`);
  if (HAPROXY === undefined) throw new BenchUsageError('haproxy is not installed: apt-get install haproxy');
  const log = (m: string) => process.stderr.write(`[instances] ${m}\n`);

  const scratch = await scratchDatabase(databaseUrl);
  const dir = mkdtempSync(join(tmpdir(), 'idnode-instances-'));
  const nodes: Proc[] = [];
  let haproxy: ChildProcess | null = null;
  const env = (i: number) => ({
    DATABASE_URL: scratch.url,
    REDIS_URL: redisUrl,
    REDIS_NAMESPACE: `idnode-bench-instances-${process.pid}:`,
    NODE_PREFIX: PREFIX,
    ADMIN_SECRET: SECRET,
    WORKERS: '1',
    NATIVE_PORT: '0',
    DATA_DIR: join(dir, `data-${i}`),
    PASSWORD_KEY_FILE: join(dir, 'password-key'),
    SERVER_KEY_FILE: join(dir, 'server-key.pem'),
  });
  const stopHaproxy = async () => {
    if (haproxy === null || haproxy.exitCode !== null || haproxy.signalCode !== null) return;
    const p = haproxy;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  };
  try {
    const max = Math.max(...counts);
    log(`starting ${max} instances over one PostgreSQL and Redis`);
    nodes.push(await startNode(env(0)));
    nodes.push(...(await Promise.all(Array.from({ length: max - 1 }, (_, i) => startNode(env(i + 1))))));

    log(`registering ${fmtInt(keys)} identifiers`);
    const auth = `Basic ${Buffer.from(`300%3A0.NA/${PREFIX}:${SECRET}`).toString('base64')}`;
    for (let i = 0; i < keys; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, keys - i) }, async (_, j) => {
          const r = await request(`http://127.0.0.1:${nodes[0]!.port}/api/handles/${PREFIX}/INST-${i + j}`, {
            method: 'PUT',
            headers: { authorization: auth, 'content-type': 'application/json' },
            body: JSON.stringify([{ index: 1, type: 'URL', data: `https://example.com/inst/${i + j}` }]),
          });
          await r.body.dump();
          if (r.statusCode >= 300) throw new Error(`registering INST-${i + j}: HTTP ${r.statusCode}`);
        }),
      );
    }
    const list: LoadRequest[] = shuffle(Array.from({ length: keys }, (_, i) => ({ path: `/api/handles/${PREFIX}/INST-${i}` })));

    const measure = async (label: string, port: number, active: readonly Proc[], proxyPid: number | null): Promise<Row> => {
      // warm-up: every instance sees every key (its cache, the JIT), then the timed rounds
      await load({ port, requests: list, connections, amount: list.length * Math.max(1, active.length) * 2, stagger: true, sampleMs: 100 });
      const runs: { r: LoadResult; node: number; proxy: number }[] = [];
      for (let k = 0; k < rounds; k++) {
        const before = active.map((p) => cpuMicros(p.pid));
        const proxyBefore = proxyPid === null ? 0 : cpuMicros(proxyPid);
        const r = await load({ port, requests: list, connections, duration: seconds, stagger: true });
        const nodeCpu = active.reduce((sum, p, i) => sum + cpuMicros(p.pid) - before[i]!, 0);
        const proxyCpu = proxyPid === null ? 0 : cpuMicros(proxyPid) - proxyBefore;
        runs.push({ r, node: nodeCpu / Math.max(1, r.requests), proxy: proxyCpu / Math.max(1, r.requests) });
      }
      const row: Row = {
        label,
        instances: active.length,
        rps: median(runs.map((x) => x.r.rps)),
        p50: median(runs.map((x) => x.r.p50)),
        p99: median(runs.map((x) => x.r.p99)),
        errors: runs.reduce((s, x) => s + x.r.errors, 0),
        non2xx: runs.reduce((s, x) => s + x.r.non2xx, 0),
        nodeCpuUs: median(runs.map((x) => x.node)),
        haproxyCpuUs: median(runs.map((x) => x.proxy)),
      };
      log(`${label}: ${fmtInt(row.rps)} req/s, p99 ${row.p99} ms, ${row.nodeCpuUs.toFixed(1)} µs/req in the instances, ${row.haproxyCpuUs.toFixed(1)} in HAProxy`);
      return row;
    };

    const rows: Row[] = [await measure('1 instance, asked directly', nodes[0]!.port, [nodes[0]!], null)];
    for (const n of counts) {
      const front = await freeNativePort();
      const cfg = join(dir, `haproxy-${n}.cfg`);
      writeFileSync(cfg, haproxyConfig(front, nodes.slice(0, n).map((p) => p.port)));
      const check = spawnSync(HAPROXY, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`haproxy -c: ${check.stderr}${check.stdout}`);
      haproxy = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
      let said = '';
      haproxy.stderr!.on('data', (b: Buffer) => (said = (said + b.toString()).slice(-2000)));
      // up once it answers through every server
      for (let i = 0; i < 100; i++) {
        const ok = await request(`http://127.0.0.1:${front}/readyz`).then(
          async (r) => (await r.body.dump(), r.statusCode === 200),
          () => false,
        );
        if (ok) break;
        if (haproxy.exitCode !== null || haproxy.signalCode !== null) throw new Error(`haproxy exited ${haproxy.exitCode}: ${said}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      rows.push(await measure(`${n} instance${n === 1 ? '' : 's'} behind HAProxy`, front, nodes.slice(0, n), haproxy.pid!));
      await stopHaproxy();
    }

    const base = rows[0]!;
    const md = [
      `HTTP resolution (GET /api/handles/…, ${fmtInt(keys)} cached identifiers, ${connections} keep-alive connections, ${seconds} s × ${rounds} rounds, medians) through Debian's HAProxy in front of idnode instances (WORKERS=1 each) over one PostgreSQL and Redis, on ${String((await import('node:os')).availableParallelism())} cores shared with the load generator.`,
      'Server CPU per request is the figure that carries to bigger machines: the instances\' together, and HAProxy\'s apart.',
      '',
      '| setup | req/s | ÷ one instance directly | p50 ms | p99 ms | errors | non-2xx | instances' + "'" + ' CPU µs/req | HAProxy CPU µs/req |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.label} | ${fmtInt(r.rps)} | ${(r.rps / base.rps).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.nodeCpuUs.toFixed(1)} | ${r.haproxyCpuUs ? r.haproxyCpuUs.toFixed(1) : '-'} |`,
      ),
    ].join('\n');
    const outDir = join(dirname(fileURLToPath(import.meta.url)), '../../bench/results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'instances.json'), JSON.stringify({ when: new Date().toISOString(), keys, connections, seconds, rounds, rows }, null, 2) + '\n');
    writeFileSync(join(outDir, 'instances.md'), md + '\n');
    process.stdout.write(md + '\n');
  } finally {
    await stopHaproxy();
    await Promise.all(nodes.map((p) => p.stop()));
    await scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(() => main(process.argv.slice(2)));
