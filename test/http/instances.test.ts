// Two node instances over one PostgreSQL and one Redis: a write on one is seen at once by resolves on the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';

const P = NODE_PREFIX;

describe.skipIf(!hasPostgres || !hasRedis)('invalidation across instances', () => {
  let a: TestServer;
  let b: TestServer;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await tempPostgres();
    const shared = { databaseUrl: db.url, namespace: redisNamespace() };
    a = await startTestServer('postgres+redis', {}, shared);
    b = await startTestServer('postgres+redis', {}, shared);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('B caches "not found", A registers, B resolves it on the very next request', async () => {
    for (let i = 0; i < 3; i++) expect((await b.get(`/api/handles/${P}/X-1`)).status).toBe(404);
    const put = await a.send('PUT', `/api/handles/${P}/X-1`, [{ index: 1, type: 'URL', data: 'https://one.example.com' }], admin());
    expect(put.status).toBe(200);
    const r = await b.get(`/api/handles/${P}/X-1`);
    expect(r.status).toBe(200);
    expect(r.json.values[0].data.value).toBe('https://one.example.com');
  });

  it('B serves a cached record; A changes it; B sees the change at once; A deletes; B sees 404', async () => {
    for (let i = 0; i < 3; i++) expect((await b.get(`/api/handles/${P}/X-1`)).status).toBe(200);
    await a.send('PUT', `/api/handles/${P}/X-1?index=1`, [{ index: 1, type: 'URL', data: 'https://two.example.com' }], admin());
    expect((await b.get(`/api/handles/${P}/X-1`)).json.values[0].data.value).toBe('https://two.example.com');
    expect((await b.get(`/${P}/X-1?noredirect`, { accept: 'application/json' })).json.values[0].data.value).toBe(
      'https://two.example.com',
    );
    await a.send('DELETE', `/api/handles/${P}/X-1`, undefined, admin());
    expect((await b.get(`/api/handles/${P}/X-1`)).status).toBe(404);
    expect(b.node.resolver.stats().hits).toBeGreaterThan(0);
  });
});
