// Stopping gracefully: SIGTERM turns /readyz to 503 while the node serves on for DRAIN_SECONDS; behind HAProxy (Debian's) a rolling restart of every instance under load fails no request, and a kill -9 is counted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startChildNode, type ChildNode } from '../helpers/child-node.js';
import { admin } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, redisUrl, requireServices, tempPostgres } from '../helpers/services.js';

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

async function get(url: string, dispatcher?: Agent): Promise<{ status: number; body: string }> {
  const r = await request(url, dispatcher ? { dispatcher } : { reset: true });
  return { status: r.statusCode, body: await r.body.text() };
}

describe('SIGTERM with DRAIN_SECONDS', () => {
  it('answers /readyz 503 draining at once, serves everything else for DRAIN_SECONDS, then exits 0', { timeout: 60_000 }, async () => {
    const node = await startChildNode({ DRAIN_SECONDS: '2', NATIVE_PORT: '0', DATABASE_URL: '', REDIS_URL: '' });
    try {
      const kept = new Agent({ keepAliveTimeout: 30_000 });
      expect((await get(`${node.base}/readyz`, kept)).status).toBe(200);
      const t0 = Date.now();
      node.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      const ready = await get(`${node.base}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });
      // still served, on a connection opened before the signal and on new ones
      expect((await get(`${node.base}/api/handles/0.NA/88.320924`, kept)).status).toBe(200);
      expect((await get(`${node.base}/api/handles/0.NA/88.320924`)).status).toBe(200);
      expect((await get(`${node.base}/healthz`)).status).toBe(200);
      expect(node.exited()).toBeNull();
      while (node.exited() === null && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
      expect(node.exited()).toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
      expect(node.log()).toContain('SIGTERM: draining for 2 s, then shutting down');
      await kept.close();
    } finally {
      await node.stop();
    }
  });

  it('SIGINT stops at once', { timeout: 30_000 }, async () => {
    const node = await startChildNode({ DRAIN_SECONDS: '30', NATIVE_PORT: '0', DATABASE_URL: '', REDIS_URL: '' });
    const t0 = Date.now();
    node.child.kill('SIGINT');
    while (node.exited() === null && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
    expect(node.exited()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe.skipIf(!hasPostgres || !hasRedis || (!HAPROXY && !requireServices))('three instances behind HAProxy', () => {
  const N = 3;
  let db: { url: string; drop: () => Promise<void> };
  let shared: string;
  let env: Record<string, string>;
  const ports: number[] = [];
  const nodes: ChildNode[] = [];
  let haproxy: ChildProcess;
  let front = '';

  const startInstance = (i: number) =>
    startChildNode({ ...env, PORT: String(ports[i]), DATA_DIR: join(shared, `data-${i}`) }, 60_000).then((n) => {
      nodes[i] = n;
      return n;
    });

  /** Until `until` resolves: 8 clients resolving through HAProxy one request after another; every outcome counted. */
  async function underLoad(until: Promise<unknown>): Promise<{ ok: number; failed: number; statuses: Record<string, number> }> {
    const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8 });
    const statuses: Record<string, number> = {};
    let done = false;
    void until.finally(() => {
      done = true;
    });
    const client = async () => {
      while (!done) {
        let key: string;
        try {
          const r = await request(`${front}/api/handles/88.320924/DRAIN-1`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
          await r.body.dump();
          key = String(r.statusCode);
        } catch (e) {
          key = (e as { code?: string }).code ?? 'error';
        }
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
    };
    await Promise.all([until, ...Array.from({ length: 8 }, client)]);
    await agent.close();
    const ok = statuses['200'] ?? 0;
    return { ok, failed: Object.values(statuses).reduce((a, b) => a + b, 0) - ok, statuses };
  }

  beforeAll(async () => {
    if (!HAPROXY) throw new Error('haproxy is not installed (apt-get install haproxy): the balancer tests need it');
    db = await tempPostgres();
    shared = mkdtempSync(join(tmpdir(), 'idnode-lb-'));
    // one password key and one server key for all the instances, as one node on several hosts would share them
    env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_NAMESPACE: redisNamespace(),
      NATIVE_PORT: '0',
      DRAIN_SECONDS: '2',
      PASSWORD_KEY_FILE: join(shared, 'password-key'),
      SERVER_KEY_FILE: join(shared, 'server-key.pem'),
    };
    for (let i = 0; i < N; i++) ports.push(await freePort());
    // the first instance migrates and bootstraps; the others start once it has
    await startInstance(0);
    await Promise.all(Array.from({ length: N - 1 }, (_, i) => startInstance(i + 1)));
    const put = await request(`${nodes[0]!.base}/api/handles/88.320924/DRAIN-1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...admin() },
      body: JSON.stringify([{ index: 1, type: 'URL', data: 'https://drain.example' }]),
    });
    await put.body.dump();
    expect(put.statusCode).toBeLessThan(300);

    const frontPort = await freePort();
    const cfg = join(shared, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        '  maxconn 1000',
        'defaults',
        '  mode http',
        '  timeout connect 1s',
        '  timeout client 10s',
        '  timeout server 10s',
        '  retries 3',
        '  option redispatch 1',
        '  retry-on conn-failure empty-response response-timeout 503',
        'listen idnode',
        `  bind 127.0.0.1:${frontPort}`,
        '  balance roundrobin',
        '  option httpchk GET /readyz',
        '  http-check expect status 200',
        '  default-server inter 200ms fastinter 100ms downinter 200ms fall 1 rise 2',
        ...ports.map((p, i) => `  server n${i} 127.0.0.1:${p} check`),
        '',
      ].join('\n'),
    );
    const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8' });
    expect(check.status, check.stderr + check.stdout).toBe(0);
    haproxy = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    front = `http://127.0.0.1:${frontPort}`;
    for (let i = 0; i < 100; i++) {
      const ok = await get(`${front}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // every instance up in HAProxy's eyes (rise 2 at 200 ms)
    await new Promise((r) => setTimeout(r, 1000));
  }, 120_000);

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    await Promise.all(nodes.map((n) => n?.stop()));
    await db?.drop();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  it('a rolling restart of every instance under load fails no request', { timeout: 180_000 }, async () => {
    const rolling = (async () => {
      for (let i = 0; i < N; i++) {
        await nodes[i]!.stop(); // SIGTERM: /readyz 503, two seconds of service, then closed
        expect(nodes[i]!.exited()).toBe(0);
        await startInstance(i);
        // back in HAProxy's eyes before the next one goes
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const r = await underLoad(rolling);
    console.log(`rolling restart of ${N} instances behind HAProxy: ${r.ok} requests answered, ${r.failed} failed ${JSON.stringify(r.statuses)}`);
    expect(r.ok).toBeGreaterThan(100);
    expect(r.failed, JSON.stringify(r.statuses)).toBe(0);
  });

  it('an instance killed with kill -9 under load: the failed requests are counted, the others answered', { timeout: 120_000 }, async () => {
    const victim = nodes[1]!;
    const killed = (async () => {
      await new Promise((r) => setTimeout(r, 1000));
      victim.child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 2000));
    })();
    const r = await underLoad(killed);
    console.log(`kill -9 of one of ${N} instances behind HAProxy: ${r.ok} requests answered, ${r.failed} failed ${JSON.stringify(r.statuses)}`);
    expect(r.ok).toBeGreaterThan(100);
    // HAProxy retries what the dead instance refused or dropped on another one: at most the requests in flight there
    expect(r.failed).toBeLessThanOrEqual(8);
    await startInstance(1);
  });
});
