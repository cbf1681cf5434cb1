// Who may do what: the one authorization decision every face uses, over the registry's own data. A delegated
// prefix's status is the one source of truth for suspension, read in the transaction of the write it guards.
import type { Kysely, Transaction } from 'kysely';
import { adminPermits, adminRefsFor, type AdminOp } from '../handle/admin.js';
import { HandleError, RC } from '../handle/codes.js';
import { isUnderPrefix, parseHandle, prefixAncestors, prefixOfPrefixRecord, prefixRecordHandle, type HandleId } from '../handle/identifier.js';
import { INDEX, type HandleValue } from '../handle/types.js';
import type { Principal, RegistryContext } from './context.js';
import { STATUS, type Database } from './db.js';

/** Who is asking, as a face established it. */
export type Requester =
  /** a user of the SNMS and operator faces (a Bearer token; the Handle face accepts it too) */
  | { kind: 'user'; principal: Principal }
  /** Handle credentials `index:handle`, already verified against that HS_SECKEY */
  | { kind: 'credential'; handle: string; key: string; index: number }
  /** the node itself (bootstrap) */
  | { kind: 'system' };

export type Access = 'read' | 'write';

/** A prefix-key test: may the requester act under this prefix? */
export type PrefixScope = (prefixKey: string) => boolean;

/** Reads a handle's values for a decision: the write's own transaction, or the resolver for reads. */
export type ValuesReader = (key: string) => Promise<readonly HandleValue[] | null>;

type Db = Kysely<Database> | Transaction<Database>;

/** The audit actor of a requester: `user:<name>`, `<index>:<handle>` or `system`. */
export function actorId(who: Requester): string {
  if (who.kind === 'user') return `user:${who.principal.username}`;
  if (who.kind === 'credential') return `${who.index}:${who.handle}`;
  return 'system';
}

/** Whether a requester administers the whole node: the system, an operator, or `300:0.NA/<NODE_PREFIX>`. */
export function isNodeAdmin(ctx: RegistryContext, who: Requester): boolean {
  if (who.kind === 'system') return true;
  if (who.kind === 'user') return who.principal.role === 'operator';
  return who.index === INDEX.SECKEY && who.key === parseHandle(prefixRecordHandle(ctx.nodePrefix), ctx.policy).key;
}

/** Whether a handle (or a prefix record's prefix) is under the node's prefix. */
export function isHomed(ctx: RegistryContext, id: HandleId): boolean {
  return isUnderPrefix(prefixOfPrefixRecord(id) ?? id.prefixKey, ctx.nodePrefixKey);
}

/**
 * The prefixes a user may read or write under: operators everything the node homes; reviewers read everything and
 * write nothing; enterprises their own ENABLED delegated prefixes and the prefixes derived from them (a suspended
 * enterprise can neither read nor write). Read in `db` — pass the write's transaction so a suspension committing
 * meanwhile waits for it (the rows are locked for share).
 */
export async function userScope(ctx: RegistryContext, db: Db, p: Principal, access: Access): Promise<PrefixScope> {
  if (p.role === 'operator') return (k) => isUnderPrefix(k, ctx.nodePrefixKey);
  if (p.role === 'reviewer') return access === 'read' ? (k) => isUnderPrefix(k, ctx.nodePrefixKey) : () => false;
  if (p.enterpriseId === null) return () => false;
  const rows = await db
    .selectFrom('prefixes')
    .select('prefix_key')
    .where('enterprise_id', '=', p.enterpriseId)
    .where('status', '=', STATUS.ENABLED)
    .forShare()
    .execute();
  const own = rows.map((r) => r.prefix_key);
  return (k) => own.some((o) => isUnderPrefix(k, o));
}

/** The delegated prefix holding `prefixKey` (itself or a parent) when it is not enabled (suspended), else null. */
export async function suspendedPrefix(db: Db, prefixKey: string): Promise<string | null> {
  const ancestors = prefixAncestors(prefixKey);
  const row = await db
    .selectFrom('prefixes')
    .select('prefix')
    .where('prefix_key', 'in', ancestors)
    .where('status', '<>', STATUS.ENABLED)
    .forShare()
    .limit(1)
    .executeTakeFirst();
  return row?.prefix ?? null;
}

export interface AuthorizeOptions {
  /** the decision is about the prefix record only (creating a handle, listing a prefix) */
  onPrefixRecord: boolean;
  /** reads the handle and its prefix record (a write passes its transaction's reader) */
  read: ValuesReader;
  /** the target's current values when the caller holds them already (a write's locked row; null: absent) */
  current?: readonly HandleValue[] | null;
  /** only the admins HS_ADMIN names count (reading restricted values): the node admin gets no blanket right */
  adminsOnly?: boolean;
}

