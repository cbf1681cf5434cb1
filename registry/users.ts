// Users and credentials: the node key, password storage, logins (plain and SNMS v1 digests), failed-login limits, tokens.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { writeAudit } from './audit.js';
import { RegistryError, type Principal, type RegistryContext } from './context.js';
import type { Database, Role, UsersTable } from './db.js';
import { hashSecret, verifySecret } from './secrets.js';
import type { Actor, Store } from './store.js';

// --- node key ---------------------------------------------------------------------------------------------------------

const NODE_KEY_NAME = 'master';

interface Keys {
  master: Buffer;
  /** AES-256-GCM key for password_sha256_enc */
  enc: Buffer;
  /** HMAC-SHA256 key for tokens */
  token: Buffer;
}

const keyCache = new WeakMap<Store, Promise<Keys>>();
/** Keys already loaded, for code that runs inside a transaction and must not query outside it. */
const loadedKeys = new WeakMap<Store, Keys>();

/**
 * The node's 32-byte master key, kept in node_keys ('master') and created on first use. Every instance sharing the
 * database derives the same token and encryption keys from it.
 */
export async function nodeKey(ctx: RegistryContext): Promise<Buffer> {
  return (await keys(ctx)).master;
}

function keys(ctx: RegistryContext): Promise<Keys> {
  let p = keyCache.get(ctx.store);
  if (p === undefined) {
    const store = ctx.store;
    p = loadKeys(store.db).then((k) => {
      loadedKeys.set(store, k);
      return k;
    });
    keyCache.set(store, p);
    // a failed load (database down) is retried by the next caller
    p.catch(() => keyCache.delete(ctx.store));
  }
  return p;
}

async function loadKeys(db: Kysely<Database>): Promise<Keys> {
  await db
    .insertInto('node_keys')
    .values({ name: NODE_KEY_NAME, value: randomBytes(32).toString('base64') })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('node_keys').select('value').where('name', '=', NODE_KEY_NAME).executeTakeFirstOrThrow();
  const master = Buffer.from(row.value, 'base64');
  if (master.length !== 32) throw new Error(`node_keys '${NODE_KEY_NAME}' is not 32 bytes of base64`);
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, 'idnode', info, 32));
  return { master, enc: derive('idnode password-sha256 encryption v1'), token: derive('idnode token signing v1') };
}

// --- passwords --------------------------------------------------------------------------------------------------------

/** A password as a user types it, or as SNMS clients send it at apply time: its lower-case hex SHA-256. */
export type PasswordInput = { plain: string } | { sha256: string };

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 128;

export function sha256hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** The sha256hex every credential check is keyed on; throws RegistryError('invalid') for a weak or malformed password. */
export function passwordDigest(password: PasswordInput): string {
  if (typeof password !== 'object' || password === null) throw invalid('密码缺失 / password is missing');
  if ('plain' in password) {
    const p = password.plain;
    if (typeof p !== 'string') throw invalid('密码必须是字符串 / password must be a string');
    const n = [...p].length;
    if (n < MIN_PASSWORD_LENGTH) throw invalid(`密码至少${MIN_PASSWORD_LENGTH}位 / password must have at least ${MIN_PASSWORD_LENGTH} characters`);
    if (n > MAX_PASSWORD_LENGTH) throw invalid(`密码最多${MAX_PASSWORD_LENGTH}位 / password must have at most ${MAX_PASSWORD_LENGTH} characters`);
    return sha256hex(p);
  }
  if ('sha256' in password) {
    const h = password.sha256;
    if (typeof h !== 'string' || !/^[0-9a-fA-F]{64}$/.test(h)) {
      throw invalid('密码摘要应为64位十六进制 / password digest must be 64 hex characters (sha256)');
    }
    return h.toLowerCase();
  }
  throw invalid('密码缺失 / password is missing');
}

const USERNAME_RE = /^[A-Za-z0-9_.@-]{3,50}$/;

/** Checks a username (3–50 of `A-Z a-z 0-9 _ . @ -`) and returns it trimmed. */
export function checkUsername(username: unknown): string {
  if (typeof username !== 'string') throw invalid('用户名缺失 / username is missing');
  const u = username.trim();
  if (!USERNAME_RE.test(u)) {
    throw invalid('用户名应为3-50位字母、数字或 _ . @ - / username must be 3-50 characters of A-Z a-z 0-9 _ . @ -');
  }
  return u;
}

/** `iv.tag.ct` (base64) of the sha256hex under the node's encryption key. */
function encryptDigest(k: Keys, digest: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k.enc, iv);
  const ct = Buffer.concat([cipher.update(digest, 'utf8'), cipher.final()]);
  return `${iv.toString('base64')}.${cipher.getAuthTag().toString('base64')}.${ct.toString('base64')}`;
}

