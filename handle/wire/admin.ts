// The native Handle protocol's administration bodies (RFC 3652 §3.3–3.8, §3.5 challenge-response): create, delete, add, remove, modify, the challenge and its answer, and their responses.
import type { HandleValue } from '../types.js';
import { Reader, Writer } from './bytes.js';
import { checkDigestSection, MIN_VALUE_BYTES, readDigestSection } from './body.js';
import { readHandleValue, writeHandleValue } from './values.js';

// Layouts (Handle.Net 9 Encoder; integers big-endian, "string"/"byte array" = u32 length + bytes):
//   CREATE_HANDLE (100), ADD_VALUE (102), MODIFY_VALUE (104) request: handle (string), value count (u32), values.
//     CREATE_HANDLE's opFlags carry OVERWRITE (0x00400000: replace an existing handle) and MINT (0x00200000: the
//     handle is a prefix or a stem; the server mints the suffix and returns the handle it created).
//   DELETE_HANDLE (101) request: handle (string).
//   REMOVE_VALUE (103) request: handle (string), index count (u32), indexes (u32 each).
//   RC 402 AUTHENTICATION_NEEDED response (ChallengeResponse, from 2.1): the request digest section (algorithm byte
//     + digest of the challenged request; the header's RETURN_DIGEST flag is set), then the nonce (byte array).
//     Before 2.1: nonce (byte array), then an MD5 digest of the request (byte array), no flag.
//   CHALLENGE_RESPONSE (200) request (ChallengeAnswerRequest): auth type (byte array: "HS_SECKEY" / "HS_PUBKEY"),
//     user id handle (byte array), user id index (u32), signed response (byte array); the envelope's session id is
//     the challenge's.
//   Success of DELETE/ADD/REMOVE/MODIFY (GenericResponse): the digest section when asked for, nothing else.
//   Success of CREATE (CreateHandleResponse): the digest section when asked for, then the handle created (string).

/** Most values, or indexes, one administration request may carry (as the HTTP face's MAX_VALUES_PER_REQUEST). */
export const MAX_ADMIN_ITEMS = 1000;
/** Longest signed response of a challenge answer (an RSA-8192 signature and its algorithm name fit easily). */
export const MAX_SIGNED_RESPONSE = 4096;

/** The authentication types of a challenge answer (Common.SECRET_KEY_TYPE / PUBLIC_KEY_TYPE). */
export const AUTH_TYPE = { SECRET_KEY: 'HS_SECKEY', PUBLIC_KEY: 'HS_PUBKEY' } as const;

/** CREATE_HANDLE, ADD_VALUE and MODIFY_VALUE: a handle and the values to write. */
export interface ValuesRequest {
  handle: string;
  values: HandleValue[];
}

export interface RemoveValueRequest {
  handle: string;
  indexes: number[];
}

export interface ChallengeAnswer {
  /** the auth type as sent (compare with AUTH_TYPE) */
  authType: string;
  userIdHandle: string;
  userIdIndex: number;
  signedResponse: Uint8Array;
}

/** Handle + values (Encoder.decodeCreateHandleRequest / decodeAddValueRequest / decodeModifyValueRequest). */
export function decodeValuesRequest(body: Uint8Array, what = 'values request'): ValuesRequest {
  const r = new Reader(body, what);
  const handle = r.string('handle');
  const count = r.count('value count', MIN_VALUE_BYTES);
  if (count > MAX_ADMIN_ITEMS) throw r.fail(`${count} values, more than the ${MAX_ADMIN_ITEMS} one request may carry`);
  const values: HandleValue[] = [];
  for (let i = 0; i < count; i++) values.push(readHandleValue(r, `value ${i}`));
  r.end();
  return { handle, values };
}

export function encodeValuesRequest(req: ValuesRequest): Buffer {
  const w = new Writer(256);
  w.string(req.handle, 'handle');
  w.u32(req.values.length, 'value count');
  for (const v of req.values) writeHandleValue(w, v);
  return w.finish();
}

/** Encoder.decodeDeleteHandleRequest: the handle only. */
export function decodeDeleteHandleRequest(body: Uint8Array): { handle: string } {
  const r = new Reader(body, 'delete handle request');
  const handle = r.string('handle');
  r.end();
  return { handle };
}

export function encodeDeleteHandleRequest(handle: string): Buffer {
  const w = new Writer(64);
  w.string(handle, 'handle');
  return w.finish();
}

