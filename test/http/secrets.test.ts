// Secrets shown only to their handle's admins: HS_SECKEY data never in the audit log, never to operators, reviewers or other enterprises.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySecret } from '../../registry/secrets.js';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { bearer, login, okData, onboard, operatorLogin, type Onboarded } from '../helpers/snms.js';

const P = NODE_PREFIX;
const seckeys = (r: { json: any }) => (r.json?.values ?? []).filter((v: any) => /^hs_seckey$/i.test(v.type));

describe('secret values on pglite', () => {
  let s: TestServer;
  let op: string;
  let rev: string;
  let e: Onboarded;
  let f: Onboarded;

  beforeAll(async () => {
    s = await startTestServer('pglite');
    op = await operatorLogin(s);
    okData(await s.send('POST', '/operator/users', { username: 'reviewer-s', password: 'reviewer-s-pw', role: 'reviewer' }, bearer(op)));
    rev = await login(s, 'reviewer-s', 'reviewer-s-pw');
    e = await onboard(s, op, { n: 71, username: 'ent-s71', password: 'ent-s71-password' });
    f = await onboard(s, op, { n: 72, username: 'ent-s72', password: 'ent-s72-password' });
    // plain secrets written through the Handle REST face (whole records, index=; one publicly readable), one deleted
    expect((await s.send('PUT', `/api/handles/${P}/SK-1`, [{ index: 300, type: 'HS_SECKEY', data: 'PLAIN-SECRET-ONE', permissions: '1100' }], admin())).status).toBe(200);
    expect((await s.send('PUT', `/api/handles/${P}/SK-1?index=301`, [{ index: 301, type: 'hs_seckey', data: 'PLAIN-SECRET-TWO' }], admin())).status).toBe(200);
    expect((await s.send('PUT', `/api/handles/${e.prefix}/SK-E`, [{ index: 1, type: 'URL', data: 'https://e.example' }, { index: 300, type: 'HS_SECKEY', data: 'PLAIN-SECRET-THREE' }], e.handleAuth)).status).toBe(200);
    expect((await s.send('DELETE', `/api/handles/${P}/SK-1?index=301`, undefined, admin())).status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('the audit log holds no secret: neither the plain HS_SECKEY values, the stored hashes, nor passwords', async () => {
    const audit = await s.get('/operator/audit?limit=1000', bearer(op));
    expect(audit.json.status).toBe(1);
    expect(audit.json.data.length).toBeGreaterThan(5);
    for (const secret of ['PLAIN-SECRET', 'scrypt$', e.handleSecret, 'ent-s71-password', 'reviewer-s-pw']) expect(audit.text).not.toContain(secret);
    expect(audit.text).toContain('(redacted)');
  });

  it('reviewers, operators and other enterprises get no secret data from 0.NA/<NODE_PREFIX> or an enterprise prefix record', async () => {
    for (const who of [bearer(rev), bearer(op), bearer(f.token), f.handleAuth, {}]) {
      for (const h of [`0.NA/${P}`, `0.NA/${e.prefix}`, `${e.prefix}/SK-E`]) {
        const r = await s.get(`/api/handles/${h}`, who);
        expect(r.status).toBe(200);
        expect(seckeys(r)).toEqual([]);
        expect(r.text).not.toContain('scrypt$');
        expect(r.text).not.toContain('PLAIN-SECRET');
      }
    }
    // the node admin credential administers its own prefix, not the enterprise's
    expect(seckeys(await s.get(`/api/handles/0.NA/${e.prefix}`, admin()))).toEqual([]);
  });

  it("the handle's own admins still read its secrets", async () => {
    expect(seckeys(await s.get(`/api/handles/0.NA/${P}`, admin()))[0].data.value).toMatch(/^scrypt\$/);
    // written plain, stored as the node's hash (registry/secrets.ts): the admin reads the hash, and it checks out
    const one = seckeys(await s.get(`/api/handles/${P}/SK-1`, admin()))[0].data.value;
    expect(one).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifySecret(one, 'PLAIN-SECRET-ONE')).toBe(true);
    for (const who of [e.handleAuth, bearer(e.token)]) {
      expect(seckeys(await s.get(`/api/handles/0.NA/${e.prefix}`, who))[0].data.value).toMatch(/^scrypt\$/);
      const three = seckeys(await s.get(`/api/handles/${e.prefix}/SK-E`, who))[0].data.value;
      expect(await verifySecret(three, 'PLAIN-SECRET-THREE')).toBe(true);
    }
  });

  it('a secret key is never public, whatever its permissions: Handle REST anonymous, the proxy', async () => {
    const anon = await s.get(`/api/handles/${e.prefix}/SK-E`);
    expect(anon.json.values.map((v: any) => v.index)).toEqual([1]);
    const proxy = await s.get(`/${e.prefix}/SK-E?noredirect`, { accept: 'application/json' });
    expect(proxy.text).not.toContain('PLAIN-SECRET');
    expect(proxy.json.values.map((v: any) => v.index)).toEqual([1]);
  });
});
