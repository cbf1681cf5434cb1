// WORKERS=n: one port shared by n worker processes over PostgreSQL and Redis; a write through any worker is seen by all.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { admin } from './helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, redisUrl, tempPostgres } from './helpers/services.js';

describe.skipIf(!hasPostgres || !hasRedis)('idnode serve with WORKERS=2', () => {
  let db: { url: string; drop: () => Promise<void> };
  let node: ChildNode;
  let base = '';
  const pids = new Set<string>();

  beforeAll(async () => {
    db = await tempPostgres();
    node = await startChildNode({ WORKERS: '2', NATIVE_PORT: '0', DATABASE_URL: db.url, REDIS_URL: redisUrl, REDIS_NAMESPACE: redisNamespace() });
    base = node.base;
    // wait until both workers answer: /healthz names the process that answered (x-idnode-worker)
    for (let i = 0; i < 100 && pids.size < 2; i++) {
      const r = await request(`${base}/healthz`, { reset: true });
      await r.body.dump();
      const pid = r.headers['x-idnode-worker'];
      if (typeof pid === 'string') pids.add(pid);
      if (pids.size < 2) await new Promise((res) => setTimeout(res, 50));
    }
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    await db?.drop();
  });

  const get = async (h: string) => {
    const r = await request(`${base}/api/handles/${h}`, { reset: true });
    const text = await r.body.text();
    return { status: r.statusCode, body: JSON.parse(text) as { values?: { data: { value: string } }[] } };
  };
  const put = async (h: string, url: string) => {
    const r = await request(`${base}/api/handles/${h}`, {
      method: 'PUT',
      reset: true,
      headers: { 'content-type': 'application/json', ...admin() },
      body: JSON.stringify([{ index: 1, type: 'URL', data: url }]),
    });
    await r.body.dump();
    return r.statusCode;
  };

  it('two worker processes answer on one port', () => {
    expect(pids.size).toBe(2);
  });

  it('every request, whichever worker answers it, sees the latest write (negative entries included)', async () => {
    // new connection per request (reset), so the round-robin spreads them over both workers
    for (let i = 0; i < 6; i++) expect((await get('88.320924/C-1')).status).toBe(404);
    expect(await put('88.320924/C-1', 'https://one.example')).toBe(200);
    for (let i = 0; i < 6; i++) expect((await get('88.320924/C-1')).body.values?.[0]?.data.value).toBe('https://one.example');
    expect(await put('88.320924/C-1', 'https://two.example')).toBe(200);
    for (let i = 0; i < 6; i++) expect((await get('88.320924/C-1')).body.values?.[0]?.data.value).toBe('https://two.example');
  });

  it('stops all workers on SIGTERM', async () => {
    await node.stop();
    expect(node.exited()).toBe(0);
    expect(node.log()).toContain('shutting down 2 workers');
  });
});

describe('WORKERS without PostgreSQL and Redis', () => {
  it('is refused with exit code 2', () => {
    const r = spawnSync(process.execPath, ['dist/src/cli.js', 'serve'], { env: { ...process.env, WORKERS: '2', DATABASE_URL: '', REDIS_URL: '' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('WORKERS');
  });
});
