// The native Handle protocol's wire codec (RFC 3652, as Handle.Net 9 speaks it): envelope, header, bodies, values, site info.
// Pure: no I/O. Every decoder works on untrusted bytes and throws WireError, never anything else.
//
// Reference: Handle.Net 9 (net.handle.hdllib: Encoder, MessageEnvelope, AbstractMessage, AbstractResponse, Common,
// SiteInfo, ServerInfo, Interface, GsonUtility, Util; net.handle.server: HdlUdpRequestHandler, HdlUdpInterface,
// HdlUdpPendingRequest). Where RFC 3652 and Handle.Net differ, this file does what Handle.Net does and says so.
// Integers are big-endian; a "string" or "byte array" is a u32 length followed by that many bytes (UTF-8 for strings).
// Decoders are stricter than Handle.Net in two ways, both deliberate: strings must be valid UTF-8, and bytes left over
// after a body, record or message are a WireError (Handle.Net ignores most of them).
// Encoders are given trusted input; a field out of range there is a programming error and throws RangeError.
import { createHash } from 'node:crypto';
import { HandleError, RC } from './codes.js';
import { asciiUpper } from './identifier.js';
import { dataFromBytes } from './json.js';
import type { AdminData, HandleValue, KeyData, SiteData, ValueData, ValueReference } from './types.js';

/** RFC 3652 §2.2: message envelope, 20 bytes. */
export const ENVELOPE_SIZE = 20;
/** RFC 3652 §2.2.2: message header, 24 bytes. */
export const HEADER_SIZE = 24;
/** A UDP datagram carries at most this many bytes: envelope + 492 bytes of message. */
export const UDP_PACKET_MAX = 512;
/** Message bytes per UDP fragment (UDP_PACKET_MAX − ENVELOPE_SIZE). */
export const UDP_FRAGMENT_PAYLOAD = 492;
/** Largest message an envelope may announce (Handle.Net Common.MAX_MESSAGE_LENGTH; decodeEnvelope rejects more). */
export const MAX_MESSAGE_LENGTH = 262144;
/**
 * The newest protocol version Handle.Net 9 speaks (Common.MAJOR_VERSION / MINOR_VERSION). Responses are capped at it
 * (see responseVersion). 2.11 differs from 2.10 only in DSA signatures (SHA256withDSA), which this codec never makes.
 */
export const PROTOCOL_VERSION = { major: 2, minor: 11 } as const;

/** Operation codes (RFC 3652 §2.2.2.1; Handle.Net AbstractMessage.OC_*). */
export const OC = {
  RESERVED: 0,
  RESOLUTION: 1,
  GET_SITE_INFO: 2,
  CREATE_HANDLE: 100,
  DELETE_HANDLE: 101,
  ADD_VALUE: 102,
  REMOVE_VALUE: 103,
  MODIFY_VALUE: 104,
  LIST_HANDLES: 105,
  LIST_NAS: 106,
  CHALLENGE_RESPONSE: 200,
  VERIFY_RESPONSE: 201,
  HOME_NA: 300,
  UNHOME_NA: 301,
  LIST_HOMED_NAS: 302,
  SESSION_SETUP: 400,
  SESSION_TERMINATE: 401,
  SESSION_EXCHANGEKEY: 402,
  GET_NEXT_TXN_ID: 1000,
  RETRIEVE_TXN_LOG: 1001,
  DUMP_HANDLES: 1002,
  BACKUP_SERVER: 1003,
} as const;

/** OpFlag bits (RFC 3652 §2.2.2.3; Handle.Net Encoder.MSG_FLAG_*), as unsigned 32-bit numbers. */
export const OPFLAG = {
  AUTH: 0x80000000,
  CERT: 0x40000000,
  ENCRYPT: 0x20000000,
  RECURSIVE: 0x10000000,
  CACHE_CERT: 0x08000000,
  CONTINUOUS: 0x04000000,
  KEEP_ALIVE: 0x02000000,
  PUBLIC_ONLY: 0x01000000,
  RETURN_DIGEST: 0x00800000,
  OVERWRITE: 0x00400000,
  MINT: 0x00200000,
  DO_NOT_REFER: 0x00100000,
} as const;

/**
 * Digest algorithm identifiers of a request digest (Handle.Net Common.HASH_CODE_*). Handle.Net also knows
 * HASH_CODE_MD5_OLD_FORMAT = 0 (a u32-length-prefixed MD5, used before 2.1); decoders accept it, nothing here makes it.
 */
export const DIGEST = { MD5: 1, SHA1: 2, SHA256: 3 } as const;
export type DigestAlg = (typeof DIGEST)[keyof typeof DIGEST];

/** A message that cannot be decoded: the listener answers RC 4 (protocol error) or drops it. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** RFC 3652 §2.2.1. */
export interface Envelope {
  /** protocol version of this message */
  major: number;
  minor: number;
  /**
   * The version the sender suggests for the answer (Handle.Net puts it in envelope bytes 2–3; 0.0 = none, which is
   * what a 2.1–2.4 envelope decodes to). Only 0 … 3 fit the major (2 bits). See responseVersion.
   */
  suggestedMajor: number;
  suggestedMinor: number;
  compressed: boolean;
  encrypted: boolean;
  truncated: boolean;
  sessionId: number;
  requestId: number;
  sequenceNumber: number;
  /** bytes of the message (header + body + credential) that follow the envelope(s) */
  messageLength: number;
}

/** RFC 3652 §2.2.2. */
export interface Header {
  opCode: number;
  responseCode: number;
  /** unsigned 32-bit */
  opFlags: number;
  siteInfoSerial: number;
  recursionCount: number;
  /** seconds since the epoch */
  expiration: number;
  bodyLength: number;
}

/** A decoded message: its header, a view of its body, and the raw bytes a request digest is computed over. */
export interface Message {
  header: Header;
  body: Uint8Array;
  /** the credential section's bytes, without its u32 length (empty when none) */
  credential: Uint8Array;
  /** the bytes a request digest covers: header + body as received (Handle.Net getEncodedMessageBody; see requestDigest) */
  digestInput: Uint8Array;
}

/** RFC 3652 §3.1: resolution request body. */
export interface ResolutionRequest {
  /** the handle as sent (UTF-8 decoded; invalid UTF-8 is a WireError) */
  handle: string;
  indexes: number[];
  types: string[];
}

/** The site of this node, as HS_SITE carries it (RFC 3651 §3.2.2). */
export interface SiteInfo {
  /** data format version: 1 */
  dataVersion: number;
  /** protocol version the site speaks */
  protocolMajor: number;
  protocolMinor: number;
  serialNumber: number;
  primary: boolean;
  multiPrimary: boolean;
  /**
   * Hash option (0 by prefix, 1 by suffix, 2 by whole handle) and filter. Handle.Net's default, and what its JSON
   * leaves out, is 2 (SiteInfo.HASH_TYPE_BY_ALL); the filter is normally empty. Neither matters for one server.
   */
  hashOption: number;
  hashFilter: Uint8Array;
  attributes: { name: string; value: string }[];
  servers: ServerInfo[];
}

export interface ServerInfo {
  serverId: number;
  /**
   * 16 bytes: IPv6, or IPv4 as 12 zero bytes + the 4 address bytes (::a.b.c.d), which is how Handle.Net stores IPv4
   * (ServerInfo.isIPv4 tests the first 12 bytes; an IPv4-mapped ::ffff:a.b.c.d JSON address also becomes ::a.b.c.d).
   */
  address: Uint8Array;
  /** the server's public key record (may be empty) */
  publicKey: Uint8Array;
  interfaces: { type: 'admin' | 'query' | 'both' | 'out-of-service'; protocol: 'udp' | 'tcp' | 'http' | 'https'; port: number }[];
}

