// Enterprise onboarding: apply, review, approve (delegating a prefix and its 0.NA record), reject, suspend, re-enable; prefix queries.
import { sql, type Selectable, type Transaction } from 'kysely';
import { adminValue } from '../handle/admin.js';
import { HandleError } from '../handle/codes.js';
import { asciiUpper, isUnderPrefix, parseHandle, parsePrefix, prefixRecordHandle } from '../handle/identifier.js';
import { INDEX, type HandleValue } from '../handle/types.js';
import { secretKeyValue } from '../handle/value.js';
import { writeAudit, type AuditRow } from './audit.js';
import { enterpriseAudit, enterpriseNotFound, lockEnterpriseRow, type EnterpriseRow } from './enterprise-rows.js';
import { sealHandleSecret } from './enterprise-secret.js';
import { handleTransaction } from './handles.js';
import { RegistryError, type Principal, type RegistryContext } from './context.js';
import { STATUS, type Database, type PrefixesTable } from './db.js';
import { DEFAULT_PLAN_FILE, loadPlan } from './plan.js';
import { checkCreditCode, checkIndustryCode, type IndustryInput } from './rules.js';
import { generateSecret, hashSecret } from './secrets.js';
import type { Actor } from './store.js';
import { createUser, isUniqueViolation } from './users/accounts.js';
import { checkUsername, passwordDigest, type PasswordInput } from './users/passwords.js';

type PrefixRow = Selectable<PrefixesTable>;

/** HS_ADMIN permissions of an enterprise on its prefix record: everything but adding/deleting derived prefixes. */
export const ENTERPRISE_ADMIN_PERMISSIONS = '111111110011';

export const STATUS_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: '已停用/disabled',
  1: '已启用/enabled',
  2: '待删除/pending deletion',
  3: '已驳回/rejected',
  4: '待审核/pending review',
  5: '审核中/under review',
});

export interface PrefixInfo {
  prefix: string;
  prefixKey: string;
  status: number;
}

export interface Enterprise {
  id: number;
  name: string;
  creditCode: string;
  town: string;
  /** canonical GB/T 4754 code, e.g. C3441 */
  industry: string;
  address: string;
  contactName: string;
  contactPhone: string;
  contactEmail: string | null;
  /** SNMS status code (STATUS) */
  status: number;
  /** the status in words, e.g. 已驳回/rejected */
  statusName: string;
  /** why it was rejected or suspended */
  reason: string | null;
  reviewedBy: string | null;
  approvedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  prefixes: PrefixInfo[];
}

export interface EnterpriseApplication {
  name: string;
  creditCode: string;
  town: string;
  industry: string | IndustryInput;
  address: string;
  contactName: string;
  contactPhone: string;
  contactEmail?: string | null | undefined;
  /** the enterprise's first user (role `enterprise`) */
  username: string;
  password: PasswordInput;
}

// --- apply ------------------------------------------------------------------------------------------------------------

let defaultTowns: readonly string[] | null = null;

/** What an application says about the enterprise (everything but its first user). */
export type EnterpriseDetails = Omit<EnterpriseApplication, 'username' | 'password'>;

interface CheckedDetails {
  name: string;
  creditCode: string;
  town: string;
  industry: string;
  address: string;
  contactName: string;
  contactPhone: string;
  contactEmail: string | null;
}

function checkDetails(input: EnterpriseDetails, towns: readonly string[] | undefined): CheckedDetails {
  if (typeof input !== 'object' || input === null) throw invalid('申请内容缺失 / application is missing');
  const allowedTowns = towns ?? (defaultTowns ??= loadPlan(DEFAULT_PLAN_FILE).towns.map((t) => t.name));
  const name = text(input.name, 'name', '企业名称', 255);
  const creditCode = checkCreditCode(input.creditCode);
  const town = text(input.town, 'town', '所属乡镇', 64);
  if (!allowedTowns.includes(town)) {
    throw invalid(`所属乡镇不在规划中 / town is not one of the plan's towns: ${JSON.stringify(town)} (allowed: ${allowedTowns.join('、')})`);
  }
  const industry = checkIndustryCode(input.industry);
  const address = text(input.address, 'address', '地址', 255);
  const contactName = text(input.contactName, 'contactName', '联系人', 128);
  const contactPhone = text(input.contactPhone, 'contactPhone', '联系电话', 32);
  if (!/^[0-9+()\- ]+$/.test(contactPhone) || !/\d{3}/.test(contactPhone.replace(/\D/g, ''))) {
    throw invalid('联系电话格式错误 / contactPhone must be a phone number (digits, + - ( ) and spaces)');
  }
  let contactEmail: string | null = null;
  if (input.contactEmail !== undefined && input.contactEmail !== null && input.contactEmail !== '') {
    contactEmail = text(input.contactEmail, 'contactEmail', '联系邮箱', 128);
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(contactEmail)) throw invalid('联系邮箱格式错误 / contactEmail is not an e-mail address');
  }
  return { name, creditCode, town, industry, address, contactName, contactPhone, contactEmail };
}