/**
 * Throws unless `who` may do `op` on `target` (HandleError: 301 not homed here, 401 insufficient permissions or
 * suspended, 400 not an administrator). The node's administrators may do anything under the node's prefix; a user,
 * what userScope allows; Handle credentials need an HS_ADMIN value naming them with that permission, on the handle
 * itself or on its prefix record `0.NA/<prefix>` (only the prefix record when creating a handle or listing a
 * prefix), and the prefix must not be suspended.
 */
export async function authorize(ctx: RegistryContext, db: Db, who: Requester, target: HandleId, op: AdminOp, o: AuthorizeOptions): Promise<void> {
  if (!isHomed(ctx, target)) throw new HandleError(RC.SERVER_NOT_RESP, 'Server not responsible for handle');
  if (!o.adminsOnly && isNodeAdmin(ctx, who)) return;
  const subject = prefixOfPrefixRecord(target) ?? target.prefixKey;
  const label = actorId(who);
  if (who.kind === 'user') {
    if ((await userScope(ctx, db, who.principal, op === 'readValue' ? 'read' : 'write'))(subject)) return;
    throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, `${label} may not ${op} under ${target.prefix}`);
  }
  if (who.kind !== 'credential') throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, `${label} may not ${op}`);
  if ((await suspendedPrefix(db, subject)) !== null) throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, `Prefix ${target.prefix} is suspended`);
  // Admins named by the handle itself, and the prefix's admins (its 0.NA record), who administer every handle
  // under it — what SNMS-registered identifiers, which carry no HS_ADMIN of their own, rely on.
  const prefixRecord = parseHandle(prefixRecordHandle(target.prefix), ctx.policy);
  const own = o.onPrefixRecord || prefixRecord.key === target.key;
  const holders = own ? [prefixRecord] : [target, prefixRecord];
  const refs: ReturnType<typeof adminRefsFor> = [];
  for (const h of holders) {
    const values = h.key === target.key && o.current !== undefined ? o.current : await o.read(h.key);
    if (values !== null) refs.push(...adminRefsFor(values));
  }
  const mine = refs.filter((r) => {
    try {
      return parseHandle(r.handle, ctx.policy).key === who.key && (r.index === who.index || r.index === 0);
    } catch {
      return false;
    }
  });
  const holder = holders[0]!;
  if (mine.length === 0) throw new HandleError(RC.INVALID_ADMIN, `${label} is not an administrator of ${holder.handle}`);
  if (!mine.some((r) => adminPermits(r.permissions, op))) {
    throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, `${label} lacks the ${op} permission on ${holder.handle}`);
  }
}

/**
 * Whether `who` may read `target`'s non-public values — secret keys and admin-read-only values (never throws). Only
 * the handle's own admins may: Handle credentials that its HS_ADMIN (or its prefix record's) names with the read
 * permission, and an enterprise's users under the enterprise's own enabled prefixes. Node operators and reviewers
 * administer the node, not the handle: they see the public values only (as Handle.Net omits what a requester may
 * not read), and so does the node admin credential under a prefix whose record does not name it.
 */
export async function mayReadRestricted(ctx: RegistryContext, who: Requester | null, target: HandleId, read: ValuesReader): Promise<boolean> {
  if (who === null) return false;
  if (who.kind === 'system') return true;
  if (!isHomed(ctx, target)) return false;
  try {
    if (who.kind === 'user') {
      if (who.principal.role !== 'enterprise') return false;
      return (await userScope(ctx, ctx.store.db, who.principal, 'write'))(prefixOfPrefixRecord(target) ?? target.prefixKey);
    }
    // the HS_ADMIN decision, without the node admin's right to administer everything
    await authorize(ctx, ctx.store.db, who, target, 'readValue', { onPrefixRecord: false, read, adminsOnly: true });
    return true;
  } catch {
    return false;
  }
}

/** userScope as the store has it now (a face's read decision, outside any write). */
export function currentScope(ctx: RegistryContext, p: Principal, access: Access): Promise<PrefixScope> {
  return userScope(ctx, ctx.store.db, p, access);
}

/** authorize as the store has it now (a face's decision outside any write: listing a prefix, reading). */
export function authorizeNow(ctx: RegistryContext, who: Requester, target: HandleId, op: AdminOp, o: AuthorizeOptions): Promise<void> {
  return authorize(ctx, ctx.store.db, who, target, op, o);
}