// ---------------------------------------------------------------------------------------------------------------------
// Byte readers and writers.

const EMPTY = new Uint8Array(0);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Bounds-checked big-endian reader over untrusted bytes; every failure is a WireError naming the field. */
class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.byteLength - this.pos;
  }

  fail(message: string): WireError {
    return new WireError(`${this.what}: ${message}`);
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      throw this.fail(`${field} runs past the end (${n} bytes needed at offset ${this.pos}, ${this.remaining} left)`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    const v = this.view.getUint8(this.pos);
    this.pos += 1;
    return v;
  }

  peekU8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** u32 length + that many bytes (a view, not a copy). */
  byteArray(field: string): Uint8Array {
    const n = this.u32(`${field} length`);
    return this.bytes(n, field);
  }

  /** u32 length + UTF-8; invalid UTF-8 is a WireError. */
  string(field: string): string {
    const b = this.byteArray(field);
    try {
      return strictUtf8.decode(b);
    } catch {
      throw this.fail(`${field} is not valid UTF-8`);
    }
  }

  /** An item count, checked against the bytes left (each item needs at least `minItemBytes`) before anything is allocated. */
  count(field: string, minItemBytes: number): number {
    const n = this.u32(field);
    if (n * minItemBytes > this.remaining) {
      throw this.fail(`${field} ${n} cannot fit in the ${this.remaining} bytes left`);
    }
    return n;
  }

  end(): void {
    if (this.remaining !== 0) throw this.fail(`${this.remaining} unexpected bytes after the end`);
  }
}

function checkUint(v: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${field} must be an integer 0 … ${max} (got ${String(v)})`);
}

/** Growable big-endian writer; encoders check their (trusted) input and throw RangeError when it is out of range. */
class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.alloc(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number, field: string): void {
    checkUint(v, 0xff, field);
    this.ensure(1);
    this.buf.writeUInt8(v, this.pos);
    this.pos += 1;
  }

  u16(v: number, field: string): void {
    checkUint(v, 0xffff, field);
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number, field: string): void {
    checkUint(v, 0xffffffff, field);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  raw(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }

  byteArray(b: Uint8Array, field: string): void {
    this.u32(b.byteLength, `${field} length`);
    this.raw(b);
  }

  string(s: string, field: string): void {
    this.byteArray(Buffer.from(s, 'utf8'), field);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Envelope and versions.

const ENV_FLAG_COMPRESSED = 0x80;
const ENV_FLAG_ENCRYPTED = 0x40;
const ENV_FLAG_TRUNCATED = 0x20;
const ENV_SUGGESTED_MAJOR_MASK = 0x03;

/**
 * Envelope bytes 0–19. Bytes 2–3 (RFC 3652 §2.2.1.3 "MessageFlag", 16 bits: CP, EC, TC, 13 reserved) are laid out by
 * Handle.Net (Encoder.decodeEnvelope) as: byte 2 = CP 0x80 | EC 0x40 | TC 0x20 | suggested major in the low 2 bits
 * (0x03); byte 3 = suggested minor. A 2.1–2.4 sender leaves those bits 0, so a suggested major of 0 means "none" and
 * the suggested minor is then ignored (decoded as 0). Handle.Net substitutes the message's own version in that case;
 * this decoder keeps 0.0 and responseVersion does the substitution. Bits 0x1c of byte 2 are ignored.
 * messageLength above MAX_MESSAGE_LENGTH is a WireError, as in Handle.Net. Longer input is fine (only 20 bytes are read).
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const r = new Reader(bytes, 'envelope');
  if (bytes.byteLength < ENVELOPE_SIZE) throw r.fail(`${bytes.byteLength} bytes, needs ${ENVELOPE_SIZE}`);
  const major = r.u8('major version');
  const minor = r.u8('minor version');
  const flags = r.u8('message flags');
  const suggestedMinorByte = r.u8('suggested minor version');
  const suggestedMajor = flags & ENV_SUGGESTED_MAJOR_MASK;
  const env: Envelope = {
    major,
    minor,
    suggestedMajor,
    suggestedMinor: suggestedMajor === 0 ? 0 : suggestedMinorByte,
    compressed: (flags & ENV_FLAG_COMPRESSED) !== 0,
    encrypted: (flags & ENV_FLAG_ENCRYPTED) !== 0,
    truncated: (flags & ENV_FLAG_TRUNCATED) !== 0,
    sessionId: r.u32('session id'),
    requestId: r.u32('request id'),
    sequenceNumber: r.u32('sequence number'),
    messageLength: r.u32('message length'),
  };
  if (env.messageLength > MAX_MESSAGE_LENGTH) {
    throw r.fail(`message length ${env.messageLength} is over the ${MAX_MESSAGE_LENGTH}-byte limit`);
  }
  return env;
}

function writeEnvelope(w: Writer, e: Envelope): void {
  w.u8(e.major, 'major version');
  w.u8(e.minor, 'minor version');
  checkUint(e.suggestedMajor, ENV_SUGGESTED_MAJOR_MASK, 'suggested major version');
  const flags =
    (e.compressed ? ENV_FLAG_COMPRESSED : 0) | (e.encrypted ? ENV_FLAG_ENCRYPTED : 0) | (e.truncated ? ENV_FLAG_TRUNCATED : 0) | e.suggestedMajor;
  w.u8(flags, 'message flags');
  w.u8(e.suggestedMajor === 0 ? 0 : e.suggestedMinor, 'suggested minor version');
  w.u32(e.sessionId, 'session id');
  w.u32(e.requestId, 'request id');
  w.u32(e.sequenceNumber, 'sequence number');
  w.u32(e.messageLength, 'message length');
}

/**
 * The 20 envelope bytes (Handle.Net Encoder.encodeEnvelope). With a suggested version of 0.0 this is the 2.1–2.4
 * layout (byte 2 = flags only, byte 3 = 0); otherwise the ≥ 2.5 layout with the suggestion in bytes 2–3. Handle.Net
 * always writes a suggestion (its own version, 2.11), even when answering an old client: a pre-2.5 reader only tests
 * the CP/EC/TC bits and treats the rest as reserved, so that is safe.
 *
 * The version rule for answers (AbstractResponse's constructor + setSupportedProtocolVersion): a response's version is
 * the version the request suggests — or the request's own version when it suggests none — capped at ours
 * (PROTOCOL_VERSION); its suggested version is ours. responseVersion implements the first half.
 */
export function encodeEnvelope(e: Envelope): Buffer {
  const w = new Writer(ENVELOPE_SIZE);
  writeEnvelope(w, e);
  return w.finish();
}

/**
 * Handle.Net's AbstractMessage.hasEqualOrGreaterVersion: whether major.minor ≥ wantMajor.wantMinor, with its quirk that
 * major version 5 (used by mistake by very old clients) is only ≥ other 5.x versions, and everything is ≥ 5.x.
 */
export function versionAtLeast(major: number, minor: number, wantMajor: number, wantMinor: number): boolean {
  if (major === 5) return wantMajor === 5 && minor >= wantMinor;
  if (wantMajor === 5) return true;
  if (major !== wantMajor) return major > wantMajor;
  return minor >= wantMinor;
}

/**
 * The protocol version to answer a request with (Handle.Net AbstractResponse): the request's suggested version, or its
 * own version when it suggests none (0.0, the 2.1–2.4 layout), capped at PROTOCOL_VERSION. So a 2.10 ID-SDK request
 * is answered in 2.10 and a 2.11 CNRI request in 2.11. The response envelope's suggested version is PROTOCOL_VERSION.
 */
export function responseVersion(request: Pick<Envelope, 'major' | 'minor' | 'suggestedMajor' | 'suggestedMinor'>): {
  major: number;
  minor: number;
} {
  const major = request.suggestedMajor !== 0 ? request.suggestedMajor : request.major;
  const minor = request.suggestedMajor !== 0 ? request.suggestedMinor : request.minor;
  if (versionAtLeast(major, minor, PROTOCOL_VERSION.major, PROTOCOL_VERSION.minor)) {
    return { major: PROTOCOL_VERSION.major, minor: PROTOCOL_VERSION.minor };
  }
  return { major, minor };
}

// ---------------------------------------------------------------------------------------------------------------------
// Header and message.

/**
 * Header (24 bytes: opCode u32, responseCode u32, opFlags u32, siteInfoSerial u16, recursionCount u8, reserved u8,
 * expiration u32, bodyLength u32), body, and the optional credential section (u32 length + bytes; Handle.Net reads it
 * only "if there is room", and always writes at least its length). Bytes after the credential are a WireError.
 * body, credential and digestInput are views into `bytes`.
 */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes, 'message');
  if (bytes.byteLength < HEADER_SIZE) throw r.fail(`${bytes.byteLength} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  const opCode = r.u32('opCode');
  const responseCode = r.u32('responseCode');
  const opFlags = r.u32('opFlags');
  const siteInfoSerial = r.u16('siteInfoSerial');
  const recursionCount = r.u8('recursionCount');
  r.u8('reserved');
  const expiration = r.u32('expiration');
  const bodyLength = r.u32('bodyLength');
  const body = r.bytes(bodyLength, 'body');
  const credential = r.remaining > 0 ? r.byteArray('credential') : EMPTY;
  r.end();
  return {
    header: { opCode, responseCode, opFlags, siteInfoSerial, recursionCount, expiration, bodyLength },
    body,
    credential,
    digestInput: bytes.subarray(0, HEADER_SIZE + bodyLength),
  };
}

