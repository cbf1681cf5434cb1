// A rejected application cannot be taken over: an anonymous re-application with its (public) credit code is refused
// and changes nothing; the original account applies again with its token and the reviewer sees the history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { application, bearer, creditCode, envelope, failed, login, okData, operatorLogin, sval } from '../helpers/snms.js';

const APPLY = '/snms/api/v3/ent/apply';

describe('re-applying after a rejection (PGlite)', () => {
  let s: TestServer;
  let op: string;
  const owner = { username: 'reject-owner', password: 'Owner-pass-2024' };
  const thief = { username: 'take-over', password: 'Thief-pass-2024' };
  let id = 0;

  beforeAll(async () => {
    s = await startTestServer('pglite');
    op = await operatorLogin(s);
    id = okData(await s.send('POST', APPLY, application({ n: 71, ...owner }))).enterpriseId;
    okData(await s.send('POST', `/operator/enterprises/${id}/reject`, { reason: '营业执照不清晰' }, bearer(op)));
  });
  afterAll(async () => {
    await s?.close();
  });

  const enterprise = async () => okData(await s.get(`/operator/enterprises/${id}`, bearer(op)));

  it('an anonymous re-application of a rejected credit code is refused: no details overwritten, no user added', async () => {
    const before = await enterprise();
    const hijack = application({ n: 71, ...thief, name: '冒名企业有限公司' });
    hijack.entBasicInfo.contactName = '李四';
    hijack.entBasicInfo.contactPhone = '13999999999';
    hijack.entBasicInfo.contactEmail = 'attacker@evil.example';
    const message = failed(await s.send('POST', APPLY, hijack), -2);
    expect(message).toMatch(/原申请账号登录/);
    expect(message).toMatch(/联系节点运营方/);
    const after = await enterprise();
    expect(after).toMatchObject({ status: 3, reason: '营业执照不清晰', name: before.name, contactName: before.contactName, contactPhone: before.contactPhone, contactEmail: before.contactEmail });
    expect(after.updatedAt).toBe(before.updatedAt);
    // the would-be user does not exist: no login, so nothing can ever be written under the prefix with it
    expect(envelope(await s.send('POST', '/identity/token', thief)).status).not.toBe(1);
    const audit = okData(await s.get(`/operator/audit?enterpriseId=${id}`, bearer(op))) as any[];
    expect(audit.map((a) => a.action)).not.toContain('enterprise.reapply');
    expect(audit.filter((a) => a.action === 'user.create').map((a) => a.entityId)).toEqual([owner.username]);
  });

  it('the original account applies again with its token; the reviewer sees the history; only its users write under the prefix', async () => {
    const token = await login(s, owner.username, owner.password);
    // not another user, and only this enterprise's own credit code
    const withOtherUser = application({ n: 71, ...thief });
    expect(failed(await s.send('POST', APPLY, withOtherUser, bearer(token)), -2)).toMatch(/不能新增/);
    const otherCode = application({ n: 72, ...owner });
    expect(failed(await s.send('POST', APPLY, otherCode, bearer(token)), -2)).toMatch(/信用代码/);
    expect(failed(await s.send('POST', APPLY, application({ n: 71, ...owner }), bearer('not-a-token')), -1)).toMatch(/登录/);
    // the operator's token is not the enterprise's account
    const again: Record<string, any> = application({ n: 71, ...owner });
    delete again.sysUser;
    expect(failed(await s.send('POST', APPLY, again, bearer(op)), -3)).toMatch(/原申请账号/);
    again.entBasicInfo.contactPhone = '0515-88888888';
    expect(okData(await s.send('POST', APPLY, again, bearer(token)))).toEqual({ enterpriseId: id, status: 4 });

    const e = await enterprise();
    expect(e).toMatchObject({ status: 4, reason: null, contactPhone: '0515-88888888', creditCode: creditCode(71) });
    expect(e.history.map((h: any) => h.action)).toEqual(['enterprise.apply', 'enterprise.reject', 'enterprise.reapply']);
    expect(e.history[1]).toMatchObject({ actor: 'user:admin', status: 3, reason: '营业执照不清晰' });
    expect(e.history[2]).toMatchObject({
      actor: `user:${owner.username}`,
      status: 4,
      reason: '营业执照不清晰',
      changes: { contact_phone: { from: '0515-82345678', to: '0515-88888888' } },
    });
    // pending again: applying once more, with or without the token, is refused
    failed(await s.send('POST', APPLY, again, bearer(token)), -2);
    failed(await s.send('POST', APPLY, application({ n: 71, ...thief })), -2);

    // approved: the owner (and nobody else) writes under the prefix
    const prefix = okData(await s.send('POST', `/operator/enterprises/${id}/approve`, {}, bearer(op))).prefix as string;
    expect(prefix.startsWith(`${NODE_PREFIX}.`)).toBe(true);
    const put = await s.send('PUT', `/api/handles/${prefix}/REAPPLY-1`, [sval(1, 'URL', 'https://example.com/1')], bearer(token));
    expect(put.status).toBe(200);
  });
});
