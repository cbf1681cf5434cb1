// The native Handle protocol's credential section: HS_SIGNED signatures of messages (what they sign, their bytes, signing and verifying with node:crypto).
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { Reader, WireError, Writer } from './bytes.js';
import { versionAtLeast } from './envelope.js';

// Handle.Net 9: AbstractMessage.signMessage(Signature) / verifyMessage(PublicKey), HandleServer.sendResponse (which
// hash), Util.getHashAlgIdFromSigId / getSigIdFromHashAlgId, Common.CREDENTIAL_TYPE_* and HASH_ALG_*.
//
// The credential section follows a message's header and body as a u32 length + these bytes:
//   version u8 (0), reserved u8 (0), flags u16 (0),
//   signer: handle byte array + u32 index — Handle.Net writes an empty handle, and the index slot carries the
//     session counter (0 outside sessions; the verifier puts it into what it checks),
//   credential type string ("HS_SIGNED"; "HS_DSAPUBKEY" is the old name of the same thing; "HS_MAC" is a session
//     MAC, which this node never makes),
//   u32 length of the rest, then for HS_SIGNED: digest algorithm string ("SHA-256" or "SHA1") and the signature
//   byte array (RSA: PKCS #1 v1.5 bytes; DSA: DER, as Java's Signature makes them).
// What is signed (AbstractMessage.signMessage): from protocol 2.6 on, first the envelope's version bytes (from 2.8
// also the suggested version), session id, request id and session counter (u32 each), then the message's header and
// body as sent (the credential itself excluded). 2.6 lays those out with Handle.Net's "painful bug" (its offsets
// were assigned instead of added, so the three u32s overlap at byte 4); before 2.6 only header and body are signed.

export const CREDENTIAL_TYPE = { SIGNED: 'HS_SIGNED', OLD_SIGNED: 'HS_DSAPUBKEY', MAC: 'HS_MAC' } as const;

/** A decoded credential section. */
export interface Credential {
  version: number;
  flags: number;
  /** the signer handle (Handle.Net: always empty) */
  signer: string;
  /** the signer index slot: Handle.Net's session counter */
  sessionCounter: number;
  type: string;
  /** HS_SIGNED / HS_DSAPUBKEY: the digest algorithm identifier as sent ("SHA-256", "SHA1", …) */
  hashAlg: string;
  signature: Uint8Array;
}

/** The envelope fields a signature covers: the message's version, suggested version, session and request ids. */
export interface SigningContext {
  major: number;
  minor: number;
  /** the suggested version as the receiver reads it (0.0 in the envelope means the message's own version) */
  suggestedMajor: number;
  suggestedMinor: number;
  sessionId: number;
  requestId: number;
  /** Handle.Net's session counter: 0 outside sessions */
  sessionCounter?: number;
}

type Hash = 'sha1' | 'sha256' | 'md5';

/** Handle.Net's digest algorithm identifiers (Util.getSigIdFromHashAlgId), including the one-byte codes. */
function hashOf(id: string): Hash | null {
  switch (id) {
    case 'SHA-256':
    case 'SHA256':
    case '\u0003':
      return 'sha256';
    case 'SHA1':
    case 'SHA-1':
    case '\u0002':
      return 'sha1';
    case 'MD5':
    case '\u0001':
      return 'md5';
    default:
      return null;
  }
}

/**
 * The hash a server signs an answer with (HandleServer.supportsSha256Signature): SHA-256 from protocol 2.11, and from
 * 2.7 for RSA keys; SHA-1 before.
 */
export function signatureHashFor(major: number, minor: number, keyType: 'rsa' | 'dsa'): { id: string; hash: Hash } {
  const sha256 = versionAtLeast(major, minor, 2, 11) || (keyType === 'rsa' && versionAtLeast(major, minor, 2, 7));
  return sha256 ? { id: 'SHA-256', hash: 'sha256' } : { id: 'SHA1', hash: 'sha1' };
}

/** The bytes signed before the header and body (empty before protocol 2.6); see the file's comment. */
export function signedPrefix(c: SigningContext): Buffer {
  if (!versionAtLeast(c.major, c.minor, 2, 6)) return Buffer.alloc(0);
  const suggest = versionAtLeast(c.major, c.minor, 2, 8);
  const counter = c.sessionCounter ?? 0;
  const out = Buffer.alloc((suggest ? 4 : 2) + 12);
  out[0] = c.major;
  out[1] = c.minor;
  let at = 2;
  if (suggest) {
    out[2] = c.suggestedMajor;
    out[3] = c.suggestedMinor;
    at = 4;
  }
  if (versionAtLeast(c.major, c.minor, 2, 7)) {
    out.writeUInt32BE(c.sessionId >>> 0, at);
    out.writeUInt32BE(c.requestId >>> 0, at + 4);
    out.writeUInt32BE(counter >>> 0, at + 8);
  } else {
    // 2.6: each u32 written at the offset the previous write returned (its size, 4), so they overlap
    out.writeUInt32BE(c.sessionId >>> 0, 2);
    out.writeUInt32BE(c.requestId >>> 0, 4);
    out.writeUInt32BE(counter >>> 0, 4);
  }
  return out;
}