/**
 * Encodes header + body + an empty credential section (a message, without its envelope): Handle.Net's
 * getEncodedMessage writes a u32 0 when a message is unsigned.
 */
export function encodeMessage(header: Omit<Header, 'bodyLength'>, body: Uint8Array): Buffer {
  const w = new Writer(HEADER_SIZE + body.byteLength + 4);
  w.u32(header.opCode, 'opCode');
  w.u32(header.responseCode, 'responseCode');
  w.u32(header.opFlags, 'opFlags');
  w.u16(header.siteInfoSerial, 'siteInfoSerial');
  w.u8(header.recursionCount, 'recursionCount');
  w.u8(0, 'reserved');
  w.u32(header.expiration, 'expiration');
  w.u32(body.byteLength, 'bodyLength');
  w.raw(body);
  w.u32(0, 'credential length');
  return w.finish();
}

/** Byte offsets of the envelope's fields (RFC 3652 §2.2.1), for code that peeks at or patches a whole message. */
export const ENVELOPE_AT = { flags: 2, sessionId: 4, requestId: 8, sequenceNumber: 12, messageLength: 16 } as const;
/** Byte offsets of the header's fields from the start of the message (RFC 3652 §2.2.2). */
export const HEADER_AT = { opCode: 0, responseCode: 4, opFlags: 8, recursionCount: 14, bodyLength: 20 } as const;

/** A message as it goes on the wire in one piece: its envelope (announcing the message's length), then the message. */
export function frameMessage(env: Omit<Envelope, 'messageLength'>, message: Uint8Array): Buffer {
  return Buffer.concat([encodeEnvelope({ ...env, messageLength: message.byteLength }), message]);
}

/**
 * A whole request as a client sends it (envelope + header + body + empty credential), in protocol 2.10 unless
 * `version` says otherwise; clients, tests and the bench use it.
 */
