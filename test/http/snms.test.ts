// The SNMS-compatible and operator faces over HTTP: onboarding, logins, review rights, templates, registration, plan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken, verifyToken } from '../../registry/users/tokens.js';
import { NODE_PREFIX, startTestServer, type Backend, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';
import {
  application,
  bearer,
  creditCode,
  envelope,
  failed,
  item,
  login,
  okData,
  operatorLogin,
  sval,
  templateBody,
  v1Password,
  values,
} from '../helpers/snms.js';

const backends: Backend[] = ['pglite', ...(hasPostgres && hasRedis ? (['postgres+redis'] as const) : [])];
const APPLY = '/snms/api/v3/ent/apply';
const TEMPLATE = '/snms/api/v5/template';

describe.each(backends)('SNMS and operator faces on %s', (backend) => {
  let s: TestServer;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let op: string; // operator token
  let rev: string; // reviewer token
  let ent1 = { id: 0, token: '', prefix: '', secret: '' };
  let ent2 = { id: 0, token: '', prefix: '' };
  const u1 = { username: 'pump-co', password: 'Pump-pass-2024' };
  const u2 = { username: 'valve-co', password: 'Valve-pass-2024' };

  beforeAll(async () => {
    if (backend === 'postgres+redis') db = await tempPostgres();
    s = await startTestServer(backend, {}, db ? { databaseUrl: db.url, namespace: redisNamespace() } : undefined);
    op = await operatorLogin(s);
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  const enterpriseCount = async () => okData(await s.get('/operator/enterprises', bearer(op))).total as number;
  const detailOf = (h: string, token = ent1.token) => s.get(`/identityv2/data/detail?handle=${encodeURIComponent(h)}`, bearer(token));
  const auditOf = async (h: string) => okData(await s.get(`/operator/audit?handle=${encodeURIComponent(h)}`, bearer(op))) as any[];

  it('an enterprise applies without logging in; the application waits for review (status 4)', async () => {
    const data = okData(await s.send('POST', APPLY, application({ n: 1, ...u1 })));
    expect(data).toEqual({ enterpriseId: expect.any(Number), status: 4 });
    ent1.id = data.enterpriseId;
    const e = okData(await s.get(`/operator/enterprises/${ent1.id}`, bearer(op)));
    expect(e).toMatchObject({
      id: ent1.id,
      name: '射阳测试企业1有限公司',
      creditCode: creditCode(1),
      town: '合德镇',
      industry: 'C34',
      contactPhone: '0515-82345678',
      status: 4,
      prefixes: [],
    });
    expect(await enterpriseCount()).toBe(1);
  });

  it('bad applications get status -2 with HTTP 200 and create nothing', async () => {
    const base = application({ n: 1, ...u1 });
    const cases: [string, unknown, RegExp][] = [
      ['duplicate credit code', application({ n: 1, username: 'dup-user', password: 'Dup-pass-2024' }), /已申请/],
      ['duplicate credit code, lower case', application({ n: 1, username: 'dup-user2', password: 'Dup-pass-2024' }), /已申请/],
      ['username taken', application({ n: 50, ...u1 }), /用户名已存在/],
      ['bad check character', { ...base, entBasicInfo: { ...base.entBasicInfo, orgCrtCode: creditCode(51).slice(0, 17) + (creditCode(51).endsWith('0') ? '1' : '0') } }, /校验位/],
      ['17 characters', { ...base, entBasicInfo: { ...base.entBasicInfo, orgCrtCode: creditCode(52).slice(0, 17) } }, /18/],
      ['unknown town', application({ n: 53, username: 'town-user', password: 'Town-pass-2024', town: '火星镇' }), /乡镇/],
      ['missing sysUser', { entBasicInfo: application({ n: 54, username: 'x-user', password: 'X-pass-2024' }).entBasicInfo }, /sysUser/],
      ['missing orgName', { ...base, entBasicInfo: { ...application({ n: 55, username: 'y-user', password: 'Y-pass-2024' }).entBasicInfo, orgName: undefined } }, /orgName/],
      ['orgName too long', { ...base, entBasicInfo: { ...application({ n: 56, username: 'z-user', password: 'Z-pass-2024' }).entBasicInfo, orgName: '企'.repeat(256) } }, /orgName/],
      ['industry division outside its section', { ...base, entBasicInfo: { ...application({ n: 57, username: 'w-user', password: 'W-pass-2024' }).entBasicInfo, industrySpecific: '99' } }, /行业/],
      ['weak password', application({ n: 58, username: 'weak-user', password: 'short' }), /密码/],
      ['body is an array', [base], /JSON/],
    ];
    // the lower-case variant of an existing code is the same code
    (cases[1]![1] as any).entBasicInfo.orgCrtCode = creditCode(1).toLowerCase();
    for (const [name, body, msg] of cases) {
      const r = await s.send('POST', APPLY, body);
      expect(failed(r, -2), name).toMatch(msg);
    }
    const malformed = await s.send('POST', APPLY, '{"sysUser": {"userName": "broken"', { 'content-type': 'application/json' });
    expect(failed(malformed, -2)).toMatch(/JSON/);
    const notJson = await s.send('POST', APPLY, 'orgName=x', { 'content-type': 'application/x-www-form-urlencoded' });
    failed(notJson, -2);

    expect(await enterpriseCount()).toBe(1);
    // no user was created for a refused application
    failed(await s.send('POST', '/identity/token', { username: 'dup-user', password: 'Dup-pass-2024' }), -2);
    failed(await s.send('POST', '/identity/token', { username: 'town-user', password: 'Town-pass-2024' }), -2);
  });

  it('logs in with /identity/token (password) and /identity/token/v1 (sha256(sha256(pwd)+today)); wrong passwords get -2', async () => {
    const t1 = await login(s, u1.username, u1.password);
    expect(t1).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const claims = JSON.parse(Buffer.from(t1.split('.')[0]!, 'base64url').toString('utf8'));
    expect(claims.exp - claims.iat).toBe(24 * 3600);
    expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(60);
    const v1 = okData(await s.send('POST', '/identity/token/v1', { username: u1.username, password: v1Password(u1.password) }));
    expect(typeof v1.token).toBe('string');
    // the username is case-insensitive
    okData(await s.send('POST', '/identity/token', { username: 'PUMP-CO', password: u1.password }));

    expect(failed(await s.send('POST', '/identity/token', { username: u1.username, password: 'wrong-password' }), -2)).toMatch(/用户名\/密码错误/);
    // the v1 endpoint wants the digest, not the password; a digest of another day (3 days ago) is refused
    failed(await s.send('POST', '/identity/token/v1', { username: u1.username, password: u1.password }), -2);
    failed(await s.send('POST', '/identity/token/v1', { username: u1.username, password: v1Password(u1.password, new Date(Date.now() - 3 * 86400_000)) }), -2);
    failed(await s.send('POST', '/identity/token', { username: 'nobody-here', password: u1.password }), -2);
    failed(await s.send('POST', '/identity/token', { username: u1.username }), -2);

    // a pending enterprise's user is logged in but owns no prefix yet: its token is valid, it may write nothing
    ent1.token = t1;
    const r = await s.send('POST', '/identityv2/data/batchCreate', [item('88.320924.1/EARLY', 'v1', values('x'))], bearer(t1));
    expect(okData(r)).toEqual([{ handle: '88.320924.1/EARLY', msg: expect.stringMatching(/无权操作该前缀/) }]);
  });

  it('the operator creates a reviewer; the reviewer reviews and approves: prefix 88.320924.1 with HS_ADMIN and a handle secret', async () => {
    const created = okData(await s.send('POST', '/operator/users', { username: 'reviewer1', password: 'Reviewer-pass-1', role: 'reviewer' }, bearer(op)));
    expect(created).toEqual({ id: expect.any(Number) });
    failed(await s.send('POST', '/operator/users', { username: 'reviewer1', password: 'Reviewer-pass-1', role: 'reviewer' }, bearer(op)), -2);
    failed(await s.send('POST', '/operator/users', { username: 'ent-user', password: 'Reviewer-pass-1', role: 'enterprise' }, bearer(op)), -2);
    rev = await login(s, 'reviewer1', 'Reviewer-pass-1');

    okData(await s.send('POST', `/operator/enterprises/${ent1.id}/review`, undefined, bearer(rev)));
    expect(okData(await s.get(`/operator/enterprises/${ent1.id}`, bearer(rev))).status).toBe(5);
    const pending = okData(await s.get('/operator/enterprises?status=5', bearer(rev)));
    expect(pending.items.map((e: any) => e.id)).toEqual([ent1.id]);

    const approved = okData(await s.send('POST', `/operator/enterprises/${ent1.id}/approve`, {}, bearer(rev)));
    expect(approved).toEqual({ prefix: `${NODE_PREFIX}.1`, handleAdmin: `300:0.NA/${NODE_PREFIX}.1`, handleSecret: expect.any(String) });
    expect(approved.handleSecret.length).toBeGreaterThanOrEqual(16);
    ent1.prefix = approved.prefix;
    ent1.secret = approved.handleSecret;
    const e = okData(await s.get(`/operator/enterprises/${ent1.id}`, bearer(op)));
    expect(e).toMatchObject({ status: 1, reviewedBy: 'user:reviewer1', prefixes: [{ prefix: '88.320924.1', status: 1 }] });
    // approving twice is refused
    failed(await s.send('POST', `/operator/enterprises/${ent1.id}/approve`, {}, bearer(rev)), -2);

    // the prefix record resolves publicly: HS_ADMIN shown, the HS_SECKEY (no public read) not
    const rec = await s.get('/api/handles/0.NA/88.320924.1');
    expect(rec.status).toBe(200);
    // HS_ADMIN as approval wrote it; HS_SITE is what every homed prefix record resolves with (pointing here)
    expect(rec.json.values.map((v: any) => [v.index, v.type])).toEqual([
      [1, 'HS_SITE'],
      [100, 'HS_ADMIN'],
    ]);
    expect(rec.json.values[1].data.value).toMatchObject({ handle: '0.NA/88.320924.1', index: 300 });
    expect(rec.json.values[0].data.value.servers[0].interfaces).toContainEqual(expect.objectContaining({ protocol: 'HTTP', port: Number(new URL(s.url).port) }));

    // the enterprise's prefix as SNMS shows it
    const q = okData(await s.get('/snms/api/prefix/query?prefix=88.320924.1', bearer(ent1.token)));
    expect(q).toMatchObject({ prefix: '88.320924.1', status: 1, entNameCn: '射阳测试企业1有限公司', entIndustry: 'C' });
    // audit: the approval with actor and before/after
    const audit = okData(await s.get(`/operator/audit?enterpriseId=${ent1.id}`, bearer(op))) as any[];
    const row = audit.find((a) => a.action === 'enterprise.approve');
    expect(row).toMatchObject({ actor: 'user:reviewer1', before: { status: 5 }, after: { status: 1 } });
    expect(audit.find((a) => a.action === 'user.create')).toMatchObject({ actor: 'applicant', entityId: 'pump-co', before: null, after: { username: 'pump-co', role: 'enterprise' } });
    expect(audit.find((a) => a.action === 'enterprise.apply')).toMatchObject({ actor: 'applicant', before: null, after: { status: 4 } });
    // no credential in the log: neither the password (nor its hashes) nor the handle secret
    const logText = JSON.stringify(audit);
    for (const secret of [u1.password, approved.handleSecret, 'password_hash', 'password_sha256']) expect(logText).not.toContain(secret);
    expect(audit.find((a) => a.action === 'handle.create').after.find((v: any) => v.type === 'HS_SECKEY').data.value).toBe('(redacted)');
  });

  it('the second enterprise gets 88.320924.2; a rejection needs a reason', async () => {
    const a2 = okData(await s.send('POST', APPLY, application({ n: 2, ...u2, town: '海通镇' })));
    const p2 = okData(await s.send('POST', `/operator/enterprises/${a2.enterpriseId}/approve`, undefined, bearer(rev)));
    expect(p2.prefix).toBe('88.320924.2');
    ent2 = { id: a2.enterpriseId, token: await login(s, u2.username, u2.password), prefix: p2.prefix };

    const a3 = okData(await s.send('POST', APPLY, application({ n: 3, username: 'reject-co', password: 'Reject-pass-2024' })));
    expect(failed(await s.send('POST', `/operator/enterprises/${a3.enterpriseId}/reject`, {}, bearer(rev)), -2)).toMatch(/reason/);
    failed(await s.send('POST', `/operator/enterprises/${a3.enterpriseId}/reject`, { reason: '   ' }, bearer(rev)), -2);
    expect(okData(await s.get(`/operator/enterprises/${a3.enterpriseId}`, bearer(rev))).status).toBe(4);
    okData(await s.send('POST', `/operator/enterprises/${a3.enterpriseId}/reject`, { reason: '营业执照不清晰' }, bearer(rev)));
    expect(okData(await s.get(`/operator/enterprises/${a3.enterpriseId}`, bearer(rev)))).toMatchObject({ status: 3, reason: '营业执照不清晰', prefixes: [] });
    // a rejected application cannot be approved afterwards
    failed(await s.send('POST', `/operator/enterprises/${a3.enterpriseId}/approve`, {}, bearer(op)), -2);
    failed(await s.send('POST', '/operator/enterprises/99999/approve', {}, bearer(op)), -2);

    // the operator may name the prefix: it must be free, not overlap a delegated one, and derive from the node's
    const a4 = okData(await s.send('POST', APPLY, application({ n: 4, username: 'named-co', password: 'Named-pass-2024' })));
    const approve4 = (prefix: string) => s.send('POST', `/operator/enterprises/${a4.enterpriseId}/approve`, { prefix }, bearer(op));
    expect(failed(await approve4('88.320924.1'), -2)).toMatch(/占用/);
    expect(failed(await approve4('88.320924.2.5'), -2)).toMatch(/占用/);
    expect(failed(await approve4('86.100.1'), -2)).toMatch(/88\.320924/);
    failed(await approve4('88.320924'), -2);
    expect(okData(await approve4('88.320924.88')).prefix).toBe('88.320924.88');
    expect(okData(await s.get(`/operator/enterprises/${a4.enterpriseId}`, bearer(op))).prefixes).toEqual([{ prefix: '88.320924.88', prefixKey: '88.320924.88', status: 1 }]);
    expect(await enterpriseCount()).toBe(4);

    const page = okData(await s.get('/snms/api/prefix/page?currentPage=1&pageSize=10', bearer(rev)));
    expect(page).toMatchObject({ totalElements: 3, number: 0, size: 10, first: true, last: true });
    expect(page.content.map((c: any) => c.entPrefix).sort()).toEqual(['88.320924.1', '88.320924.2', '88.320924.88']);
    expect(page.content.find((c: any) => c.entPrefix === '88.320924.2')).toMatchObject({ entId: ent2.id, state: 1, status: 1, entName: '射阳测试企业2有限公司' });
  });

  it('a reviewer can NOT suspend, enable, create users or read the audit log (-3)', async () => {
    failed(await s.send('POST', `/operator/enterprises/${ent1.id}/suspend`, { reason: '测试' }, bearer(rev)), -3);
    failed(await s.send('POST', `/operator/enterprises/${ent1.id}/enable`, {}, bearer(rev)), -3);
    failed(await s.send('POST', '/operator/users', { username: 'rev2', password: 'Reviewer-pass-2', role: 'reviewer' }, bearer(rev)), -3);
    failed(await s.send('POST', '/operator/users', { username: 'op2', password: 'Operator-pass-2', role: 'operator' }, bearer(rev)), -3);
    failed(await s.get('/operator/audit', bearer(rev)), -3);
    // nothing happened
    expect(okData(await s.get(`/operator/enterprises/${ent1.id}`, bearer(op))).status).toBe(1);
    failed(await s.send('POST', '/identity/token', { username: 'rev2', password: 'Reviewer-pass-2' }), -2);
    // and a reviewer writes no identifiers
    const r = okData(await s.send('POST', '/identityv2/data/batchCreate', [item('88.320924.1/REV', 'v1', values('x'))], bearer(rev)));
    expect(r[0].msg).toMatch(/无权操作该前缀/);
  });

  it('an enterprise token can NOT use /operator/* (-3)', async () => {
    const t = bearer(ent1.token);
    failed(await s.get('/operator/enterprises', t), -3);
    failed(await s.get(`/operator/enterprises/${ent2.id}`, t), -3);
    failed(await s.send('POST', `/operator/enterprises/${ent2.id}/suspend`, { reason: 'x' }, t), -3);
    failed(await s.send('POST', `/operator/enterprises/${ent2.id}/enable`, {}, t), -3);
    failed(await s.send('POST', `/operator/enterprises/${ent1.id}/approve`, { prefix: '88.320924.77' }, t), -3);
    failed(await s.send('POST', '/operator/users', { username: 'sneaky', password: 'Sneaky-pass-1', role: 'operator' }, t), -3);
    failed(await s.get('/operator/audit', t), -3);
    failed(await s.get('/operator/plan', t), -3);
    failed(await s.get('/operator/plan.csv', t), -3);
    failed(await s.get('/snms/api/prefix/page', t), -3);
    expect(okData(await s.get(`/operator/enterprises/${ent2.id}`, bearer(op))).status).toBe(1);
    failed(await s.send('POST', '/identity/token', { username: 'sneaky', password: 'Sneaky-pass-1' }), -2);
  });

  it('templates under the own prefix: create, read, update adds and disables items but never deletes, delete when unused', async () => {
    const t = bearer(ent1.token);
    okData(await s.send('POST', TEMPLATE, templateBody(ent1.prefix, 'v1'), t));
    expect(failed(await s.send('POST', TEMPLATE, templateBody(ent1.prefix, 'v1'), t), -2)).toMatch(/模板已存在/);
    const got = okData(await s.get(`${TEMPLATE}?prefix=${ent1.prefix}&version=v1`, t));
    expect(got).toMatchObject({ prefix: '88.320924.1', version: 'v1', industryCategory: 'C', industrySpecific: '34', type: 2, description: '泵类产品模板' });
    expect(got.items.map((i: any) => [i.idIndex, i.idType, i.required, i.state])).toEqual([
      [2000, 'PRODUCT_NAME', true, 1],
      [2001, 'MODEL', false, 1],
      [2002, 'URL', false, 1],
    ]);
    expect(got.items[2].metadata).toEqual({ type: 'string', minLength: 0, maxLength: 255 });

    okData(await s.send('POST', TEMPLATE, templateBody(ent1.prefix, 'v-upd'), t));
    okData(
      await s.send('PUT', TEMPLATE, {
        prefix: ent1.prefix,
        version: 'v-upd',
        items: [
          { name: '型号', idType: 'MODEL', idIndex: 2001, state: 0 },
          { name: '批次', idType: 'BATCH' },
        ],
      }, t),
    );
    const upd = okData(await s.get(`${TEMPLATE}?prefix=${ent1.prefix}&version=v-upd`, t));
    expect(upd.items.map((i: any) => [i.idIndex, i.idType, i.state])).toEqual([
      [2000, 'PRODUCT_NAME', 1],
      [2001, 'MODEL', 0],
      [2002, 'URL', 1],
      [2003, 'BATCH', 1],
    ]);
    expect(upd.description).toBe('泵类产品模板');
    // an idIndex keeps its idType; items must not be empty; idIndex starts at 2000
    failed(await s.send('PUT', TEMPLATE, { prefix: ent1.prefix, version: 'v-upd', items: [{ name: '产品名称', idType: 'OTHER', idIndex: 2000 }] }, t), -2);
    failed(await s.send('PUT', TEMPLATE, { prefix: ent1.prefix, version: 'v-upd', items: [] }, t), -2);
    failed(await s.send('PUT', TEMPLATE, { prefix: ent1.prefix, version: 'nope', items: [{ name: 'a', idType: 'A' }] }, t), -2);
    const low = templateBody(ent1.prefix, 'v-low');
    (low.items as any[])[0].idIndex = 1999;
    failed(await s.send('POST', TEMPLATE, low, t), -2);
    const reserved = templateBody(ent1.prefix, 'v-res');
    (reserved.items as any[])[1].idType = 'HS_ADMIN';
    failed(await s.send('POST', TEMPLATE, reserved, t), -2);
    const longName = templateBody(ent1.prefix, 'v-long');
    (longName.items as any[])[1].name = '名'.repeat(65);
    failed(await s.send('POST', TEMPLATE, longName, t), -2);
    failed(await s.send('POST', TEMPLATE, { ...templateBody(ent1.prefix, 'v-ind'), industryCategory: 'Z' }, t), -2);
    failed(await s.send('POST', TEMPLATE, { ...templateBody(ent1.prefix, 'v-big'), items: Array.from({ length: 201 }, (_, i) => ({ name: `n${i}`, idType: `T${i}` })) }, t), -2);
    failed(await s.get(`${TEMPLATE}?prefix=${ent1.prefix}&version=v-low`, t), -2);
    // still the same after the refused updates
    expect(okData(await s.get(`${TEMPLATE}?prefix=${ent1.prefix}&version=v-upd`, t)).items).toEqual(upd.items);

    okData(await s.send('DELETE', TEMPLATE, { prefix: ent1.prefix, version: 'v-upd' }, t));
    expect(failed(await s.get(`${TEMPLATE}?prefix=${ent1.prefix}&version=v-upd`, t), -2)).toMatch(/模板不存在/);
    failed(await s.send('DELETE', TEMPLATE, { prefix: ent1.prefix, version: 'v-upd' }, t), -2);
    // the v3 path answers the same
    expect(okData(await s.get(`/snms/api/v3/template?prefix=${ent1.prefix}&version=v1`, t)).items).toHaveLength(3);
    // the list of the prefix's templates, by version: the deleted one gone; another enterprise's prefix refused
    const listed = okData(await s.get(`${TEMPLATE}/list?prefix=${ent1.prefix}`, t)) as { version: string }[];
    expect(listed.map((x) => x.version)).toContain('v1');
    expect(listed.map((x) => x.version)).not.toContain('v-upd');
    failed(await s.get(`${TEMPLATE}/list?prefix=${ent2.prefix}`, t), -3);
    failed(await s.get(`${TEMPLATE}/list?prefix=${ent1.prefix}`), -1);
  });

  it('identifier values breaking the template are reported per item; the valid items of the batch are written', async () => {
    const P = ent1.prefix;
    const batch = [
      item(`${P}/OK-1`, 'v1', values('水泵', 'XB-100')),
      item(`${P}/BAD-INDEX`, 'v1', [sval(2000, 'PRODUCT_NAME', '泵'), sval(2099, 'COLOR', 'red')]),
      item(`${P}/BAD-TYPE`, 'v1', [sval(2000, 'PRODUCT_NAME', '泵'), sval(2001, 'COLOR', 'red')]),
      item(`${P}/TOO-LONG`, 'v1', values('泵'.repeat(21))),
      item(`${P}/NO-REQUIRED`, 'v1', [sval(2001, 'MODEL', 'XB-1')]),
      item(`${P}/INDEX-1001`, 'v1', [sval(2000, 'PRODUCT_NAME', '泵'), sval(1001, 'TEMPLATE', 'v1')]),
      item(`${P}/NO-TEMPLATE`, 'v9', values('泵')),
      item(`${P}/NOT-STRING`, 'v1', [{ index: 2000, type: 'PRODUCT_NAME', data: { format: 'hex', value: '00' } }]),
      { handle: `${P}/NO-VERSION`, value: values('泵') },
      item('not-a-handle', 'v1', values('泵')),
      item(`${P}/OK-2`, 'v1', values('阀门')),
    ];
    const r = okData(await s.send('POST', '/identityv2/data/batchCreate', batch, bearer(ent1.token)));
    expect(r.map((x: any) => x.handle)).toEqual([...batch.slice(0, 9).map((b: any) => b.handle), 'not-a-handle', `${P}/OK-2`]);
    const msgs = r.map((x: any) => x.msg);
    expect(msgs[0]).toBe('success');
    expect(msgs[1]).toMatch(/索引2099在模板中不存在/);
    expect(msgs[2]).toMatch(/索引2001的类型应为MODEL/);
    expect(msgs[3]).toMatch(/索引2000\(PRODUCT_NAME\)的值长度应在1到20之间/);
    expect(msgs[4]).toMatch(/缺少必填项产品名称/);
    expect(msgs[5]).toMatch(/索引1001为系统保留/);
    expect(msgs[6]).toMatch(/模板不存在/);
    expect(msgs[7]).toMatch(/format/);
    expect(msgs[8]).toMatch(/templateVersion/);
    expect(msgs[9]).toMatch(/标识格式错误|无权操作/);
    expect(msgs[10]).toBe('success');
    for (const b of batch.slice(1, 9) as any[]) expect(failed(await detailOf(b.handle), -2), b.handle).toMatch(/没有找到标识/);
    okData(await detailOf(`${P}/OK-1`));
    okData(await detailOf(`${P}/OK-2`));

    // a single create reports the template problem as status -2
    const single = await s.send('POST', '/identityv2/data', item(`${P}/SINGLE-LONG`, 'v1', values('x'.repeat(21))), bearer(ent1.token));
    expect(failed(single, -2)).toMatch(/值长度/);
    failed(await s.send('POST', '/identityv2/data', { handle: `${P}/SINGLE-NOVALUE`, templateVersion: 'v1' }, bearer(ent1.token)), -2);
    failed(await detailOf(`${P}/SINGLE-LONG`), -2);
    // oversized handles: more than 255 characters, or more than 255 UTF-8 bytes
    failed(await s.send('POST', '/identityv2/data', item(`${P}/${'X'.repeat(250)}`, 'v1', values('泵')), bearer(ent1.token)), -2);
    const wide = `${P}/${'泵'.repeat(90)}`;
    failed(await s.send('POST', '/identityv2/data', item(wide, 'v1', values('泵')), bearer(ent1.token)), -2);
    expect(okData(await s.send('POST', '/identityv2/data/batchCreate', [item(wide, 'v1', values('泵'))], bearer(ent1.token)))[0].msg).toMatch(/标识格式错误/);
    expect((await s.get(`/api/handles/${encodeURI(wide)}`)).json.responseCode).not.toBe(1);
  });

  it('batchCreate of valid items: all success; the same batch again: all success and no second write in the audit log', async () => {
    const P = ent1.prefix;
    const batch = Array.from({ length: 25 }, (_, i) => item(`${P}/PUMP-${String(i).padStart(3, '0')}`, 'v1', values(`水泵${i}`, `XB-${i}`, `https://example.com/pump/${i}`)));
    const first = okData(await s.send('POST', '/identityv2/data/batchCreate', batch, bearer(ent1.token)));
    expect(first).toEqual(batch.map((b: any) => ({ handle: b.handle, msg: 'success' })));
    const before = await auditOf(`${P}/PUMP-007`);
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ action: 'identifier.create', actor: 'user:pump-co', handle: `${P}/PUMP-007`, before: null });
    expect(before[0].after.map((v: any) => v.index)).toEqual([1001, 2000, 2001, 2002]);

    const byEnterprise = okData(await s.get(`/operator/audit?enterpriseId=${ent1.id}&limit=500`, bearer(op))) as any[];
    expect(byEnterprise.filter((a) => a.handle === `${P}/PUMP-007`).map((a) => a.action)).toEqual(['identifier.create']);

    const retry = okData(await s.send('POST', '/identityv2/data/batchCreate', batch, bearer(ent1.token)));
    expect(retry).toEqual(first);
    expect(await auditOf(`${P}/PUMP-007`)).toEqual(before);
    // a single create of an existing identical identifier is a success too, and writes nothing
    okData(await s.send('POST', '/identityv2/data', batch[3], bearer(ent1.token)));
    expect(await auditOf(`${P}/PUMP-003`)).toHaveLength(1);
  });

  it('the same handle with different values is reported "标识已存在" and keeps its values', async () => {
    const P = ent1.prefix;
    const r = okData(
      await s.send('POST', '/identityv2/data/batchCreate', [
        item(`${P}/PUMP-001`, 'v1', values('别的泵')),
        item(`${P}/pump-002`, 'v1', values('水泵2', 'XB-2', 'https://example.com/pump/2')),
        item(`${P}/NEW-1`, 'v1', values('新泵')),
      ], bearer(ent1.token)),
    );
    expect(r).toEqual([
      { handle: `${P}/PUMP-001`, msg: '标识已存在' },
      // a case variant of an existing handle is refused even with the same values
      { handle: `${P}/pump-002`, msg: '标识已存在' },
      { handle: `${P}/NEW-1`, msg: 'success' },
    ]);
    const d = okData(await detailOf(`${P}/PUMP-001`));
    expect(d.value.find((v: any) => v.index === 2000).data.value).toBe('水泵1');
    expect(failed(await s.send('POST', '/identityv2/data', item(`${P}/PUMP-001`, 'v1', values('别的泵')), bearer(ent1.token)), -2)).toBe('标识已存在');
    expect(await auditOf(`${P}/PUMP-001`)).toHaveLength(1);
  });

  it('a batch of 2001 is refused whole (-2) and writes nothing; 2000 are accepted; empty or non-array batches are -2', async () => {
    const P = ent1.prefix;
    const big = Array.from({ length: 2001 }, (_, i) => item(`${P}/MASS-${i}`, 'v1', values(`M${i}`)));
    expect(failed(await s.send('POST', '/identityv2/data/batchCreate', big, bearer(ent1.token)), -2)).toMatch(/2000/);
    failed(await detailOf(`${P}/MASS-0`), -2);
    failed(await s.send('PUT', '/identityv2/data/batchUpdate', big, bearer(ent1.token)), -2);
    failed(await s.send('DELETE', '/identityv2/data/batchDelete', big.map((b: any) => b.handle), bearer(ent1.token)), -2);
    failed(await s.send('POST', '/identityv2/data/batchCreate', [], bearer(ent1.token)), -2);
    failed(await s.send('POST', '/identityv2/data/batchCreate', { handle: `${P}/X` }, bearer(ent1.token)), -2);
    failed(await s.send('POST', '/identityv2/data/batchCreate', '[{"handle":', { ...bearer(ent1.token), 'content-type': 'application/json' }), -2);
    // a body over the 1 MiB limit is an SNMS error too (HTTP 200), not a bare 413
    const huge = JSON.stringify([item(`${P}/HUGE`, 'v1', values('x'.repeat(1_100_000)))]);
    failed(await s.send('POST', '/identityv2/data/batchCreate', huge, { ...bearer(ent1.token), 'content-type': 'application/json' }), -2);
    failed(await detailOf(`${P}/HUGE`), -2);

    const ok = okData(await s.send('POST', '/identityv2/data/batchCreate', big.slice(0, 2000), bearer(ent1.token)));
    expect(ok).toHaveLength(2000);
    expect(ok.every((x: any) => x.msg === 'success')).toBe(true);
    expect(okData(await detailOf(`${P}/MASS-1999`)).value.find((v: any) => v.index === 2000).data.value).toBe('M1999');
    failed(await detailOf(`${P}/MASS-2000`), -2);
  });

  it('batchUpdate and batchDelete report per item; single PUT and DELETE work the same way', async () => {
    const P = ent1.prefix;
    const t = bearer(ent1.token);
    const up = okData(
      await s.send('PUT', '/identityv2/data/batchUpdate', [
        item(`${P}/PUMP-010`, 'v1', values('水泵10改', 'XB-10B')),
        item(`${P}/MISSING-1`, 'v1', values('无')),
        item(`${P}/PUMP-011`, 'v1', [sval(2001, 'MODEL', 'no name')]),
        item(`${P}/PUMP-012`, 'v1', values('水泵12', 'XB-12', 'https://example.com/pump/12')),
      ], t),
    );
    expect(up.map((x: any) => x.handle)).toEqual([`${P}/PUMP-010`, `${P}/MISSING-1`, `${P}/PUMP-011`, `${P}/PUMP-012`]);
    expect(up[0].msg).toBe('success');
    expect(up[1].msg).toBe('标识不存在');
    expect(up[2].msg).toMatch(/缺少必填项/);
    expect(up[3].msg).toBe('success'); // unchanged
    const d10 = okData(await detailOf(`${P}/PUMP-010`));
    expect(d10.value.map((v: any) => [v.index, v.data.value])).toEqual([[1001, 'v1'], [2000, '水泵10改'], [2001, 'XB-10B']]);
    expect(okData(await detailOf(`${P}/PUMP-011`)).value.find((v: any) => v.index === 2000).data.value).toBe('水泵11');
    expect((await auditOf(`${P}/PUMP-010`)).map((a) => a.action)).toEqual(['identifier.update', 'identifier.create']);
    expect(await auditOf(`${P}/PUMP-012`)).toHaveLength(1);
    failed(await detailOf(`${P}/MISSING-1`), -2);

    const del = okData(await s.send('DELETE', '/identityv2/data/batchDelete', [`${P}/PUMP-020`, `${P}/MISSING-2`, `${P}/PUMP-021`, ''], t));
    expect(del).toEqual([
      { handle: `${P}/PUMP-020`, code: 1, msg: 'success' },
      { handle: `${P}/MISSING-2`, code: -2, msg: '标识不存在' },
      { handle: `${P}/PUMP-021`, code: 1, msg: 'success' },
      { handle: '', code: -2, msg: expect.stringMatching(/handle/) },
    ]);
    failed(await detailOf(`${P}/PUMP-020`), -2);
    expect((await auditOf(`${P}/PUMP-020`)).map((a) => a.action)).toEqual(['identifier.delete', 'identifier.create']);

    okData(await s.send('PUT', '/identityv2/data', item(`${P}/PUMP-013`, 'v1', values('单改')), t));
    expect(okData(await detailOf(`${P}/PUMP-013`)).value.map((v: any) => v.index)).toEqual([1001, 2000]);
    failed(await s.send('PUT', '/identityv2/data', item(`${P}/MISSING-3`, 'v1', values('无')), t), -2);
    okData(await s.send('DELETE', '/identityv2/data', { handle: `${P}/PUMP-014` }, t));
    expect(failed(await s.send('DELETE', '/identityv2/data', { handle: `${P}/PUMP-014` }, t), -2)).toBe('没有找到标识');
    // a template in use cannot be deleted
    expect(failed(await s.send('DELETE', TEMPLATE, { prefix: P, version: 'v1' }, t), -2)).toMatch(/使用/);
  });

  it('GET /identityv2/data/detail answers the SNMS shape, TEMPLATE value included', async () => {
    const d = okData(await detailOf(`${ent1.prefix}/pump-005`));
    expect(d).toEqual({
      code: '200',
      prefix: '88.320924.1',
      handle: '88.320924.1/PUMP-005',
      templateVersion: 'v1',
      value: [
        { index: 1001, type: 'TEMPLATE', data: { format: 'string', value: 'v1' } },
        { index: 2000, type: 'PRODUCT_NAME', data: { format: 'string', value: '水泵5' } },
        { index: 2001, type: 'MODEL', data: { format: 'string', value: 'XB-5' } },
        { index: 2002, type: 'URL', data: { format: 'string', value: 'https://example.com/pump/5' } },
      ],
    });
    failed(await s.get('/identityv2/data/detail', bearer(ent1.token)), -2);
    failed(await detailOf('no-slash-here'), -2);
  });

  it('registered identifiers resolve publicly over the Handle REST face and the proxy', async () => {
    const h = `${ent1.prefix}/PUMP-005`;
    const r = await s.get(`/api/handles/${h}`);
    expect(r.status).toBe(200);
    expect(r.json.responseCode).toBe(1);
    expect(r.json.values.map((v: any) => [v.index, v.type, v.data.value])).toEqual([
      [1001, 'TEMPLATE', 'v1'],
      [2000, 'PRODUCT_NAME', '水泵5'],
      [2001, 'MODEL', 'XB-5'],
      [2002, 'URL', 'https://example.com/pump/5'],
    ]);
    const proxied = await s.get(`/${h}`);
    expect(proxied.status).toBe(302);
    expect(proxied.headers.location).toBe('https://example.com/pump/5');
    const shown = await s.get(`/${h}?noredirect`, { accept: 'application/json' });
    expect(shown.json.values.find((v: any) => v.index === 2000).data.value).toBe('水泵5');
    // updates and deletes are visible at once
    expect((await s.get(`/api/handles/${ent1.prefix}/PUMP-010?index=2000`)).json.values[0].data.value).toBe('水泵10改');
    expect((await s.get(`/api/handles/${ent1.prefix}/PUMP-020`)).status).toBe(404);
    expect((await s.get(`/${ent1.prefix}/PUMP-020`)).status).toBe(404);
  });

  it('expired, forged, malformed or missing tokens get -1 on the SNMS and operator faces', async () => {
    const h = `/identityv2/data/detail?handle=${ent1.prefix}/PUMP-005`;
    const me = await verifyToken(s.node.registry, ent1.token);
    const opUser = await verifyToken(s.node.registry, op);
    const expired = (await issueToken(s.node.registry, me.userId, new Date(Date.now() - 24 * 3600_000 - 60_000))).token;
    const almost = (await issueToken(s.node.registry, me.userId, new Date(Date.now() - 23 * 3600_000))).token;
    const [body, sig] = ent1.token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    const asOperator = `${Buffer.from(JSON.stringify({ ...claims, sub: opUser.userId }), 'utf8').toString('base64url')}.${sig}`;
    const longer = `${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 365 * 86400 }), 'utf8').toString('base64url')}.${sig}`;
    const badSig = `${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;

    okData(await s.get(h, bearer(almost)));
    for (const [name, headers] of [
      ['missing', {}],
      ['expired', bearer(expired)],
      ['forged subject', bearer(asOperator)],
      ['forged expiry', bearer(longer)],
      ['bad signature', bearer(badSig)],
      ['garbage', bearer('not-a-token')],
      ['Basic instead of Bearer', { authorization: `Basic ${Buffer.from(`${u1.username}:${u1.password}`).toString('base64')}` }],
    ] as [string, Record<string, string>][]) {
      const r = await s.get(h, headers);
      expect(envelope(r).status, name).toBe(-1);
      expect(r.json.data, name).toBeNull();
    }
    expect(envelope(await s.get('/operator/enterprises', bearer(asOperator))).status).toBe(-1);
    expect(envelope(await s.get('/operator/audit', bearer(expired))).status).toBe(-1);
    expect(envelope(await s.send('POST', '/identityv2/data/batchCreate', [item(`${ent1.prefix}/EXPIRED`, 'v1', values('x'))], bearer(expired))).status).toBe(-1);
    failed(await detailOf(`${ent1.prefix}/EXPIRED`), -2);
    // the Handle face refuses them too (403, responseCode 403 authentication failed)
    const put = await s.send('PUT', `/api/handles/${ent1.prefix}/EXPIRED`, [{ index: 1, type: 'URL', data: 'https://x.example.com' }], bearer(expired));
    expect(put.status).toBe(403);
    expect(put.json.responseCode).toBe(403);
    expect((await s.get(`/api/handles/${ent1.prefix}/EXPIRED`)).status).toBe(404);
  });

  it('plan progress: per-town rows count approved enterprises with identifiers; CSV with the documented header', async () => {
    const town = (p: any, name: string) => p.towns.find((t: any) => t.town === name);
    const before = okData(await s.get('/operator/plan', bearer(rev)));
    expect(before.county).toBe('射阳县');
    expect(before.years).toEqual([2022, 2023, 2024]);
    expect(before.towns).toHaveLength(17);
    expect(town(before, '合德镇')).toMatchObject({ aboveScale2021: 50, target: { 2022: 12, 2023: 24, 2024: 36 }, current: 1 });
    // the second enterprise (海通镇) has no identifier yet; the rejected one (合德镇) never counts
    expect(town(before, '海通镇').current).toBe(0);
    expect(before.totals.current).toBe(1);

    okData(await s.send('POST', TEMPLATE, templateBody(ent2.prefix, 'v1'), bearer(ent2.token)));
    expect(okData(await s.send('POST', '/identityv2/data', item(`${ent2.prefix}/VALVE-1`, 'v1', values('阀门')), bearer(ent2.token)))).toBe(true);
    const after = okData(await s.get('/operator/plan', bearer(op)));
    expect(town(after, '海通镇').current).toBe(1);
    expect(town(after, '合德镇').current).toBe(1);
    expect(after.totals.current).toBe(2);
    expect(after.totals.target).toEqual({ 2022: 100, 2023: 200, 2024: 300 });

    const csv = await s.get('/operator/plan.csv', bearer(op));
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    // a UTF-8 byte-order mark first, for Excel (text decoders drop it: read the bytes)
    const raw = Buffer.from(await (await fetch(`${s.url}/operator/plan.csv`, { headers: bearer(op) })).arrayBuffer());
    expect([...raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = csv.text.replace(/^\ufeff/, '').trimEnd().split('\n');
    expect(lines[0]).toBe('town,year,target,registered,gap,aboveScale2021,coverage');
    expect(lines).toHaveLength(1 + 18 * 4);
    expect(lines).toContain('合德镇,now,,1,,50,0.0200');
    // registered counts an enterprise at a year's end only when it was approved (and registered) by then
    const reg = (y: number) => (Date.now() <= Date.parse(`${y}-12-31T23:59:59.999+08:00`) ? 1 : 0);
    expect(lines).toContain(`合德镇,2024,36,${reg(2024)},${36 - reg(2024)},50,${(reg(2024) / 50).toFixed(4)}`);
    expect(lines).toContain(`淮海农场,2022,,0,,1,0.0000`);
    expect(lines).toContain(`合计,2023,200,${2 * reg(2023)},${200 - 2 * reg(2023)},430,${((2 * reg(2023)) / 430).toFixed(4)}`);
  });

  it('failed logins are limited per account: after 5 failures even the right password is refused', async () => {
    for (let i = 0; i < 5; i++) {
      expect(failed(await s.send('POST', '/identity/token', { username: 'named-co', password: `wrong-${i}-password` }), -2)).toMatch(/用户名\/密码错误/);
    }
    expect(failed(await s.send('POST', '/identity/token', { username: 'named-co', password: 'Named-pass-2024' }), -2)).toMatch(/too many/);
    expect(failed(await s.send('POST', '/identity/token/v1', { username: 'named-co', password: v1Password('Named-pass-2024') }), -2)).toMatch(/too many/);
    // other accounts are not affected
    await login(s, u2.username, u2.password);
  });
});
