// User accounts: creating, listing, re-passwording, disabling, re-roling and reading users (audited), and the bootstrap operator.
import type { Selectable, Transaction } from 'kysely';
import { writeAudit } from '../audit.js';
import { RegistryError, type Principal, type RegistryContext } from '../context.js';
import type { Database, Role, UsersTable } from '../db.js';
import { verifySecret } from '../secrets.js';
import type { Actor } from '../store.js';
import { checkUsername, credentialColumns, passwordDigest, type PasswordInput } from './passwords.js';

const ROLES: readonly Role[] = ['operator', 'reviewer', 'enterprise'];
type UserRow = Selectable<UsersTable>;

export interface NewUser {
  username: string;
  password: PasswordInput;
  role: Role;
  /** required for role `enterprise`, null otherwise */
  enterpriseId: number | null;
}

/** The user row as audited: never the password columns. */
export function userJson(r: UserRow) {
  return {
    id: Number(r.id),
    username: r.username,
    role: r.role,
    enterprise_id: r.enterprise_id === null ? null : Number(r.enterprise_id),
    disabled: r.disabled,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

/**
 * Creates a user (audited). Pass `trx` to create it inside the caller's transaction (enterprise apply). A username
 * taken case-insensitively →
 * RegistryError('conflict').
 */
export async function createUser(
  ctx: RegistryContext,
  input: NewUser,
  actor: Actor,
  trx?: Transaction<Database>,
): Promise<{ id: number }> {
  const username = checkUsername(input.username);
  if (!ROLES.includes(input.role)) throw invalid(`未知角色 / unknown role: ${String(input.role)}`);
  const enterpriseId = input.enterpriseId ?? null;
  if ((input.role === 'enterprise') !== (enterpriseId !== null)) {
    throw invalid('企业用户必须且只有企业用户关联企业 / role enterprise needs an enterprise id, other roles must have none');
  }
  const cols = await credentialColumns(ctx, input.password);
  const run = async (db: Transaction<Database>) => {
    const key = username.toLowerCase();
    if (await db.selectFrom('users').select('id').where('username_key', '=', key).executeTakeFirst()) throw usernameTaken();
    const now = ctx.now();
    const row = await db
      .insertInto('users')
      .values({ username, username_key: key, ...cols, role: input.role, enterprise_id: enterpriseId, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(db, {
      actor,
      action: 'user.create',
      entity: 'user',
      entityId: username,
      enterpriseId,
      before: null,
      after: userJson(row),
    });
    return { id: Number(row.id) };
  };
  if (trx !== undefined) return run(trx);
  try {
    return await ctx.store.db.transaction().execute(run);
  } catch (err) {
    if (isUniqueViolation(err)) throw usernameTaken();
    throw err;
  }
}

/**
 * Replaces a user's password (audited without the secret; the password policy is createUser's) and ends every token
 * issued before it (users.tokens_valid_after).
 */
export async function setPassword(ctx: RegistryContext, userId: number, password: PasswordInput, actor: Actor): Promise<void> {
  const cols = await credentialColumns(ctx, password);
  await updateUser(ctx, userId, 'user.password', actor, { ...cols, tokens_valid_after: ctx.now() });
}

/**
 * Disables or re-enables a user; a disabled user can neither log in nor use its tokens, and the tokens it held stay
 * ended when it is enabled again (a disable sets users.tokens_valid_after).
 */
export async function setUserDisabled(ctx: RegistryContext, userId: number, disabled: boolean, actor: Actor): Promise<void> {
  await updateUser(ctx, userId, disabled ? 'user.disable' : 'user.enable', actor, disabled ? { disabled, tokens_valid_after: ctx.now() } : { disabled });
}

/**
 * Changes the role of a node account between `operator` and `reviewer` (audited as `user.role`). Enterprise accounts
 * keep theirs (a role of `enterprise` belongs to its enterprise). Takes effect on the user's next request: tokens
 * carry the user id, and every check reads the role from the row.
 */
export async function setUserRole(ctx: RegistryContext, userId: number, role: Role, actor: Actor): Promise<void> {
  if (role !== 'operator' && role !== 'reviewer') throw invalid('角色只能是 operator 或 reviewer / role must be operator or reviewer');
  await updateUser(ctx, userId, 'user.role', actor, { role }, (before) => {
    if (before.role === 'enterprise' || before.enterprise_id !== null) {
      throw invalid('企业账号的角色不能更改 / an enterprise account keeps its role: only operator and reviewer accounts change roles');
    }
  });
}

/** One user as listed for operators (no secrets). */
export interface UserListItem {
  id: number;
  username: string;
  role: Role;
  enterpriseId: number | null;
  enterpriseName: string | null;
  disabled: boolean;
  createdAt: Date;
}

export interface UserQuery {
  role?: Role | undefined;
  /** substring of the username, case-insensitive */
  q?: string | undefined;
  /** 1-based */
  page: number;
  /** 1 … 100 */
  pageSize: number;
}

/** A page of the node's users by id, with their enterprise's name, and how many match. */
export async function listUsers(ctx: RegistryContext, q: UserQuery): Promise<{ total: number; items: UserListItem[] }> {
  if (!Number.isInteger(q.page) || q.page < 1 || q.page > 100_000) throw invalid('页码应为1-100000 / currentPage must be 1-100000');
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > 100) throw invalid('每页条数应为1-100 / pageSize must be 1-100');
  if (q.role !== undefined && !ROLES.includes(q.role)) throw invalid(`未知角色 / unknown role: ${String(q.role)} (operator, reviewer, enterprise)`);
  let base = ctx.store.db.selectFrom('users as u').leftJoin('enterprises as e', 'e.id', 'u.enterprise_id');
  if (q.role !== undefined) base = base.where('u.role', '=', q.role);
  if (q.q !== undefined && q.q !== '') base = base.where('u.username_key', 'like', `%${q.q.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`);
  const [count, rows] = await Promise.all([
    base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
    base
      .select(['u.id', 'u.username', 'u.role', 'u.enterprise_id', 'e.name', 'u.disabled', 'u.created_at'])
      .orderBy('u.id')
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize)
      .execute(),
  ]);
  return {
    total: Number(count.n),
    items: rows.map((r) => ({
      id: Number(r.id),
      username: r.username,
      role: r.role,
      enterpriseId: r.enterprise_id === null ? null : Number(r.enterprise_id),
      enterpriseName: r.name,
      disabled: r.disabled,
      createdAt: r.created_at,
    })),
  };
}

async function updateUser(
  ctx: RegistryContext,
  userId: number,
  action: string,
  actor: Actor,
  set: { password_hash?: string; password_sha256_enc?: string; disabled?: boolean; role?: Role; tokens_valid_after?: Date },
  check?: (before: UserRow) => void,
): Promise<void> {
  if (!Number.isSafeInteger(userId) || userId < 1) throw new RegistryError('not-found', `用户不存在 / no user with id ${String(userId)}`);
  await ctx.store.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('users').selectAll().where('id', '=', userId).forUpdate().executeTakeFirst();
    if (!before) throw new RegistryError('not-found', `用户不存在 / no user with id ${userId}`);
    check?.(before);
    const after = await trx
      .updateTable('users')
      .set({ ...set, updated_at: ctx.now() })
      .where('id', '=', userId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, {
      actor,
      action,
      entity: 'user',
      entityId: before.username,
      enterpriseId: before.enterprise_id === null ? null : Number(before.enterprise_id),
      before: userJson(before),
      after: userJson(after),
    });
  });
}