function decryptDigest(k: Keys, stored: string): string | null {
  const parts = stored.split('.');
  if (parts.length !== 3) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', k.enc, Buffer.from(parts[0]!, 'base64'));
    decipher.setAuthTag(Buffer.from(parts[1]!, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(parts[2]!, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

async function credentialColumns(ctx: RegistryContext, password: PasswordInput, inTransaction = false) {
  const digest = passwordDigest(password);
  const loaded = loadedKeys.get(ctx.store);
  // PGlite has one connection: loading the key from inside a transaction would wait for that transaction forever
  if (inTransaction && loaded === undefined) {
    throw new Error('createUser inside a transaction needs the node key loaded first: await nodeKey(ctx) before opening it');
  }
  const k = loaded ?? (await keys(ctx));
  return { password_hash: await hashSecret(digest), password_sha256_enc: encryptDigest(k, digest) };
}

// --- users ------------------------------------------------------------------------------------------------------------

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
 * Creates a user (audited). Pass `trx` to create it inside the caller's transaction (enterprise apply); the caller
 * must have loaded the node key (`await nodeKey(ctx)`) before opening it. A username taken case-insensitively →
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
  const cols = await credentialColumns(ctx, input.password, trx !== undefined);
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

/** Replaces a user's password (audited without the secret). */
export async function setPassword(ctx: RegistryContext, userId: number, password: PasswordInput, actor: Actor): Promise<void> {
  const cols = await credentialColumns(ctx, password);
  await updateUser(ctx, userId, 'user.password', actor, cols);
}

/** Disables or re-enables a user; a disabled user can neither log in nor use its tokens. */
export async function setUserDisabled(ctx: RegistryContext, userId: number, disabled: boolean, actor: Actor): Promise<void> {
  await updateUser(ctx, userId, disabled ? 'user.disable' : 'user.enable', actor, { disabled });
}

async function updateUser(
  ctx: RegistryContext,
  userId: number,
  action: string,
  actor: Actor,
  set: { password_hash?: string; password_sha256_enc?: string; disabled?: boolean },
): Promise<void> {
  await ctx.store.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('users').selectAll().where('id', '=', userId).forUpdate().executeTakeFirst();
    if (!before) throw new RegistryError('not-found', `用户不存在 / no user with id ${userId}`);
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

function principalOf(r: UserRow): Principal {
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

// --- failed-login limits ----------------------------------------------------------------------------------------------

export interface LoginLimits {
  /** failures per account within the window before further attempts are refused; default 5 */
  perAccount: number;
  /** failures per client address within the window; default 20 */
  perAddress: number;
  /** default 15 minutes */
  windowMs: number;
  /** most keys remembered per kind (oldest dropped first), bounding memory under address spraying; default 100 000 */
  maxKeys: number;
}

const DEFAULT_LIMITS: LoginLimits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000, maxKeys: 100_000 };

/**
 * In-memory failed-login counters (sliding window), per account and per client address. Per process: with N
 * instances an attacker gets N× the budget; the limits are a brake on guessing, not an exact quota.
 */
export class LoginLimiter {
  readonly limits: LoginLimits;
  readonly #accounts = new Map<string, number[]>();
  readonly #addresses = new Map<string, number[]>();

  constructor(limits: Partial<LoginLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Throws RegistryError('locked') when the account or the address has used up its failures. */
  check(account: string, address: string, nowMs: number): void {
    if (
      count(this.#accounts, account, nowMs, this.limits.windowMs) >= this.limits.perAccount ||
      (address !== '' && count(this.#addresses, address, nowMs, this.limits.windowMs) >= this.limits.perAddress)
    ) {
      throw new RegistryError('locked', '登录失败次数过多，请稍后再试 / too many failed logins, try again later');
    }
  }

  failed(account: string, address: string, nowMs: number): void {
    record(this.#accounts, account, nowMs, this.limits);
    if (address !== '') record(this.#addresses, address, nowMs, this.limits);
  }

  succeeded(account: string): void {
    this.#accounts.delete(account);
  }
}

function count(map: Map<string, number[]>, key: string, nowMs: number, windowMs: number): number {
  const list = map.get(key);
  if (list === undefined) return 0;
  const recent = list.filter((t) => t > nowMs - windowMs);
  if (recent.length === 0) map.delete(key);
  else if (recent.length !== list.length) map.set(key, recent);
  return recent.length;
}

function record(map: Map<string, number[]>, key: string, nowMs: number, limits: LoginLimits): void {
  const recent = (map.get(key) ?? []).filter((t) => t > nowMs - limits.windowMs);
  recent.push(nowMs);
  // keep no more than the largest limit needs, and move the key to the end (most recent)
  map.delete(key);
  map.set(key, recent.slice(-Math.max(limits.perAccount, limits.perAddress)));
  while (map.size > limits.maxKeys) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}

const limiters = new WeakMap<Store, LoginLimiter>();

/** The default limiter of a store (one per store per process), used by login() when none is passed. */
export function limiterFor(store: Store): LoginLimiter {
  let l = limiters.get(store);
  if (l === undefined) {
    l = new LoginLimiter();
    limiters.set(store, l);
  }
  return l;
}

// --- login and tokens -------------------------------------------------------------------------------------------------

export const TOKEN_LIFETIME_SECONDS = 24 * 3600;
const WRONG_CREDENTIALS = '用户名/密码错误！ / wrong username or password';
const BAD_TOKEN = 'token invalid or expired';
const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

export interface LoginInput {
  username: string;
  password: string;
  /** `plain`: POST /identity/token; `v1`: /identity/token/v1 (sha256hex(sha256hex(pwd) + yyyy-MM-dd)) */
  mode: 'plain' | 'v1';
  /** the client address, for the per-address failure limit ('' when unknown) */
  address: string;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  principal: Principal;
}

/** `yyyy-MM-dd` of an instant in Asia/Shanghai (UTC+8 all year: China has no daylight saving time). */
export function shanghaiDate(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

let dummyHash: Promise<string> | null = null;

/**
 * Checks a username and password and issues a token. Any failure (unknown user, wrong password, disabled user) is
 * the same RegistryError('invalid'); too many recent failures for the account or the address → RegistryError('locked')
 * before the password is even looked at.
 */
export async function login(ctx: RegistryContext, input: LoginInput, limiter: LoginLimiter = limiterFor(ctx.store)): Promise<LoginResult> {
  const now = ctx.now();
  const nowMs = now.getTime();
  const username = typeof input.username === 'string' ? input.username.trim() : '';
  const account = username.toLowerCase();
  const address = typeof input.address === 'string' ? input.address : '';
  limiter.check(account, address, nowMs);

  const password = typeof input.password === 'string' ? input.password : '';
  const row =
    account.length > 0 && account.length <= 50
      ? await ctx.store.db.selectFrom('users').selectAll().where('username_key', '=', account).executeTakeFirst()
      : undefined;

  let ok = false;
  if (input.mode === 'v1') {
    // The client hashes with its own "today"; accept yesterday and tomorrow (Shanghai time) as well, so a login
    // around midnight, or from a client whose clock or timezone is off by some hours, still works.
    const stored = row === undefined ? null : decryptDigest(await keys(ctx), row.password_sha256_enc);
    const given = Buffer.from(password.toLowerCase(), 'utf8');
    for (const day of [nowMs, nowMs - DAY_MS, nowMs + DAY_MS]) {
      const expected = Buffer.from(sha256hex((stored ?? '0'.repeat(64)) + shanghaiDate(new Date(day))), 'utf8');
      if (given.length === expected.length && timingSafeEqual(given, expected) && stored !== null) ok = true;
    }
  } else if (password.length <= 4 * MAX_PASSWORD_LENGTH) {
    // unknown users cost the same scrypt run as known ones
    dummyHash ??= hashSecret(sha256hex('idnode-dummy'));
    const stored = row?.password_hash ?? (await dummyHash);
    ok = (await verifySecret(stored, sha256hex(password))) && row !== undefined;
  }

  if (!ok || row === undefined || row.disabled) {
    limiter.failed(account, address, nowMs);
    throw new RegistryError('invalid', WRONG_CREDENTIALS);
  }
  limiter.succeeded(account);
  const principal = principalOf(row);
  const { token, expiresAt } = await issueToken(ctx, principal.userId, now);
  return { token, expiresAt, principal };
}

/** A signed token for a user: `base64url(JSON {sub, iat, exp}).base64url(HMAC-SHA256)`, valid 24 h. */
export async function issueToken(ctx: RegistryContext, userId: number, now: Date = ctx.now()): Promise<{ token: string; expiresAt: Date }> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + TOKEN_LIFETIME_SECONDS;
  const body = Buffer.from(JSON.stringify({ sub: userId, iat, exp }), 'utf8').toString('base64url');
  const sig = createHmac('sha256', (await keys(ctx)).token).update(body).digest('base64url');
  return { token: `${body}.${sig}`, expiresAt: new Date(exp * 1000) };
}

const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** Checks a token's signature and expiry, then that its user exists and is enabled. Else RegistryError('invalid'). */
export async function verifyToken(ctx: RegistryContext, token: string): Promise<Principal> {
  if (typeof token !== 'string' || token.length > 1024) throw invalid(BAD_TOKEN);
  const parts = token.split('.');
  if (parts.length !== 2 || !B64URL_RE.test(parts[0]!) || !B64URL_RE.test(parts[1]!)) throw invalid(BAD_TOKEN);
  const [body, sig] = parts as [string, string];
  const expected = createHmac('sha256', (await keys(ctx)).token).update(body).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid(BAD_TOKEN);
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalid(BAD_TOKEN);
  }
  const p = payload as { sub?: unknown; iat?: unknown; exp?: unknown };
  if (typeof p !== 'object' || p === null || !Number.isSafeInteger(p.sub) || typeof p.exp !== 'number') throw invalid(BAD_TOKEN);
  if (ctx.now().getTime() >= p.exp * 1000) throw invalid(BAD_TOKEN);
  const row = await ctx.store.db.selectFrom('users').selectAll().where('id', '=', p.sub as number).executeTakeFirst();
  if (!row || row.disabled) throw invalid(BAD_TOKEN);
  return principalOf(row);
}

// --- helpers ----------------------------------------------------------------------------------------------------------

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
