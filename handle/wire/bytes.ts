// The native Handle protocol codec's byte layer: bounds-checked Reader, growable Writer, WireError and checkUint.
// The codec (handle/wire/*.ts: RFC 3652 as Handle.Net 9 speaks it) is hand-written on purpose, with no codec library:
// the native face's bench rows (native-tcp, native-udp) show that a library-free codec pays — the face peeks at
// requests at fixed offsets (ENVELOPE_AT, HEADER_AT) and a memoised answer is a copied template with the session and
// request ids byte-patched in, which needs exact control of every byte. (Only parseServerAddress, which reads address
// text, uses a library: ipaddr.js.) Pure: no I/O. Decoders work on untrusted bytes and only ever throw WireError.
//
// Reference: Handle.Net 9 (net.handle.hdllib: Encoder, MessageEnvelope, AbstractMessage, AbstractResponse, Common,
// SiteInfo, ServerInfo, Interface, GsonUtility, Util; net.handle.server: HdlUdpRequestHandler, HdlUdpInterface,
// HdlUdpPendingRequest). Where RFC 3652 and Handle.Net differ, the codec does what Handle.Net does and says so.
// Integers are big-endian; a "string" or "byte array" is a u32 length followed by that many bytes (UTF-8 for strings).
// Decoders are stricter than Handle.Net in two ways, both deliberate: strings must be valid UTF-8, and bytes left over
// after a body, record or message are a WireError (Handle.Net ignores most of them).
// Encoders are given trusted input; a field out of range there is a programming error and throws RangeError.

/** A message that cannot be decoded: the listener answers RC 4 (protocol error) or drops it. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** The empty byte array, shared (decoders hand it out for absent sections). */
export const EMPTY = new Uint8Array(0);
/** Decodes a wire string; invalid UTF-8 throws (Reader.string turns that into a WireError). */
export const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bounds-checked big-endian reader over untrusted bytes; every failure is a WireError naming the field. */
export class Reader {
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

/** Encoders' range check: `v` must be an integer 0 … max, else RangeError naming the field. */
export function checkUint(v: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${field} must be an integer 0 … ${max} (got ${String(v)})`);
}

/** Growable big-endian writer; encoders check their (trusted) input and throw RangeError when it is out of range. */
export class Writer {
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