export async function getUser(ctx: RegistryContext, userId: number): Promise<Principal & { disabled: boolean }> {
  const row = await ctx.store.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  if (!row) throw new RegistryError('not-found', `用户不存在 / no user with id ${userId}`);
  return { ...principalOf(row), disabled: row.disabled };
}

/** The users of an enterprise (no secrets). */
export async function usersOf(ctx: RegistryContext, enterpriseId: number): Promise<(Principal & { disabled: boolean })[]> {
  const rows = await ctx.store.db.selectFrom('users').selectAll().where('enterprise_id', '=', enterpriseId).orderBy('id').execute();
  return rows.map((r) => ({ ...principalOf(r), disabled: r.disabled }));
}

/** The principal a user row authenticates as (what tokens and logins hand out). */
export function principalOf(r: UserRow): Principal {
  return {
    userId: Number(r.id),
    username: r.username,
    role: r.role,
    enterpriseId: r.enterprise_id === null ? null : Number(r.enterprise_id),
  };
}

/**
 * Bootstrap: makes sure an operator `username` exists with password `secret` (plain); creates it if missing, resets
 * the password if it no longer matches. Actor `system`.
 */
export async function ensureOperator(ctx: RegistryContext, username: string, secret: string): Promise<void> {
  const actor: Actor = { id: 'system' };
  const name = checkUsername(username);
  for (let attempt = 0; attempt < 2; attempt++) {
    const row = await ctx.store.db.selectFrom('users').selectAll().where('username_key', '=', name.toLowerCase()).executeTakeFirst();
    if (row === undefined) {
      try {
        await createUser(ctx, { username: name, password: { plain: secret }, role: 'operator', enterpriseId: null }, actor);
        return;
      } catch (err) {
        // another instance created it first: check its password on the next pass
        if (err instanceof RegistryError && err.kind === 'conflict') continue;
        throw err;
      }
    }
    if (row.role !== 'operator') {
      throw new RegistryError('conflict', `用户 ${row.username} 已存在且不是运维账号 / user ${row.username} exists with role ${row.role}, not operator`);
    }
    const digest = passwordDigest({ plain: secret });
    if (!(await verifySecret(row.password_hash, digest))) await setPassword(ctx, Number(row.id), { plain: secret }, actor);
    return;
  }
}

function invalid(message: string): RegistryError {
  return new RegistryError('invalid', message);
}

function usernameTaken(): RegistryError {
  return new RegistryError('conflict', '用户名已存在 / username already taken');
}

/** Postgres unique_violation (23505), from `pg` and PGlite alike. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}
