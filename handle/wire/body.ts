// The native Handle protocol's resolution bodies (RFC 3652 §3.1, §2.2.3): request, response, error body and the request digest.
import { createHash } from 'node:crypto';
import type { HandleValue } from '../types.js';
import { Reader, Writer } from './bytes.js';
import { versionAtLeast } from './envelope.js';
import type { Message } from './message.js';
import { readHandleValue, writeHandleValue } from './values.js';

/**
 * Digest algorithm identifiers of a request digest (Handle.Net Common.HASH_CODE_*). Handle.Net also knows
 * HASH_CODE_MD5_OLD_FORMAT = 0 (a u32-length-prefixed MD5, used before 2.1); decoders accept it, nothing here makes it.
 */
export const DIGEST = { MD5: 1, SHA1: 2, SHA256: 3 } as const;
export type DigestAlg = (typeof DIGEST)[keyof typeof DIGEST];

/** RFC 3652 §3.1: resolution request body. */
export interface ResolutionRequest {
  /** the handle as sent (UTF-8 decoded; invalid UTF-8 is a WireError) */
  handle: string;
  indexes: number[];
  types: string[];
}

/** handle (string), indexes (u32 count + u32 each), types (u32 count + string each) — Encoder.decodeResolutionRequest. */
export function decodeResolutionRequest(body: Uint8Array): ResolutionRequest {
  const r = new Reader(body, 'resolution request');
  const handle = r.string('handle');
  const indexCount = r.count('index count', 4);
  const indexes: number[] = [];
  for (let i = 0; i < indexCount; i++) indexes.push(r.u32(`index ${i}`));
  const typeCount = r.count('type count', 4);
  const types: string[] = [];
  for (let i = 0; i < typeCount; i++) types.push(r.string(`type ${i}`));
  r.end();
  return { handle, indexes, types };
}

/** A resolution request's body (clients, tests and the bench use it). */
export function encodeResolutionRequest(r: ResolutionRequest): Buffer {
  const w = new Writer(64);
  w.string(r.handle, 'handle');
  w.u32(r.indexes.length, 'index count');
  for (const i of r.indexes) w.u32(i, 'index');
  w.u32(r.types.length, 'type count');
  for (const t of r.types) w.string(t, 'type');
  return w.finish();
}

const DIGEST_LENGTH: Readonly<Record<number, number>> = { [DIGEST.MD5]: 16, [DIGEST.SHA1]: 20, [DIGEST.SHA256]: 32 };
const DIGEST_HASH: Readonly<Record<number, string>> = { [DIGEST.MD5]: 'md5', [DIGEST.SHA1]: 'sha1', [DIGEST.SHA256]: 'sha256' };
const HASH_CODE_MD5_OLD_FORMAT = 0;

/** Checks that `d` is a whole digest section (algorithm byte + a digest of that algorithm's length). */
export function checkDigestSection(d: Uint8Array): void {
  const alg = d[0];
  const len = alg === undefined ? undefined : DIGEST_LENGTH[alg];
  if (len === undefined || d.byteLength !== 1 + len) {
    throw new RangeError(`digest must be a digest section from requestDigest (algorithm byte + digest), got ${d.byteLength} bytes`);
  }
}

/**
 * The digest section at the start of a response body (Encoder.decodeMessage): algorithm byte 1/2/3 + 16/20/32 digest
 * bytes, or Handle.Net's pre-2.1 "old format" (code 0, which is really the first byte of a u32 length + MD5 bytes).
 * Returns the whole section (algorithm byte included) as a view.
 */
export function readDigestSection(r: Reader, body: Uint8Array): Uint8Array {
  const start = r.offset;
  const alg = r.peekU8('request digest algorithm');
  if (alg === HASH_CODE_MD5_OLD_FORMAT) {
    r.byteArray('request digest (old format)');
  } else {
    const len = DIGEST_LENGTH[alg];
    if (len === undefined) throw r.fail(`unknown request digest algorithm ${alg}`);
    r.bytes(1 + len, 'request digest');
  }
  return body.subarray(start, r.offset);
}

