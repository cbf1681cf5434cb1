// Abuse of the login faces: Basic-auth brute force and SNMS guessing are throttled per credential and address (shared by instances), never locking the owner out; HS_SECKEY hashed at write.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CASE_POLICY, parseHandle } from '../../handle/identifier.js';
import { verifySecret } from '../../registry/secrets.js';
import { ADMIN_SECRET, admin, basic, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';

const P = NODE_PREFIX;
const ADMIN_USER = `300:0.NA/${P}`;

/** A request from a chosen loopback address (127.0.0.0/8 is all local on Linux), so the node sees distinct clients. */
function from(address: string, s: TestServer, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: unknown) {
  const url = new URL(s.url);
  return new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method,
        localAddress: address,
        agent: false,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** An authenticated listing as `user`: it needs valid credentials, so it answers 403 when they are refused. */
const listAs = (address: string, s: TestServer, user: string, password: string) => from(address, s, 'GET', `/api/handles?prefix=${P}`, basic(user, password));
const snmsLogin = (address: string, s: TestServer, username: string, password: string) =>
  from(address, s, 'POST', '/identity/token', {}, { username, password });

describe('auth abuse on pglite', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('pglite');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('stores a plain HS_SECKEY written through PUT /api/handles hashed, and Basic auth with it still works', async () => {
    const put = await s.send('PUT', `/api/handles/${P}/USER-1`, [{ index: 300, type: 'HS_SECKEY', data: 'user-pw-123', permissions: '1100' }], admin());
    expect(put.status).toBe(200);
    const stored = (await s.node.store.getHandle(parseHandle(`${P}/USER-1`, DEFAULT_CASE_POLICY).key))!.values.find((v) => v.index === 300)!.data.value as string;
    expect(stored).not.toBe('user-pw-123');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifySecret(stored, 'user-pw-123')).toBe(true);
    expect((await s.get(`/api/handles/${P}/USER-1`, basic(`300:${P}/USER-1`, 'user-pw-123'))).status).toBe(200);
  });

  it('refuses an HS_SECKEY hash with its own scrypt cost (N=2^20) with responseCode 202 saying what to send instead', async () => {
    const hash = `scrypt$${1 << 20}$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
    const put = await s.send('PUT', `/api/handles/${P}/USER-2`, [{ index: 300, type: 'HS_SECKEY', data: hash, permissions: '1100' }], admin());
    expect(put.status).toBe(400);
    expect(put.json.responseCode).toBe(202);
    expect(put.json.message).toMatch(/Send the plain secret instead/);
    expect(await s.node.store.getHandle(parseHandle(`${P}/USER-2`, DEFAULT_CASE_POLICY).key)).toBeNull();
  });

  it('throttles Basic-auth guessing from one address (403 with when to retry), while the owner from another address gets in', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await listAs('127.0.0.2', s, ADMIN_USER, `wrong-${i}`);
      expect(r.status).toBe(403);
      codes.push(/retry in \d+ s/.test(r.json.message) ? 'wait' : 'failed');
    }
    expect(codes).toEqual(['failed', 'failed', 'failed', 'failed', 'failed', 'wait']);
    // the right secret from the guessing address is held back too: a throttled guess learns nothing
    const held = await listAs('127.0.0.2', s, ADMIN_USER, ADMIN_SECRET);
    expect(held.status).toBe(403);
    expect(held.json).toMatchObject({ responseCode: 403 });
    expect(held.json.message).toMatch(/Too many failed authentications .* retry in \d+ s/);
    // the owner, elsewhere, is not locked out
    expect((await listAs('127.0.0.3', s, ADMIN_USER, ADMIN_SECRET)).status).toBe(200);
  });

  it('SNMS login: a guesser at one address is throttled; the owner from another address logs in', async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await snmsLogin('127.0.0.4', s, 'admin', `wrong-${i}`);
      statuses.push(`${r.json.status}:${/retry in \d+ s/.test(r.json.message) ? 'wait' : 'wrong'}`);
    }
    expect(statuses).toEqual(['-2:wrong', '-2:wrong', '-2:wrong', '-2:wrong', '-2:wrong', '-2:wait']);
    const owner = await snmsLogin('127.0.0.5', s, 'admin', ADMIN_SECRET);
    expect(owner.json.status).toBe(1);
    expect(typeof owner.json.data.token).toBe('string');
  });
});

describe.skipIf(!hasPostgres || !hasRedis)('auth abuse across two instances on one Redis', () => {
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

  it('failed Basic-auth attempts spread over two instances share one count', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await listAs('127.0.0.6', i % 2 === 0 ? a : b, ADMIN_USER, `wrong-${i}`);
      expect(r.json.message).toBe('Authentication failed');
    }
    // the sixth try, on either instance, waits
    expect((await listAs('127.0.0.6', b, ADMIN_USER, 'wrong-5')).json.message).toMatch(/retry in \d+ s/);
    expect((await listAs('127.0.0.6', a, ADMIN_USER, 'wrong-6')).json.message).toMatch(/retry in \d+ s/);
  });

  it('failed SNMS logins spread over two instances share one count', async () => {
    for (let i = 0; i < 5; i++) expect((await snmsLogin('127.0.0.7', i % 2 === 0 ? b : a, 'admin', `wrong-${i}`)).json.message).toMatch(/wrong username or password/);
    expect((await snmsLogin('127.0.0.7', a, 'admin', 'wrong-5')).json.message).toMatch(/retry in \d+ s/);
    expect((await snmsLogin('127.0.0.8', b, 'admin', ADMIN_SECRET)).json.status).toBe(1);
  });
});
