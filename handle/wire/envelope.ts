// The native Handle protocol's message envelope (RFC 3652 §2.2.1): its sizes and limits, codec, and the protocol version rules.
import { checkUint, Reader, Writer } from './bytes.js';

/** RFC 3652 §2.2: message envelope, 20 bytes. */
export const ENVELOPE_SIZE = 20;
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

/** The 20 envelope bytes into `w` (see encodeEnvelope); fragmentForUdp writes each fragment's envelope with it. */
export function writeEnvelope(w: Writer, e: Envelope): void {
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

/** Byte offsets of the envelope's fields (RFC 3652 §2.2.1), for code that peeks at or patches a whole message. */
export const ENVELOPE_AT = { flags: 2, sessionId: 4, requestId: 8, sequenceNumber: 12, messageLength: 16 } as const;
