// Handle challenge-response proofs: checking (and, for clients and tests, making) HS_SECKEY MACs and HS_PUBKEY signatures over nonce‖request digest.
import { createHash, createHmac, createPublicKey, pbkdf2, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { KeyData } from './types.js';
import { decodePublicKeyAnswer, decodeSecretKeyAnswer, encodePublicKeyAnswer, encodeSecretKeyAnswer, MAC_ALG, signatureHash, type SecretKeyAnswer } from './wire/admin.js';
import { WireError } from './wire/bytes.js';

// What is proven (SecretKeyAuthenticationInfo / PublicKeyAuthenticationInfo, HandleServer.verifyChallenge): the
// challenge's nonce followed by the digest bytes of the challenged request (the digest section without its algorithm
// byte). A secret key is used as its UTF-8 bytes (the HS_SECKEY value's data).

/** PBKDF2 parameters a client may ask for: Handle.Net sends 10 000 iterations, 160 bits, a 16-byte salt; the client chooses the cost, so it is capped at twice that. */
export const PBKDF2_LIMITS = { maxIterations: 20_000, maxKeyBits: 512, maxSaltBytes: 64 } as const;

/** nonce ‖ the request digest's bytes (the digest section's algorithm byte dropped). */
export function challengeInput(nonce: Uint8Array, digestSection: Uint8Array): Buffer {
  return Buffer.concat([nonce, digestSection.subarray(1)]);
}

function pbkdf2Async(secret: Uint8Array, salt: Uint8Array, iterations: number, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2(secret, salt, iterations, bytes, 'sha1', (err, key) => (err ? reject(err) : resolve(key))));
}

/** The MAC `alg` makes of `input` with `secret` (Util.doMac); null for an algorithm or parameters this node refuses. */
async function macOf(a: SecretKeyAnswer, secret: Buffer, input: Buffer): Promise<Buffer | null> {
  switch (a.alg) {
    case MAC_ALG.SHA1:
      return createHash('sha1').update(secret).update(input).update(secret).digest();
    case MAC_ALG.SHA256:
      return createHash('sha256').update(secret).update(input).update(secret).digest();
    case MAC_ALG.HMAC_SHA1:
      return createHmac('sha1', secret).update(input).digest();
    case MAC_ALG.HMAC_SHA256:
      return createHmac('sha256', secret).update(input).digest();
    case MAC_ALG.PBKDF2_HMAC_SHA1: {
      const p = a.pbkdf2;
      if (p === undefined) return null;
      // the client chooses the cost: bounded before any work is done
      if (p.iterations < 1 || p.iterations > PBKDF2_LIMITS.maxIterations) return null;
      if (p.keyLengthBits < 8 || p.keyLengthBits > PBKDF2_LIMITS.maxKeyBits || p.keyLengthBits % 8 !== 0) return null;
      if (p.salt.byteLength > PBKDF2_LIMITS.maxSaltBytes) return null;
      const key = await pbkdf2Async(secret, p.salt, p.iterations, p.keyLengthBits / 8);
      return createHmac('sha1', key).update(input).digest();
    }
    default:
      // MD5 (1) and anything else: refused
      return null;
  }
}

/**
 * Whether `signed` (an HS_SECKEY challenge answer's signed response) proves knowledge of `secret` for this challenge.
 * Undecodable answers, refused algorithms (MD5, the pre-2.1 format) and out-of-bounds PBKDF2 parameters are false.
 */
export async function verifySecretKeyAnswer(signed: Uint8Array, secret: string, nonce: Uint8Array, digestSection: Uint8Array): Promise<boolean> {
  let a: SecretKeyAnswer;
  try {
    a = decodeSecretKeyAnswer(signed);
  } catch (e) {
    if (e instanceof WireError) return false;
    throw e;
  }
  const expected = await macOf(a, Buffer.from(secret, 'utf8'), challengeInput(nonce, digestSection));
  return expected !== null && expected.byteLength === a.mac.byteLength && timingSafeEqual(expected, a.mac);
}

