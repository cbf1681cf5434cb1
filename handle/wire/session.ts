// The native Handle protocol's sessions on the wire (OC 400–402): session setup request and response, Diffie-Hellman keys in Handle's DH_PUB_KEY form, the session key, and HS_MAC credentials.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Reader, WireError, Writer } from './bytes.js';
import { CREDENTIAL_TYPE, decodeCredential, signedPrefix, type SigningContext } from './credential.js';
import { versionAtLeast } from './envelope.js';

// Layouts (Handle.Net 9 Encoder.encodeSessionSetupRequest / decodeSessionSetupRequest / encodeSessionSetupResponse,
// Util.getBytesFromPublicKey for DH keys, AbstractMessage.signMessage(byte[]) for MACs; integers big-endian):
//   SESSION_SETUP (400) request: key exchange mode u16, timeout u32 (seconds of idleness), identity handle (byte
//     array), identity index u32, then for CIPHER_CLIENT (1) and DH (4) the client's public key (byte array), for
//     CIPHER_HDL (3) a key handle (byte array) and index u32. Handle.Net counts 4 bytes for the u16 mode, so its
//     bodies end in 2 zero bytes, which the decoder ignores.
//   SESSION_SETUP response: request digest section (the request asks for it), mode u16, data (byte array), and the
//     same 2 zero bytes. For DH from protocol 2.4: data = the session key's algorithm u32 (3 = AES) + the server's
//     DH public key. The server's signature (the request is certified) lets the client trust the exchange.
//   DH public key (DH_PUB_KEY): type (byte array "DH_PUB_KEY"), flags u16 (0), y, p, g (byte arrays, big-endian
//     two's complement as Java's BigInteger.toByteArray writes them; readers take them as unsigned).
//   Session key (AES, HdlSecurityProvider.getKeyFromDH): the DH shared secret (as long as p) with leading zero bytes
//     skipped while more than 32 bytes remain, then its first 32 bytes.
//   HS_MAC credential (from 2.7): the credential section layout of credential.ts with type "HS_MAC", digest algorithm
//     "HMAC-SHA256" and the MAC bytes: HMAC with the session key over the same prefix a signature covers (versions,
//     session id, request id, session counter) + header + body.

export const KEY_EXCHANGE = { NONE: 0, CIPHER_CLIENT: 1, CIPHER_SERVER: 2, CIPHER_HDL: 3, DH: 4 } as const;
/** HdlSecurityProvider.ENCRYPT_ALG_*: the session key's algorithm. */
export const ENCRYPT_ALG = { DES: 1, DESEDE: 2, AES: 3 } as const;
/** Response codes of sessions beyond handle/codes.ts (Handle.Net AbstractMessage.RC_*). */
export const SESSION_RC = { SESSION_TIMEOUT: 500, SESSION_FAILED: 501, INVALID_SESSION_KEY: 502, SESSION_MESSAGE_REJECTED: 505 } as const;
export const DH_PUBLIC_KEY_TYPE = 'DH_PUB_KEY';
/** Length of an AES session key made from a DH secret. */
export const AES_SESSION_KEY_BYTES = 32;
/** Longest public key or key handle a setup request may carry (a 4096-bit DH key needs ~1.1 KB). */
const MAX_SETUP_FIELD = 8192;

export interface SessionSetupRequest {
  keyExchangeMode: number;
  /** seconds a session may stay idle, as the client asks (Handle.Net's default: 24 h) */
  timeout: number;
  /** the identity the session is for (empty: anonymous) */
  identityHandle: string;
  identityIndex: number;
  /** CIPHER_CLIENT and DH: the client's public key in Handle's key encoding */
  publicKey: Uint8Array | null;
  /** CIPHER_HDL */
  exchangeKeyHandle: string | null;
  exchangeKeyIndex: number;
}