/**
 * A resolution response's body (Encoder.encodeResolutionResponse): the request digest section first when one is given
 * (as requestDigest returns it), then the handle (string), the value count (u32) and the values.
 */
export function encodeResolutionResponse(handle: string, values: readonly HandleValue[], digest: Uint8Array | null): Buffer {
  const w = new Writer(256);
  if (digest !== null) {
    checkDigestSection(digest);
    w.raw(digest);
  }
  w.string(handle, 'handle');
  w.u32(values.length, 'value count');
  for (const v of values) writeHandleValue(w, v);
  return w.finish();
}

/** The smallest encoded value: index, timestamp, ttlType, ttl, permissions, empty type, empty data, no references. */
export const MIN_VALUE_BYTES = 4 + 4 + 1 + 4 + 1 + 4 + 4 + 4;

/**
 * The inverse, for clients, tests and the bench. `withDigest` is whether the response header has RETURN_DIGEST set
 * (Handle.Net reads a digest exactly then). Value data is shown as handle/json.ts would (see valueDataFromWire).
 */
export function decodeResolutionResponse(body: Uint8Array, withDigest: boolean): { digest: Uint8Array | null; handle: string; values: HandleValue[] } {
  const r = new Reader(body, 'resolution response');
  const digest = withDigest ? readDigestSection(r, body) : null;
  const handle = r.string('handle');
  const count = r.count('value count', MIN_VALUE_BYTES);
  const values: HandleValue[] = [];
  for (let i = 0; i < count; i++) values.push(readHandleValue(r, `value ${i}`));
  r.end();
  return { digest, handle, values };
}

/** An error response's body: the digest when asked for, then the message text (RFC 3652 §2.2.3 / ErrorResponse). */
export function encodeErrorBody(message: string, digest: Uint8Array | null): Buffer {
  const w = new Writer(64);
  if (digest !== null) {
    checkDigestSection(digest);
    w.raw(digest);
  }
  w.string(message, 'error message');
  return w.finish();
}

export function decodeErrorBody(body: Uint8Array, withDigest: boolean): { digest: Uint8Array | null; message: string } {
  const r = new Reader(body, 'error response');
  const digest = withDigest ? readDigestSection(r, body) : null;
  const message = r.string('error message');
  r.end();
  return { digest, message };
}

/**
 * The digest section of a response: algorithm byte + the digest of the request's header + body as received
 * (message.digestInput). Handle.Net's AbstractResponse.takeDigestOfRequest digests req.getEncodedMessageBody(), which
 * for a decoded request is the 24 header bytes + body (Encoder.decodeMessage's messageBody) — not the envelope, not the
 * credential. RFC 3652 §2.2.3 agrees (message header and body). Pick `alg` with digestAlgFor.
 */
export function requestDigest(alg: DigestAlg, request: Message): Uint8Array {
  const name = DIGEST_HASH[alg];
  if (name === undefined) throw new RangeError(`unknown digest algorithm ${String(alg)}`);
  const hash = createHash(name).update(request.digestInput).digest();
  const out = Buffer.allocUnsafe(1 + hash.length);
  out[0] = alg;
  hash.copy(out, 1);
  return out;
}

/**
 * The digest algorithm a response of version major.minor uses (Handle.Net AbstractResponse.takeDigestOfRequest, decided
 * on the response's version — see responseVersion for how that follows from the request): SHA-256 from 2.7, SHA-1 for
 * 2.1–2.6, MD5 before 2.1 (and for the 5.x versions very old clients sent). Before 2.1 Handle.Net really uses its old
 * MD5 format (code 0) and does not set RETURN_DIGEST in the response header, so those clients never read a digest; the
 * listener should simply not send one below 2.1 (versionAtLeast(major, minor, 2, 1)).
 */
export function digestAlgFor(major: number, minor: number): DigestAlg {
  if (!versionAtLeast(major, minor, 2, 1)) return DIGEST.MD5;
  if (versionAtLeast(major, minor, 2, 7)) return DIGEST.SHA256;
  return DIGEST.SHA1;
}
