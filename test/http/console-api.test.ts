// What the console needs from the public faces: accounts (list, disable, password reset, role), credential rotation and its one-time reveal, an applicant's own status, towns, the identifier list, audit paging, the latency histogram and /readyz's Redis.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { LATENCY_METRIC, LatencySampler } from '../../src/faces/ops/latency.js';
import { nodeRegistry } from '../../src/faces/ops/metrics-registry.js';
import { basic, NODE_PREFIX, startTestServer, type Backend, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';
import { application, bearer, failed, item, login, okData, onboard, operatorLogin, sval, templateBody, values, type Onboarded } from '../helpers/snms.js';

const backends: Backend[] = ['pglite', ...(hasPostgres && hasRedis ? (['postgres+redis'] as const) : [])];
const APPLY = '/snms/api/v3/ent/apply';
const MINE = '/snms/api/v3/ent/mine';
const SECRET = '/snms/api/v3/ent/handle-secret';

describe.each(backends)('console endpoints on %s', (backend) => {
  let s: TestServer;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let op: string;
  let A: Onboarded;
  let B: Onboarded;
  const reviewer = { username: 'con-reviewer', password: 'Con-reviewer-1' };
  let reviewerId = 0;
  let rev = '';
  let pendingToken = '';
  let rejectedToken = '';
  let pendingId = 0;

  beforeAll(async () => {
    if (backend === 'postgres+redis') db = await tempPostgres();
    s = await startTestServer(backend, { LATENCY_SAMPLE: '1' }, db ? { databaseUrl: db.url, namespace: redisNamespace() } : undefined);
    op = await operatorLogin(s);
    reviewerId = okData(await s.send('POST', '/operator/users', { ...reviewer, role: 'reviewer' }, bearer(op))).id;
    rev = await login(s, reviewer.username, reviewer.password);
    A = await onboard(s, op, { n: 61, username: 'con-ent-a', password: 'Con-ent-a-2024' });
    B = await onboard(s, op, { n: 62, username: 'con-ent-b', password: 'Con-ent-b-2024', town: '海通镇' });
    pendingId = okData(await s.send('POST', APPLY, application({ n: 63, username: 'con-pending', password: 'Con-pending-2024' }))).enterpriseId;
    const rejected = okData(await s.send('POST', APPLY, application({ n: 64, username: 'con-rejected', password: 'Con-rejected-2024' })));
    okData(await s.send('POST', `/operator/enterprises/${rejected.enterpriseId}/reject`, { reason: '营业执照已过期，请更新后重新申请' }, bearer(op)));
    // a pending and a rejected applicant log in (and only follow their application with the token)
    pendingToken = await login(s, 'con-pending', 'Con-pending-2024');
    rejectedToken = await login(s, 'con-rejected', 'Con-rejected-2024');
  }, 30_000);
  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  const refusedFor = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    expect(failed(await s.send(method, path, body, {}), -1)).toMatch(/未登录/);
    failed(await s.send(method, path, body, bearer('garbage.token')), -1);
    failed(await s.send(method, path, body, bearer(A.token)), -3);
    failed(await s.send(method, path, body, bearer(rev)), -3);
  };

  it('lists accounts by id, filtered by role and username (case-insensitive, LIKE characters literal), paged', async () => {
    const all = okData(await s.get('/operator/users', bearer(op)));
    expect(all.total).toBe(6);
    expect(all.items.map((u: any) => u.username)).toEqual(['admin', reviewer.username, 'con-ent-a', 'con-ent-b', 'con-pending', 'con-rejected']);
    expect(all.items.map((u: any) => u.id)).toEqual([...all.items.map((u: any) => u.id)].sort((x: number, y: number) => x - y));
    expect(all.items[2]).toEqual({
      id: expect.any(Number),
      username: 'con-ent-a',
      role: 'enterprise',
      enterpriseId: A.enterpriseId,
      enterpriseName: '射阳测试企业61有限公司',
      disabled: false,
      createdAt: expect.any(String),
    });
    expect(all.items[0]).toMatchObject({ role: 'operator', enterpriseId: null, enterpriseName: null });
    const ents = okData(await s.get('/operator/users?role=enterprise&pageSize=2&currentPage=2', bearer(op)));
    expect([ents.total, ents.items.map((u: any) => u.username)]).toEqual([4, ['con-pending', 'con-rejected']]);
    expect(okData(await s.get('/operator/users?q=CON-ENT', bearer(op))).total).toBe(2);
    expect(okData(await s.get('/operator/users?q=con_ent', bearer(op))).total).toBe(0);
    expect(okData(await s.get('/operator/users?q=%25', bearer(op))).total).toBe(0);
    expect(failed(await s.get('/operator/users?pageSize=101', bearer(op)), -2)).toMatch(/100/);
    expect(failed(await s.get('/operator/users?currentPage=0', bearer(op)), -2)).toMatch(/positive/);
    expect(failed(await s.get('/operator/users?role=boss', bearer(op)), -2)).toMatch(/role/);
    await refusedFor('GET', '/operator/users');
  });

  it('disables and enables accounts: no login, tokens ended (and still ended after enabling); never one\'s own', async () => {
    const mine = okData(await s.get('/operator/users?q=admin', bearer(op))).items[0];
    expect(failed(await s.send('POST', `/operator/users/${mine.id}/disable`, undefined, bearer(op)), -2)).toMatch(/不能停用自己的账号/);
    expect(okData(await s.send('POST', `/operator/users/${reviewerId}/disable`, undefined, bearer(op)))).toBe(true);
    failed(await s.get('/operator/enterprises', bearer(rev)), -1);
    expect(failed(await s.send('POST', '/identity/token', reviewer), -2)).toMatch(/用户名\/密码错误/);
    expect(okData(await s.get(`/operator/users?q=${reviewer.username}`, bearer(op))).items[0].disabled).toBe(true);
    expect(okData(await s.send('POST', `/operator/users/${reviewerId}/enable`, undefined, bearer(op)))).toBe(true);
    failed(await s.get('/operator/enterprises', bearer(rev)), -1);
    rev = await login(s, reviewer.username, reviewer.password);
    okData(await s.get('/operator/enterprises', bearer(rev)));
    expect(failed(await s.send('POST', '/operator/users/999999/disable', undefined, bearer(op)), -2)).toMatch(/用户不存在/);
    expect(failed(await s.send('POST', '/operator/users/abc/enable', undefined, bearer(op)), -2)).toMatch(/用户ID无效/);
    await refusedFor('POST', `/operator/users/${reviewerId}/disable`);
    await refusedFor('POST', `/operator/users/${reviewerId}/enable`);
    const audit = okData(await s.get('/operator/audit?entity=user&action=user.*&limit=5', bearer(op))) as any[];
    expect(audit.slice(0, 2).map((a) => [a.action, a.entityId])).toEqual([
      ['user.enable', reviewer.username],
      ['user.disable', reviewer.username],
    ]);
  });

  it('a password reset ends the tokens the user held; the new password logs in, the old one no longer; the policy is createUser\'s', async () => {
    const old = A.token;
    okData(await s.get(MINE, bearer(old)));
    expect(failed(await s.send('POST', `/operator/users/${await userId('con-ent-a')}/password`, { password: 'short' }, bearer(op)), -2)).toMatch(/至少8位/);
    failed(await s.send('POST', `/operator/users/${await userId('con-ent-a')}/password`, {}, bearer(op)), -2);
    failed(await s.send('POST', `/operator/users/${await userId('con-ent-a')}/password`, { password: 42 }, bearer(op)), -2);
    expect(okData(await s.send('POST', `/operator/users/${await userId('con-ent-a')}/password`, { password: 'Con-ent-a-2025' }, bearer(op)))).toBe(true);
    failed(await s.get(MINE, bearer(old)), -1);
    failed(await s.send('POST', '/identity/token', { username: 'con-ent-a', password: 'Con-ent-a-2024' }), -2);
    A.token = await login(s, 'con-ent-a', 'Con-ent-a-2025');
    expect(okData(await s.get(MINE, bearer(A.token))).enterprise.id).toBe(A.enterpriseId);
    const [entry] = okData(await s.get('/operator/audit?action=user.password&limit=1', bearer(op))) as any[];
    expect(entry).toMatchObject({ actor: 'user:admin', entityId: 'con-ent-a' });
    expect(JSON.stringify(entry)).not.toMatch(/scrypt\$|Con-ent-a-2025/);
    await refusedFor('POST', `/operator/users/${reviewerId}/password`, { password: 'Whatever-1234' });
  });

  it('changes the role of node accounts (audited user.role), at once; never an enterprise account\'s, nor one\'s own', async () => {
    failed(await s.get('/operator/users', bearer(rev)), -3);
    expect(okData(await s.send('POST', `/operator/users/${reviewerId}/role`, { role: 'operator' }, bearer(op)))).toBe(true);
    expect(okData(await s.get('/operator/users', bearer(rev))).total).toBe(6);
    // the former reviewer, operator now, cannot change its own role back
    expect(failed(await s.send('POST', `/operator/users/${reviewerId}/role`, { role: 'reviewer' }, bearer(rev)), -2)).toMatch(/不能更改自己账号的角色/);
    expect(okData(await s.send('POST', `/operator/users/${reviewerId}/role`, { role: 'reviewer' }, bearer(op)))).toBe(true);
    failed(await s.get('/operator/users', bearer(rev)), -3);
    expect(failed(await s.send('POST', `/operator/users/${await userId('con-ent-b')}/role`, { role: 'operator' }, bearer(op)), -2)).toMatch(/企业账号/);
    expect(failed(await s.send('POST', `/operator/users/${reviewerId}/role`, { role: 'enterprise' }, bearer(op)), -2)).toMatch(/role/);
    failed(await s.send('POST', `/operator/users/${reviewerId}/role`, {}, bearer(op)), -2);
    const roles = okData(await s.get('/operator/audit?action=user.role', bearer(op))) as any[];
    expect(roles.map((a) => [a.before.role, a.after.role])).toEqual([
      ['operator', 'reviewer'],
      ['reviewer', 'operator'],
    ]);
    await refusedFor('POST', `/operator/users/${reviewerId}/role`, { role: 'operator' });
  });

  it('the handle credential is shown to its enterprise once; a rotation makes a new one (the old stops working at once) and shows it once more', async () => {
    const list = (auth: Record<string, string>) => s.get(`/api/handles?prefix=${A.prefix}`, auth);
    expect((await list(A.handleAuth)).status).toBe(200);
    // the approval's credential, once
    expect(okData(await s.get(SECRET, bearer(A.token)))).toEqual({ prefix: A.prefix, handleAdmin: `300:0.NA/${A.prefix}`, handleSecret: A.handleSecret });
    expect(failed(await s.get(SECRET, bearer(A.token)), -2)).toBe('已查看过，请联系运营人员重置 / already shown once: ask the node operator to rotate it');
    // the operator rotates it
    await refusedFor('POST', `/operator/enterprises/${A.enterpriseId}/rotate-secret`);
    const rotated = okData(await s.send('POST', `/operator/enterprises/${A.enterpriseId}/rotate-secret`, undefined, bearer(op)));
    expect(rotated).toEqual({ prefix: A.prefix, handleAdmin: `300:0.NA/${A.prefix}`, handleSecret: expect.any(String) });
    expect(rotated.handleSecret).not.toBe(A.handleSecret);
    // sealed under the password key until it is shown: never in clear in the database
    const sealed = await s.node.registry.store.db.selectFrom('enterprises').select('handle_secret_enc').where('id', '=', A.enterpriseId).executeTakeFirstOrThrow();
    expect(sealed.handle_secret_enc).toMatch(/^[0-9a-z]+:[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
    expect(sealed.handle_secret_enc).not.toContain(rotated.handleSecret);
    const fresh = basic(`300:0.NA/${A.prefix}`, rotated.handleSecret);
    const stale = await list(A.handleAuth);
    expect([stale.status, stale.json?.responseCode]).toEqual([403, 403]); // Handle.Net: authentication failed
    expect((await list(fresh)).status).toBe(200);
    const put = await s.send('PUT', `/api/handles/${A.prefix}/ROTATED`, [sval(1, 'URL', 'https://example.com/r')], fresh);
    expect([200, 201]).toContain(put.status);
    // revealed once to the enterprise, never to others
    failed(await s.get(SECRET, {}), -1);
    failed(await s.get(SECRET, bearer(op)), -3);
    failed(await s.get(SECRET, bearer(rev)), -3);
    expect(okData(await s.get(SECRET, bearer(A.token))).handleSecret).toBe(rotated.handleSecret);
    failed(await s.get(SECRET, bearer(A.token)), -2);
    // B's own, unaffected by A's rotation; a pending applicant has none
    expect(okData(await s.get(SECRET, bearer(B.token))).handleSecret).toBe(B.handleSecret);
    expect(failed(await s.get(SECRET, bearer(pendingToken)), -2)).toMatch(/尚未获批/);
    // only approved enterprises, and only existing ones
    expect(failed(await s.send('POST', `/operator/enterprises/${pendingId}/rotate-secret`, undefined, bearer(op)), -2)).toMatch(/status 4/);
    expect(failed(await s.send('POST', '/operator/enterprises/999999/rotate-secret', undefined, bearer(op)), -2)).toMatch(/企业不存在/);
    // audited without the secret
    const audit = okData(await s.get(`/operator/audit?enterpriseId=${A.enterpriseId}&limit=20`, bearer(op))) as any[];
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['enterprise.rotate-secret', 'enterprise.reveal-secret', 'values.add']));
    const text = JSON.stringify(audit);
    for (const secret of [A.handleSecret, rotated.handleSecret]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/scrypt\$/);
    // nothing sealed is in clear in the database
    const row = await s.node.registry.store.db.selectFrom('enterprises').select('handle_secret_enc').where('id', '=', B.enterpriseId).executeTakeFirstOrThrow();
    expect(row.handle_secret_enc).toBeNull();
  });

  it('a pending or rejected applicant follows its application with /ent/mine (status, reason, history), and still writes nothing', async () => {
    const pending = okData(await s.get(MINE, bearer(pendingToken)));
    expect(pending.enterprise).toMatchObject({ id: pendingId, status: 4, statusName: '待审核/pending review', reason: null, prefixes: [] });
    expect(pending.prefixes).toEqual([]);
    expect(pending.history.map((h: any) => h.action)).toEqual(['enterprise.apply']);
    const rejected = okData(await s.get(MINE, bearer(rejectedToken)));
    expect(rejected.enterprise).toMatchObject({ status: 3, statusName: '已驳回/rejected', reason: '营业执照已过期，请更新后重新申请', creditCode: expect.any(String) });
    expect(rejected.history.map((h: any) => [h.action, h.reason])).toEqual([
      ['enterprise.apply', null],
      ['enterprise.reject', '营业执照已过期，请更新后重新申请'],
    ]);
    const approved = okData(await s.get(MINE, bearer(B.token)));
    expect(approved.enterprise).toMatchObject({ id: B.enterpriseId, status: 1, statusName: '已启用/enabled', town: '海通镇' });
    expect(approved.prefixes).toEqual([{ prefix: B.prefix, prefixKey: B.prefix, status: 1 }]);
    // the operator's detail has the same fields
    const detail = okData(await s.get(`/operator/enterprises/${B.enterpriseId}`, bearer(op)));
    const { history: _h, ...fields } = detail;
    expect(approved.enterprise).toEqual(fields);
    failed(await s.get(MINE, {}), -1);
    failed(await s.get(MINE, bearer(op)), -3);
    failed(await s.get(MINE, bearer(rev)), -3);
    // the applicants' tokens write nothing, anywhere
    for (const t of [pendingToken, rejectedToken]) {
      failed(await s.send('POST', '/identityv2/data', item(`${A.prefix}/P-1`, 'v1', values('x')), bearer(t)), -3);
      failed(await s.send('POST', '/identityv2/data', item(`${NODE_PREFIX}.99/P-1`, 'v1', values('x')), bearer(t)), -3);
    }
  });

  it('towns of the plan, with their targets, for anyone', async () => {
    const t = okData(await s.get('/snms/api/v3/ent/towns'));
    expect(t.county).toBe('射阳县');
    expect(t.towns.length).toBeGreaterThan(10);
    expect(t.towns[0]).toEqual({ name: '经开区', targets: { 2022: 12, 2023: 24, 2024: 36 } });
    expect(t.towns.find((x: any) => x.name === '淮海农场')).toEqual({ name: '淮海农场', targets: null });
  });

  it('pages the identifiers under a prefix by handle, searches the suffix (LIKE characters literal), shows the values the reader may see', async () => {
    okData(await s.send('POST', '/snms/api/v5/template', templateBody(A.prefix, 'v1'), bearer(A.token)));
    const names = [...Array.from({ length: 22 }, (_, i) => `PUMP-${String(i).padStart(3, '0')}`), 'VALVE_1', 'VALVEX1', 'A%B'];
    const res = okData(await s.send('POST', '/identityv2/data/batchCreate', names.map((n) => item(`${A.prefix}/${n}`, 'v1', values(`泵${n}`, 'M-1'))), bearer(A.token))) as any[];
    expect(res.filter((r) => r.msg !== 'success')).toEqual([]);
    // a value only its admins may read
    expect((await s.send('PUT', `/api/handles/${A.prefix}/PUMP-000?index=5`, [{ index: 5, type: 'NOTE', data: 'internal', permissions: '1100' }], bearer(A.token))).status).toBe(200);
    const page = (q: string, token = A.token) => s.get(`/identityv2/data/page?prefix=${A.prefix}${q}`, bearer(token));

    const first = okData(await page(''));
    // 25 registered plus ROTATED (Handle REST) from the rotation test
    expect([first.total, first.totalCapped, first.items.length]).toEqual([26, false, 20]);
    const handles: string[] = first.items.map((i: any) => i.handle);
    expect(handles[0]).toBe(`${A.prefix}/A%B`);
    expect(handles).toEqual([...handles].sort());
    const p0 = first.items.find((i: any) => i.handle === `${A.prefix}/PUMP-000`);
    expect(p0.values.map((v: any) => [v.index, v.type, v.data.value])).toEqual([
      [5, 'NOTE', 'internal'],
      [1001, 'TEMPLATE', 'v1'],
      [2000, 'PRODUCT_NAME', '泵PUMP-000'],
      [2001, 'MODEL', 'M-1'],
    ]);
    expect(Date.parse(p0.updatedAt)).toBeGreaterThan(Date.now() - 600_000);
    expect(okData(await page('&currentPage=2')).items.length).toBe(6);
    expect(okData(await page('&currentPage=9')).items).toEqual([]);
    expect(okData(await page('&keyword=pump-01&pageSize=5')).total).toBe(10);
    expect(okData(await page('&keyword=valve_')).items.map((i: any) => i.handle)).toEqual([`${A.prefix}/VALVE_1`]);
    expect(okData(await page('&keyword=%25')).items.map((i: any) => i.handle)).toEqual([`${A.prefix}/A%B`]);
    // operators and reviewers read every prefix, public values only; another enterprise none
    for (const t of [op, rev]) {
      const seen = okData(await page('&keyword=PUMP-000', t));
      expect(seen.items[0].values.map((v: any) => v.index)).toEqual([1001, 2000, 2001]);
    }
    expect(failed(await page('', B.token), -3)).toMatch(/无权操作该前缀/);
    failed(await page('', pendingToken), -3);
    failed(await s.get(`/identityv2/data/page?prefix=${A.prefix}`), -1);
    // bad input
    expect(failed(await page('&pageSize=101'), -2)).toMatch(/100/);
    failed(await page('&currentPage=0'), -2);
    failed(await page('&pageSize=x'), -2);
    expect(failed(await s.get('/identityv2/data/page', bearer(A.token)), -2)).toMatch(/prefix/);
    failed(await s.get('/identityv2/data/page?prefix=..', bearer(A.token)), -2);
  });

  it('the audit log filters by action (exact, or a prefix with *) and entity, and pages back by id', async () => {
    const all = okData(await s.get('/operator/audit?limit=500', bearer(op))) as any[];
    expect(all.length).toBeGreaterThan(40);
    const ids = all.map((a) => a.id);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    const pages: number[] = [];
    let before = '';
    for (let i = 0; i < 4; i++) {
      const p = okData(await s.get(`/operator/audit?limit=7${before}`, bearer(op))) as any[];
      pages.push(...p.map((a) => a.id));
      before = `&beforeId=${p[p.length - 1].id}`;
    }
    expect(pages).toEqual(ids.slice(0, 28));
    const ent = okData(await s.get('/operator/audit?action=enterprise.*&entity=enterprise&limit=500', bearer(op))) as any[];
    expect(new Set(ent.map((a) => a.action))).toEqual(new Set(['enterprise.apply', 'enterprise.approve', 'enterprise.reject', 'enterprise.rotate-secret', 'enterprise.reveal-secret']));
    expect(okData(await s.get('/operator/audit?action=enterprise.', bearer(op)))).toEqual([]);
    expect((okData(await s.get('/operator/audit?entity=prefix', bearer(op))) as any[]).map((a) => a.action)).toEqual(['prefix.create', 'prefix.create']);
    expect((okData(await s.get(`/operator/audit?handle=${encodeURIComponent(`${A.prefix}/VALVE_1`)}`, bearer(op))) as any[]).length).toBe(1);
    expect(failed(await s.get('/operator/audit?entity=planet', bearer(op)), -2)).toMatch(/entity/);
    failed(await s.get('/operator/audit?beforeId=0', bearer(op)), -2);
    failed(await s.get('/operator/audit?beforeId=x', bearer(op)), -2);
    await refusedFor('GET', '/operator/audit');
  });

  it('/metrics has the request-latency histogram by face (LATENCY_SAMPLE=1), front-door answers included', async () => {
    for (let i = 0; i < 3; i++) expect((await s.get(`/api/handles/0.NA/${NODE_PREFIX}`)).status).toBe(200);
    const text = (await s.get('/metrics')).text;
    const count = (face: string) => Number(new RegExp(`^${LATENCY_METRIC}_count\\{face="${face}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(text).toContain(`# TYPE ${LATENCY_METRIC} histogram`);
    expect(text).toMatch(new RegExp(`^${LATENCY_METRIC}_bucket\\{le="0\\.0001",face="handle-rest"\\} \\d+$`, 'm'));
    expect(text).toMatch(new RegExp(`^${LATENCY_METRIC}_bucket\\{le="5",face="snms"\\} \\d+$`, 'm'));
    expect(count('handle-rest')).toBeGreaterThanOrEqual(3);
    expect(count('snms')).toBeGreaterThan(20);
    expect(count('operator')).toBeGreaterThan(20);
  });

  it('/readyz shows operators the shared cache\'s state and the workers; anonymous callers the status only', async () => {
    expect((await s.get('/readyz')).json).toEqual({ status: 'ready' });
    const r = await s.get('/readyz', bearer(op));
    expect(r.json).toMatchObject({ status: 'ready', store: backend === 'pglite' ? 'pglite' : 'postgres', redis: backend === 'pglite' ? 'off' : 'ready', workers: 1 });
    expect((await s.get('/readyz', bearer(B.token))).json).toEqual({ status: 'ready' });
  });

  async function userId(username: string): Promise<number> {
    const u = okData(await s.get(`/operator/users?q=${username}`, bearer(op))).items.find((x: any) => x.username === username);
    return u.id as number;
  }
});

describe('the latency sampler and its setting', () => {
  const fake = (url: string) => {
    const res = new EventEmitter() as unknown as ServerResponse;
    return { req: { url } as IncomingMessage, res };
  };

  it('times one request in N, and only those listen for their answer', async () => {
    const sampler = new LatencySampler(3);
    const calls = Array.from({ length: 7 }, (_, i) => fake(i % 2 === 0 ? '/operator/users' : '/api/handles/x/y'));
    for (const c of calls) sampler.arrived(c.req, c.res);
    expect(calls.map((c) => (c.res as unknown as EventEmitter).listenerCount('finish'))).toEqual([0, 0, 1, 0, 0, 1, 0]);
    for (const c of calls) (c.res as unknown as EventEmitter).emit('finish');
    const m = await sampler.histogram.get();
    const counts = Object.fromEntries(m.values.filter((v) => v.metricName === `${LATENCY_METRIC}_count`).map((v) => [v.labels.face, v.value]));
    expect(counts).toEqual({ operator: 1, 'handle-rest': 1 });
    expect(() => new LatencySampler(0)).toThrow(/whole number/);
  });

  it('LATENCY_SAMPLE: default 8, 0 turns it off, negative refused', () => {
    expect(loadConfig({}).LATENCY_SAMPLE).toBe(8);
    expect(loadConfig({ LATENCY_SAMPLE: '0' }).LATENCY_SAMPLE).toBe(0);
    expect(() => loadConfig({ LATENCY_SAMPLE: '-1' })).toThrow(/LATENCY_SAMPLE/);
  });

  it('the node\'s registry has the histogram when given one (LATENCY_SAMPLE=0 gives none)', async () => {
    const stats = () => ({ entries: 0, bytes: 0, maxBytes: 0, hits: 0, misses: 0, negativeHits: 0, staleServed: 0, redisHits: 0, redisMisses: 0, redisErrors: 0, storeReads: 0, prefetches: 0, evictions: 0, epochChanges: 0, remoteLookups: 0, remoteFailures: 0, remoteExchanges: 0 });
    const off = await nodeRegistry({ stats, nativeStats: () => undefined, latency: null }).metrics();
    expect(off).not.toContain(LATENCY_METRIC);
    const sampler = new LatencySampler(1);
    const on = await nodeRegistry({ stats, nativeStats: () => undefined, latency: sampler.histogram }).metrics();
    expect(on).toContain(`# TYPE ${LATENCY_METRIC} histogram`);
  });
});