/** Encoder.decodeSessionSetupRequest; trailing bytes (Handle.Net's 2 padding bytes) are ignored. */
export function decodeSessionSetupRequest(body: Uint8Array): SessionSetupRequest {
  const r = new Reader(body, 'session setup request');
  const keyExchangeMode = r.u16('key exchange mode');
  const timeout = r.u32('timeout') | 0;
  const identityHandle = r.string('identity handle');
  const identityIndex = r.u32('identity index') | 0;
  let publicKey: Uint8Array | null = null;
  let exchangeKeyHandle: string | null = null;
  let exchangeKeyIndex = 0;
  if (keyExchangeMode === KEY_EXCHANGE.CIPHER_CLIENT || keyExchangeMode === KEY_EXCHANGE.DH) {
    publicKey = r.byteArray('public key');
    if (publicKey.byteLength > MAX_SETUP_FIELD) throw r.fail(`public key of ${publicKey.byteLength} bytes is too long`);
  } else if (keyExchangeMode === KEY_EXCHANGE.CIPHER_HDL) {
    exchangeKeyHandle = r.string('exchange key handle');
    exchangeKeyIndex = r.u32('exchange key index') | 0;
  }
  return { keyExchangeMode, timeout, identityHandle, identityIndex, publicKey, exchangeKeyHandle, exchangeKeyIndex };
}

/** Encoder.encodeSessionSetupRequest's body (with its 2 padding bytes), for clients and tests. */
export function encodeSessionSetupRequest(req: Pick<SessionSetupRequest, 'keyExchangeMode' | 'timeout' | 'identityHandle' | 'identityIndex'> & { publicKey?: Uint8Array }): Buffer {
  const w = new Writer(256);
  w.u16(req.keyExchangeMode, 'key exchange mode');
  w.u32(req.timeout >>> 0, 'timeout');
  w.string(req.identityHandle, 'identity handle');
  w.u32(req.identityIndex >>> 0, 'identity index');
  if (req.publicKey !== undefined) w.byteArray(req.publicKey, 'public key');
  w.u16(0, 'padding');
  return w.finish();
}

/** Encoder.encodeSessionSetupResponse's body: digest section (when asked for), mode, data, 2 padding bytes. */
export function encodeSessionSetupResponse(keyExchangeMode: number, data: Uint8Array, digest: Uint8Array | null): Buffer {
  const w = new Writer(64 + data.byteLength);
  if (digest !== null) w.raw(digest);
  w.u16(keyExchangeMode, 'key exchange mode');
  w.byteArray(data, 'data');
  w.u16(0, 'padding');
  return w.finish();
}

/** The mode and data of a session setup response body (after its digest section, which `digestBytes` skips). */
export function decodeSessionSetupResponse(body: Uint8Array, digestBytes: number): { keyExchangeMode: number; data: Uint8Array } {
  const r = new Reader(body.subarray(digestBytes), 'session setup response');
  const keyExchangeMode = r.u16('key exchange mode');
  const data = r.byteArray('data');
  return { keyExchangeMode, data };
}

/** A non-negative integer's bytes as Java's BigInteger.toByteArray writes them (a leading 0 when the top bit is set). */
function javaBigBytes(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = Buffer.from(b.subarray(i));
  return v.length > 0 && (v[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), v]) : v;
}

/** Leading zero bytes off (for comparing and sizing unsigned integers). */
export function unsignedBytes(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return Buffer.from(b.subarray(i));
}

export interface DhPublicKey {
  y: Buffer;
  p: Buffer;
  g: Buffer;
}

/** Util.getBytesFromPublicKey for a DH key. */
export function encodeDhPublicKey(k: DhPublicKey): Buffer {
  const w = new Writer(64 + k.y.length + k.p.length + k.g.length);
  w.string(DH_PUBLIC_KEY_TYPE, 'key type');
  w.u16(0, 'key flags');
  w.byteArray(javaBigBytes(k.y), 'y');
  w.byteArray(javaBigBytes(k.p), 'p');
  w.byteArray(javaBigBytes(k.g), 'g');
  return w.finish();
}

