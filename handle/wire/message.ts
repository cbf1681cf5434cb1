// The native Handle protocol's message (RFC 3652 §2.2.2): op codes, op flags, the header, and whole messages and requests.
import { EMPTY, Reader, Writer } from './bytes.js';
import { encodeEnvelope, type Envelope } from './envelope.js';

/** RFC 3652 §2.2.2: message header, 24 bytes. */
export const HEADER_SIZE = 24;

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
