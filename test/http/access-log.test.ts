// The access log (a line per request, front door included, with id, client address as TRUST_PROXY says, face — and no
// credential anywhere in the log), /readyz details only for the node admin, and the HTTPS listener (TLS_CERT/TLS_KEY).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { ADMIN_SECRET, NODE_PREFIX } from '../helpers/node.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';

const basicAdmin = `Basic ${Buffer.from(`300%3A0.NA/${NODE_PREFIX}:${ADMIN_SECRET}`).toString('base64')}`;

/** The node's JSON log lines that are access-log lines. */
function accessLines(n: ChildNode): Record<string, unknown>[] {
  return n
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o.msg === 'request');
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!hasPostgres)('access log and /readyz', () => {
  let n: ChildNode;
  let db: Awaited<ReturnType<typeof tempPostgres>>;
  beforeAll(async () => {
    db = await tempPostgres();
    n = await startChildNode({ LOG_LEVEL: 'info', DATABASE_URL: db.url, REDIS_URL: '', TRUST_PROXY: '127.0.0.1' });
  }, 40_000);
  afterAll(async () => {
    await n?.stop();
    await db?.drop();
  });

  it('writes a line per request (fastify and the front door) with id, status, client, face; honours x-request-id', async () => {
    const put = await request(`${n.base}/api/handles/${NODE_PREFIX}/ACCESS-LOG-1`, {
      method: 'PUT',
      headers: { authorization: basicAdmin, 'content-type': 'application/json', 'x-request-id': 'put-req-1' },
      body: JSON.stringify([{ index: 1, type: 'URL', data: 'https://example.com/a' }]),
    });
    await put.body.dump();
    expect(put.statusCode).toBeLessThan(300);
    expect(put.headers['x-request-id']).toBe('put-req-1');
    // twice: the second comes from the in-process cache through the front door
    for (const id of ['get-req-1', 'get-req-2']) {
      const r = await request(`${n.base}/api/handles/${NODE_PREFIX}/ACCESS-LOG-1`, { headers: { 'x-request-id': id, 'x-forwarded-for': '203.0.113.7' } });
      await r.body.dump();
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-request-id']).toBe(id);
    }
    const noId = await request(`${n.base}/${NODE_PREFIX}/ACCESS-LOG-1`);
    await noId.body.dump();
    expect(noId.statusCode).toBe(302);
    expect(noId.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-/);
    await waitFor(() => accessLines(n).length >= 4);
    const lines = accessLines(n);
    expect(lines.find((l) => l.reqId === 'put-req-1')).toMatchObject({ method: 'PUT', status: expect.any(Number), face: 'handle-rest', client: '127.0.0.1' });
    for (const id of ['get-req-1', 'get-req-2']) {
      expect(lines.find((l) => l.reqId === id)).toMatchObject({ method: 'GET', status: 200, face: 'handle-rest', client: '203.0.113.7', path: `/api/handles/${NODE_PREFIX}/ACCESS-LOG-1` });
    }
    expect(lines.find((l) => l.reqId === noId.headers['x-request-id'])).toMatchObject({ status: 302, face: 'proxy' });
    expect(typeof lines[0]!.ms).toBe('number');
  });

  it('never logs a credential: Basic secret, JSON password, token query parameter', async () => {
    const login = await request(`${n.base}/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'login-1' },
      body: JSON.stringify({ username: 'nobody-here', password: 'pw-in-body-NEVER-LOGGED' }),
    });
    await login.body.dump();
    const q = await request(`${n.base}/api/handles/${NODE_PREFIX}/ACCESS-LOG-1?type=URL&token=query-token-NEVER-LOGGED`, { headers: { 'x-request-id': 'q-1' } });
    await q.body.dump();
    const bad = await request(`${n.base}/api/handles/${NODE_PREFIX}/ACCESS-LOG-1`, {
      method: 'DELETE',
      headers: { authorization: `Basic ${Buffer.from(`300%3A0.NA/${NODE_PREFIX}:basic-secret-NEVER-LOGGED`).toString('base64')}` },
    });
    await bad.body.dump();
    await waitFor(() => accessLines(n).some((l) => l.reqId === 'q-1') && accessLines(n).some((l) => l.reqId === 'login-1'));
    expect(accessLines(n).find((l) => l.reqId === 'q-1')!.path).toBe(`/api/handles/${NODE_PREFIX}/ACCESS-LOG-1?type=URL&token=***`);
    const log = n.log();
    for (const secret of ['NEVER-LOGGED', ADMIN_SECRET, basicAdmin.slice(6)]) expect(log).not.toContain(secret);
  });

  it('/readyz: status only for anonymous callers, details for the node admin', async () => {
    const anon = await request(`${n.base}/readyz`);
    expect(await anon.body.json()).toEqual({ status: 'ready' });
    const adm = await request(`${n.base}/readyz`, { headers: { authorization: basicAdmin } });
    expect(await adm.body.json()).toMatchObject({ status: 'ready', store: 'postgres', cache: expect.any(Object) });
  });
});

describe.skipIf(!hasPostgres)('HTTPS listener', () => {
  let n: ChildNode;
  let dir: string;
  let db: Awaited<ReturnType<typeof tempPostgres>>;
  beforeAll(async () => {
    db = await tempPostgres();
    dir = mkdtempSync(join(tmpdir(), 'idnode-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    n = await startChildNode({ DATABASE_URL: db.url, REDIS_URL: '', TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') });
  }, 40_000);
  afterAll(async () => n?.stop());

  it('serves every face over TLS with TLS_CERT and TLS_KEY (the front door too)', async () => {
    expect(n.base).toMatch(/^https:\/\//);
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    const h = await request(`${n.base}/healthz`, { dispatcher });
    expect(await h.body.json()).toEqual({ status: 'ok' });
    const miss = await request(`${n.base}/api/handles/${NODE_PREFIX}/NO-SUCH-TLS`, { dispatcher });
    expect(miss.statusCode).toBe(404);
    await miss.body.dump();
    await dispatcher.close();
  });
});