/** An HS_SIGNED credential section's bytes (without the u32 length the message puts before it). */
export function encodeCredential(c: { hashAlg: string; signature: Uint8Array; sessionCounter?: number }): Buffer {
  const hashAlg = Buffer.from(c.hashAlg, 'utf8');
  const w = new Writer(64 + hashAlg.length + c.signature.byteLength);
  w.u8(0, 'credential version');
  w.u8(0, 'credential reserved');
  w.u16(0, 'credential flags');
  w.u32(0, 'signer handle length');
  w.u32(c.sessionCounter ?? 0, 'session counter');
  w.string(CREDENTIAL_TYPE.SIGNED, 'credential type');
  w.u32(4 + hashAlg.length + 4 + c.signature.byteLength, 'signature section length');
  w.byteArray(hashAlg, 'digest algorithm');
  w.byteArray(c.signature, 'signature');
  return w.finish();
}

/**
 * A credential section's bytes (as decodeMessage gives them) → its fields. Signed types (HS_SIGNED, HS_DSAPUBKEY) and
 * HS_MAC share the layout (digest algorithm, then signature or MAC bytes). The section must be exactly as long as it
 * says; anything malformed is a WireError.
 */
export function decodeCredential(bytes: Uint8Array): Credential {
  const r = new Reader(bytes, 'credential');
  const version = r.u8('version');
  r.u8('reserved');
  const flags = r.u16('flags');
  const signer = r.string('signer handle');
  const sessionCounter = r.u32('session counter');
  const type = r.string('credential type');
  const section = r.byteArray('signature section');
  r.end();
  const s = new Reader(section, `${type} signature section`);
  const hashAlg = s.string('digest algorithm');
  const signature = s.byteArray('signature');
  s.end();
  return { version, flags, signer, sessionCounter, type, hashAlg, signature };
}

function keyTypeOf(key: KeyObject): 'rsa' | 'dsa' {
  const t = key.asymmetricKeyType;
  if (t === 'rsa' || t === 'dsa') return t;
  throw new RangeError(`Handle signatures use RSA or DSA keys (got ${String(t)})`);
}

/**
 * Signs a message: `headerAndBody` is the message's header and body as they go on the wire, `c` the envelope it goes
 * in. Returns the credential section's bytes (HS_SIGNED, hash chosen by signatureHashFor).
 */
export function signMessage(privateKey: KeyObject, c: SigningContext, headerAndBody: Uint8Array): Buffer {
  const { id, hash } = signatureHashFor(c.major, c.minor, keyTypeOf(privateKey));
  const signature = cryptoSign(hash, Buffer.concat([signedPrefix(c), headerAndBody]), privateKey);
  return encodeCredential({ hashAlg: id, signature, sessionCounter: c.sessionCounter ?? 0 });
}

/**
 * Whether `credential` (a message's credential section) is a valid HS_SIGNED signature by `publicKey` of
 * `headerAndBody` in the envelope `c` (its sessionCounter is taken from the credential, as Handle.Net does).
 * Malformed sections, and types or digest algorithms other than the signed ones, are WireErrors; a signature that does
 * not verify is false.
 */
export function verifyMessage(publicKey: KeyObject, c: SigningContext, headerAndBody: Uint8Array, credential: Uint8Array): boolean {
  if (credential.byteLength === 0) return false;
  const cred = decodeCredential(credential);
  if (cred.type !== CREDENTIAL_TYPE.SIGNED && cred.type !== CREDENTIAL_TYPE.OLD_SIGNED) throw new WireError(`credential: not a signature (type ${JSON.stringify(cred.type)})`);
  const hash = hashOf(cred.hashAlg);
  if (hash === null) throw new WireError(`credential: unknown digest algorithm ${JSON.stringify(cred.hashAlg)}`);
  keyTypeOf(publicKey);
  const data = Buffer.concat([signedPrefix({ ...c, sessionCounter: cred.sessionCounter }), headerAndBody]);
  try {
    return cryptoVerify(hash, data, publicKey, cred.signature);
  } catch {
    // e.g. a DSA signature that is not DER
    return false;
  }
}

/**
 * `message` (header + body + a u32 credential length of 0, as encodeMessage makes it) with `credential` as its
 * credential section.
 */
export function withCredential(message: Uint8Array, credential: Uint8Array): Buffer {
  const base = message.byteLength - 4;
  if (base < 0 || message[base] !== 0 || message[base + 1] !== 0 || message[base + 2] !== 0 || message[base + 3] !== 0) {
    throw new RangeError('withCredential needs a message that ends in an empty credential section (encodeMessage)');
  }
  const out = Buffer.allocUnsafe(base + 4 + credential.byteLength);
  out.set(message.subarray(0, base), 0);
  out.writeUInt32BE(credential.byteLength, base);
  out.set(credential, base + 4);
  return out;
}