/**
 * Records a new application (status 4, pending review) and its first user in one transaction. `towns` are the
 * allowed towns (the loaded plan's); omitted, the shipped default plan's towns apply. A credit code already on file is
 * refused whatever its state: a rejected enterprise applies again from its own account (`reapplyEnterprise`), so an
 * anonymous caller who knows the (public) credit code can neither overwrite its details nor add a user to it.
 */
export async function applyEnterprise(
  ctx: RegistryContext,
  input: EnterpriseApplication,
  actor: Actor,
  towns?: readonly string[],
): Promise<{ enterpriseId: number; userId: number }> {
  const d = checkDetails(input, towns);
  const username = checkUsername(input.username);
  passwordDigest(input.password); // validated before anything is written

  try {
    return await ctx.store.db.transaction().execute(async (trx) => {
      const dup = await trx.selectFrom('enterprises').select(['id', 'status']).where('credit_code', '=', d.creditCode).executeTakeFirst();
      if (dup && dup.status === STATUS.REJECTED) throw rejectedNeedsAccount();
      if (dup) throw creditCodeTaken();
      const now = ctx.now();
      const row = await trx
        .insertInto('enterprises')
        .values({
          name: d.name,
          credit_code: d.creditCode,
          town: d.town,
          industry: d.industry,
          address: d.address,
          contact_name: d.contactName,
          contact_phone: d.contactPhone,
          contact_email: d.contactEmail,
          status: STATUS.PENDING_REVIEW,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const enterpriseId = Number(row.id);
      await writeAudit(trx, enterpriseAudit(actor, 'enterprise.apply', null, row));
      const user = await createUser(ctx, { username, password: input.password, role: 'enterprise', enterpriseId }, actor, trx);
      return { enterpriseId, userId: user.id };
    });
  } catch (err) {
    if (isUniqueViolation(err)) {
      const constraint = String((err as { constraint?: unknown }).constraint ?? '');
      if (constraint.includes('credit_code')) throw creditCodeTaken();
      if (constraint.includes('username')) throw new RegistryError('conflict', '用户名已存在 / username already taken');
      throw new RegistryError('conflict', '申请与已有数据冲突 / the application conflicts with existing data');
    }
    throw err;
  }
}

/**
 * A rejected enterprise applies again from its own account (a user of role `enterprise` linked to it): the same row
 * goes back to review (3 → 4) with the new details, the rejection and the details it replaces kept in the audit trail
 * (`enterpriseHistory`). No user is added; the credit code must be the enterprise's own.
 */
export async function reapplyEnterprise(
  ctx: RegistryContext,
  account: Principal,
  input: EnterpriseDetails,
  actor: Actor,
  towns?: readonly string[],
): Promise<{ enterpriseId: number; userId: number }> {
  if (account.role !== 'enterprise' || account.enterpriseId === null) {
    throw new RegistryError('forbidden', '只有企业的原申请账号可以重新申请 / only the enterprise\'s own account can apply again');
  }
  const d = checkDetails(input, towns);
  const enterpriseId = account.enterpriseId;
  return ctx.store.db.transaction().execute(async (trx) => {
    const before = await lockEnterprise(trx, enterpriseId, [STATUS.REJECTED], STATUS.PENDING_REVIEW);
    if (before.credit_code !== d.creditCode) {
      throw invalid('统一社会信用代码与登录账号所属企业不符：重新申请只能修改本企业的申请 / the credit code is not the one of this account\'s enterprise');
    }
    const after = await trx
      .updateTable('enterprises')
      .set({
        name: d.name,
        town: d.town,
        industry: d.industry,
        address: d.address,
        contact_name: d.contactName,
        contact_phone: d.contactPhone,
        contact_email: d.contactEmail,
        status: STATUS.PENDING_REVIEW,
        reason: null,
        reviewed_by: null,
        updated_at: ctx.now(),
      })
      .where('id', '=', enterpriseId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, enterpriseAudit(actor, 'enterprise.reapply', before, after));
    return { enterpriseId, userId: account.userId };
  });
}

// --- reads ------------------------------------------------------------------------------------------------------------

/** One enterprise with its prefixes; null when there is none with that id. */
export async function getEnterprise(ctx: RegistryContext, id: number): Promise<Enterprise | null> {
  if (!Number.isSafeInteger(id) || id <= 0) return null;
  const row = await ctx.store.db.selectFrom('enterprises').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  return toEnterprise(row, await prefixesOf(ctx, id));
}

export interface EnterpriseQuery {
  status?: number | undefined;
  town?: string | undefined;
  /** substring of the name, case-insensitive */
  name?: string | undefined;
  /** 1-based */
  page: number;
  /** 1 … 1000 */
  pageSize: number;
}

export async function listEnterprises(ctx: RegistryContext, q: EnterpriseQuery): Promise<{ total: number; items: Enterprise[] }> {
  const { page, pageSize } = paging(q.page, q.pageSize);
  const db = ctx.store.db;
  let base = db.selectFrom('enterprises');
  if (q.status !== undefined) {
    if (!Number.isInteger(q.status) || STATUS_NAMES[q.status] === undefined) throw invalid(`未知状态 / unknown status: ${String(q.status)}`);
    base = base.where('status', '=', q.status);
  }
  if (q.town !== undefined && q.town !== '') base = base.where('town', '=', q.town);
  if (q.name !== undefined && q.name !== '') base = base.where('name', 'ilike', `%${escapeLike(q.name)}%`);
  const [count, rows] = await Promise.all([
    base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
    base.selectAll().orderBy('id', 'desc').limit(pageSize).offset((page - 1) * pageSize).execute(),
  ]);
  const ids = rows.map((r) => Number(r.id));
  const prefixes =
    ids.length === 0
      ? []
      : await db.selectFrom('prefixes').selectAll().where('enterprise_id', 'in', ids).orderBy('prefix_key').execute();
  const byEnterprise = new Map<number, PrefixInfo[]>();
  for (const p of prefixes) {
    const id = Number(p.enterprise_id);
    const list = byEnterprise.get(id) ?? [];
    list.push(prefixInfo(p));
    byEnterprise.set(id, list);
  }
  return { total: Number(count.n), items: rows.map((r) => toEnterprise(r, byEnterprise.get(Number(r.id)) ?? [])) };
}

/** The prefixes delegated to an enterprise, by prefix key. */
export async function prefixesOf(ctx: RegistryContext, enterpriseId: number): Promise<PrefixInfo[]> {
  const rows = await ctx.store.db.selectFrom('prefixes').selectAll().where('enterprise_id', '=', enterpriseId).orderBy('prefix_key').execute();
  return rows.map(prefixInfo);
}

/** Keys of delegated prefixes that are not enabled (status ≠ 1): what resolvers must hide from public resolution. */
export async function hiddenPrefixKeys(ctx: RegistryContext): Promise<string[]> {
  const rows = await ctx.store.db.selectFrom('prefixes').select('prefix_key').where('status', '<>', STATUS.ENABLED).orderBy('prefix_key').execute();
  return rows.map((r) => r.prefix_key);
}

/** One step of an application's life, for reviewers: who did what, the state it left, what it changed. */
export interface EnterpriseEvent {
  at: Date;
  /** enterprise.apply, .review, .approve, .reject, .reapply, .suspend, .enable */
  action: string;
  actor: string;
  /** the status after the step */
  status: number | null;
  /** the rejection or suspension reason the step recorded, or (re-application) the one it cleared */
  reason: string | null;
  /** fields a re-application changed: their values before and after */
  changes: Record<string, { from: unknown; to: unknown }>;
}

const DETAIL_COLUMNS = ['name', 'town', 'industry', 'address', 'contact_name', 'contact_phone', 'contact_email'] as const;

/** The enterprise's history from the audit log, oldest first (at most the last 200 steps). */
export async function enterpriseHistory(ctx: RegistryContext, id: number): Promise<EnterpriseEvent[]> {
  const rows = await ctx.store.listAudit({ entity: 'enterprise', entityId: String(id), limit: 200 });
  return rows.reverse().map((r) => {
    const before = (r.before ?? null) as Record<string, unknown> | null;
    const after = (r.after ?? null) as Record<string, unknown> | null;
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (r.action === 'enterprise.reapply' && before !== null && after !== null) {
      for (const c of DETAIL_COLUMNS) if (before[c] !== after[c]) changes[c] = { from: before[c] ?? null, to: after[c] ?? null };
    }
    const reason = (after?.reason ?? before?.reason ?? null) as string | null;
    return { at: r.at, action: r.action, actor: r.actor, status: typeof after?.status === 'number' ? after.status : null, reason, changes };
  });
}

// --- review -----------------------------------------------------------------------------------------------------------

/** 4 (pending review) → 5 (under review). */
export async function startReview(ctx: RegistryContext, id: number, actor: Actor): Promise<void> {
  await ctx.store.db.transaction().execute(async (trx) => {
    const before = await lockEnterprise(trx, id, [STATUS.PENDING_REVIEW], STATUS.UNDER_REVIEW);
    const after = await trx
      .updateTable('enterprises')
      .set({ status: STATUS.UNDER_REVIEW, reviewed_by: actor.id, updated_at: ctx.now() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, enterpriseAudit(actor, 'enterprise.review', before, after));
  });
}

/** Serialises prefix allocation across instances ('idnp'). */
const PREFIX_LOCK_KEY = 0x69646e70;

/**
 * 4 or 5 → 1: delegates `opts.prefix` (a prefix derived from the node prefix, not taken) or the next free
 * `<nodePrefix>.<n>`, and creates its `0.NA/<prefix>` record with HS_ADMIN and a fresh HS_SECKEY (index 300), all in
 * one transaction. Returns the secret in plain text: the enterprise's Handle credential `300:0.NA/<prefix>`; it is also
 * sealed for the enterprise's own one-time reveal (registry/enterprise-secret.ts).
 */
export async function approveEnterprise(
  ctx: RegistryContext,
  id: number,
  opts: { prefix?: string | undefined },
  actor: Actor,
): Promise<{ prefix: string; handleSecret: string }> {
  const named = opts.prefix === undefined || opts.prefix === '' ? null : checkNamedPrefix(ctx, opts.prefix);
  // scrypt outside the transaction: no row is locked while hashing
  const handleSecret = generateSecret();
  const secretHash = await hashSecret(handleSecret);

  const result = await handleTransaction(ctx, actor, async (tx) => {
    const trx = tx.db;
    const before = await lockEnterprise(trx, id, [STATUS.PENDING_REVIEW, STATUS.UNDER_REVIEW], STATUS.ENABLED);
    await sql`select pg_advisory_xact_lock(${PREFIX_LOCK_KEY}::bigint)`.execute(trx);

    const homeKey = ctx.nodePrefixKey;
    const delegated = (
      await trx.selectFrom('prefixes').select('prefix_key').where('prefix_key', 'like', `${escapeLike(homeKey)}.%`).execute()
    ).map((r) => r.prefix_key);
    const overlaps = (key: string) => delegated.some((d) => isUnderPrefix(key, d) || isUnderPrefix(d, key));
    const recordExists = async (prefix: string) =>
      (await trx.selectFrom('handles').select('key').where('key', '=', parseHandle(prefixRecordHandle(prefix), ctx.policy).key).executeTakeFirst()) !== undefined;

    let prefix: string;
    if (named !== null) {
      if (overlaps(named.prefixKey) || (await recordExists(named.prefix))) {
        throw new RegistryError('conflict', `前缀已被占用 / prefix ${named.prefix} is taken (or overlaps a delegated prefix)`);
      }
      prefix = named.prefix;
    } else {
      let n = 1;
      for (const d of delegated) {
        const rest = d.slice(homeKey.length + 1);
        if (/^\d{1,15}$/.test(rest)) n = Math.max(n, Number(rest) + 1);
      }
      prefix = `${ctx.nodePrefix}.${n}`;
      while (overlaps(asciiUpper(prefix)) || (await recordExists(prefix))) prefix = `${ctx.nodePrefix}.${++n}`;
    }
    const prefixKey = asciiUpper(prefix);
    const now = ctx.now();
    const nowSec = Math.floor(now.getTime() / 1000);

    const prefixRow = await trx
      .insertInto('prefixes')
      .values({ prefix, prefix_key: prefixKey, enterprise_id: id, status: STATUS.ENABLED, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    const after = await trx
      .updateTable('enterprises')
      // the credential, sealed under the password key for the enterprise's one-time reveal (GET /snms/api/v3/ent/handle-secret)
      .set({ status: STATUS.ENABLED, approved_at: now, reviewed_by: actor.id, reason: null, updated_at: now, handle_secret_enc: sealHandleSecret(ctx, prefix, handleSecret) })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();

    const record = parseHandle(prefixRecordHandle(prefix), ctx.policy);
    const values: HandleValue[] = [
      adminValue(record.handle, INDEX.SECKEY, ENTERPRISE_ADMIN_PERMISSIONS, INDEX.ADMIN, nowSec),
      secretKeyValue(secretHash, nowSec),
    ];
    await writeAudit(trx, [enterpriseAudit(actor, 'enterprise.approve', before, after), prefixAudit(actor, 'prefix.create', id, null, prefixRow)]);
    // the prefix record, through the one write path (row, public answer, audit; caches told after commit)
    await tx.mutate({ handle: record.handle, key: record.key, prefixKey: record.prefixKey }, 'handle.create', (cur) => {
      if (cur !== null) throw new RegistryError('conflict', `前缀记录已存在 / the prefix record ${record.handle} exists already`);
      return values;
    });
    // kept sealed for the native face's challenge-response (registry/secret-copies.ts)
    await tx.keepSecretCopy(record.key, INDEX.SECKEY, handleSecret, secretHash);
    return { prefix };
  });
  return { prefix: result.prefix, handleSecret };
}

/** 4 or 5 → 3, with a reason (required, ≤ 500 characters). */
export async function rejectEnterprise(ctx: RegistryContext, id: number, reason: string, actor: Actor): Promise<void> {
  const why = checkReason(reason);
  await ctx.store.db.transaction().execute(async (trx) => {
    const before = await lockEnterprise(trx, id, [STATUS.PENDING_REVIEW, STATUS.UNDER_REVIEW], STATUS.REJECTED);
    const after = await trx
      .updateTable('enterprises')
      .set({ status: STATUS.REJECTED, reason: why, reviewed_by: actor.id, updated_at: ctx.now() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, enterpriseAudit(actor, 'enterprise.reject', before, after));
  });
}

/** 1 → 0 with a reason: the enterprise and all its prefixes are disabled; resolvers hide them (after commit). */
export async function suspendEnterprise(ctx: RegistryContext, id: number, reason: string, actor: Actor): Promise<void> {
  await setEnabled(ctx, id, false, checkReason(reason), actor);
}

/** 0 → 1: the enterprise and its prefixes are enabled again; resolvers show them again (after commit). */
export async function enableEnterprise(ctx: RegistryContext, id: number, actor: Actor): Promise<void> {
  await setEnabled(ctx, id, true, null, actor);
}

/** Suspension and its reversal go through the handle write path: every cache re-reads the suspensions after commit. */
async function setEnabled(ctx: RegistryContext, id: number, enable: boolean, reason: string | null, actor: Actor): Promise<void> {
  const from = enable ? STATUS.DISABLED : STATUS.ENABLED;
  const to = enable ? STATUS.ENABLED : STATUS.DISABLED;
  await handleTransaction(ctx, actor, async (tx) => {
    const trx = tx.db;
    const before = await lockEnterprise(trx, id, [from], to);
    const now = ctx.now();
    const after = await trx
      .updateTable('enterprises')
      .set({ status: to, reason, updated_at: now })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const prefixesBefore = await trx.selectFrom('prefixes').selectAll().where('enterprise_id', '=', id).orderBy('prefix_key').forUpdate().execute();
    const prefixesAfter = await trx
      .updateTable('prefixes')
      .set({ status: to, updated_at: now })
      .where('enterprise_id', '=', id)
      .returningAll()
      .execute();
    const afterByKey = new Map(prefixesAfter.map((p) => [p.prefix_key, p]));
    const action = enable ? 'enable' : 'suspend';
    await writeAudit(trx, [
      enterpriseAudit(actor, `enterprise.${action}`, before, after),
      ...prefixesBefore.map((p) => prefixAudit(actor, `prefix.${action}`, id, p, afterByKey.get(p.prefix_key) ?? null)),
    ]);
    for (const p of prefixesBefore) tx.prefixChanged(p.prefix_key);
  });
}

// --- delegated prefixes --------------------------------------------------------------------------------------------

/** A delegated prefix with its enterprise (the enterprise fields null when there is no enterprise row). */
export interface DelegatedPrefix {
  prefix: string;
  prefixKey: string;
  /** STATUS of the prefix */
  status: number;
  createdAt: Date;
  updatedAt: Date;
  enterpriseId: number | null;
  enterpriseName: string | null;
  /** the enterprise's canonical GB/T 4754 code, e.g. C3441 */
  industry: string | null;
  address: string | null;
}

/** One delegated prefix (`prefix` in any ASCII case); null when it is not delegated here. */
export async function getDelegatedPrefix(ctx: RegistryContext, prefix: string): Promise<DelegatedPrefix | null> {
  let prefixKey: string;
  try {
    prefixKey = parsePrefix(typeof prefix === 'string' ? prefix.trim() : prefix).prefixKey;
  } catch (err) {
    if (err instanceof HandleError) throw invalid(`前缀格式错误 / invalid prefix: ${err.message}`);
    throw err;
  }
  const row = await prefixRows(ctx).where('p.prefix_key', '=', prefixKey).executeTakeFirst();
  return row ? toDelegatedPrefix(row) : null;
}

export interface PrefixListQuery {
  /** substring of the enterprise name (case-insensitive) */
  enterpriseName?: string | undefined;
  /** substring of the prefix (ASCII case-insensitive) */
  prefixContains?: string | undefined;
  /** the prefix's creation time, inclusive at both ends */
  createdFrom?: Date | undefined;
  createdUntil?: Date | undefined;
  /** 1-based */
  page: number;
  /** 1 … 1000 */
  pageSize: number;
}

/** The node's delegated prefixes, newest first (then by prefix key), one page of them and how many there are. */
export async function listDelegatedPrefixes(
  ctx: RegistryContext,
  q: PrefixListQuery,
): Promise<{ total: number; page: number; pageSize: number; items: DelegatedPrefix[] }> {
  const { page, pageSize } = paging(q.page, q.pageSize);
  let base = ctx.store.db.selectFrom('prefixes as p').leftJoin('enterprises as e', 'e.id', 'p.enterprise_id');
  if (q.enterpriseName !== undefined && q.enterpriseName !== '') base = base.where('e.name', 'ilike', `%${escapeLike(q.enterpriseName)}%`);
  if (q.prefixContains !== undefined && q.prefixContains !== '') {
    base = base.where('p.prefix_key', 'like', `%${escapeLike(asciiUpper(q.prefixContains.trim()))}%`);
  }
  if (q.createdFrom !== undefined) base = base.where('p.created_at', '>=', q.createdFrom);
  if (q.createdUntil !== undefined) base = base.where('p.created_at', '<=', q.createdUntil);
  const [count, rows] = await Promise.all([
    base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
    base
      .select(PREFIX_COLUMNS)
      .orderBy('p.created_at', 'desc')
      .orderBy('p.prefix_key')
      .limit(pageSize)
      .offset((page - 1) * pageSize)
      .execute(),
  ]);
  return { total: Number(count.n), page, pageSize, items: rows.map(toDelegatedPrefix) };
}

const PREFIX_COLUMNS = ['p.prefix', 'p.prefix_key', 'p.status', 'p.created_at', 'p.updated_at', 'p.enterprise_id', 'e.name', 'e.industry', 'e.address'] as const;

function prefixRows(ctx: RegistryContext) {
  return ctx.store.db.selectFrom('prefixes as p').leftJoin('enterprises as e', 'e.id', 'p.enterprise_id').select(PREFIX_COLUMNS);
}

function toDelegatedPrefix(r: {
  prefix: string;
  prefix_key: string;
  status: number;
  created_at: Date;
  updated_at: Date;
  enterprise_id: string | number | null;
  name: string | null;
  industry: string | null;
  address: string | null;
}): DelegatedPrefix {
  return {
    prefix: r.prefix,
    prefixKey: r.prefix_key,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    enterpriseId: r.enterprise_id === null ? null : Number(r.enterprise_id),
    enterpriseName: r.name,
    industry: r.industry,
    address: r.address,
  };
}

// --- helpers ----------------------------------------------------------------------------------------------------------

/** Locks the enterprise row and checks its state; unknown → not-found, wrong state → conflict naming both states. */
async function lockEnterprise(trx: Transaction<Database>, id: number, from: readonly number[], to: number): Promise<EnterpriseRow> {
  const row = await lockEnterpriseRow(trx, id);
  if (!from.includes(row.status)) {
    throw new RegistryError(
      'conflict',
      `企业当前状态为 ${STATUS_NAMES[row.status] ?? row.status}，无法变更为 ${STATUS_NAMES[to]} / enterprise ${id} is ${STATUS_NAMES[row.status] ?? row.status}; ` +
        `moving to ${STATUS_NAMES[to]} needs ${from.map((s) => STATUS_NAMES[s]).join(' or ')}`,
    );
  }
  return row;
}

function checkNamedPrefix(ctx: RegistryContext, input: string): { prefix: string; prefixKey: string } {
  let p: { prefix: string; prefixKey: string };
  try {
    p = parsePrefix(typeof input === 'string' ? input.trim() : input);
  } catch (err) {
    if (err instanceof HandleError) throw invalid(`前缀格式错误 / invalid prefix: ${err.message}`);
    throw err;
  }
  if (p.prefixKey === ctx.nodePrefixKey || !isUnderPrefix(p.prefixKey, ctx.nodePrefixKey)) {
    throw invalid(`前缀必须在本节点前缀 ${ctx.nodePrefix} 之下 / prefix must be derived from the node prefix ${ctx.nodePrefix} (e.g. ${ctx.nodePrefix}.17)`);
  }
  return p;
}

function checkReason(reason: string): string {
  if (typeof reason !== 'string' || reason.trim() === '') throw invalid('必须填写原因 / a reason is required');
  const r = reason.trim();
  if ([...r].length > 500) throw invalid('原因最多500字 / reason must have at most 500 characters');
  return r;
}

function text(v: unknown, field: string, label: string, max: number): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`${label}不能为空 / ${field} is required`);
  const s = v.trim();
  if ([...s].length > max) throw invalid(`${label}最多${max}字 / ${field} must have at most ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(s)) throw invalid(`${label}含有控制字符 / ${field} contains a control character`);
  return s;
}

function paging(page: number, pageSize: number): { page: number; pageSize: number } {
  if (!Number.isInteger(page) || page < 1) throw invalid('页码从1开始 / page must be an integer ≥ 1');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw invalid('每页条数应为1-1000 / pageSize must be 1-1000');
  return { page, pageSize };
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, '\\$&');
}

function prefixJson(r: PrefixRow) {
  return { ...r, enterprise_id: r.enterprise_id === null ? null : Number(r.enterprise_id) };
}

function prefixAudit(actor: Actor, action: string, enterpriseId: number, before: PrefixRow | null, after: PrefixRow | null): AuditRow {
  return {
    actor,
    action,
    entity: 'prefix',
    entityId: (after ?? before)?.prefix ?? null,
    enterpriseId,
    before: before === null ? null : prefixJson(before),
    after: after === null ? null : prefixJson(after),
  };
}


function toEnterprise(r: EnterpriseRow, prefixes: PrefixInfo[]): Enterprise {
  return {
    id: Number(r.id),
    name: r.name,
    creditCode: r.credit_code,
    town: r.town,
    industry: r.industry,
    address: r.address,
    contactName: r.contact_name,
    contactPhone: r.contact_phone,
    contactEmail: r.contact_email,
    status: r.status,
    statusName: STATUS_NAMES[r.status] ?? String(r.status),
    reason: r.reason,
    reviewedBy: r.reviewed_by,
    approvedAt: r.approved_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    prefixes,
  };
}

function prefixInfo(p: PrefixRow): PrefixInfo {
  return { prefix: p.prefix, prefixKey: p.prefix_key, status: p.status };
}

const notFound = enterpriseNotFound;

function creditCodeTaken(): RegistryError {
  return new RegistryError('conflict', '该统一社会信用代码已申请 / an application with this credit code exists');
}

function rejectedNeedsAccount(): RegistryError {
  return new RegistryError(
    'conflict',
    '该统一社会信用代码的申请已被驳回：请用原申请账号登录（POST /identity/token）后带上令牌重新申请，或联系节点运营方 / ' +
      'the application with this credit code was rejected: log in with the original account and apply again with its token, or contact the node operator',
  );
}

function invalid(message: string): RegistryError {
  return new RegistryError('invalid', message);
}
