// HS_SECKEY secrets: stored as scrypt hashes (never the secret itself) and checked in constant time.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PREFIX = 'scrypt$';
const PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEYLEN = 32;

function scryptAsync(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>` */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, KEYLEN, { ...PARAMS, maxmem: 64 * 1024 * 1024 });
  return `${PREFIX}${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isHashedSecret(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/**
 * True when `candidate` matches `stored`: a scrypt hash written by hashSecret, or (for HS_SECKEY values that
 * clients wrote themselves, as Handle.Net stores them) the plain secret.
 */
export async function verifySecret(stored: string, candidate: string): Promise<boolean> {
  if (!isHashedSecret(stored)) {
    const a = Buffer.from(stored, 'utf8');
    const b = Buffer.from(candidate, 'utf8');
    return a.length === b.length && timingSafeEqual(a, b);
  }
  const parts = stored.slice(PREFIX.length).split('$');
  if (parts.length !== 5) return false;
  const [n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (![N, R, P].every((x) => Number.isInteger(x) && x > 0) || N > 1 << 20 || R > 32 || P > 16) return false;
  const expected = Buffer.from(hashB64, 'base64');
  if (expected.length === 0) return false;
  const key = await scryptAsync(candidate, Buffer.from(saltB64, 'base64'), expected.length, {
    N,
    r: R,
    p: P,
    maxmem: 256 * N * R + 1024 * 1024,
  });
  return timingSafeEqual(key, expected);
}

/** A random secret for a first start without ADMIN_SECRET. */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}
