// The authorization matrix: enterprise A can do nothing to enterprise B's prefix on the SNMS and Handle faces, and all of it to its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Backend, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';
import { bearer, failed, item, okData, onboard, operatorLogin, templateBody, values, type Onboarded } from '../helpers/snms.js';

const backends: Backend[] = ['pglite', ...(hasPostgres && hasRedis ? (['postgres+redis'] as const) : [])];
const TEMPLATE = '/snms/api/v5/template';
const FORBIDDEN = /无权操作该前缀/;

describe.each(backends)('authorization matrix on %s', (backend) => {
  let s: TestServer;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let op: string;
  let A: Onboarded;
  let B: Onboarded;
  let bTemplate: unknown;

  beforeAll(async () => {
    if (backend === 'postgres+redis') db = await tempPostgres();
    s = await startTestServer(backend, {}, db ? { databaseUrl: db.url, namespace: redisNamespace() } : undefined);
    op = await operatorLogin(s);
    A = await onboard(s, op, { n: 11, username: 'ent-a', password: 'Ent-a-pass-2024' });
    B = await onboard(s, op, { n: 12, username: 'ent-b', password: 'Ent-b-pass-2024', town: '海通镇' });
    expect([A.prefix, B.prefix]).toEqual(['88.320924.1', '88.320924.2']);
    for (const e of [A, B]) okData(await s.send('POST', TEMPLATE, templateBody(e.prefix, 'v1'), bearer(e.token)));
    bTemplate = okData(await s.get(`${TEMPLATE}?prefix=${B.prefix}&version=v1`, bearer(B.token)));
    expect(okData(await s.send('POST', '/identityv2/data', item(`${B.prefix}/B-1`, 'v1', values('乙的泵', 'B-100')), bearer(B.token)))).toBe(true);
    for (const e of [A, B]) {
      const tag = e === A ? 'a' : 'b';
      const put = await s.send('PUT', `/api/handles/${e.prefix}/SECRET`, [
        { index: 1, type: 'URL', data: `https://${tag}.example.com/` },
        { index: 2, type: 'NOTE', data: `${tag}-private`, permissions: '1100' },
      ], bearer(e.token));
      expect(put.status).toBe(200);
    }
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  const detail = (h: string, token: string) => s.get(`/identityv2/data/detail?handle=${encodeURIComponent(h)}`, bearer(token));
  const auditCount = async (h: string) => (okData(await s.get(`/operator/audit?handle=${encodeURIComponent(h)}`, bearer(op))) as unknown[]).length;
  const b1Unchanged = async () => {
    const d = okData(await detail(`${B.prefix}/B-1`, B.token));
    expect(d.value.map((v: any) => [v.index, v.data.value])).toEqual([[1001, 'v1'], [2000, '乙的泵'], [2001, 'B-100']]);
    expect(await auditCount(`${B.prefix}/B-1`)).toBe(1);
    const pub = await s.get(`/api/handles/${B.prefix}/B-1`);
    expect(pub.status).toBe(200);
    expect(pub.json.values.map((v: any) => v.index)).toEqual([1001, 2000, 2001]);
  };

  it('SNMS: A cannot create, update or delete under B\'s prefix (single -3, batch per item), nor outside its own', async () => {
    const t = bearer(A.token);
    expect(failed(await s.send('POST', '/identityv2/data', item(`${B.prefix}/NEW-1`, 'v1', values('假')), t), -3)).toMatch(FORBIDDEN);
    expect(failed(await s.send('PUT', '/identityv2/data', item(`${B.prefix}/B-1`, 'v1', values('改')), t), -3)).toMatch(FORBIDDEN);
    expect(failed(await s.send('DELETE', '/identityv2/data', { handle: `${B.prefix}/B-1` }, t), -3)).toMatch(FORBIDDEN);

    const created = okData(
      await s.send('POST', '/identityv2/data/batchCreate', [
        item(`${B.prefix}/NEW-2`, 'v1', values('假')),
        item(`${A.prefix}/A-1`, 'v1', values('甲的泵')),
        item('88.320924.12/X', 'v1', values('假')), // shares the text "88.320924.1" but is not under it
        item('88.320924/X', 'v1', values('假')), // the node's own prefix
        item(`${B.prefix}.5/X`, 'v1', values('假')), // derived from B's
        item(`0.NA/${B.prefix}`, 'v1', values('假')),
      ], t),
    );
    expect(created.map((r: any) => r.msg === 'success' ? 'success' : FORBIDDEN.test(r.msg) ? 'forbidden' : r.msg)).toEqual([
      'forbidden',
      'success',
      'forbidden',
      'forbidden',
      'forbidden',
      'forbidden',
    ]);
    const updated = okData(await s.send('PUT', '/identityv2/data/batchUpdate', [item(`${B.prefix}/B-1`, 'v1', values('改'))], t));
    expect(updated).toEqual([{ handle: `${B.prefix}/B-1`, msg: expect.stringMatching(FORBIDDEN) }]);
    const deleted = okData(await s.send('DELETE', '/identityv2/data/batchDelete', [`${B.prefix}/B-1`, `${B.prefix}/SECRET`], t));
    expect(deleted).toEqual([
      { handle: `${B.prefix}/B-1`, code: -2, msg: expect.stringMatching(FORBIDDEN) },
      { handle: `${B.prefix}/SECRET`, code: -2, msg: expect.stringMatching(FORBIDDEN) },
    ]);

    await b1Unchanged();
    for (const h of [`${B.prefix}/NEW-1`, `${B.prefix}/NEW-2`]) failed(await detail(h, B.token), -2);
    for (const h of ['88.320924.12/X', '88.320924/X', `${B.prefix}.5/X`]) expect((await s.get(`/api/handles/${h}`)).status).toBe(404);
    expect((await s.get(`/api/handles/${B.prefix}/SECRET`)).status).toBe(200);
  });

  it('SNMS: A cannot read B\'s identifiers, prefix or templates (-3)', async () => {
    const t = bearer(A.token);
    expect(failed(await detail(`${B.prefix}/B-1`, A.token), -3)).toMatch(FORBIDDEN);
    failed(await detail(`${B.prefix}/NOPE`, A.token), -3);
    failed(await s.get(`/snms/api/prefix/query?prefix=${B.prefix}`, t), -3);
    failed(await s.get(`${TEMPLATE}?prefix=${B.prefix}&version=v1`, t), -3);
    // B reads its own
    okData(await detail(`${B.prefix}/B-1`, B.token));
    okData(await s.get(`/snms/api/prefix/query?prefix=${B.prefix}`, bearer(B.token)));
  });

  it('templates: A cannot create, update or delete templates under B\'s prefix (-3)', async () => {
    const t = bearer(A.token);
    failed(await s.send('POST', TEMPLATE, templateBody(B.prefix, 'v-evil'), t), -3);
    failed(await s.send('PUT', TEMPLATE, { prefix: B.prefix, version: 'v1', items: [{ name: '型号', idType: 'MODEL', idIndex: 2001, state: 0 }] }, t), -3);
    failed(await s.send('DELETE', TEMPLATE, { prefix: B.prefix, version: 'v1' }, t), -3);
    failed(await s.send('POST', TEMPLATE, templateBody(`${B.prefix}.5`, 'v1'), t), -3);
    failed(await s.send('POST', TEMPLATE, templateBody('88.320924', 'v1'), t), -3);
    expect(okData(await s.get(`${TEMPLATE}?prefix=${B.prefix}&version=v1`, bearer(B.token)))).toEqual(bTemplate);
    failed(await s.get(`${TEMPLATE}?prefix=${B.prefix}&version=v-evil`, bearer(B.token)), -2);
  });

  it('Handle REST: A\'s Bearer token cannot write B\'s handles (HTTP 403)', async () => {
    const t = bearer(A.token);
    const body = [{ index: 1, type: 'URL', data: 'https://evil.example.com' }];
    const tries = [
      await s.send('PUT', `/api/handles/${B.prefix}/B-1`, body, t),
      await s.send('PUT', `/api/handles/${B.prefix}/B-1?index=1`, body, t),
      await s.send('PUT', `/api/handles/${B.prefix}/EVIL-1`, body, t),
      await s.send('PUT', `/api/handles/${B.prefix}/EVIL-2?overwrite=false`, body, t),
      await s.send('PUT', `/api/handles/0.NA/${B.prefix}?index=1`, body, t),
      await s.send('DELETE', `/api/handles/${B.prefix}/B-1`, undefined, t),
      await s.send('DELETE', `/api/handles/${B.prefix}/B-1?index=2000`, undefined, t),
      await s.send('DELETE', `/api/handles/${B.prefix}/SECRET`, undefined, t),
      // prefixes that only share text with A's, the node's own, and B's derived ones
      await s.send('PUT', '/api/handles/88.320924.12/X', body, t),
      await s.send('PUT', '/api/handles/0.NA/88.320924.12', body, t),
      await s.send('PUT', '/api/handles/88.320924/X', body, t),
      await s.send('PUT', `/api/handles/${B.prefix}.5/X`, body, t),
    ];
    for (const r of tries) {
      expect(r.status).toBe(403);
      expect(r.json.responseCode).toBe(401);
    }
    for (const h of ['88.320924.12/X', '0.NA/88.320924.12', '88.320924/X', `${B.prefix}.5/X`]) expect((await s.get(`/api/handles/${h}`)).status).toBe(404);
    const list = await s.get(`/api/handles?prefix=${B.prefix}`, t);
    expect(list.status).toBe(403);
    await b1Unchanged();
    expect((await s.get(`/api/handles/${B.prefix}/EVIL-1`)).status).toBe(404);
    // HS_ADMIN as approval wrote it, and the HS_SITE every homed prefix record resolves with (not stored)
    expect((await s.get(`/api/handles/0.NA/${B.prefix}`)).json.values.map((v: any) => [v.index, v.type])).toEqual([
      [1, 'HS_SITE'],
      [100, 'HS_ADMIN'],
    ]);
  });

  it('Handle REST: A\'s Handle credential 300:0.NA/<A> cannot write B\'s handles (HTTP 403)', async () => {
    const t = A.handleAuth;
    const body = [{ index: 1, type: 'URL', data: 'https://evil.example.com' }];
    const tries = [
      await s.send('PUT', `/api/handles/${B.prefix}/B-1`, body, t),
      await s.send('PUT', `/api/handles/${B.prefix}/B-1?index=1`, body, t),
      await s.send('PUT', `/api/handles/${B.prefix}/EVIL-3`, body, t),
      await s.send('PUT', `/api/handles/0.NA/${B.prefix}?index=1`, body, t),
      await s.send('DELETE', `/api/handles/${B.prefix}/B-1`, undefined, t),
      await s.send('DELETE', `/api/handles/${B.prefix}/SECRET?index=2`, undefined, t),
    ];
    for (const r of tries) {
      expect(r.status).toBe(403);
      expect([400, 401]).toContain(r.json.responseCode);
    }
    expect((await s.get(`/api/handles?prefix=${B.prefix}`, t)).status).toBe(403);
    // a wrong secret for A's own credential is an authentication failure
    const wrong = await s.send('PUT', `/api/handles/${A.prefix}/X`, body, { authorization: `Basic ${Buffer.from(`300%3A0.NA/${A.prefix}:nope`).toString('base64')}` });
    expect(wrong.status).toBe(403);
    expect(wrong.json.responseCode).toBe(403);
    await b1Unchanged();
    expect((await s.get(`/api/handles/${B.prefix}/EVIL-3`)).status).toBe(404);
    const secret = await s.get(`/api/handles/${B.prefix}/SECRET`, bearer(B.token));
    expect(secret.json.values.map((v: any) => v.index)).toEqual([1, 2]);
  });

  it('A\'s own writes succeed through all three: SNMS, Handle REST with its token, Handle REST with its credential', async () => {
    const P = A.prefix;
    okData(await s.send('POST', '/identityv2/data', item(`${P}/OWN-1`, 'v1', values('甲泵1')), bearer(A.token)));
    const viaToken = await s.send('PUT', `/api/handles/${P}/OWN-2`, [{ index: 1, type: 'URL', data: 'https://a.example.com/own-2' }], bearer(A.token));
    expect(viaToken.status).toBe(200);
    expect(viaToken.json).toEqual({ responseCode: 1, handle: `${P}/OWN-2` });
    const viaCred = await s.send('PUT', `/api/handles/${P}/OWN-3?overwrite=false`, [{ index: 1, type: 'URL', data: 'https://a.example.com/own-3' }], A.handleAuth);
    expect(viaCred.status).toBe(201);
    // the credential administers SNMS-registered identifiers too (through the prefix record's HS_ADMIN)
    const addUrl = await s.send('PUT', `/api/handles/${P}/OWN-1?index=1`, [{ index: 1, type: 'URL', data: 'https://a.example.com/own-1' }], A.handleAuth);
    expect(addUrl.status).toBe(200);
    expect((await s.get(`/${P}/OWN-1`)).headers.location).toBe('https://a.example.com/own-1');
    expect((await s.get(`/api/handles/${P}/OWN-2`)).json.values[0].data.value).toBe('https://a.example.com/own-2');

    const audit = okData(await s.get(`/operator/audit?handle=${P}/OWN-3`, bearer(op))) as any[];
    expect(audit.map((a) => [a.action, a.actor])).toEqual([['handle.create', `300:0.NA/${P}`]]);
    expect(okData(await s.get(`/operator/audit?handle=${P}/OWN-2`, bearer(op)))[0].actor).toBe('user:ent-a');

    const list = await s.get(`/api/handles?prefix=${P}`, A.handleAuth);
    expect(list.status).toBe(200);
    expect(list.json.handles).toEqual(expect.arrayContaining([`${P}/OWN-1`, `${P}/OWN-2`, `${P}/OWN-3`, `${P}/SECRET`]));
    expect((await s.get(`/api/handles?prefix=${P}`, bearer(A.token))).status).toBe(200);

    expect((await s.send('DELETE', `/api/handles/${P}/OWN-3`, undefined, A.handleAuth)).status).toBe(200);
    expect((await s.send('DELETE', `/api/handles/${P}/OWN-2`, undefined, bearer(A.token))).status).toBe(200);
    expect(okData(await s.send('DELETE', '/identityv2/data/batchDelete', [`${P}/OWN-1`], bearer(A.token)))).toEqual([{ handle: `${P}/OWN-1`, code: 1, msg: 'success' }]);
    for (const h of ['OWN-1', 'OWN-2', 'OWN-3']) expect((await s.get(`/api/handles/${P}/${h}`)).status).toBe(404);
    // derived prefixes of its own are its own too (SNMS, with its token)
    okData(await s.send('POST', TEMPLATE, templateBody(`${P}.7`, 'v1'), bearer(A.token)));
    expect(okData(await s.send('POST', '/identityv2/data/batchCreate', [item(`${P}.7/D-1`, 'v1', values('派生'))], bearer(A.token)))).toEqual([{ handle: `${P}.7/D-1`, msg: 'success' }]);
  });

  it('A\'s Bearer token on the Handle face reads A\'s non-public values but not B\'s', async () => {
    const idx = (r: { json: any }) => r.json.values.map((v: any) => v.index);
    expect(idx(await s.get(`/api/handles/${A.prefix}/SECRET`))).toEqual([1]);
    expect(idx(await s.get(`/api/handles/${A.prefix}/SECRET`, bearer(A.token)))).toEqual([1, 2]);
    expect((await s.get(`/api/handles/${A.prefix}/SECRET?index=2`, bearer(A.token))).json.values[0].data.value).toBe('a-private');
    expect(idx(await s.get(`/api/handles/${A.prefix}/SECRET`, A.handleAuth))).toEqual([1, 2]);
    expect(idx(await s.get(`/api/handles/${B.prefix}/SECRET`, bearer(A.token)))).toEqual([1]);
    expect(idx(await s.get(`/api/handles/${B.prefix}/SECRET`, A.handleAuth))).toEqual([1]);
    const onlyHidden = await s.get(`/api/handles/${B.prefix}/SECRET?index=2`, bearer(A.token));
    expect(onlyHidden.status).toBe(200);
    expect(onlyHidden.json).toEqual({ responseCode: 200, handle: `${B.prefix}/SECRET`, values: [] });
    expect(idx(await s.get(`/api/handles/${B.prefix}/SECRET`, bearer(B.token)))).toEqual([1, 2]);
    // the node's operators administer the node, not B's handles: B's non-public values stay B's (finding 9)
    expect(idx(await s.get(`/api/handles/${B.prefix}/SECRET`, bearer(op)))).toEqual([1]);
    // the proxy never shows them
    expect((await s.get(`/${B.prefix}/SECRET?noredirect`, { ...bearer(B.token), accept: 'application/json' })).json.values.map((v: any) => v.index)).toEqual([1]);
  });
});
