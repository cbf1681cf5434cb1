// Chaos under bounded load: Redis cut (proxy stopped), PostgreSQL stopped and restarted, the node kill -9'd mid-batch; no acknowledged write lost or hidden, batches all-or-nothing.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startChildNode, type ChildNode } from '../helpers/child-node.js';
import type { Reply, TestServer } from '../helpers/node.js';
import { hasRedis, redisNamespace } from '../helpers/services.js';
import { bearer, item, okData, onboard, operatorLogin, templateBody, values, type Onboarded } from '../helpers/snms.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const run = promisify(execFile);
const PG_BIN = (() => {
  try {
    const v = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))[0];
    return v === undefined ? null : `/usr/lib/postgresql/${v}/bin`;
  } catch {
    return null;
  }
})();
/** PostgreSQL refuses to run as root: as root, its binaries run as the `postgres` OS user (runuser). */
const asRoot = process.getuid?.() === 0;
const pgRun = (bin: string, args: string[]) =>
  asRoot ? run('runuser', ['-u', 'postgres', '--', `${PG_BIN}/${bin}`, ...args], { timeout: 60_000 }) : run(`${PG_BIN}/${bin}`, args, { timeout: 60_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HANDLES = 12;
const BATCH = 8;

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<Reply> {
  const res = await request(base + path, {
    method: method as 'GET',
    headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    reset: true,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

describe.skipIf(PG_BIN === null || !hasRedis)('chaos: Redis cut, PostgreSQL restarted, node killed mid-batch', () => {
  let dir: string;
  let pgPort: number;
  let dbUrl: string;
  let proxy: TcpProxy;
  let node: ChildNode;
  let E: Onboarded;
  const ns = redisNamespace();

  const pgCtl = (...args: string[]) => pgRun('pg_ctl', ['-D', join(dir, 'data'), ...args]);
  const pgStart = () => pgCtl('-w', '-l', join(dir, 'pg.log'), '-o', `-p ${pgPort} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on`, 'start');
  // one password key file across the node's restarts (rows sealed under another key would stop it)
  const keyFile = join(mkdtempSync(join(tmpdir(), 'idnode-chaos-keys-')), 'password-key');
  const startNode = () =>
    startChildNode({ DATABASE_URL: dbUrl, PASSWORD_KEY_FILE: keyFile, REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_NAMESPACE: ns, WORKERS: '1', LOG_LEVEL: 'error' }, 60_000);
  const client = (): TestServer =>
    ({ get: (p: string, h?: Record<string, string>) => call(node.base, 'GET', p, undefined, h), send: (m: string, p: string, b?: unknown, h?: Record<string, string>) => call(node.base, m, p, b, h) }) as unknown as TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idnode-chaos-'));
    pgPort = await freePort();
    if (asRoot) await run('chown', ['postgres:postgres', dir]);
    await pgRun('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale']);
    await pgStart();
    dbUrl = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
    proxy = await TcpProxy.open('127.0.0.1', Number(new URL(process.env.REDIS_URL!).port || 6379));
    node = await startNode();
    const s = client();
    const op = await operatorLogin(s);
    E = await onboard(s, op, { n: 88, username: 'chaos-co', password: 'Chaos-pass-2024' });
    okData(await s.send('POST', '/snms/api/v5/template', templateBody(E.prefix, 'v1'), bearer(E.token)));
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
    await proxy?.close();
    if (dir) {
      await pgCtl('-m', 'immediate', 'stop').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no acknowledged write is lost or hidden, and batches are all-or-nothing', async () => {
    const P = E.prefix;
    const auth = bearer(E.token);
    /** per handle: every attempted seq, and the acknowledged ones with their ack time */
    const attempted = new Map<string, Set<number>>();
    const acked = new Map<string, { seq: number; at: number }[]>();
    const batches: { id: number; handles: string[]; acked: boolean }[] = [];
    const counts = { putsAcked: 0, putsFailed: 0, batchesAcked: 0, batchesFailed: 0, reads: 0, readChecks: 0, readFailed: 0, staleReads: [] as string[] };
    let stop = false;
    let seq = 0;
    let batchNo = 0;

    const writer = async () => {
      while (!stop) {
        const h = `${P}/W-${seq % HANDLES}`;
        const s = ++seq;
        if (!attempted.has(h)) attempted.set(h, new Set());
        attempted.get(h)!.add(s);
        try {
          const r = await call(node.base, 'PUT', `/api/handles/${h}`, [{ index: 1, type: 'URL', data: `https://example.com/v/${s}` }], auth, 4000);
          if (r.status === 200 && r.json?.responseCode === 1) {
            counts.putsAcked++;
            if (!acked.has(h)) acked.set(h, []);
            acked.get(h)!.push({ seq: s, at: Date.now() });
          } else counts.putsFailed++;
        } catch {
          counts.putsFailed++;
        }
        if (seq % 5 === 0) await batch(BATCH);
        await sleep(15);
      }
    };
    const batch = async (n: number) => {
      const id = ++batchNo;
      const handles = Array.from({ length: n }, (_, j) => `${P}/B-${id}-${j}`);
      const b = { id, handles, acked: false };
      batches.push(b);
      try {
        const r = await call(node.base, 'POST', '/identityv2/data/batchCreate', handles.map((h) => item(h, 'v1', values('批', `B-${id}`))), auth, 8000);
        if (r.json?.status === 1 && Array.isArray(r.json.data) && r.json.data.every((x: any) => x.msg === 'success')) {
          b.acked = true;
          counts.batchesAcked++;
        } else counts.batchesFailed++;
      } catch {
        counts.batchesFailed++;
      }
    };
    const seqOf = (r: Reply): number | null => {
      const v = r.json?.values?.find((x: any) => x.index === 1)?.data?.value;
      const m = typeof v === 'string' ? /\/v\/(\d+)$/.exec(v) : null;
      return m ? Number(m[1]) : null;
    };
    const reader = async () => {
      let k = 0;
      while (!stop) {
        const h = `${P}/W-${k++ % HANDLES}`;
        const startedAt = Date.now();
        const mustSee = (acked.get(h) ?? []).filter((a) => a.at < startedAt).reduce((m, a) => Math.max(m, a.seq), 0);
        try {
          const r = await call(node.base, 'GET', `/api/handles/${h}`, undefined, {}, 3000);
          counts.reads++;
          if (r.status === 200) {
            counts.readChecks++;
            const got = seqOf(r) ?? 0;
            if (got < mustSee) counts.staleReads.push(`${h}: read started ${startedAt} saw v${got} after v${mustSee} was acknowledged`);
          } else if (r.status === 404 && mustSee > 0) {
            counts.readChecks++;
            counts.staleReads.push(`${h}: read started ${startedAt} saw not found after v${mustSee} was acknowledged`);
          } else counts.readFailed++;
        } catch {
          counts.readFailed++;
        }
        await sleep(10);
      }
    };

    const t0 = Date.now();
    const log: string[] = [];
    const mark = (what: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    const loops = [writer(), reader()];
    const chaos = (async () => {
      await sleep(4000);
      mark('Redis cut (proxy stopped)');
      await proxy.stop();
      await sleep(4000);
      await proxy.start();
      mark('Redis restored');
      await sleep(4000);
      mark('PostgreSQL stop -m fast');
      await pgCtl('-m', 'fast', '-w', 'stop');
      await sleep(4000);
      await pgStart();
      mark('PostgreSQL restarted');
      await sleep(5000);
      // kill -9 mid-batch: a large batch in flight, then SIGKILL
      const inflight = batch(200);
      await sleep(40);
      mark('node kill -9 mid-batch');
      node.child.kill('SIGKILL');
      await inflight;
      while (node.exited() === null) await sleep(20);
      node = await startNode();
      mark('node restarted');
      await sleep(5000);
    })();
    await chaos;
    stop = true;
    await Promise.all(loops);
    mark('load stopped');

    // afterwards: every acknowledged write present with its latest acknowledged value (or a later attempted one)
    const lost: string[] = [];
    let checks = 0;
    for (const [h, list] of acked) {
      const last = list.reduce((m, a) => Math.max(m, a.seq), 0);
      const r = await call(node.base, 'GET', `/api/handles/${h}`);
      checks++;
      const got = r.status === 200 ? seqOf(r) : null;
      if (got === null || got < last || !attempted.get(h)!.has(got)) lost.push(`${h}: last acknowledged v${last}, stored ${got === null ? `HTTP ${r.status}` : `v${got}`}`);
    }
    const torn: string[] = [];
    for (const b of batches) {
      const present = await Promise.all(b.handles.map(async (h) => (await call(node.base, 'GET', `/api/handles/${h}`)).status === 200));
      checks += b.handles.length;
      const n = present.filter(Boolean).length;
      if (b.acked && n !== b.handles.length) lost.push(`batch ${b.id}: acknowledged, ${n}/${b.handles.length} present`);
      if (!b.acked && n !== 0 && n !== b.handles.length) torn.push(`batch ${b.id}: not acknowledged, ${n}/${b.handles.length} present`);
    }
    // eslint-disable-next-line no-console
    console.log(
      `chaos: ${log.join('; ')}\nchaos: PUTs acknowledged ${counts.putsAcked}, failed ${counts.putsFailed}; batches acknowledged ${counts.batchesAcked}, failed ${counts.batchesFailed}; ` +
        `reads answered ${counts.reads} (${counts.readChecks} checked against acks), unanswered or not 200/404 ${counts.readFailed}; end checks ${checks}; total ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(lost, 'acknowledged writes lost').toEqual([]);
    expect(torn, 'batches half written').toEqual([]);
    expect(counts.staleReads.slice(0, 10), 'reads that saw an older value after a newer one was acknowledged').toEqual([]);
    // the run did something, and the outages were felt
    expect(counts.putsAcked).toBeGreaterThan(100);
    expect(counts.batchesAcked).toBeGreaterThan(5);
    expect(counts.putsFailed + counts.batchesFailed).toBeGreaterThan(0);
    // and the node works after it all
    expect((await call(node.base, 'GET', '/readyz')).status).toBe(200);
  }, 150_000);
});
