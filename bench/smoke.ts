// Smoke benchmark: the node (separate process, embedded store) vs a bare-fastify ceiling, hot resolution, same run.
// Usage: npm run build && node dist/bench/smoke.js [--handles 200] [--seconds 3] [--connections 50]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { request } from 'undici';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const HANDLES = arg('handles', 200);
const SECONDS = arg('seconds', 3);
const CONNECTIONS = arg('connections', 50);
const SECRET = 'bench-admin-secret';
const AUTH = `Basic ${Buffer.from(`${encodeURIComponent('300:0.NA/88.320924')}:${SECRET}`).toString('base64')}`;

function start(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...(script.endsWith('cli.js') ? ['serve'] : [])], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)|serving on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1] ?? m[2]) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`${script} did not start: ${out}`)), 60_000).unref();
  });
}

async function run(port: number, paths: string[]) {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: paths.map((path) => ({ method: 'GET', path })),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

const dataDir = mkdtempSync(join(tmpdir(), 'idnode-bench-'));
const children: ChildProcess[] = [];
try {
  const node = await start(join(here, '../src/cli.js'), { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_SECRET: SECRET, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' });
  children.push(node.child);
  const ceiling = await start(join(here, 'ceiling.js'), { PORT: '0' });
  children.push(ceiling.child);
  const paths: string[] = [];
  for (let i = 0; i < HANDLES; i++) {
    const h = `88.320924/BENCH-${String(i).padStart(6, '0')}`;
    const res = await request(`http://127.0.0.1:${node.port}/api/handles/${h}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: AUTH },
      body: JSON.stringify([
        { index: 1, type: 'URL', data: `https://example.com/products/${h}` },
        { index: 2, type: 'EMAIL', data: 'service@example.com' },
      ]),
    });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`seeding ${h}: HTTP ${res.statusCode}`);
    paths.push(`/api/handles/${h}`);
  }
  for (let i = paths.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [paths[i], paths[j]] = [paths[j]!, paths[i]!];
  }
  await run(node.port, paths.slice(0, 50)); // warm the cache and the JIT
  const ceil = await run(ceiling.port, paths);
  const hot = await run(node.port, paths);
  const result = { when: new Date().toISOString(), handles: HANDLES, seconds: SECONDS, connections: CONNECTIONS, ceiling: ceil, hot, ratio: hot.rps / ceil.rps };
  const md = [
    '| scenario | req/s | p50 ms | p99 ms | errors | non-2xx | ratio to ceiling |',
    '|---|---|---|---|---|---|---|',
    `| bare fastify (ceiling) | ${ceil.rps.toFixed(0)} | ${ceil.p50} | ${ceil.p99} | ${ceil.errors} | ${ceil.non2xx} | 1.00 |`,
    `| idnode hot resolve | ${hot.rps.toFixed(0)} | ${hot.p50} | ${hot.p99} | ${hot.errors} | ${hot.non2xx} | ${result.ratio.toFixed(2)} |`,
  ].join('\n');
  const outDir = join(here, '../../bench/results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'smoke.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(outDir, 'smoke.md'), md + '\n');
  process.stdout.write(md + '\n');
  if (hot.errors > 0 || hot.non2xx > 0) process.exitCode = 1;
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
