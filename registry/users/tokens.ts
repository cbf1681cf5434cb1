// Logins (plain password and SNMS v1 daily digest) and the signed tokens they issue and verify.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RegistryError, type Principal, type RegistryContext } from '../context.js';
import { hashSecret, SecretsBusyError, verifySecret } from '../secrets.js';
import { principalOf } from './accounts.js';
import { digestVault, keys } from './keys.js';
import { throttleFor, ThrottledError, type LoginThrottle } from './limiter.js';
import { MAX_PASSWORD_LENGTH, sha256hex } from './passwords.js';

export const TOKEN_LIFETIME_SECONDS = 24 * 3600;
const WRONG_CREDENTIALS = '用户名/密码错误！ / wrong username or password';
/** the throttle scope of SNMS and operator accounts (Basic-auth handle credentials have their own) */
export const LOGIN_SCOPE = 'user';
const BAD_TOKEN = 'token invalid or expired';
const V1_OFF = 'v1 登录已停用 / the v1 login (/identity/token/v1) is disabled on this node (SNMS_V1_LOGIN=off): log in with POST /identity/token and the password';
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
 * the same RegistryError('invalid'); an attempt the throttle holds back (too many recent failures of this account
 * from this address, of this address, or of this account from addresses it never logged in from) is
 * RegistryError('locked') saying when to retry, before the password is even looked at; so is a node too busy
 * checking passwords to take one more.
 */
export async function login(ctx: RegistryContext, input: LoginInput, throttle: LoginThrottle = ctx.loginThrottle ?? throttleFor(ctx.store)): Promise<LoginResult> {
  const now = ctx.now();
  const nowMs = now.getTime();
  const username = typeof input.username === 'string' ? input.username.trim() : '';
  const account = username.toLowerCase();
  const address = typeof input.address === 'string' ? input.address : '';
  try {
    await throttle.check(LOGIN_SCOPE, account, address, nowMs);
  } catch (err) {
    if (err instanceof ThrottledError) throw new RegistryError('locked', `登录失败次数过多，请 ${err.retryAfterSeconds} 秒后再试 / too many failed logins: retry in ${err.retryAfterSeconds} s`);
    throw err;
  }

  const password = typeof input.password === 'string' ? input.password : '';
  const row =
    account.length > 0 && account.length <= 50
      ? await ctx.store.db.selectFrom('users').selectAll().where('username_key', '=', account).executeTakeFirst()
      : undefined;

  let ok = false;
  if (input.mode === 'v1') {
    // The client hashes with its own "today"; accept yesterday and tomorrow (Shanghai time) as well, so a login
    // around midnight, or from a client whose clock or timezone is off by some hours, still works.
    const vault = digestVault(ctx);
    if (vault === null) throw new RegistryError('forbidden', V1_OFF);
    const stored = row === undefined ? null : vault.decrypt(row.password_sha256_enc);
    const given = Buffer.from(password.toLowerCase(), 'utf8');
    for (const day of [nowMs, nowMs - DAY_MS, nowMs + DAY_MS]) {
      const expected = Buffer.from(sha256hex((stored ?? '0'.repeat(64)) + shanghaiDate(new Date(day))), 'utf8');
      if (given.length === expected.length && timingSafeEqual(given, expected) && stored !== null) ok = true;
    }
  } else if (password.length <= 4 * MAX_PASSWORD_LENGTH) {
    // unknown users cost the same scrypt run as known ones
    dummyHash ??= hashSecret(sha256hex('idnode-dummy'));
    const stored = row?.password_hash ?? (await dummyHash);
    try {
      ok = (await verifySecret(stored, sha256hex(password))) && row !== undefined;
    } catch (err) {
      if (err instanceof SecretsBusyError) throw new RegistryError('locked', `节点繁忙，请稍后再试 / ${err.message}`);
      throw err;
    }
  }

  if (!ok || row === undefined || row.disabled) {
    await throttle.failed(LOGIN_SCOPE, account, address, nowMs);
    throw new RegistryError('invalid', WRONG_CREDENTIALS);
  }
  await throttle.succeeded(LOGIN_SCOPE, account, address, nowMs);
  const principal = principalOf(row);
  const { token, expiresAt } = await issueToken(ctx, principal.userId, now);
  return { token, expiresAt, principal };
}

/**
 * A signed token for a user: `base64url(JSON {sub, iat, exp, iatMs}).base64url(HMAC-SHA256)`, valid 24 h. `iatMs` (the
 * issue instant in milliseconds) lets a password reset end the tokens issued before it, even within the same second.
 */
export async function issueToken(ctx: RegistryContext, userId: number, now: Date = ctx.now()): Promise<{ token: string; expiresAt: Date }> {
  const iatMs = now.getTime();
  const iat = Math.floor(iatMs / 1000);
  const exp = iat + TOKEN_LIFETIME_SECONDS;
  const body = Buffer.from(JSON.stringify({ sub: userId, iat, exp, iatMs }), 'utf8').toString('base64url');
  const sig = createHmac('sha256', (await keys(ctx)).token).update(body).digest('base64url');
  return { token: `${body}.${sig}`, expiresAt: new Date(exp * 1000) };
}

const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/**
 * Checks a token's signature and expiry, then that its user exists, is enabled, and has not had its tokens ended
 * (users.tokens_valid_after: a password reset or a disable) since the token was issued. Else RegistryError('invalid').
 */
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
  const p = payload as { sub?: unknown; iat?: unknown; exp?: unknown; iatMs?: unknown };
  if (typeof p !== 'object' || p === null || !Number.isSafeInteger(p.sub) || typeof p.exp !== 'number') throw invalid(BAD_TOKEN);
  if (ctx.now().getTime() >= p.exp * 1000) throw invalid(BAD_TOKEN);
  const row = await ctx.store.db.selectFrom('users').selectAll().where('id', '=', p.sub as number).executeTakeFirst();
  if (!row || row.disabled) throw invalid(BAD_TOKEN);
  if (row.tokens_valid_after !== null) {
    // tokens without the millisecond claim count as issued at the start of their second (refused when in doubt)
    const issuedMs = Number.isSafeInteger(p.iatMs) ? (p.iatMs as number) : typeof p.iat === 'number' ? p.iat * 1000 : 0;
    if (issuedMs < row.tokens_valid_after.getTime()) throw invalid(BAD_TOKEN);
  }
  return principalOf(row);
}

function invalid(message: string): RegistryError {
  return new RegistryError('invalid', message);
}
