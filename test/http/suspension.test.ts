// Suspension across two instances on one PostgreSQL and one Redis: hot identifiers disappear at once on every tier and come back on enable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';
import { bearer, failed, item, okData, onboard, operatorLogin, templateBody, values, type Onboarded } from '../helpers/snms.js';

const FORBIDDEN = /无权操作该前缀/;

describe.skipIf(!hasPostgres || !hasRedis)('suspension across instances (postgres+redis)', () => {
  let a: TestServer;
  let b: TestServer;
  let db: { url: string; drop: () => Promise<void> };
  let shared: { databaseUrl: string; namespace: string };
  let op: string;
  let E: Onboarded;
  let P: string;
  let hot: string[];
  let suspendedAt: Date;

  beforeAll(async () => {
    db = await tempPostgres();
    shared = { databaseUrl: db.url, namespace: redisNamespace() };
    a = await startTestServer('postgres+redis', {}, shared);
    b = await startTestServer('postgres+redis', {}, shared);
    op = await operatorLogin(a);
    E = await onboard(a, op, { n: 21, username: 'susp-co', password: 'Susp-pass-2024' });
    P = E.prefix;
    okData(await a.send('POST', '/snms/api/v5/template', templateBody(P, 'v1'), bearer(E.token)));
    const created = okData(
      await a.send('POST', '/identityv2/data/batchCreate', [
        item(`${P}/S-1`, 'v1', values('泵一', 'M-1', 'https://example.com/s-1')),
        item(`${P}/S-2`, 'v1', values('泵二')),
      ], bearer(E.token)),
    );
    expect(created.map((r: any) => r.msg)).toEqual(['success', 'success']);
    const put = await a.send('PUT', `/api/handles/${P}/H-1`, [{ index: 1, type: 'URL', data: 'https://example.com/h-1' }], E.handleAuth);
    expect(put.status).toBe(200);
    // a prefix derived from the enterprise's own, registered over SNMS with its token
    okData(await a.send('POST', '/snms/api/v5/template', templateBody(`${P}.9`, 'v1'), bearer(E.token)));
    okData(await a.send('POST', '/identityv2/data', item(`${P}.9/SUB-1`, 'v1', values('派生泵')), bearer(E.token)));
    hot = [`${P}/S-1`, `${P}/S-2`, `${P}/H-1`, `${P}.9/SUB-1`];
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('B resolves the identifiers until they are hot in its memory cache and in Redis', async () => {
    const before = b.node.resolver.stats();
    for (const h of hot) {
      for (let i = 0; i < 3; i++) expect((await b.get(`/api/handles/${h}`)).status, h).toBe(200);
    }
    const proxied = await b.get(`/${P}/S-1`);
    expect(proxied.status).toBe(302);
    expect(proxied.headers.location).toBe('https://example.com/s-1');
    const after = b.node.resolver.stats();
    expect(after.storeReads - before.storeReads).toBe(hot.length);
    expect(after.hits - before.hits).toBeGreaterThanOrEqual(2 * hot.length + 1);
    // A never resolved them: its first read is served from Redis, filled by B
    const aBefore = a.node.resolver.stats();
    expect((await a.get(`/api/handles/${P}/S-1`)).status).toBe(200);
    expect((await a.get(`/api/handles/${P}/S-2`)).status).toBe(200);
    const aAfter = a.node.resolver.stats();
    expect(aAfter.redisHits - aBefore.redisHits).toBe(2);
    expect(aAfter.storeReads - aBefore.storeReads).toBe(0);
  });

  it('the operator suspends through A: the very next resolve on B answers not found (Handle REST and proxy), and A too', async () => {
    suspendedAt = new Date();
    okData(await a.send('POST', `/operator/enterprises/${E.enterpriseId}/suspend`, { reason: '逾期未年检' }, bearer(op)));
    for (const h of [`${P}/S-1`, `${P}/S-2`, `${P}/H-1`]) {
      const r = await b.get(`/api/handles/${h}`);
      expect(r.status, h).toBe(404);
      expect(r.json).toMatchObject({ responseCode: 100, handle: h });
      expect((await b.get(`/${h}`)).status, h).toBe(404);
      expect((await b.get(`/${h}?noredirect`, { accept: 'application/json' })).json.responseCode).toBe(100);
      expect((await a.get(`/api/handles/${h}`)).status, h).toBe(404);
      expect((await a.get(`/${h}`)).status, h).toBe(404);
    }
    // not even its owner or the operator sees them through resolution while suspended
    expect((await b.get(`/api/handles/${P}/S-1`, bearer(E.token))).status).toBe(404);
    expect((await b.get(`/api/handles/${P}/S-1?auth=true`, bearer(op))).status).toBe(404);
    const e = okData(await b.get(`/operator/enterprises/${E.enterpriseId}`, bearer(op)));
    expect(e).toMatchObject({ status: 0, reason: '逾期未年检', prefixes: [{ prefix: P, status: 0 }] });
    expect(okData(await b.get(`/snms/api/prefix/query?prefix=${P}`, bearer(op))).status).toBe(0);
    // suspending twice is refused
    failed(await b.send('POST', `/operator/enterprises/${E.enterpriseId}/suspend`, { reason: '再次' }, bearer(op)), -2);
    // an instance started while it is suspended hides it from its first request
    const c = await startTestServer('postgres+redis', {}, shared);
    try {
      expect((await c.get(`/api/handles/${P}/S-1`)).status).toBe(404);
    } finally {
      await c.close();
    }
  });

  it('identifiers under a prefix derived from the suspended one stop resolving too', async () => {
    // The enterprise registered 88.320924.1.9/SUB-1 while enabled (its SNMS scope includes derived prefixes);
    // suspending its prefix hides the derived ones too.
    expect((await b.get(`/api/handles/${P}.9/SUB-1`)).status).toBe(404);
  });

  it('a suspended enterprise\'s writes are refused: SNMS (token) and Handle REST (credential and token)', async () => {
    const t = bearer(E.token);
    expect(failed(await b.send('POST', '/identityv2/data', item(`${P}/S-9`, 'v1', values('新')), t), -3)).toMatch(FORBIDDEN);
    const batch = okData(await b.send('POST', '/identityv2/data/batchCreate', [item(`${P}/S-9`, 'v1', values('新'))], t));
    expect(batch[0].msg).toMatch(FORBIDDEN);
    expect(okData(await b.send('PUT', '/identityv2/data/batchUpdate', [item(`${P}/S-1`, 'v1', values('改'))], t))[0].msg).toMatch(FORBIDDEN);
    expect(okData(await b.send('DELETE', '/identityv2/data/batchDelete', [`${P}/S-2`], t))[0]).toMatchObject({ code: -2, msg: expect.stringMatching(FORBIDDEN) });
    failed(await b.get(`/identityv2/data/detail?handle=${P}/S-1`, t), -3);
    failed(await b.send('POST', '/snms/api/v5/template', templateBody(P, 'v2'), t), -3);

    const body = [{ index: 1, type: 'URL', data: 'https://example.com/changed' }];
    for (const auth of [E.handleAuth, t]) {
      for (const r of [
        await b.send('PUT', `/api/handles/${P}/H-2`, body, auth),
        await b.send('PUT', `/api/handles/${P}/H-1?index=1`, body, auth),
        await b.send('DELETE', `/api/handles/${P}/H-1`, undefined, auth),
        await a.send('DELETE', `/api/handles/${P}/S-2`, undefined, auth),
      ]) {
        expect(r.status).toBe(403);
        expect(r.json.responseCode).toBe(401);
      }
    }
    // nothing changed
    for (const h of ['S-1', 'S-2', 'H-1']) {
      expect((okData(await a.get(`/operator/audit?handle=${P}/${h}`, bearer(op))) as any[]).map((x) => x.action)).toEqual([
        h === 'H-1' ? 'handle.create' : 'identifier.create',
      ]);
    }
  });

  it('enable through A: B resolves them again at once with the same values, and writes work again', async () => {
    okData(await a.send('POST', `/operator/enterprises/${E.enterpriseId}/enable`, undefined, bearer(op)));
    const r = await b.get(`/api/handles/${P}/S-1`);
    expect(r.status).toBe(200);
    expect(r.json.values.map((v: any) => [v.index, v.data.value])).toEqual([
      [1001, 'v1'],
      [2000, '泵一'],
      [2001, 'M-1'],
      [2002, 'https://example.com/s-1'],
    ]);
    expect((await b.get(`/${P}/S-1`)).headers.location).toBe('https://example.com/s-1');
    expect((await b.get(`/api/handles/${P}/H-1`)).json.values[0].data.value).toBe('https://example.com/h-1');
    expect((await a.get(`/api/handles/${P}/S-2`)).status).toBe(200);
    failed(await a.send('POST', `/operator/enterprises/${E.enterpriseId}/enable`, undefined, bearer(op)), -2);

    expect(okData(await b.send('POST', '/identityv2/data/batchCreate', [item(`${P}/S-3`, 'v1', values('泵三'))], bearer(E.token)))[0].msg).toBe('success');
    expect((await a.get(`/api/handles/${P}/S-3`)).status).toBe(200);
    const put = await b.send('PUT', `/api/handles/${P}/H-1?index=1`, [{ index: 1, type: 'URL', data: 'https://example.com/h-1b' }], E.handleAuth);
    expect(put.status).toBe(200);
    expect((await a.get(`/${P}/H-1`)).headers.location).toBe('https://example.com/h-1b');
  });

  it('GET /operator/audit?enterpriseId= lists the suspend and enable rows with actor and before/after', async () => {
    const all = okData(await a.get(`/operator/audit?enterpriseId=${E.enterpriseId}`, bearer(op))) as any[];
    const one = (action: string) => {
      const rows = all.filter((x) => x.action === action);
      expect(rows, action).toHaveLength(1);
      return rows[0];
    };
    expect(one('enterprise.suspend')).toMatchObject({
      actor: 'user:admin',
      entity: 'enterprise',
      enterpriseId: E.enterpriseId,
      before: { status: 1, reason: null },
      after: { status: 0, reason: '逾期未年检' },
    });
    expect(one('prefix.suspend')).toMatchObject({ actor: 'user:admin', entity: 'prefix', entityId: P, before: { status: 1 }, after: { status: 0 } });
    expect(one('enterprise.enable')).toMatchObject({ actor: 'user:admin', before: { status: 0, reason: '逾期未年检' }, after: { status: 1, reason: null } });
    expect(one('prefix.enable')).toMatchObject({ entityId: P, before: { status: 0 }, after: { status: 1 } });
    // newest first: enable after suspend
    expect(all.findIndex((x) => x.action === 'enterprise.enable')).toBeLessThan(all.findIndex((x) => x.action === 'enterprise.suspend'));
    expect(all.map((x) => x.action)).toEqual(expect.arrayContaining(['enterprise.apply', 'user.create', 'enterprise.approve', 'prefix.create', 'template.create']));
    expect(all.filter((x) => x.action === 'identifier.create').map((x) => x.handle)).toEqual(expect.arrayContaining([`${P}/S-1`, `${P}/S-2`, `${P}/S-3`]));

    const since = okData(await a.get(`/operator/audit?enterpriseId=${E.enterpriseId}&since=${encodeURIComponent(suspendedAt.toISOString())}`, bearer(op))) as any[];
    const sinceActions = since.map((x) => x.action);
    // identifier changes under its prefix are found by enterprise too: the ones made after the re-enable
    expect(sinceActions).toEqual(
      expect.arrayContaining(['enterprise.enable', 'enterprise.suspend', 'prefix.enable', 'prefix.suspend', 'identifier.create', 'values.add']),
    );
    expect(since.filter((x) => x.entity === 'handle').map((x) => x.handle).sort()).toEqual([`${P}/H-1`, `${P}/S-3`]);
    expect(sinceActions).not.toContain('enterprise.approve');
    expect(sinceActions).not.toContain('template.create');
    const until = okData(await a.get(`/operator/audit?enterpriseId=${E.enterpriseId}&until=${encodeURIComponent(suspendedAt.toISOString())}`, bearer(op))) as any[];
    expect(until.map((x) => x.action)).not.toContain('enterprise.suspend');
    expect(until.map((x) => x.action)).toContain('enterprise.approve');
    failed(await a.get(`/operator/audit?enterpriseId=${E.enterpriseId}&since=yesterday`, bearer(op)), -2);
    // a date PostgreSQL cannot hold is the caller's mistake (-2), not the node's (-4)
    expect(failed(await a.get(`/operator/audit?since=${encodeURIComponent('-010000-01-01T00:00:00Z')}`, bearer(op)), -2)).toMatch(/9999/);
    expect(failed(await a.get(`/operator/audit?until=${encodeURIComponent('+275760-09-13T00:00:00Z')}`, bearer(op)), -2)).toMatch(/9999/);
  });
});