/** Encoder.decodeRemoveValueRequest: handle, then an int array of indexes. */
export function decodeRemoveValueRequest(body: Uint8Array): RemoveValueRequest {
  const r = new Reader(body, 'remove value request');
  const handle = r.string('handle');
  const count = r.count('index count', 4);
  if (count > MAX_ADMIN_ITEMS) throw r.fail(`${count} indexes, more than the ${MAX_ADMIN_ITEMS} one request may carry`);
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) indexes.push(r.u32(`index ${i}`));
  r.end();
  return { handle, indexes };
}

export function encodeRemoveValueRequest(req: RemoveValueRequest): Buffer {
  const w = new Writer(64);
  w.string(req.handle, 'handle');
  w.u32(req.indexes.length, 'index count');
  for (const i of req.indexes) w.u32(i, 'index');
  return w.finish();
}

/**
 * The body of an RC 402 answer (Encoder.encodeChallenge). From 2.1 (`digest` a digest section of the challenged
 * request, as requestDigest makes it): digest section, then the nonce. Before 2.1 (`oldFormatMd5`: the 16-byte MD5
 * of the request, and `digest` null): nonce, then that MD5, each a byte array.
 */
export function encodeChallenge(nonce: Uint8Array, digest: Uint8Array | null, oldFormatMd5?: Uint8Array): Buffer {
  const w = new Writer(64 + nonce.byteLength);
  if (digest !== null) {
    checkDigestSection(digest);
    w.raw(digest);
    w.byteArray(nonce, 'nonce');
  } else {
    if (oldFormatMd5 === undefined) throw new RangeError('a challenge needs the request digest (or, before 2.1, its MD5)');
    w.byteArray(nonce, 'nonce');
    w.byteArray(oldFormatMd5, 'request digest');
  }
  return w.finish();
}

/** The inverse for clients and tests (2.1 and later: the header's RETURN_DIGEST flag is set, so a digest comes first). */
export function decodeChallenge(body: Uint8Array): { digest: Uint8Array; nonce: Uint8Array } {
  const r = new Reader(body, 'challenge');
  const digest = readDigestSection(r, body);
  const nonce = r.byteArray('nonce');
  r.end();
  return { digest, nonce };
}

/** Encoder.decodeChallengeAnswer (bytes after the signed response are a WireError, as everywhere in this codec). */
export function decodeChallengeAnswer(body: Uint8Array): ChallengeAnswer {
  const r = new Reader(body, 'challenge answer');
  const authType = r.string('auth type');
  const userIdHandle = r.string('user id handle');
  const userIdIndex = r.u32('user id index');
  const signedResponse = r.byteArray('signed response');
  if (signedResponse.byteLength > MAX_SIGNED_RESPONSE) throw r.fail(`signed response of ${signedResponse.byteLength} bytes is over ${MAX_SIGNED_RESPONSE}`);
  r.end();
  return { authType, userIdHandle, userIdIndex, signedResponse };
}

export function encodeChallengeAnswer(a: ChallengeAnswer): Buffer {
  const w = new Writer(128 + a.signedResponse.byteLength);
  w.string(a.authType, 'auth type');
  w.string(a.userIdHandle, 'user id handle');
  w.u32(a.userIdIndex, 'user id index');
  w.byteArray(a.signedResponse, 'signed response');
  return w.finish();
}

/** A GenericResponse body: the digest section when one goes back, else nothing (Encoder.encodeGenericResponse). */
export function encodeGenericResponse(digest: Uint8Array | null): Buffer {
  if (digest === null) return Buffer.alloc(0);
  checkDigestSection(digest);
  return Buffer.from(digest);
}

/** A CreateHandleResponse body: the digest section when one goes back, then the handle created (Encoder.encodeCreateHandleResponse). */
export function encodeCreateHandleResponse(handle: string, digest: Uint8Array | null): Buffer {
  const w = new Writer(64);
  if (digest !== null) {
    checkDigestSection(digest);
    w.raw(digest);
  }
  w.string(handle, 'handle');
  return w.finish();
}

/** The inverse (Encoder.decodeCreateHandleResponse: an empty rest means the server did not say which handle). */
export function decodeCreateHandleResponse(body: Uint8Array, withDigest: boolean): { digest: Uint8Array | null; handle: string | null } {
  const r = new Reader(body, 'create handle response');
  const digest = withDigest ? readDigestSection(r, body) : null;
  if (r.remaining === 0) return { digest, handle: null };
  const handle = r.string('handle');
  r.end();
  return { digest, handle };
}

