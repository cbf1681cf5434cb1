// A Bearer token that cannot be checked because PostgreSQL is out of reach is "try again later" (Handle responseCode
// 3 / HTTP 503 with Retry-After; SNMS status -4), never "token invalid" (403 / -1) — and is fine again once it is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SECRET, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { bearer } from '../helpers/snms.js';
import { hasPostgres, redisNamespace, tempPostgres } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

describe.skipIf(!hasPostgres)('Bearer tokens while PostgreSQL is down', () => {
  let s: TestServer;
  let proxy: TcpProxy;
  let db: { url: string; drop: () => Promise<void> };
  let token: string;
  beforeAll(async () => {
    db = await tempPostgres();
    const u = new URL(db.url);
    proxy = await TcpProxy.open(u.hostname, Number(u.port || 5432));
    u.port = String(proxy.port);
    s = await startTestServer('postgres+redis', { REDIS_URL: '' }, { databaseUrl: u.toString(), namespace: redisNamespace() });
    const login = await s.send('POST', '/identity/token', { username: 'admin', password: ADMIN_SECRET });
    token = (login.json as { data: { token: string } }).data.token;
    expect(token).toBeTruthy();
  });
  afterAll(async () => {
    await s?.close().catch(() => {});
    await proxy?.close();
    await db?.drop();
  });

  it('Handle REST: 503, responseCode 3 and Retry-After, not 403 "token invalid"', async () => {
    const ok = await s.get(`/api/handles?prefix=${NODE_PREFIX}`, bearer(token));
    expect(ok.status).toBe(200);
    await proxy.stop();
    const r = await s.get(`/api/handles?prefix=${NODE_PREFIX}`, bearer(token));
    expect(r.status).toBe(503);
    expect((r.json as { responseCode: number }).responseCode).toBe(3);
    expect(r.headers['retry-after']).toBeDefined();
    expect(r.text).not.toMatch(/invalid/i);
    // a token that is wrong is still an auth failure, store or no store
    const bad = await s.get(`/api/handles?prefix=${NODE_PREFIX}`, bearer(`${token.slice(0, -2)}xx`));
    expect(bad.status).toBe(403);
    await proxy.start();
  });

  it('SNMS: status -4 "try again later", not -1 "token invalid"', async () => {
    await proxy.stop();
    const r = await s.get(`/identityv2/data/detail?handle=${NODE_PREFIX}/X`, bearer(token));
    await proxy.start();
    expect((r.json as { status: number }).status).toBe(-4);
    expect((r.json as { message: string }).message).toMatch(/try again later/);
  });
});
