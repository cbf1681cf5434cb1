// HS_SECKEY secrets and password hashes: scrypt at the node's one cost policy, checked in constant time, scrypt work bounded.
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PREFIX = 'scrypt$';
/** The node's key-derivation cost. The node decides it, never a stored value: a hash with other parameters is refused. */
export const SCRYPT_POLICY = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEYLEN = 32;
const MAXMEM = 64 * 1024 * 1024;
/** scrypt runs at once (each ~16 MiB and ~50 ms of a libuv thread); more wait in the queue */
const MAX_RUNNING = 2;
/** verifications waiting beyond that many are answered busy at once, rather than stalling every other login */
const MAX_QUEUED = 16;

/** Too many secret checks are running or waiting: the caller answers "busy, retry shortly". */
export class SecretsBusyError extends Error {
  constructor() {
    super('the node is busy checking credentials: retry in a second');
    this.name = 'SecretsBusyError';
  }
}

let running = 0;
const waiting: (() => void)[] = [];

/**
 * Runs one scrypt under the process-wide bound: MAX_RUNNING at once; `queue: 'bounded'` callers (credential checks,
 * driven by anonymous requests) are refused with SecretsBusyError when MAX_QUEUED already wait; `queue: 'unbounded'`
 * callers (hashing at write, by authenticated writers) always wait their turn.
 */
async function bounded<T>(queue: 'bounded' | 'unbounded', fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) {
    if (queue === 'bounded' && waiting.length >= MAX_QUEUED) throw new SecretsBusyError();
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else running += 1;
  try {
    return await fn();
  } finally {
    // hand the slot straight to the next waiter (running stays the same), or free it
    const next = waiting.shift();
    if (next !== undefined) next();
    else running -= 1;
  }
}

function scryptAsync(secret: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEYLEN, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** scrypt of `secret` at the node's policy (bounded like every other run). */
function derive(secret: string, salt: Buffer, queue: 'bounded' | 'unbounded'): Promise<Buffer> {
  return bounded(queue, () => scryptAsync(secret, salt, { ...SCRYPT_POLICY, maxmem: MAXMEM }));
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>` at the node's policy. Waits its turn (never busy). */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(secret, salt, 'unbounded');
  const { N, r, p } = SCRYPT_POLICY;
  return `${PREFIX}${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether a stored value claims to be a scrypt hash (whatever its parameters). */
export function isHashedSecret(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

const B64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** The salt and key of a hash made at exactly the node's policy (16-byte salt, 32-byte key); null for anything else. */
function policyHash(stored: string): { salt: Buffer; key: Buffer } | null {
  if (!isHashedSecret(stored)) return null;
  const parts = stored.slice(PREFIX.length).split('$');
  if (parts.length !== 5) return null;
  const [n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string];
  const { N, r: R, p: P } = SCRYPT_POLICY;
  if (n !== String(N) || r !== String(R) || p !== String(P)) return null;
  if (!B64_RE.test(saltB64) || !B64_RE.test(keyB64)) return null;
  const salt = Buffer.from(saltB64, 'base64');
  const key = Buffer.from(keyB64, 'base64');
  return salt.length === SALT_BYTES && key.length === KEYLEN ? { salt, key } : null;
}

/** Whether a stored value is a hash this node made or would make (its exact parameters and sizes). */
export function isPolicyHash(stored: string): boolean {
  return policyHash(stored) !== null;
}

const DUMMY_SALT = Buffer.alloc(SALT_BYTES);

/**
 * True when `candidate` matches `stored`. A hash at the node's policy is checked with scrypt; a hash with any other
 * parameters fails like a wrong secret at the same cost (scrypt runs at the node's policy on a dummy salt, never at
 * the stored parameters); a plain value (an HS_SECKEY written before secrets were hashed at write, as Handle.Net
 * stores them) is compared in constant time. With `queue: 'bounded'` (credential checks) throws SecretsBusyError
 * when too many checks already wait.
 */
export async function verifySecret(stored: string, candidate: string, queue: 'bounded' | 'unbounded' = 'bounded'): Promise<boolean> {
  if (!isHashedSecret(stored)) {
    // digests of equal length: the comparison reveals neither the secret's length nor where it differs
    const a = createHash('sha256').update(stored, 'utf8').digest();
    const b = createHash('sha256').update(candidate, 'utf8').digest();
    return timingSafeEqual(a, b);
  }
  const parsed = policyHash(stored);
  const key = await derive(candidate, parsed?.salt ?? DUMMY_SALT, queue);
  return parsed !== null && timingSafeEqual(key, parsed.key);
}

/** A random secret for a first start without ADMIN_SECRET. */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}
