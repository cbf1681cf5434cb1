// Passwords and usernames: checking them, the sha256hex digest every login is keyed on, and the stored credential columns.
import { createHash } from 'node:crypto';
import { RegistryError, type RegistryContext } from '../context.js';
import { hashSecret } from '../secrets.js';
import { digestVault } from './keys.js';

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

/**
 * The users columns that store a password: its scrypt hash (plain logins) and its SNMS v1 digest encrypted under the
 * newest key of the vault, which the database never holds ('' when the v1 login is off: no digest is kept).
 */
export async function credentialColumns(ctx: RegistryContext, password: PasswordInput) {
  const digest = passwordDigest(password);
  const vault = digestVault(ctx);
  return { password_hash: await hashSecret(digest), password_sha256_enc: vault === null ? '' : vault.encrypt(digest) };
}

function invalid(message: string): RegistryError {
  return new RegistryError('invalid', message);
}