// ---- the signed response of a challenge answer ----

/**
 * MAC algorithms of an HS_SECKEY answer (Common.HASH_CODE_*): the answer's first byte. 1–3 are digests of
 * secret‖nonce‖digest‖secret, 0x12/0x13 HMACs keyed by the secret, 0x22 an HMAC-SHA1 keyed by PBKDF2-HMAC-SHA1 of the
 * secret (what Handle.Net clients send from protocol 2.7).
 */
export const MAC_ALG = { MD5: 1, SHA1: 2, SHA256: 3, HMAC_SHA1: 0x12, HMAC_SHA256: 0x13, PBKDF2_HMAC_SHA1: 0x22 } as const;

export interface SecretKeyAnswer {
  alg: number;
  mac: Uint8Array;
  /** PBKDF2_HMAC_SHA1 only: the client's derivation parameters */
  pbkdf2?: { salt: Uint8Array; iterations: number; keyLengthBits: number };
}

/**
 * An HS_SECKEY signed response (SecretKeyAuthenticationInfo.authenticate, from 2.1): algorithm byte, then the MAC;
 * for PBKDF2_HMAC_SHA1 the MAC is Util.constructPbkdf2Encoding: salt (byte array), iterations (u32), key length in
 * bits (u32), HMAC (byte array). Unknown algorithms are a WireError.
 */
export function decodeSecretKeyAnswer(signed: Uint8Array): SecretKeyAnswer {
  const r = new Reader(signed, 'secret key answer');
  const alg = r.u8('mac algorithm');
  if (alg === MAC_ALG.PBKDF2_HMAC_SHA1) {
    const salt = r.byteArray('salt');
    const iterations = r.u32('iterations');
    const keyLengthBits = r.u32('key length');
    const mac = r.byteArray('mac');
    r.end();
    return { alg, mac, pbkdf2: { salt, iterations, keyLengthBits } };
  }
  if (!(Object.values(MAC_ALG) as number[]).includes(alg)) throw r.fail(`unknown mac algorithm ${alg}`);
  return { alg, mac: r.bytes(r.remaining, 'mac') };
}

export function encodeSecretKeyAnswer(a: SecretKeyAnswer): Buffer {
  const w = new Writer(64);
  w.u8(a.alg, 'mac algorithm');
  if (a.alg === MAC_ALG.PBKDF2_HMAC_SHA1) {
    if (a.pbkdf2 === undefined) throw new RangeError('a PBKDF2 answer needs its parameters');
    w.byteArray(a.pbkdf2.salt, 'salt');
    w.u32(a.pbkdf2.iterations, 'iterations');
    w.u32(a.pbkdf2.keyLengthBits, 'key length');
    w.byteArray(a.mac, 'mac');
  } else w.raw(a.mac);
  return w.finish();
}

/**
 * An HS_PUBKEY signed response (PublicKeyAuthenticationInfo.authenticate): the hash algorithm id (byte array: "SHA1",
 * "SHA-1", "SHA-256", "SHA256", "MD5", or one Common.HASH_CODE_* byte), then the signature (byte array).
 */
export function decodePublicKeyAnswer(signed: Uint8Array): { hashAlg: Uint8Array; signature: Uint8Array } {
  const r = new Reader(signed, 'public key answer');
  const hashAlg = r.byteArray('hash algorithm');
  const signature = r.byteArray('signature');
  // Handle.Net ignores bytes after the signature; so does this (a client adding fields later still works)
  return { hashAlg, signature };
}

export function encodePublicKeyAnswer(hashAlg: string, signature: Uint8Array): Buffer {
  const w = new Writer(32 + signature.byteLength);
  w.string(hashAlg, 'hash algorithm');
  w.byteArray(signature, 'signature');
  return w.finish();
}

/** The hash a public-key answer names ('sha1' / 'sha256'; MD5 and anything else: null, refused). */
export function signatureHash(hashAlg: Uint8Array): 'sha1' | 'sha256' | null {
  if (hashAlg.byteLength === 1) return hashAlg[0] === 2 ? 'sha1' : hashAlg[0] === 3 ? 'sha256' : null;
  const name = Buffer.from(hashAlg).toString('latin1').toUpperCase();
  if (name === 'SHA1' || name === 'SHA-1') return 'sha1';
  if (name === 'SHA-256' || name === 'SHA256') return 'sha256';
  return null;
}