export function encodeRequest(o: {
  opCode: number;
  opFlags: number;
  body: Uint8Array;
  requestId: number;
  expiration: number;
  version?: { major: number; minor: number; suggestedMajor?: number; suggestedMinor?: number };
}): Buffer {
  const v = o.version ?? { major: 2, minor: 10 };
  const message = encodeMessage({ opCode: o.opCode, responseCode: 0, opFlags: o.opFlags >>> 0, siteInfoSerial: 0, recursionCount: 0, expiration: o.expiration }, o.body);
  return frameMessage(
    {
      major: v.major,
      minor: v.minor,
      suggestedMajor: v.suggestedMajor ?? v.major,
      suggestedMinor: v.suggestedMinor ?? v.minor,
      compressed: false,
      encrypted: false,
      truncated: false,
      sessionId: 0,
      requestId: o.requestId,
      sequenceNumber: 0,
    },
    message,
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// Resolution request and response, error body, request digest.

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
function checkDigestSection(d: Uint8Array): void {
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
function readDigestSection(r: Reader, body: Uint8Array): Uint8Array {
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
const MIN_VALUE_BYTES = 4 + 4 + 1 + 4 + 1 + 4 + 4 + 4;

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

// ---------------------------------------------------------------------------------------------------------------------
// Handle values.

const TTL_TYPE_RELATIVE = 0;
const TTL_TYPE_ABSOLUTE = 1;
const PERM_ADMIN_READ = 0x08;
const PERM_ADMIN_WRITE = 0x04;
const PERM_PUBLIC_READ = 0x02;
const PERM_PUBLIC_WRITE = 0x01;

function writeHandleValue(w: Writer, v: HandleValue): void {
  w.u32(v.index, 'value index');
  w.u32(v.timestamp, 'value timestamp');
  w.u8(v.ttlType === 'absolute' ? TTL_TYPE_ABSOLUTE : TTL_TYPE_RELATIVE, 'ttl type');
  w.u32(v.ttl, 'ttl');
  const p = v.permissions;
  w.u8(
    (p.adminRead ? PERM_ADMIN_READ : 0) | (p.adminWrite ? PERM_ADMIN_WRITE : 0) | (p.publicRead ? PERM_PUBLIC_READ : 0) | (p.publicWrite ? PERM_PUBLIC_WRITE : 0),
    'permissions',
  );
  w.string(v.type, 'value type');
  w.byteArray(dataBytes(v), 'value data');
  w.u32(v.references.length, 'reference count');
  for (const ref of v.references) {
    w.string(ref.handle, 'reference handle');
    w.u32(ref.index, 'reference index');
  }
}

function readHandleValue(r: Reader, label: string): HandleValue {
  const index = r.u32(`${label} index`);
  const timestamp = r.u32(`${label} timestamp`);
  const ttlTypeByte = r.u8(`${label} ttl type`);
  if (ttlTypeByte !== TTL_TYPE_RELATIVE && ttlTypeByte !== TTL_TYPE_ABSOLUTE) throw r.fail(`${label} has unknown ttl type ${ttlTypeByte}`);
  const ttl = r.u32(`${label} ttl`);
  const perms = r.u8(`${label} permissions`);
  const type = r.string(`${label} type`);
  const data = r.byteArray(`${label} data`);
  const refCount = r.count(`${label} reference count`, 8);
  const references: ValueReference[] = [];
  for (let i = 0; i < refCount; i++) {
    const handle = r.string(`${label} reference ${i} handle`);
    references.push({ handle, index: r.u32(`${label} reference ${i} index`) });
  }
  return {
    index,
    type,
    data: valueDataFromWire(type, data),
    ttlType: ttlTypeByte === TTL_TYPE_ABSOLUTE ? 'absolute' : 'relative',
    ttl,
    timestamp,
    permissions: {
      adminRead: (perms & PERM_ADMIN_READ) !== 0,
      adminWrite: (perms & PERM_ADMIN_WRITE) !== 0,
      publicRead: (perms & PERM_PUBLIC_READ) !== 0,
      publicWrite: (perms & PERM_PUBLIC_WRITE) !== 0,
    },
    references,
  };
}

/**
 * One handle value in wire form (RFC 3651 §3, RFC 3652 §2.2.3.3; Encoder.encodeHandleValue): index u32, timestamp u32
 * (seconds), ttlType u8 (0 relative, 1 absolute), ttl u32, permissions u8 (ADMIN_READ 0x08, ADMIN_WRITE 0x04,
 * PUBLIC_READ 0x02, PUBLIC_WRITE 0x01), type (string), data (byte array), references (u32 count + handle, u32 index).
 */
export function encodeHandleValue(v: HandleValue): Buffer {
  const w = new Writer(128);
  writeHandleValue(w, v);
  return w.finish();
}

/** The inverse of encodeHandleValue (the whole input must be one value). */
export function decodeHandleValue(bytes: Uint8Array): HandleValue {
  const r = new Reader(bytes, 'handle value');
  const v = readHandleValue(r, 'value');
  r.end();
  return v;
}

/**
 * Value data bytes of a value. string → UTF-8; base64 → the decoded bytes; admin → HS_ADMIN (Encoder.encodeAdminRecord:
 * u16 permission bits, admin handle string, u32 admin index); vlist → Encoder.encodeValueReferenceList (u32 count +
 * handle string, u32 index each); site → the binary HS_SITE record (siteInfoFromJson + encodeSiteInfo); key →
 * Handle.Net's public-key record (Util.getBytesFromPublicKey, built from the JSON {kty, n, e} / {kty, y, p, q, g}).
 * A site or key whose JSON cannot be converted (json.ts accepts some that Handle.Net would not, e.g. a host name as a
 * server address) is sent as its JSON text in UTF-8 rather than failing the whole response.
 */
export function dataBytes(v: HandleValue): Buffer {
  const d = v.data;
  switch (d.format) {
    case 'string':
      return Buffer.from(d.value, 'utf8');
    case 'base64':
      return Buffer.from(d.value, 'base64');
    case 'admin':
      return encodeAdminRecord(d.value);
    case 'vlist':
      return encodeValueReferenceList(d.value);
    case 'site':
      try {
        return encodeSiteInfo(siteInfoFromJson(d.value));
      } catch (e) {
        if (e instanceof HandleError) return Buffer.from(JSON.stringify(d.value), 'utf8');
        throw e;
      }
    case 'key': {
      const bytes = publicKeyBytesFromJson(d.value);
      return bytes ?? Buffer.from(JSON.stringify(d.value), 'utf8');
    }
  }
}

/**
 * Handle.Net's HandleValue.hasType: equal ignoring ASCII case, or a subtype ("HS_SITE.6" has type HS_SITE).
 */
function hasType(type: string, wanted: string): boolean {
  const t = asciiUpper(type);
  return t === wanted || (t.length > wanted.length && t.charAt(wanted.length) === '.' && t.startsWith(wanted));
}

/**
 * Value data from wire bytes, shown the way Handle.Net's JSON shows it (GsonUtility.serializeData), by type:
 * HS_ADMIN → admin, HS_VLIST → vlist, HS_SITE / HS_SITE.PREFIX / HS_NA_DELEGATE → site, HS_PUBKEY → key (subtypes
 * included, case ignored); bytes that do not parse as that, and every other type, → string or base64 via dataFromBytes.
 * Never throws.
 */
export function valueDataFromWire(type: string, bytes: Uint8Array): ValueData {
  try {
    if (hasType(type, 'HS_ADMIN')) return { format: 'admin', value: decodeAdminRecord(bytes) };
    if (hasType(type, 'HS_VLIST')) return { format: 'vlist', value: decodeValueReferenceList(bytes) };
    if (hasType(type, 'HS_SITE') || hasType(type, 'HS_SITE.PREFIX') || hasType(type, 'HS_NA_DELEGATE')) {
      return { format: 'site', value: siteInfoToJson(decodeSiteInfo(bytes)) };
    }
    if (hasType(type, 'HS_PUBKEY')) return { format: 'key', value: decodePublicKey(bytes) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
  return dataFromBytes(bytes);
}

/**
 * HS_ADMIN permissions: the 12-character string is exactly the u16's low 12 bits, most significant first (Handle.Net's
 * JSON prints AdminRecord.perms[11..0], and perms[i] is wire bit i: ADD_HANDLE 0x001, DELETE_HANDLE 0x002,
 * ADD_DERIVED_PREFIX 0x004, DELETE_DERIVED_PREFIX 0x008, MODIFY_VALUE 0x010, REMOVE_VALUE 0x020, ADD_VALUE 0x040,
 * MODIFY_ADMIN 0x080, REMOVE_ADMIN 0x100, ADD_ADMIN 0x200, READ_VALUE 0x400, LIST_HANDLES 0x800).
 */
function encodeAdminRecord(a: AdminData): Buffer {
  if (!/^[01]{0,16}$/.test(a.permissions)) throw new RangeError(`admin permissions must be a bit string (got ${JSON.stringify(a.permissions)})`);
  const w = new Writer(2 + 4 + a.handle.length * 3 + 4);
  w.u16(a.permissions === '' ? 0 : parseInt(a.permissions, 2), 'admin permissions');
  w.string(a.handle, 'admin handle');
  w.u32(a.index, 'admin index');
  return w.finish();
}

/** Encoder.decodeAdminRecord: records from Handle.Net ≤ 7.3 carry 2 extra zero bytes ("legacyByteLength"), accepted. */
function decodeAdminRecord(bytes: Uint8Array): AdminData {
  const r = new Reader(bytes, 'HS_ADMIN record');
  const perms = r.u16('permissions');
  const handle = r.string('admin handle');
  const index = r.u32('admin index');
  if (r.remaining === 2) r.u16('legacy padding');
  r.end();
  return { handle, index, permissions: (perms & 0xfff).toString(2).padStart(12, '0') };
}

function encodeValueReferenceList(refs: readonly ValueReference[]): Buffer {
  const w = new Writer(64);
  w.u32(refs.length, 'reference count');
  for (const ref of refs) {
    w.string(ref.handle, 'reference handle');
    w.u32(ref.index, 'reference index');
  }
  return w.finish();
}

function decodeValueReferenceList(bytes: Uint8Array): ValueReference[] {
  const r = new Reader(bytes, 'HS_VLIST record');
  const n = r.count('reference count', 8);
  const refs: ValueReference[] = [];
  for (let i = 0; i < n; i++) {
    const handle = r.string(`reference ${i} handle`);
    refs.push({ handle, index: r.u32(`reference ${i} index`) });
  }
  r.end();
  return refs;
}

// ---------------------------------------------------------------------------------------------------------------------
// Public keys (Util.getBytesFromPublicKey / getPublicKeyFromBytes; GsonUtility.PublicKeyTypeHierarchyAdapter).
// Record: key type string ("RSA_PUB_KEY" / "DSA_PUB_KEY"), u16 flags (0), then byte arrays: RSA e, n; DSA q, p, g, y.
// The numbers are Java BigInteger.toByteArray() (minimal two's complement, so a leading 0 when the top bit is set); the
// JSON form is {kty, n, e} / {kty, y, p, q, g} with unsigned big-endian numbers in unpadded base64url.

const KEY_RSA = 'RSA_PUB_KEY';
const KEY_DSA = 'DSA_PUB_KEY';
const KEY_FIELDS: Readonly<Record<string, { wire: string; json: readonly string[]; order: readonly string[] }>> = {
  RSA: { wire: KEY_RSA, json: ['n', 'e'], order: ['e', 'n'] },
  DSA: { wire: KEY_DSA, json: ['y', 'p', 'q', 'g'], order: ['q', 'p', 'g', 'y'] },
};

/** Unsigned big-endian bytes → Java BigInteger(1, bytes).toByteArray(). */
function javaBigIntegerBytes(unsigned: Uint8Array): Uint8Array {
  let i = 0;
  while (i < unsigned.length && unsigned[i] === 0) i++;
  const stripped = unsigned.subarray(i);
  if (stripped.length === 0) return Uint8Array.of(0);
  if ((stripped[0] as number) >= 0x80) {
    const out = new Uint8Array(stripped.length + 1);
    out.set(stripped, 1);
    return out;
  }
  return stripped;
}

/** GsonUtility.unsigned: leading zero bytes dropped, at least one byte kept. */
function unsignedBytes(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.length === 0 ? Uint8Array.of(0) : b.subarray(i);
}

const B64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

function base64Field(raw: unknown): Uint8Array | null {
  if (typeof raw !== 'string' || !B64_RE.test(raw)) return null;
  const bytes = Buffer.from(raw.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 0 ? null : bytes;
}

/** The public-key record of a JSON key, or null when it is not an RSA/DSA key Handle.Net could read. */
function publicKeyBytesFromJson(k: KeyData): Buffer | null {
  const kty = typeof k.kty === 'string' ? k.kty.toUpperCase() : '';
  const spec = KEY_FIELDS[kty];
  if (spec === undefined) return null;
  const w = new Writer(512);
  w.string(spec.wire, 'key type');
  w.u16(0, 'key flags');
  for (const name of spec.order) {
    const bytes = base64Field(k[name]);
    if (bytes === null) return null;
    w.byteArray(javaBigIntegerBytes(bytes), `key ${name}`);
  }
  return w.finish();
}

/** A public-key record → its JSON form (RSA and DSA; anything else, e.g. DH_PUB_KEY, is a WireError). */
function decodePublicKey(bytes: Uint8Array): KeyData {
  const r = new Reader(bytes, 'public key record');
  const keyType = r.string('key type');
  r.u16('key flags');
  const kty = keyType === KEY_RSA ? 'RSA' : keyType === KEY_DSA ? 'DSA' : null;
  if (kty === null) throw r.fail(`unsupported key type ${JSON.stringify(keyType)}`);
  const spec = KEY_FIELDS[kty] as (typeof KEY_FIELDS)[string];
  const numbers: Record<string, string> = {};
  for (const name of spec.order) numbers[name] = Buffer.from(unsignedBytes(r.byteArray(`key ${name}`))).toString('base64url');
  // Trailing bytes are ignored, as Util.getPublicKeyFromBytes does.
  const key: KeyData = { kty };
  for (const name of spec.json) key[name] = numbers[name];
  return key;
}

// ---------------------------------------------------------------------------------------------------------------------
// Site info (Encoder.encodeSiteInfoRecord / decodeSiteInfoRecord).

const SITE_PRIMARY = 0x80;
const SITE_MULTI_PRIMARY = 0x40;
const HASH_TYPE_BY_ALL = 2;
const IP_ADDRESS_LENGTH = 16;
const INTERFACE_TYPES = ['out-of-service', 'admin', 'query', 'both'] as const; // Interface.ST_*: 0, 1, 2, 3
const INTERFACE_PROTOCOLS = ['udp', 'tcp', 'http', 'https'] as const; // Interface.SP_HDL_*: 0, 1, 2, 3
type InterfaceInfo = ServerInfo['interfaces'][number];

/**
 * dataVersion u16, protocol major u8, minor u8, serialNumber u16, flags u8 (primary 0x80, multi-primary 0x40),
 * hashOption u8, hashFilter (byte array), attributes (u32 count + name string, value string), servers (u32 count +
 * serverId u32, 16 address bytes, public key byte array, interfaces (u32 count + type u8, protocol u8, port u32)).
 * An address shorter than 16 bytes is right-aligned, as Handle.Net does.
 */
export function encodeSiteInfo(s: SiteInfo): Buffer {
  const w = new Writer(256);
  w.u16(s.dataVersion, 'site data version');
  w.u8(s.protocolMajor, 'site protocol major version');
  w.u8(s.protocolMinor, 'site protocol minor version');
  w.u16(s.serialNumber, 'site serial number');
  w.u8((s.primary ? SITE_PRIMARY : 0) | (s.multiPrimary ? SITE_MULTI_PRIMARY : 0), 'site flags');
  w.u8(s.hashOption, 'hash option');
  w.byteArray(s.hashFilter, 'hash filter');
  w.u32(s.attributes.length, 'attribute count');
  for (const a of s.attributes) {
    w.string(a.name, 'attribute name');
    w.string(a.value, 'attribute value');
  }
  w.u32(s.servers.length, 'server count');
  for (const srv of s.servers) {
    w.u32(srv.serverId, 'server id');
    if (srv.address.byteLength > IP_ADDRESS_LENGTH) throw new RangeError(`server address must be at most 16 bytes (got ${srv.address.byteLength})`);
    const addr = new Uint8Array(IP_ADDRESS_LENGTH);
    addr.set(srv.address, IP_ADDRESS_LENGTH - srv.address.byteLength);
    w.raw(addr);
    w.byteArray(srv.publicKey, 'server public key');
    w.u32(srv.interfaces.length, 'interface count');
    for (const itf of srv.interfaces) {
      const type = INTERFACE_TYPES.indexOf(itf.type);
      const protocol = INTERFACE_PROTOCOLS.indexOf(itf.protocol);
      if (type < 0) throw new RangeError(`unknown interface type ${String(itf.type)}`);
      if (protocol < 0) throw new RangeError(`unknown interface protocol ${String(itf.protocol)}`);
      w.u8(type, 'interface type');
      w.u8(protocol, 'interface protocol');
      w.u32(itf.port, 'interface port');
    }
  }
  return w.finish();
}

/** The inverse. Unknown interface types (> 3) and protocols (> 3) are WireErrors; so are bytes after the record. */
export function decodeSiteInfo(bytes: Uint8Array): SiteInfo {
  const r = new Reader(bytes, 'site info');
  const dataVersion = r.u16('data version');
  const protocolMajor = r.u8('protocol major version');
  const protocolMinor = r.u8('protocol minor version');
  const serialNumber = r.u16('serial number');
  const flags = r.u8('flags');
  const hashOption = r.u8('hash option');
  const hashFilter = Uint8Array.from(r.byteArray('hash filter'));
  const attrCount = r.count('attribute count', 8);
  const attributes: SiteInfo['attributes'] = [];
  for (let i = 0; i < attrCount; i++) {
    const name = r.string(`attribute ${i} name`);
    attributes.push({ name, value: r.string(`attribute ${i} value`) });
  }
  const serverCount = r.count('server count', 4 + IP_ADDRESS_LENGTH + 4 + 4);
  const servers: ServerInfo[] = [];
  for (let i = 0; i < serverCount; i++) {
    const serverId = r.u32(`server ${i} id`);
    const address = Uint8Array.from(r.bytes(IP_ADDRESS_LENGTH, `server ${i} address`));
    const publicKey = Uint8Array.from(r.byteArray(`server ${i} public key`));
    const intfCount = r.count(`server ${i} interface count`, 6);
    const interfaces: InterfaceInfo[] = [];
    for (let j = 0; j < intfCount; j++) {
      const typeByte = r.u8(`server ${i} interface ${j} type`);
      const protocolByte = r.u8(`server ${i} interface ${j} protocol`);
      const port = r.u32(`server ${i} interface ${j} port`);
      const type = INTERFACE_TYPES[typeByte];
      const protocol = INTERFACE_PROTOCOLS[protocolByte];
      if (type === undefined) throw r.fail(`server ${i} interface ${j} has unknown type ${typeByte}`);
      if (protocol === undefined) throw r.fail(`server ${i} interface ${j} has unknown protocol ${protocolByte}`);
      interfaces.push({ type, protocol, port });
    }
    servers.push({ serverId, address, publicKey, interfaces });
  }
  r.end();
  return {
    dataVersion,
    protocolMajor,
    protocolMinor,
    serialNumber,
    primary: (flags & SITE_PRIMARY) !== 0,
    multiPrimary: (flags & SITE_MULTI_PRIMARY) !== 0,
    hashOption,
    hashFilter,
    attributes,
    servers,
  };
}

// --- addresses (ServerInfo.getAddressString / Util.rfcIpRepr; GsonUtility's InetAddress.getByName + fill16) ----------

/** ServerInfo.getAddressString: first 12 bytes zero → dotted IPv4 of the last 4; else Util.rfcIpRepr. */
export function formatServerAddress(address: Uint8Array): string {
  if (address.byteLength === 4) return Array.from(address).join('.');
  if (address.byteLength !== IP_ADDRESS_LENGTH) throw new RangeError(`server address must be 16 bytes (got ${address.byteLength})`);
  if (address.subarray(0, 12).every((b) => b === 0)) return Array.from(address.subarray(12)).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((address[i] as number) << 8) | (address[i + 1] as number));
  // Util.integerIPv6AddressToString: the longest run (first of equal ones) of ≥ 2 zero groups becomes "::"; its quirk
  // is that a run reaching the last group is never chosen, kept here so the output matches byte for byte.
  let runStart = 0;
  let runLength = 0;
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; i++) {
    if (groups[i] === 0) {
      if (runLength === 0) runStart = i;
      runLength++;
    } else {
      if (runLength > bestLength) {
        bestStart = runStart;
        bestLength = runLength;
      }
      runLength = 0;
    }
  }
  if (bestLength === 1) bestStart = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i !== bestStart) {
      out += (groups[i] as number).toString(16);
      if (i < 7) out += ':';
    } else {
      if (i === 0) out += ':';
      i += bestLength - 1;
      out += ':';
    }
  }
  return out;
}

function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/**
 * An IP address literal → 16 bytes, as Handle.Net's Gson adapter stores it: fill16(InetAddress.getByName(s).getAddress()),
 * so IPv4 (and IPv4-mapped IPv6, which Java turns into IPv4) becomes 12 zero bytes + 4. Host names are not resolved
 * (this codec does no I/O): null.
 */
export function parseServerAddress(input: string): Uint8Array | null {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const out = new Uint8Array(IP_ADDRESS_LENGTH);
  const v4 = parseIPv4(s);
  if (v4 !== null) {
    out.set(v4, 12);
    return out;
  }
  if (!s.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string, allowV4: boolean): number[] | null => {
    if (part === '') return [];
    const items = part.split(':');
    const groups: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as string;
      if (allowV4 && i === items.length - 1 && item.includes('.')) {
        const quad = parseIPv4(item);
        if (quad === null) return null;
        groups.push(((quad[0] as number) << 8) | (quad[1] as number), ((quad[2] as number) << 8) | (quad[3] as number));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(item)) return null;
        groups.push(parseInt(item, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string, true) : [];
  if (head === null || tail === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  // IPv4-mapped (::ffff:a.b.c.d): Java's InetAddress.getByName returns an Inet4Address, so fill16 zero-pads it.
  if (out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff) {
    out[10] = 0;
    out[11] = 0;
  }
  return out;
}

// --- JSON (GsonUtility.SiteInfoGsonTypeAdapter, ServerInfoGsonTypeAdapter, InterfaceGsonTypeAdapter) ----------------

function keyOrBinaryJson(publicKey: Uint8Array): { format: string; value: unknown } {
  try {
    return { format: 'key', value: decodePublicKey(publicKey) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
  return { format: 'base64', value: Buffer.from(publicKey).toString('base64') };
}

/**
 * The JSON form of a site (Handle.Net's Gson shape, as HS_SITE values are stored and shown over HTTP):
 * {version, protocolVersion: "2.10", serialNumber, primarySite, multiPrimary, hashOption (only when not 2),
 * hashFilter (only when not empty), attributes: [{name, value}], servers: [{serverId, address, publicKey:
 * {format: "key", value: {kty, …}} or {format: "base64", value}, interfaces: [{query, admin, protocol: "TCP", port}]}]}.
 */
export function siteInfoToJson(s: SiteInfo): SiteData {
  const out: SiteData = {
    version: s.dataVersion,
    protocolVersion: `${s.protocolMajor}.${s.protocolMinor}`,
    serialNumber: s.serialNumber,
    primarySite: s.primary,
    multiPrimary: s.multiPrimary,
  };
  if (s.hashOption !== HASH_TYPE_BY_ALL) out.hashOption = s.hashOption;
  if (s.hashFilter.byteLength > 0) out.hashFilter = lenientUtf8.decode(s.hashFilter);
  out.attributes = s.attributes.map((a) => ({ name: a.name, value: a.value }));
  out.servers = s.servers.map((srv) => ({
    serverId: srv.serverId,
    address: formatServerAddress(srv.address),
    publicKey: keyOrBinaryJson(srv.publicKey),
    interfaces: srv.interfaces.map((itf) => ({
      query: itf.type === 'query' || itf.type === 'both',
      admin: itf.type === 'admin' || itf.type === 'both',
      protocol: itf.protocol.toUpperCase(),
      port: itf.port,
    })),
  }));
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** GsonUtility.lowerCaseIfNeeded: legacy objects (with ServerList, Address or Port) get lower-cased first letters. */
function lowerCaseIfNeeded(o: Record<string, unknown>): { obj: Record<string, unknown>; legacy: boolean } {
  if (!('ServerList' in o) && !('Address' in o) && !('Port' in o)) return { obj: o, legacy: false };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.length === 0 ? k : k.charAt(0).toLowerCase() + k.slice(1)] = v;
  return { obj: out, legacy: true };
}

function siteError(field: string, problem: string, value?: unknown): HandleError {
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 60) ?? String(value)})`;
  return new HandleError(RC.INVALID_VALUE, `Site data: ${field} ${problem}${shown}`);
}

/** Gson getAsInt: a JSON number or a numeric string. */
function jsonInt(raw: unknown, field: string, max: number): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw siteError(field, `must be an integer 0 … ${max}`, raw);
  return n;
}

/** Gson getAsBoolean: a boolean, or a string that is "true" ignoring case; absent → false. */
function jsonBool(raw: unknown, field: string): boolean {
  if (raw === undefined || raw === null) return false;
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') return raw.toLowerCase() === 'true';
  throw siteError(field, 'must be a boolean', raw);
}

function jsonString(raw: unknown, field: string): string {
  if (typeof raw !== 'string') throw siteError(field, 'must be a string', raw);
  return raw;
}

function bytesOfEncoding(value: string, encoding: 'base64' | 'hex', field: string): Uint8Array {
  const ok = encoding === 'hex' ? /^([0-9A-Fa-f]{2})*$/.test(value) : /^[A-Za-z0-9+/_-]*={0,2}$/.test(value.replace(/\s+/g, ''));
  if (!ok) throw siteError(field, `is not valid ${encoding}`, value);
  const clean = encoding === 'hex' ? value : value.replace(/\s+/g, '').replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  return new Uint8Array(Buffer.from(clean, encoding));
}

/** GsonUtility.deserializeData, for a server's publicKey: "text" (hex when legacy), or {format, value}. */
function publicKeyFromJson(raw: unknown, legacy: boolean, field: string): Uint8Array {
  if (raw === undefined || raw === null) return EMPTY;
  if (typeof raw === 'string') return legacy ? bytesOfEncoding(raw, 'hex', field) : new Uint8Array(Buffer.from(raw, 'utf8'));
  if (!isObject(raw) || typeof raw.format !== 'string') throw siteError(field, 'must be a string or {format, value}', raw);
  const format = raw.format.toLowerCase();
  const value = raw.value;
  switch (format) {
    case 'string':
      return new Uint8Array(Buffer.from(jsonString(value, `${field}.value`), 'utf8'));
    case 'base64':
    case 'hex':
      return bytesOfEncoding(jsonString(value, `${field}.value`), format, `${field}.value`);
    case 'key': {
      if (!isObject(value)) throw siteError(`${field}.value`, 'must be a key object {kty, …}', value);
      const bytes = publicKeyBytesFromJson(value);
      if (bytes === null) throw siteError(`${field}.value`, 'is not an RSA or DSA public key', value);
      return new Uint8Array(bytes);
    }
    default:
      throw siteError(`${field}.format`, 'must be string, base64, hex or key', raw.format);
  }
}

function interfaceFromJson(raw: unknown, field: string): InterfaceInfo {
  if (!isObject(raw)) throw siteError(field, 'must be an object {query, admin, protocol, port}', raw);
  const { obj } = lowerCaseIfNeeded(raw);
  const query = jsonBool(obj.query, `${field}.query`);
  const admin = jsonBool(obj.admin, `${field}.admin`);
  const type: InterfaceInfo['type'] = query ? (admin ? 'both' : 'query') : admin ? 'admin' : 'out-of-service';
  let protocol: InterfaceInfo['protocol'] | undefined;
  const p = obj.protocol;
  if (typeof p === 'string' && !/^\d+$/.test(p.trim())) {
    protocol = INTERFACE_PROTOCOLS.find((name) => name === p.trim().toLowerCase());
  } else if (typeof p === 'number' || typeof p === 'string') {
    protocol = INTERFACE_PROTOCOLS[Number(p)];
  }
  if (protocol === undefined) throw siteError(`${field}.protocol`, 'must be UDP, TCP, HTTP or HTTPS', p);
  return { type, protocol, port: jsonInt(obj.port, `${field}.port`, 0xffffffff) };
}

function serverFromJson(raw: unknown, field: string): ServerInfo {
  if (!isObject(raw)) throw siteError(field, 'must be a server object', raw);
  const { obj, legacy } = lowerCaseIfNeeded(raw);
  const serverId = jsonInt(obj.serverId, `${field}.serverId`, 0xffffffff);
  const addressText = jsonString(obj.address, `${field}.address`);
  const address = parseServerAddress(addressText);
  if (address === null) throw siteError(`${field}.address`, 'must be an IPv4 or IPv6 address literal', addressText);
  const publicKey = publicKeyFromJson(obj.publicKey, legacy, `${field}.publicKey`);
  const intfs = obj.interfaces !== undefined ? obj.interfaces : obj.interfaceList;
  if (intfs !== undefined && intfs !== null && !Array.isArray(intfs)) throw siteError(`${field}.interfaces`, 'must be an array', intfs);
  const interfaces = (intfs ?? []).map((it: unknown, j: number) => interfaceFromJson(it, `${field}.interfaces[${j}]`));
  return { serverId, address, publicKey, interfaces };
}

/** Attributes as an array of {name, value}, or an object {name: value | [values]} (both accepted by Handle.Net). */
function attributesFromJson(raw: unknown): SiteInfo['attributes'] {
  if (raw === undefined || raw === null) return [];
  const out: SiteInfo['attributes'] = [];
  if (Array.isArray(raw)) {
    raw.forEach((a: unknown, i: number) => {
      if (!isObject(a)) throw siteError(`attributes[${i}]`, 'must be an object {name, value}', a);
      out.push({ name: jsonString(a.name, `attributes[${i}].name`), value: jsonString(a.value, `attributes[${i}].value`) });
    });
    return out;
  }
  if (!isObject(raw)) throw siteError('attributes', 'must be an array or an object', raw);
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) value.forEach((v: unknown, i: number) => out.push({ name, value: jsonString(v, `attributes.${name}[${i}]`) }));
    else out.push({ name, value: jsonString(value, `attributes.${name}`) });
  }
  return out;
}

/**
 * A site from its JSON form (GsonUtility.SiteInfoGsonTypeAdapter.deserialize, as lenient): legacy capitalised keys and
 * serverList / interfaceList are accepted; absent fields take Handle.Net's SiteInfo defaults (version 1, protocol
 * 2.11, serial 0, not primary, hashOption 2, no filter, no attributes, no servers). Server addresses must be IP
 * literals (Handle.Net would also resolve host names). Throws HandleError(RC.INVALID_VALUE) naming the field.
 */
export function siteInfoFromJson(d: SiteData): SiteInfo {
  if (!isObject(d)) throw siteError('site', 'must be an object', d);
  const { obj } = lowerCaseIfNeeded(d);
  let protocolMajor: number = PROTOCOL_VERSION.major;
  let protocolMinor: number = PROTOCOL_VERSION.minor;
  if (obj.protocolVersion !== undefined && obj.protocolVersion !== null) {
    const text = typeof obj.protocolVersion === 'number' ? String(obj.protocolVersion) : jsonString(obj.protocolVersion, 'protocolVersion');
    const m = /^\s*(\d{1,3})\.(\d{1,3})\s*$/.exec(text);
    if (m === null || Number(m[1]) > 255 || Number(m[2]) > 255) throw siteError('protocolVersion', 'must be "major.minor"', obj.protocolVersion);
    protocolMajor = Number(m[1]);
    protocolMinor = Number(m[2]);
  }
  const servers = obj.servers !== undefined ? obj.servers : obj.serverList;
  if (servers !== undefined && servers !== null && !Array.isArray(servers)) throw siteError('servers', 'must be an array', servers);
  return {
    dataVersion: obj.version === undefined || obj.version === null ? 1 : jsonInt(obj.version, 'version', 0xffff),
    protocolMajor,
    protocolMinor,
    serialNumber: obj.serialNumber === undefined || obj.serialNumber === null ? 0 : jsonInt(obj.serialNumber, 'serialNumber', 0xffff),
    primary: jsonBool(obj.primarySite, 'primarySite'),
    multiPrimary: jsonBool(obj.multiPrimary, 'multiPrimary'),
    hashOption: obj.hashOption === undefined || obj.hashOption === null ? HASH_TYPE_BY_ALL : jsonInt(obj.hashOption, 'hashOption', 0xff),
    hashFilter:
      obj.hashFilter === undefined || obj.hashFilter === null ? EMPTY : new Uint8Array(Buffer.from(jsonString(obj.hashFilter, 'hashFilter'), 'utf8')),
    attributes: attributesFromJson(obj.attributes),
    servers: (servers ?? []).map((srv: unknown, i: number) => serverFromJson(srv, `servers[${i}]`)),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// UDP.

/**
 * A message split for UDP: one datagram per ≤ 492 bytes, each with the envelope (sequence numbers 0, 1, …). As Handle.Net
 * does (HandleResolver.getUdpPacketsForRequest, HdlUdpRequestHandler.handleResponse): every fragment carries the same
 * request id and messageLength = the length of the whole message; fragment i holds bytes i·492 … i·492+491; truncated
 * (TC) is set when there is more than one fragment (the client sets it so; Handle.Net's server decides by it, its
 * client by messageLength). An empty message gives one envelope-only datagram.
 */
export function fragmentForUdp(env: Omit<Envelope, 'sequenceNumber' | 'messageLength' | 'truncated'>, message: Uint8Array): Buffer[] {
  const count = Math.max(1, Math.ceil(message.byteLength / UDP_FRAGMENT_PAYLOAD));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const payload = message.subarray(i * UDP_FRAGMENT_PAYLOAD, Math.min((i + 1) * UDP_FRAGMENT_PAYLOAD, message.byteLength));
    const w = new Writer(ENVELOPE_SIZE + payload.byteLength);
    writeEnvelope(w, { ...env, truncated: count > 1, sequenceNumber: i, messageLength: message.byteLength });
    w.raw(payload);
    out.push(w.finish());
  }
  return out;
}

export interface UdpReassemblerOptions {
  /** Most messages being reassembled at once (default 256). */
  maxMessages?: number;
  /** Most bytes buffered over all messages in progress (default 4 MiB). */
  maxBytes?: number;
  /** Longest message accepted in fragments (default MAX_MESSAGE_LENGTH). */
  maxMessageBytes?: number;
  /** A message not complete this many ms after its first fragment is dropped (default 5000, HdlUdpInterface's wait). */
  ttlMs?: number;
}

/** What one fragment did (UdpReassembler.offer). */
export type UdpReassembly =
  | { status: 'complete'; envelope: Envelope; message: Buffer }
  | { status: 'pending' }
  | { status: 'duplicate' }
  | { status: 'invalid'; reason: string }
  | { status: 'dropped'; reason: 'too-many-messages' | 'too-many-bytes' | 'too-long' };

interface PendingMessage {
  envelope: Envelope;
  message: Buffer;
  got: Uint8Array;
  missing: number;
  startedMs: number;
}

/**
 * Reassembles messages that arrive in several datagrams (Handle.Net HdlUdpInterface.addMultiPacketListener /
 * HdlUdpPendingRequest), pure: no timers, the caller passes the time. Messages are keyed by (sender, request id) —
 * Handle.Net keys by "requestId@client IP"; pass the address, with or without the port. Fragment i is copied to offset
 * i·492 of a buffer of the envelope's messageLength; every fragment but the last must be exactly 492 bytes and the last
 * exactly the rest, its sequence number below the fragment count, and its messageLength that of the first fragment —
 * anything else is 'invalid' (Handle.Net checks none of it). A fragment that is a whole message comes straight back.
 * Bounded: maxMessages in progress, maxBytes buffered, maxMessageBytes each; a message is dropped ttlMs after its
 * first fragment (checked on every offer and by expire; `nowMs` must not go backwards). Never throws.
 */
export class UdpReassembler {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxMessageBytes: number;
  readonly ttlMs: number;
  private readonly pending = new Map<string, PendingMessage>();
  private buffered = 0;

  constructor(options: UdpReassemblerOptions = {}) {
    this.maxMessages = options.maxMessages ?? 256;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_LENGTH;
    this.ttlMs = options.ttlMs ?? 5000;
    for (const [name, v] of Object.entries({ maxMessages: this.maxMessages, maxBytes: this.maxBytes, maxMessageBytes: this.maxMessageBytes, ttlMs: this.ttlMs })) {
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer (got ${v})`);
    }
  }

  /** Messages in progress. */
  get size(): number {
    return this.pending.size;
  }

  /** Bytes allocated for messages in progress. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** One fragment: its decoded envelope and the datagram bytes after the envelope. The whole message once complete, else null. */
  add(sender: string, env: Envelope, payload: Uint8Array, nowMs: number): Buffer | null {
    const r = this.offer(sender, env, payload, nowMs);
    return r.status === 'complete' ? r.message : null;
  }

  /** As add, saying what the fragment did. */
  offer(sender: string, env: Envelope, payload: Uint8Array, nowMs: number): UdpReassembly {
    this.expire(nowMs);
    const total = env.messageLength;
    const count = Math.max(1, Math.ceil(total / UDP_FRAGMENT_PAYLOAD));
    const seq = env.sequenceNumber;
    if (seq >= count) return { status: 'invalid', reason: `sequence number ${seq} beyond the ${count} fragments of a ${total}-byte message` };
    const expected = seq < count - 1 ? UDP_FRAGMENT_PAYLOAD : total - UDP_FRAGMENT_PAYLOAD * (count - 1);
    if (payload.byteLength !== expected) return { status: 'invalid', reason: `fragment ${seq} has ${payload.byteLength} message bytes, expected ${expected}` };
    if (total > this.maxMessageBytes) return { status: 'dropped', reason: 'too-long' };
    if (count === 1) return { status: 'complete', envelope: env, message: Buffer.from(payload) };

    const key = `${env.requestId}@${sender}`;
    let p = this.pending.get(key);
    if (p === undefined) {
      if (this.pending.size >= this.maxMessages) return { status: 'dropped', reason: 'too-many-messages' };
      if (this.buffered + total > this.maxBytes) return { status: 'dropped', reason: 'too-many-bytes' };
      p = { envelope: { ...env, sequenceNumber: 0 }, message: Buffer.alloc(total), got: new Uint8Array(count), missing: count, startedMs: nowMs };
      this.pending.set(key, p);
      this.buffered += total;
    } else if (p.message.length !== total) {
      return { status: 'invalid', reason: `message length ${total} differs from the ${p.message.length} of the fragments before it` };
    }
    if (p.got[seq] === 1) return { status: 'duplicate' };
    p.got[seq] = 1;
    p.message.set(payload, seq * UDP_FRAGMENT_PAYLOAD);
    p.missing--;
    if (p.missing > 0) return { status: 'pending' };
    this.pending.delete(key);
    this.buffered -= total;
    return { status: 'complete', envelope: p.envelope, message: p.message };
  }

  /** Drops messages whose first fragment came ttlMs or more before `nowMs`; returns how many. */
  expire(nowMs: number): number {
    let dropped = 0;
    for (const [key, p] of this.pending) {
      if (nowMs - p.startedMs < this.ttlMs) break; // insertion order is start order
      this.pending.delete(key);
      this.buffered -= p.message.length;
      dropped++;
    }
    return dropped;
  }
}
