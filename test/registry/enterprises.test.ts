// The onboarding flow on PGlite and PostgreSQL: apply, review, approve with delegated prefixes, reject, suspend/enable, audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CASE_POLICY } from '../../handle/identifier.js';
import type { HandleValue } from '../../handle/types.js';
import { RegistryError, type RegistryChange, type RegistryContext, type RegistryEvents } from '../../registry/context.js';
import { STATUS } from '../../registry/db.js';
import {
  applyEnterprise,
  approveEnterprise,
  enableEnterprise,
  enterpriseHistory,
  getEnterprise,
  hiddenPrefixKeys,
  listEnterprises,
  getDelegatedPrefix,
  listDelegatedPrefixes,
  prefixesOf,
  reapplyEnterprise,
  rejectEnterprise,
  startReview,
  suspendEnterprise,
  type EnterpriseApplication,
} from '../../registry/enterprises.js';
import { mutateHandle } from '../../registry/handles.js';
import { DEFAULT_PLAN_FILE, loadPlan } from '../../registry/plan.js';
import { creditCodeCheckChar } from '../../registry/rules.js';
import { verifySecret } from '../../registry/secrets.js';
import type { Store } from '../../registry/store.js';
import { usersOf } from '../../registry/users/accounts.js';
import { LoginThrottle, MemoryThrottleStore } from '../../registry/users/limiter.js';
import { login } from '../../registry/users/tokens.js';
import { storeBackends, type Opened } from '../helpers/registry-backends.js';
import { registryRejection } from '../helpers/errors.js';

const backends = storeBackends;

class RecordingEvents implements RegistryEvents {
  changes: RegistryChange[] = [];
  async changed(change: RegistryChange): Promise<void> {
    this.changes.push(change);
  }
  /** The changes announced since `mark` (a length of `changes`). */
  since(mark: number): RegistryChange[] {
    return this.changes.slice(mark);
  }
}

/** A valid credit code in 射阳县 (320924) with a serial number. */
function creditCode(n: number): string {
  const head = `91320924MA${String(n).padStart(7, '0')}`;
  return head + creditCodeCheckChar(head);
}

const plan = loadPlan(DEFAULT_PLAN_FILE);
const towns = plan.towns.map((t) => t.name);