/** Util.getPublicKeyFromBytes for a DH key: y, p, g as unsigned integers (leading zeros dropped). Else a WireError. */
export function decodeDhPublicKey(bytes: Uint8Array): DhPublicKey {
  const r = new Reader(bytes, 'DH public key');
  const type = r.string('key type');
  if (type !== DH_PUBLIC_KEY_TYPE) throw r.fail(`not a Diffie-Hellman public key (type ${JSON.stringify(type.slice(0, 40))})`);
  r.u16('key flags');
  const y = unsignedBytes(r.byteArray('y'));
  const p = unsignedBytes(r.byteArray('p'));
  const g = unsignedBytes(r.byteArray('g'));
  return { y, p, g };
}

/** The AES session key from a DH shared secret (see the file's comment); `primeBytes` is p's length in bytes. */
export function aesKeyFromDhSecret(secret: Uint8Array, primeBytes: number): Buffer {
  const s = Buffer.alloc(Math.max(primeBytes, secret.byteLength));
  s.set(secret, s.length - secret.byteLength);
  let i = 0;
  while (i + AES_SESSION_KEY_BYTES < s.length && s[i] === 0) i++;
  if (s.length - i < AES_SESSION_KEY_BYTES) throw new WireError('Diffie-Hellman secret too short for a session key');
  return Buffer.from(s.subarray(i, i + AES_SESSION_KEY_BYTES));
}

/** Handle.Net's MAC algorithm names (Util.doMac compares them ignoring case and punctuation). */
function hmacOf(alg: string): 'sha256' | 'sha1' | null {
  const n = alg.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (n === 'HMACSHA256') return 'sha256';
  if (n === 'HMACSHA1') return 'sha1';
  return null;
}

/** Whether MACs in `major.minor` are the HMACs this codec makes and checks (2.7 on; 2.5–2.6 had a broken layout). */
export function macSupported(major: number, minor: number): boolean {
  return versionAtLeast(major, minor, 2, 7);
}

function macOf(hash: 'sha256' | 'sha1', key: Uint8Array, c: SigningContext, headerAndBody: Uint8Array): Buffer {
  return createHmac(hash, key).update(signedPrefix(c)).update(headerAndBody).digest();
}

/** An HS_MAC credential section for a message (`c.sessionCounter` goes into it): HMAC-SHA256, protocol 2.7 on. */
export function macCredential(key: Uint8Array, c: SigningContext, headerAndBody: Uint8Array): Buffer {
  if (!macSupported(c.major, c.minor)) throw new RangeError('session MACs need protocol 2.7 or later');
  const alg = Buffer.from('HMAC-SHA256', 'utf8');
  const mac = macOf('sha256', key, c, headerAndBody);
  const w = new Writer(96);
  w.u8(0, 'credential version');
  w.u8(0, 'credential reserved');
  w.u16(0, 'credential flags');
  w.u32(0, 'signer handle length');
  w.u32((c.sessionCounter ?? 0) >>> 0, 'session counter');
  w.string(CREDENTIAL_TYPE.MAC, 'credential type');
  w.u32(4 + alg.length + 4 + mac.length, 'signature section length');
  w.byteArray(alg, 'digest algorithm');
  w.byteArray(mac, 'mac');
  return w.finish();
}

/**
 * The session counter of a message whose credential section is a valid HS_MAC by `key` over `headerAndBody` in the
 * envelope `c` (its counter is taken from the credential); null when there is none, it is not a MAC, its algorithm is
 * unknown, the version is below 2.7, or it does not verify. Never throws.
 */
export function verifyMac(key: Uint8Array, c: Omit<SigningContext, 'sessionCounter'>, headerAndBody: Uint8Array, credential: Uint8Array): number | null {
  if (credential.byteLength === 0 || !macSupported(c.major, c.minor)) return null;
  let cred;
  try {
    cred = decodeCredential(credential);
  } catch {
    return null;
  }
  if (cred.type !== CREDENTIAL_TYPE.MAC) return null;
  const hash = hmacOf(cred.hashAlg);
  if (hash === null) return null;
  const want = macOf(hash, key, { ...c, sessionCounter: cred.sessionCounter }, headerAndBody);
  const got = Buffer.from(cred.signature);
  return got.length === want.length && timingSafeEqual(got, want) ? cred.sessionCounter : null;
}