/** An HS_SECKEY answer as a Handle.Net client makes it (PBKDF2_HMAC_SHA1 by default: random salt, 10 000 iterations, 160 bits). */
export async function signSecretKeyAnswer(secret: string, nonce: Uint8Array, digestSection: Uint8Array, alg: number = MAC_ALG.PBKDF2_HMAC_SHA1): Promise<Buffer> {
  const pbkdf2Params = alg === MAC_ALG.PBKDF2_HMAC_SHA1 ? { salt: randomBytes(16), iterations: 10_000, keyLengthBits: 160 } : undefined;
  const draft: SecretKeyAnswer = { alg, mac: new Uint8Array(0), ...(pbkdf2Params ? { pbkdf2: pbkdf2Params } : {}) };
  const mac = await macOf(draft, Buffer.from(secret, 'utf8'), challengeInput(nonce, digestSection));
  if (mac === null) throw new RangeError(`cannot make a secret key answer with algorithm ${alg}`);
  return encodeSecretKeyAnswer({ ...draft, mac });
}

// ---- public keys ----

/** base64 or base64url (padded or not) → bytes; null when absent or empty. */
function b64u(raw: unknown): Buffer | null {
  if (typeof raw !== 'string') return null;
  const bytes = Buffer.from(raw.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  return bytes.length > 0 ? bytes : null;
}

/** DER length octets. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** A DER INTEGER of an unsigned big-endian number. */
function derUint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  return der(0x02, (v[0] ?? 0) >= 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** id-dsa, 1.2.840.10040.4.1 */
const OID_DSA = Buffer.from([0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01]);

/**
 * A node:crypto public key from an HS_PUBKEY's JSON form ({kty:'RSA', n, e} or {kty:'DSA', y, p, q, g}); null when
 * the key is not one node:crypto accepts.
 */
export function publicKeyFromData(k: KeyData): KeyObject | null {
  try {
    const kty = typeof k.kty === 'string' ? k.kty.toUpperCase() : '';
    if (kty === 'RSA') {
      const [n, e] = [b64u(k.n), b64u(k.e)];
      if (n === null || e === null) return null;
      return createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' });
    }
    if (kty === 'DSA') {
      const [p, q, g, y] = [b64u(k.p), b64u(k.q), b64u(k.g), b64u(k.y)];
      if (p === null || q === null || g === null || y === null) return null;
      // SubjectPublicKeyInfo { AlgorithmIdentifier { id-dsa, Dss-Parms { p, q, g } }, BIT STRING { INTEGER y } }
      const spki = der(0x30, der(0x30, OID_DSA, der(0x30, derUint(p), derUint(q), derUint(g))), der(0x03, Buffer.from([0]), derUint(y)));
      return createPublicKey({ key: spki, format: 'der', type: 'spki' });
    }
  } catch {
    return null;
  }
  return null;
}

/**
 * Whether `signed` (an HS_PUBKEY challenge answer's signed response) is a signature over this challenge by the
 * private half of `key`: SHA1withRSA / SHA256withRSA (PKCS#1 v1.5) or SHA1withDSA / SHA256withDSA (DER r,s), as the
 * answer's hash id says. Undecodable answers and other hashes (MD5) are false.
 */
export function verifyPublicKeyAnswer(signed: Uint8Array, key: KeyObject, nonce: Uint8Array, digestSection: Uint8Array): boolean {
  let a: { hashAlg: Uint8Array; signature: Uint8Array };
  try {
    a = decodePublicKeyAnswer(signed);
  } catch (e) {
    if (e instanceof WireError) return false;
    throw e;
  }
  const hash = signatureHash(a.hashAlg);
  if (hash === null) return false;
  try {
    return verify(hash, challengeInput(nonce, digestSection), key, a.signature);
  } catch {
    return false;
  }
}

/** An HS_PUBKEY answer as a Handle.Net client makes it (SHA256with<alg> from protocol 2.7; pass 'sha1' for older). */
export function signPublicKeyAnswer(privateKey: KeyObject, nonce: Uint8Array, digestSection: Uint8Array, hash: 'sha1' | 'sha256' = 'sha256'): Buffer {
  const signature = sign(hash, challengeInput(nonce, digestSection), privateKey);
  return encodePublicKeyAnswer(hash === 'sha256' ? 'SHA-256' : 'SHA1', signature);
}