describe.each(backends)('enterprise onboarding on %s', (_name, open) => {
  let opened: Opened;
  let store: Store;
  let ctx: RegistryContext;
  const events = new RecordingEvents();
  let clock = new Date('2023-05-04T02:00:00Z');
  const applicant = { id: 'applicant', address: '192.0.2.50' };
  const reviewer = { id: 'user:reviewer1', address: '192.0.2.51' };
  const operator = { id: 'user:operator1', address: '192.0.2.52' };
  let seq = 0;

  function application(extra: Partial<EnterpriseApplication> = {}): EnterpriseApplication {
    seq += 1;
    return {
      name: `射阳县测试机械有限公司${seq}`,
      creditCode: creditCode(seq),
      town: '合德镇',
      industry: { category: 'C', specific: '34', trade: '344', subclass: '3441' },
      address: `射阳县合德镇人民路${seq}号`,
      contactName: '张三',
      contactPhone: '0515-8234 5678',
      contactEmail: `contact${seq}@example.cn`,
      username: `ent_user${seq}`,
      password: { plain: `password-${seq}` },
      ...extra,
    };
  }
  const count = async (table: 'enterprises' | 'users' | 'prefixes' | 'audit_log') =>
    Number((await store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  beforeAll(async () => {
    opened = await open();
    store = opened.store;
    await store.migrate();
    ctx = { store, nodePrefix: '88.320924', nodePrefixKey: '88.320924', policy: DEFAULT_CASE_POLICY, events, now: () => clock };
  });
  afterAll(async () => {
    await opened?.cleanup();
  });

  it('runs the whole flow: apply, review, approve with delegated prefixes, reject, suspend, enable', async () => {
    // ---- apply ----
    const appA = application({ name: '  江苏射阳泵业有限公司 ', industry: 'c3441' });
    const a = await applyEnterprise(ctx, appA, applicant, towns);
    const entA = await getEnterprise(ctx, a.enterpriseId);
    expect(entA).toMatchObject({
      id: a.enterpriseId,
      name: '江苏射阳泵业有限公司',
      creditCode: appA.creditCode,
      town: '合德镇',
      industry: 'C3441',
      contactPhone: '0515-8234 5678',
      status: STATUS.PENDING_REVIEW,
      reason: null,
      approvedAt: null,
      prefixes: [],
    });
    expect(entA!.createdAt.getTime()).toBe(clock.getTime());
    expect(await usersOf(ctx, a.enterpriseId)).toEqual([
      { userId: a.userId, username: appA.username, role: 'enterprise', enterpriseId: a.enterpriseId, disabled: false },
    ]);
    // its user can log in right away (to follow the application)
    const session = await login(ctx, { username: appA.username, password: 'password-' + appA.username.slice(8), mode: 'plain', address: '' }, new LoginThrottle(new MemoryThrottleStore()));
    expect(session.principal.enterpriseId).toBe(a.enterpriseId);

    // ---- duplicate application: same credit code (lower case, spaces) → refused, nothing written ----
    const before = [await count('enterprises'), await count('users'), await count('audit_log')];
    const dup = await registryRejection(applyEnterprise(ctx, application({ creditCode: ` ${appA.creditCode.toLowerCase()} ` }), applicant, towns));
    expect(dup.kind).toBe('conflict');
    expect(dup.message).toBe('该统一社会信用代码已申请 / an application with this credit code exists');
    // duplicate username (other case) → refused, and the enterprise row of that attempt is rolled back
    const dupUser = application({ username: appA.username.toUpperCase() });
    expect((await registryRejection(applyEnterprise(ctx, dupUser, applicant, towns))).kind).toBe('conflict');
    expect(await store.db.selectFrom('enterprises').select('id').where('credit_code', '=', dupUser.creditCode).executeTakeFirst()).toBeUndefined();
    expect([await count('enterprises'), await count('users'), await count('audit_log')]).toEqual(before);

    // ---- review ----
    await startReview(ctx, a.enterpriseId, reviewer);
    expect((await getEnterprise(ctx, a.enterpriseId))!.status).toBe(STATUS.UNDER_REVIEW);
    const again = await registryRejection(startReview(ctx, a.enterpriseId, reviewer));
    expect(again.kind).toBe('conflict');
    expect(again.message).toMatch(/under review/);
    expect(again.message).toMatch(/pending review/);

    // ---- approve: the first free prefix 88.320924.1, with its 0.NA record ----
    clock = new Date('2023-05-05T03:00:00Z');
    const approvedA = await approveEnterprise(ctx, a.enterpriseId, {}, operator);
    expect(approvedA.prefix).toBe('88.320924.1');
    expect(approvedA.handleSecret.length).toBeGreaterThanOrEqual(24);
    const afterA = await getEnterprise(ctx, a.enterpriseId);
    expect(afterA).toMatchObject({ status: STATUS.ENABLED, reviewedBy: operator.id, prefixes: [{ prefix: '88.320924.1', prefixKey: '88.320924.1', status: 1 }] });
    expect(afterA!.approvedAt!.getTime()).toBe(clock.getTime());
    // the prefix record is announced to every cache once the approval has committed
    expect(events.changes).toEqual([{ keys: ['0.NA/88.320924.1'], prefixKeys: [] }]);

    const record = await store.getHandle('0.NA/88.320924.1');
    expect(record).not.toBeNull();
    expect(record!.prefixKey).toBe('0.NA');
    expect(record!.version).toBe(1);
    const admin = record!.values.find((v) => v.type === 'HS_ADMIN') as HandleValue;
    expect(admin).toMatchObject({ index: 100, data: { format: 'admin', value: { handle: '0.NA/88.320924.1', index: 300, permissions: '111111110011' } } });
    expect(admin.timestamp).toBe(Math.floor(clock.getTime() / 1000));
    const seckey = record!.values.find((v) => v.type === 'HS_SECKEY') as HandleValue;
    expect(seckey.index).toBe(300);
    expect(seckey.permissions).toEqual({ adminRead: true, adminWrite: true, publicRead: false, publicWrite: false });
    expect(seckey.data.format).toBe('string');
    const hash = seckey.data.value as string;
    expect(hash).toMatch(/^scrypt\$/);
    expect(hash).not.toContain(approvedA.handleSecret);
    expect(await verifySecret(hash, approvedA.handleSecret)).toBe(true);
    expect(await verifySecret(hash, approvedA.handleSecret + 'x')).toBe(false);
    // its public answer is stored beside it (HS_ADMIN only: the HS_SECKEY is not publicly readable)
    const stored = await store.db.selectFrom('handles').select(['handle', 'prefix_key', 'public_json']).where('key', '=', '0.NA/88.320924.1').executeTakeFirstOrThrow();
    expect(stored).toEqual({
      handle: '0.NA/88.320924.1',
      prefix_key: '0.NA',
      public_json:
        '[{"index":100,"type":"HS_ADMIN","data":{"format":"admin","value":{"handle":"0.NA/88.320924.1","index":300,"permissions":"111111110011"}},"ttl":86400,"timestamp":"2023-05-05T03:00:00Z"}]',
    });
    expect((await store.resolveHandle('0.NA/88.320924.1'))?.publicJson).toBe(stored.public_json);

    // ---- a second enterprise straight from "pending review" gets 88.320924.2 ----
    const b = await applyEnterprise(ctx, application({ town: '海通镇' }), applicant, towns);
    expect((await approveEnterprise(ctx, b.enterpriseId, {}, operator)).prefix).toBe('88.320924.2');

    // ---- an operator-named prefix, then the next free one continues after the largest number ----
    const c = await applyEnterprise(ctx, application({ town: '海通镇' }), applicant, towns);
    expect((await approveEnterprise(ctx, c.enterpriseId, { prefix: '88.320924.100' }, operator)).prefix).toBe('88.320924.100');
    const d = await applyEnterprise(ctx, application(), applicant, towns);
    expect((await approveEnterprise(ctx, d.enterpriseId, {}, operator)).prefix).toBe('88.320924.101');

    // ---- refused prefixes: taken, inside a delegated one, the node prefix itself, outside it, malformed ----
    const e = await applyEnterprise(ctx, application({ name: '射阳县纺织有限公司', town: '兴桥镇' }), applicant, towns);
    const auditBefore = await count('audit_log');
    const announcedBefore = events.changes.length;
    const taken = await registryRejection(approveEnterprise(ctx, e.enterpriseId, { prefix: '88.320924.1' }, operator));
    expect(taken.kind).toBe('conflict');
    expect(taken.message).toMatch(/taken/);
    expect((await registryRejection(approveEnterprise(ctx, e.enterpriseId, { prefix: '88.320924.1.5' }, operator))).kind).toBe('conflict');
    expect((await registryRejection(approveEnterprise(ctx, e.enterpriseId, { prefix: '88.320924' }, operator))).kind).toBe('invalid');
    expect((await registryRejection(approveEnterprise(ctx, e.enterpriseId, { prefix: '88.320925.1' }, operator))).kind).toBe('invalid');
    expect((await registryRejection(approveEnterprise(ctx, e.enterpriseId, { prefix: '88.3209241' }, operator))).kind).toBe('invalid');
    expect((await registryRejection(approveEnterprise(ctx, e.enterpriseId, { prefix: '88.320924..3' }, operator))).kind).toBe('invalid');
    // a prefix record that already exists in the handles table (written through the Handle API) is taken too
    await mutateHandle(ctx, { handle: '0.NA/88.320924.77', key: '0.NA/88.320924.77', prefixKey: '0.NA' }, 'handle.create', operator, () => []);
    expect((await registryRejection(approveEnterprise(ctx, e.enterpriseId, { prefix: '88.320924.77' }, operator))).kind).toBe('conflict');
    expect(await count('audit_log')).toBe(auditBefore + 1); // only the handle written above
    expect(events.since(announcedBefore)).toEqual([{ keys: ['0.NA/88.320924.77'], prefixKeys: [] }]); // refusals announce nothing
    expect((await getEnterprise(ctx, e.enterpriseId))!.status).toBe(STATUS.PENDING_REVIEW);
    expect(await prefixesOf(ctx, e.enterpriseId)).toEqual([]);
    // ASCII in a named prefix is case-insensitive: the key is upper-cased, the text kept
    expect((await approveEnterprise(ctx, e.enterpriseId, { prefix: '88.320924.Tex' }, operator)).prefix).toBe('88.320924.Tex');
    expect(await prefixesOf(ctx, e.enterpriseId)).toEqual([{ prefix: '88.320924.Tex', prefixKey: '88.320924.TEX', status: 1 }]);
    expect(await store.getHandle('0.NA/88.320924.TEX')).not.toBeNull();
    // approving twice, or something unknown
    expect((await registryRejection(approveEnterprise(ctx, a.enterpriseId, {}, operator))).kind).toBe('conflict');
    expect((await registryRejection(approveEnterprise(ctx, 987_654, {}, operator))).kind).toBe('not-found');
    expect(await getEnterprise(ctx, 987_654)).toBeNull();

    // ---- reject: needs a reason ----
    const f = await applyEnterprise(ctx, application(), applicant, towns);
    expect((await registryRejection(rejectEnterprise(ctx, f.enterpriseId, '', reviewer))).kind).toBe('invalid');
    expect((await registryRejection(rejectEnterprise(ctx, f.enterpriseId, '   ', reviewer))).kind).toBe('invalid');
    expect((await registryRejection(rejectEnterprise(ctx, f.enterpriseId, '理'.repeat(501), reviewer))).kind).toBe('invalid');
    await rejectEnterprise(ctx, f.enterpriseId, '营业执照照片不清晰', reviewer);
    expect(await getEnterprise(ctx, f.enterpriseId)).toMatchObject({ status: STATUS.REJECTED, reason: '营业执照照片不清晰', reviewedBy: reviewer.id });
    expect((await registryRejection(approveEnterprise(ctx, f.enterpriseId, {}, operator))).kind).toBe('conflict');
    expect((await registryRejection(rejectEnterprise(ctx, a.enterpriseId, 'too late', reviewer))).kind).toBe('conflict');
    expect((await registryRejection(suspendEnterprise(ctx, f.enterpriseId, 'not approved', operator))).kind).toBe('conflict');

    // ---- suspend and enable flip the prefixes and tell the resolvers ----
    expect(await hiddenPrefixKeys(ctx)).toEqual([]);
    expect((await registryRejection(suspendEnterprise(ctx, a.enterpriseId, '', operator))).kind).toBe('invalid');
    expect((await registryRejection(enableEnterprise(ctx, a.enterpriseId, operator))).kind).toBe('conflict');
    const beforeSuspend = events.changes.length;
    await suspendEnterprise(ctx, a.enterpriseId, '逾期未年检', operator);
    expect(await getEnterprise(ctx, a.enterpriseId)).toMatchObject({ status: STATUS.DISABLED, reason: '逾期未年检', prefixes: [{ prefix: '88.320924.1', status: 0 }] });
    expect(events.since(beforeSuspend)).toEqual([{ keys: [], prefixKeys: ['88.320924.1'] }]);
    expect(await hiddenPrefixKeys(ctx)).toEqual(['88.320924.1']);
    expect((await getDelegatedPrefix(ctx, '88.320924.1'))!.status).toBe(0);
    expect((await registryRejection(suspendEnterprise(ctx, a.enterpriseId, 'again', operator))).message).toMatch(/disabled/);
    await enableEnterprise(ctx, a.enterpriseId, operator);
    expect(await getEnterprise(ctx, a.enterpriseId)).toMatchObject({ status: STATUS.ENABLED, reason: null, prefixes: [{ status: 1 }] });
    // the refused suspension and enable above announced nothing
    expect(events.since(beforeSuspend)).toEqual([
      { keys: [], prefixKeys: ['88.320924.1'] },
      { keys: [], prefixKeys: ['88.320924.1'] },
    ]);
    expect(await hiddenPrefixKeys(ctx)).toEqual([]);
    // approval stays where it was
    expect((await getEnterprise(ctx, a.enterpriseId))!.approvedAt!.getTime()).toBe(new Date('2023-05-05T03:00:00Z').getTime());

    // ---- audit: every step, with actor, address and before/after; no secret anywhere ----
    const auditA = await store.listAudit({ enterpriseId: a.enterpriseId, limit: 100 });
    const steps = auditA.map((r) => `${r.entity}:${r.action}`).reverse();
    expect(steps).toEqual([
      'enterprise:enterprise.apply',
      'user:user.create',
      'enterprise:enterprise.review',
      'enterprise:enterprise.approve',
      'prefix:prefix.create',
      'handle:handle.create',
      'enterprise:enterprise.suspend',
      'prefix:prefix.suspend',
      'enterprise:enterprise.enable',
      'prefix:prefix.enable',
    ]);
    const byAction = (action: string) => auditA.find((r) => r.action === action)!;
    expect(byAction('enterprise.apply')).toMatchObject({ actor: 'applicant', address: '192.0.2.50', entityId: String(a.enterpriseId), before: null });
    expect(byAction('enterprise.apply').after).toMatchObject({ id: a.enterpriseId, status: 4, credit_code: appA.creditCode });
    expect(byAction('enterprise.review')).toMatchObject({ actor: reviewer.id, before: { status: 4 }, after: { status: 5 } });
    expect(byAction('enterprise.approve')).toMatchObject({ actor: operator.id, address: operator.address, before: { status: 5 }, after: { status: 1, reviewed_by: operator.id } });
    expect(byAction('prefix.create')).toMatchObject({ entityId: '88.320924.1', before: null, after: { prefix: '88.320924.1', status: 1, enterprise_id: a.enterpriseId } });
    expect(byAction('handle.create')).toMatchObject({ handle: '0.NA/88.320924.1', before: null });
    expect((byAction('handle.create').after as HandleValue[]).map((v) => [v.index, v.type, v.data.value])).toEqual([
      [100, 'HS_ADMIN', { handle: '0.NA/88.320924.1', index: 300, permissions: '111111110011' }],
      [300, 'HS_SECKEY', '(redacted)'],
    ]);
    expect(byAction('enterprise.suspend')).toMatchObject({ before: { status: 1 }, after: { status: 0, reason: '逾期未年检' } });
    expect(byAction('prefix.suspend')).toMatchObject({ before: { status: 1 }, after: { status: 0 } });
    expect(byAction('prefix.enable')).toMatchObject({ before: { status: 0 }, after: { status: 1 } });
    const auditF = await store.listAudit({ enterpriseId: f.enterpriseId });
    expect(auditF[0]).toMatchObject({ action: 'enterprise.reject', actor: reviewer.id, before: { status: 4 }, after: { status: 3, reason: '营业执照照片不清晰' } });
    const all = JSON.stringify(await store.listAudit({ limit: 1000 }));
    for (const secret of [approvedA.handleSecret, hash, 'scrypt$', 'password_hash', 'password_sha256_enc', 'password-1']) expect(all).not.toContain(secret);

    // identifiers registered under the enterprise's prefix are part of its audit trail too
    const ref = { handle: '88.320924.1/AUDIT-1', key: '88.320924.1/AUDIT-1', prefixKey: '88.320924.1' };
    await mutateHandle(ctx, ref, 'identifier.create', operator, () => []);
    const withIdentifier = await store.listAudit({ enterpriseId: a.enterpriseId, limit: 100 });
    expect(withIdentifier[0]).toMatchObject({ entity: 'handle', handle: '88.320924.1/AUDIT-1', action: 'identifier.create' });
    expect((await store.listAudit({ enterpriseId: f.enterpriseId })).some((r) => r.handle === ref.handle)).toBe(false);
    // ...and under prefixes derived from it, but not under a sibling that merely starts with the same digits
    const derived = { handle: '88.320924.1.9/AUDIT-2', key: '88.320924.1.9/AUDIT-2', prefixKey: '88.320924.1.9' };
    const sibling = { handle: '88.320924.10/AUDIT-3', key: '88.320924.10/AUDIT-3', prefixKey: '88.320924.10' };
    await mutateHandle(ctx, derived, 'identifier.create', operator, () => []);
    await mutateHandle(ctx, sibling, 'identifier.create', operator, () => []);
    const trail = (await store.listAudit({ enterpriseId: a.enterpriseId, limit: 100 })).map((r) => r.handle);
    expect(trail).toContain(derived.handle);
    expect(trail).not.toContain(sibling.handle);
  });

  it('a rejected enterprise applies again only from its own account: the same row goes back to review, history kept, no user added', async () => {
    const first = application();
    const r = await applyEnterprise(ctx, first, applicant, towns);
    await rejectEnterprise(ctx, r.enterpriseId, '材料不全', reviewer);
    const users = await count('users');
    // anonymously, with the credit code (public information): refused, nothing changes
    const anon = await registryRejection(applyEnterprise(ctx, { ...first, contactPhone: '13999999999', username: 'someone_else' }, applicant, towns));
    expect(anon.kind).toBe('conflict');
    expect(anon.message).toMatch(/原申请账号/);
    expect(await getEnterprise(ctx, r.enterpriseId)).toMatchObject({ status: STATUS.REJECTED, reason: '材料不全', contactPhone: first.contactPhone });
    expect(await count('users')).toBe(users);

    const account = { userId: r.userId, username: first.username, role: 'enterprise' as const, enterpriseId: r.enterpriseId };
    const { username: _u, password: _p, ...details } = first;
    const again = await reapplyEnterprise(ctx, account, { ...details, name: `${first.name}（补充材料）` }, { id: `user:${first.username}` }, towns);
    expect(again).toEqual(r);
    expect(await count('users')).toBe(users);
    expect(await getEnterprise(ctx, r.enterpriseId)).toMatchObject({ status: STATUS.PENDING_REVIEW, reason: null, name: `${first.name}（补充材料）` });
    const trail = await store.listAudit({ enterpriseId: r.enterpriseId });
    expect(trail[0]).toMatchObject({ action: 'enterprise.reapply', before: { status: 3, reason: '材料不全' }, after: { status: 4 } });
    const history = await enterpriseHistory(ctx, r.enterpriseId);
    expect(history.map((h) => h.action)).toEqual(['enterprise.apply', 'enterprise.reject', 'enterprise.reapply']);
    expect(history[2]!.changes).toEqual({ name: { from: first.name, to: `${first.name}（补充材料）` } });
    // pending again: a third application is a duplicate, and so is a re-application
    expect((await registryRejection(applyEnterprise(ctx, first, applicant, towns))).kind).toBe('conflict');
    expect((await registryRejection(reapplyEnterprise(ctx, account, details, applicant, towns))).kind).toBe('conflict');
    // another enterprise's account, or a reviewer, cannot re-apply for it
    const other = await applyEnterprise(ctx, application(), applicant, towns);
    await rejectEnterprise(ctx, other.enterpriseId, '材料不全', reviewer);
    const otherDetails = { ...details, creditCode: (await getEnterprise(ctx, other.enterpriseId))!.creditCode };
    expect((await registryRejection(reapplyEnterprise(ctx, account, otherDetails, applicant, towns))).kind).toBe('conflict');
    const staff = { userId: 1, username: 'reviewer1', role: 'reviewer' as const, enterpriseId: null };
    expect((await registryRejection(reapplyEnterprise(ctx, staff, otherDetails, applicant, towns))).kind).toBe('forbidden');
    expect(await getEnterprise(ctx, other.enterpriseId)).toMatchObject({ status: STATUS.REJECTED });
  });

  it('validates applications and writes nothing for bad input', async () => {
    const before = [await count('enterprises'), await count('users'), await count('audit_log')];
    const cases: [Partial<EnterpriseApplication>, RegExp][] = [
      [{ creditCode: '91320924MA0000000X' }, /check character/],
      [{ creditCode: '12345' }, /18 characters/],
      [{ town: '南京市' }, /not one of the plan's towns/],
      [{ town: '' }, /town is required/],
      [{ industry: 'C9999' }, /not in section C/],
      [{ industry: { category: 'C', specific: '34', trade: '355' } }, /does not belong/],
      [{ name: '公'.repeat(256) }, /name must have at most 255/],
      [{ name: '   ' }, /name is required/],
      [{ address: 'x'.repeat(256) }, /address must have at most 255/],
      [{ contactName: 'x'.repeat(129) }, /contactName must have at most 128/],
      [{ contactPhone: '1'.repeat(33) }, /contactPhone must have at most 32/],
      [{ contactPhone: 'call me' }, /phone number/],
      [{ contactEmail: 'not-an-email' }, /e-mail/],
      [{ contactEmail: `${'x'.repeat(120)}@example.cn` }, /at most 128/],
      [{ name: '公司\u0000' }, /control character/],
      [{ username: 'a b' }, /username/],
      [{ password: { plain: 'short' } }, /at least 8/],
      [{ password: { sha256: 'abc' } }, /64 hex/],
      [{ name: 42 as unknown as string }, /name is required/],
    ];
    for (const [extra, message] of cases) {
      const e = await registryRejection(applyEnterprise(ctx, application(extra), applicant, towns));
      expect(e.kind, JSON.stringify(extra)).toBe('invalid');
      expect(e.message).toMatch(message);
    }
    expect([await count('enterprises'), await count('users'), await count('audit_log')]).toEqual(before);
    // without an explicit town list the shipped plan's towns apply
    expect((await registryRejection(applyEnterprise(ctx, application({ town: '南京市' }), applicant))).kind).toBe('invalid');
    const ok = await applyEnterprise(ctx, application({ town: '新洋农场', contactEmail: undefined, password: { sha256: 'A'.repeat(64) } }), applicant);
    expect((await getEnterprise(ctx, ok.enterpriseId))!.contactEmail).toBeNull();
    // a custom town list
    expect((await applyEnterprise(ctx, application({ town: '测试镇' }), applicant, ['测试镇'])).enterpriseId).toBeGreaterThan(0);
  });

  it('concurrent approvals delegate distinct prefixes; concurrent applications with one credit code: one wins', async () => {
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await applyEnterprise(ctx, application(), applicant, towns)).enterpriseId);
    const results = await Promise.all(ids.map((id) => approveEnterprise(ctx, id, {}, operator)));
    const prefixes = results.map((r) => r.prefix);
    expect(new Set(prefixes).size).toBe(4);
    for (const p of prefixes) expect(p).toMatch(/^88\.320924\.\d+$/);

    const one = application();
    const outcomes = await Promise.allSettled([
      applyEnterprise(ctx, one, applicant, towns),
      applyEnterprise(ctx, { ...one, username: `${one.username}_b` }, applicant, towns),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(RegistryError);
    expect((failed.reason as RegistryError).kind).toBe('conflict');
  });

  it('lists enterprises with filters, paging and their prefixes', async () => {
    const all = await listEnterprises(ctx, { page: 1, pageSize: 1000 });
    expect(all.total).toBe(all.items.length);
    const approved = await listEnterprises(ctx, { status: STATUS.ENABLED, page: 1, pageSize: 1000 });
    expect(approved.items.length).toBeGreaterThanOrEqual(5);
    for (const e of approved.items) {
      expect(e.status).toBe(1);
      expect(e.prefixes.length).toBe(1);
      expect(e.prefixes[0]!.status).toBe(1);
    }
    const haitong = await listEnterprises(ctx, { town: '海通镇', page: 1, pageSize: 10 });
    expect(haitong.total).toBe(2);
    expect(haitong.items.map((e) => e.prefixes[0]!.prefix).sort()).toEqual(['88.320924.100', '88.320924.2']);
    const byName = await listEnterprises(ctx, { name: '泵业', page: 1, pageSize: 10 });
    expect(byName.items.map((e) => e.name)).toEqual(['江苏射阳泵业有限公司']);
    expect((await listEnterprises(ctx, { name: '%', page: 1, pageSize: 10 })).total).toBe(0); // LIKE wildcards are literal
    const page1 = await listEnterprises(ctx, { page: 1, pageSize: 3 });
    const page2 = await listEnterprises(ctx, { page: 2, pageSize: 3 });
    expect(page1.items).toHaveLength(3);
    expect(page1.total).toBe(all.total);
    expect(page2.items[0]!.id).toBeLessThan(page1.items[2]!.id);
    expect((await registryRejection(listEnterprises(ctx, { page: 0, pageSize: 3 }))).kind).toBe('invalid');
    expect((await registryRejection(listEnterprises(ctx, { page: 1, pageSize: 0 }))).kind).toBe('invalid');
    expect((await registryRejection(listEnterprises(ctx, { status: 9, page: 1, pageSize: 3 }))).kind).toBe('invalid');
  });

  it('reads delegated prefixes with their enterprise, one or a filtered page, newest first', async () => {
    const a = await getDelegatedPrefix(ctx, '88.320924.1');
    expect(a).toEqual({
      prefix: '88.320924.1',
      prefixKey: '88.320924.1',
      status: 1,
      createdAt: new Date('2023-05-05T03:00:00Z'),
      updatedAt: expect.any(Date),
      enterpriseId: expect.any(Number),
      enterpriseName: '江苏射阳泵业有限公司',
      industry: 'C3441',
      address: expect.stringContaining('射阳县合德镇人民路'),
    });
    expect((await getEnterprise(ctx, a!.enterpriseId!))!.prefixes.map((p) => p.prefix)).toEqual(['88.320924.1']);
    // ASCII case does not matter; the text is the one delegated
    expect((await getDelegatedPrefix(ctx, ' 88.320924.tex '))!.prefix).toBe('88.320924.Tex');
    expect(await getDelegatedPrefix(ctx, '88.320924.999')).toBeNull();
    expect((await registryRejection(getDelegatedPrefix(ctx, 'a/b'))).kind).toBe('invalid');

    const all = await listDelegatedPrefixes(ctx, { page: 1, pageSize: 1000 });
    expect(all.total).toBe(all.items.length);
    expect(all.total).toBeGreaterThanOrEqual(9);
    // newest first, then by prefix key
    const order = all.items.map((p) => [p.createdAt.getTime(), p.prefixKey] as const);
    expect([...order].sort((x, y) => y[0] - x[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))).toEqual(order);
    const page2 = await listDelegatedPrefixes(ctx, { page: 2, pageSize: 2 });
    expect(page2).toMatchObject({ total: all.total, page: 2, pageSize: 2 });
    expect(page2.items).toEqual(all.items.slice(2, 4));

    const byName = await listDelegatedPrefixes(ctx, { enterpriseName: '泵业', page: 1, pageSize: 10 });
    expect(byName.items.map((p) => [p.prefix, p.enterpriseName])).toEqual([['88.320924.1', '江苏射阳泵业有限公司']]);
    expect((await listDelegatedPrefixes(ctx, { enterpriseName: '%', page: 1, pageSize: 10 })).total).toBe(0); // LIKE wildcards are literal
    const byPrefix = await listDelegatedPrefixes(ctx, { prefixContains: '88.320924.10', page: 1, pageSize: 10 });
    const found = byPrefix.items.map((p) => p.prefix);
    expect(found).toEqual(expect.arrayContaining(['88.320924.100', '88.320924.101']));
    for (const p of found) expect(p.startsWith('88.320924.10')).toBe(true);
    expect(found).not.toContain('88.320924.1');
    expect((await listDelegatedPrefixes(ctx, { prefixContains: '.tex', page: 1, pageSize: 10 })).items.map((p) => p.prefix)).toEqual(['88.320924.Tex']);
    // creation time range, inclusive at both ends (the approvals above ran at 2023-05-05T03:00:00Z)
    const at = new Date('2023-05-05T03:00:00Z');
    expect((await listDelegatedPrefixes(ctx, { createdFrom: at, createdUntil: at, page: 1, pageSize: 100 })).total).toBe(all.total);
    expect((await listDelegatedPrefixes(ctx, { createdFrom: new Date(at.getTime() + 1), page: 1, pageSize: 100 })).total).toBe(0);
    expect((await listDelegatedPrefixes(ctx, { createdUntil: new Date(at.getTime() - 1), page: 1, pageSize: 100 })).total).toBe(0);
    expect(await listDelegatedPrefixes(ctx, { enterpriseName: 'no such company', page: 1, pageSize: 10 })).toEqual({ total: 0, page: 1, pageSize: 10, items: [] });
    expect((await registryRejection(listDelegatedPrefixes(ctx, { page: 0, pageSize: 10 }))).kind).toBe('invalid');
    expect((await registryRejection(listDelegatedPrefixes(ctx, { page: 1, pageSize: 1001 }))).message).toBe('每页条数应为1-1000 / pageSize must be 1-1000');
  });
});
