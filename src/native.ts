// The native Handle protocol face (RFC 3652) on TCP and UDP: resolution and site info, answered by the same resolver as HTTP.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Socket } from 'node:net';
import { HandleError, RC } from '../handle/codes.js';
import { filterValues } from '../handle/filter.js';
import { parseHandle, type HandleId } from '../handle/identifier.js';
import type { HandleValue } from '../handle/types.js';
import { WireError } from '../handle/wire/bytes.js';
import {
  decodeEnvelope,
  type Envelope,
  ENVELOPE_AT,
  ENVELOPE_SIZE,
  PROTOCOL_VERSION,
  responseVersion,
  UDP_FRAGMENT_PAYLOAD,
  versionAtLeast,
} from '../handle/wire/envelope.js';
import { decodeMessage, encodeMessage, frameMessage, HEADER_AT, HEADER_SIZE, type Message, OC, OPFLAG } from '../handle/wire/message.js';
import { decodeResolutionRequest, digestAlgFor, encodeErrorBody, requestDigest } from '../handle/wire/body.js';
import { encodeHandleValue } from '../handle/wire/values.js';
import { encodeSiteInfo, type SiteInfo } from '../handle/wire/site.js';
import { fragmentForUdp, UdpReassembler } from '../handle/wire/fragments.js';
import type { HitToken, ResolvedRecord, Resolver } from '../resolver/types.js';
import type { IdNode } from './node.js';

export interface NativeOptions {
  /** 0 = any free port (TCP first; UDP then takes the same number) */
  port: number;
  host: string;
  /** open TCP connections at most; more are refused at accept */
  maxConnections: number;
  /** a TCP connection with no complete request for this long is closed */
  idleTimeoutMs: number;
  /** largest request message (envelope excluded) accepted; larger ones get a protocol error and the connection closes */
  maxMessageBytes: number;
  /** largest response sent over UDP (fragmented); larger answers tell the client to retry over TCP */
  udpMaxResponseBytes: number;
  /** requests waiting on one TCP connection before it stops reading (pipelining bound) */
  maxPipelined: number;
}

export const NATIVE_DEFAULTS: Omit<NativeOptions, 'port' | 'host'> = {
  maxConnections: 1024,
  idleTimeoutMs: 30_000,
  maxMessageBytes: 64 * 1024,
  udpMaxResponseBytes: 64 * UDP_FRAGMENT_PAYLOAD,
  maxPipelined: 16,
};

export interface NativeStats {
  tcpConnections: number;
  tcpRequests: number;
  udpRequests: number;
  errors: number;
  dropped: number;
}

export interface NativeServer {
  tcpPort: number;
  udpPort: number;
  stats(): NativeStats;
  close(): Promise<void>;
}

/** The flags a response copies from its request (what it asked for and we honour); RD is set when a digest goes back. */
const ECHOED_FLAGS = OPFLAG.AUTH | OPFLAG.KEEP_ALIVE | OPFLAG.PUBLIC_ONLY | OPFLAG.RECURSIVE;
/** Envelope byte 2: compressed, encrypted, truncated (RFC 3652 §2.2.1.3). */
const ENV_CP_EC_TC = 0xe0;
const ENV_TC = 0x20;
/** Offsets in a whole message (envelope + header): the header's opFlags, recursion count and body length. */
const AT_OPFLAGS = ENVELOPE_SIZE + HEADER_AT.opFlags;
const AT_RECURSION = ENVELOPE_SIZE + HEADER_AT.recursionCount;
const AT_BODY_LENGTH = ENVELOPE_SIZE + HEADER_AT.bodyLength;
/** Distinct resolution requests remembered with their last answer (a few hundred bytes each). */
const MEMO_MAX = 50_000;

/** An answer: envelope + message, the version it is in, and whether a TCP connection stays open after it. */
export interface Reply {
  bytes: Buffer;
  version: { major: number; minor: number };
  keepAlive: boolean;
}

/** A resolution request answered before from one cache entry: the answer, to copy and patch while `token` holds. */
interface Memo {
  token: HitToken;
  template: Buffer;
}

/**
 * The key of a resolution request for the memo: the envelope's version bytes (the answer's version follows them)
 * and the body bytes (handle, index list, type list) as they came.
 */
function memoKey(env: Buffer, envAt: number, body: Buffer, bodyAt: number, bodyLength: number): string {
  return String.fromCharCode(env[envAt]!, env[envAt + 1]!, env[envAt + 2]! & 0x03, env[envAt + 3]!) + body.toString('latin1', bodyAt, bodyAt + bodyLength);
}

/** The protocol logic shared by both transports: one request in, one whole answer (envelope + message) out. */
export class NativeHandler {
  /** each record's value list in wire form (u32 count + values), built once per cached record */
  private readonly encodedValues = new WeakMap<ResolvedRecord, Buffer>();
  private readonly memo = new Map<string, Memo>();
  private readonly resolver: Resolver;
  private site: { info: SiteInfo; bytes: Buffer } | null = null;

  constructor(private readonly node: IdNode) {
    this.resolver = node.resolver;
  }

  /**
   * The answer at once, without decoding anything, when this very request (same version and body) was answered
   * from an in-process cache entry that is still current: a copy of that answer with this request's ids and flags.
   * Null when the full path must answer. `at` is where the envelope starts in `buf`; the whole message is there.
   */
  fast(buf: Buffer, at: number, messageLength: number): Buffer | null {
    if (this.memo.size === 0 || (buf[at + ENVELOPE_AT.flags]! & ENV_CP_EC_TC) !== 0 || messageLength < HEADER_SIZE) return null;
    const opFlags = buf.readUInt32BE(at + AT_OPFLAGS);
    if (buf.readUInt32BE(at + ENVELOPE_SIZE + HEADER_AT.opCode) !== OC.RESOLUTION || (opFlags & OPFLAG.RETURN_DIGEST) !== 0) return null;
    const bodyLength = buf.readUInt32BE(at + AT_BODY_LENGTH);
    if (bodyLength > messageLength - HEADER_SIZE) return null;
    const m = this.memo.get(memoKey(buf, at, buf, at + ENVELOPE_SIZE + HEADER_SIZE, bodyLength));
    if (m === undefined || !this.resolver.isCurrent(m.token)) return null;
    const out = Buffer.allocUnsafe(m.template.length);
    m.template.copy(out, 0);
    buf.copy(out, ENVELOPE_AT.sessionId, at + ENVELOPE_AT.sessionId, at + ENVELOPE_AT.requestId + 4); // session id, request id
    out.writeUInt32BE((opFlags & ECHOED_FLAGS) >>> 0, AT_OPFLAGS);
    out[AT_RECURSION] = buf[at + AT_RECURSION]!;
    return out;
  }

  /** The site record in wire form, re-encoded when the node's site changes. */
  private siteBytes(): Buffer {
    const info = this.node.site();
    if (this.site === null || this.site.info !== info) this.site = { info, bytes: encodeSiteInfo(info) };
    return this.site.bytes;
  }

  /**
   * Answers one request: `envBytes` its 20 envelope bytes, `bytes` its message. Never throws: undecodable input gets
   * RC 4, anything unexpected RC 2 (and the connection closes after either).
   */
  async answer(env: Envelope, envBytes: Buffer, bytes: Buffer): Promise<Reply> {
    const version = responseVersion(env);
    let msg: Message | null = null;
    try {
      if (env.encrypted || env.compressed) throw new WireError('encrypted and compressed messages are not supported (no sessions)');
      msg = decodeMessage(bytes);
      const h = msg.header;
      const keepAlive = (h.opFlags & OPFLAG.KEEP_ALIVE) !== 0;
      // Handle.Net sends a request digest only from protocol 2.1 on (Encoder.writeHeader sets the flag from there)
      const wantsDigest = (h.opFlags & OPFLAG.RETURN_DIGEST) !== 0 && versionAtLeast(version.major, version.minor, 2, 1);
      const digest = wantsDigest ? requestDigest(digestAlgFor(version.major, version.minor), msg) : null;
      const reply = (responseCode: number, body: Uint8Array): Reply => {
        const flags = ((h.opFlags & ECHOED_FLAGS) | (digest !== null ? OPFLAG.RETURN_DIGEST : 0)) >>> 0;
        const header = { opCode: h.opCode, responseCode, opFlags: flags, siteInfoSerial: 1, recursionCount: h.recursionCount, expiration: nowSec() + 3600 };
        return { bytes: withEnvelope(env, version, encodeMessage(header, body)), version, keepAlive };
      };
      switch (h.opCode) {
        case OC.RESOLUTION: {
          const { reply: r, token } = await this.resolution(msg, digest, reply);
          // remember it when it came from a cache entry (and the digest, which depends on the request, is not in it)
          if (token !== undefined && digest === null) this.remember(memoKey(envBytes, 0, bytes, HEADER_SIZE, h.bodyLength), token, r.bytes);
          return r;
        }
        case OC.GET_SITE_INFO:
          return reply(RC.SUCCESS, digest === null ? this.siteBytes() : Buffer.concat([digest, this.siteBytes()]));
        case OC.RESERVED:
          return reply(RC.PROTOCOL_ERROR, encodeErrorBody('Unknown opCode in message: 0', digest));
        default:
          return reply(RC.OPERATION_NOT_SUPPORTED, encodeErrorBody(`Operation ${h.opCode} is not supported by this node (resolution and site info only)`, digest));
      }
    } catch (err) {
      const code = err instanceof WireError ? RC.PROTOCOL_ERROR : RC.ERROR;
      const text = err instanceof WireError ? `Protocol error: ${err.message}` : 'Server error processing request';
      const opCode = msg?.header.opCode ?? OC.RESERVED;
      const header = { opCode, responseCode: code, opFlags: 0, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 };
      return { bytes: withEnvelope(env, version, encodeMessage(header, encodeErrorBody(text, null))), version, keepAlive: false };
    }
  }

  private remember(key: string, token: HitToken, template: Buffer): void {
    if (this.memo.size >= MEMO_MAX) this.memo.clear();
    this.memo.set(key, { token, template });
  }

  private async resolution(
    msg: Message,
    digest: Uint8Array | null,
    reply: (rc: number, body: Uint8Array) => Reply,
  ): Promise<{ reply: Reply; token?: HitToken }> {
    const req = decodeResolutionRequest(msg.body);
    let id: HandleId;
    try {
      id = parseHandle(req.handle, this.node.policy);
    } catch (e) {
      const text = e instanceof HandleError ? e.message : 'Invalid handle';
      return { reply: reply(RC.INVALID_HANDLE, encodeErrorBody(text, digest)) };
    }
    if (!this.node.isHomed(id)) return { reply: reply(RC.SERVER_NOT_RESP, encodeErrorBody(`This node does not home ${id.prefix}`, digest)) };
    const r = this.resolver.peek(id.key) ?? (await this.resolver.resolve(id.key));
    const token = r.token;
    if (!r.found) return { reply: reply(RC.HANDLE_NOT_FOUND, encodeErrorBody('Handle not found', digest)), token };
    // Without authentication only public values ever leave the node, whatever the public-only flag says.
    let values: Buffer;
    if (req.types.length === 0 && req.indexes.length === 0) {
      values = this.encodedValues.get(r.record) ?? this.encodeValues(r.record);
      if (values.readUInt32BE(0) === 0) return { reply: reply(RC.VALUES_NOT_FOUND, encodeErrorBody('No public values', digest)), token };
    } else {
      const shown = filterValues(r.record.values, { types: req.types, indexes: req.indexes, publicOnly: true });
      if (shown.length === 0) return { reply: reply(RC.VALUES_NOT_FOUND, encodeErrorBody('Values not found', digest)), token };
      values = valueList(shown);
    }
    const handle = Buffer.from(req.handle, 'utf8');
    const parts: Uint8Array[] = [];
    if (digest !== null) parts.push(digest);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(handle.length, 0);
    parts.push(len, handle, values);
    return { reply: reply(RC.SUCCESS, Buffer.concat(parts)), token };
  }

  private encodeValues(record: ResolvedRecord): Buffer {
    const shown = filterValues(record.values, { types: [], indexes: [], publicOnly: true });
    const b = valueList(shown);
    this.encodedValues.set(record, b);
    return b;
  }
}

function valueList(values: readonly HandleValue[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32BE(values.length, 0);
  for (const v of values) parts.push(encodeHandleValue(v));
  return Buffer.concat(parts);
}

const nowSec = () => Math.floor(Date.now() / 1000);

/** The envelope of an answer to `req` (in `version`, suggesting ours, as Handle.Net does), then the message. */
function withEnvelope(req: Envelope, version: { major: number; minor: number }, message: Buffer, truncated = false): Buffer {
  return frameMessage(
    {
      major: version.major,
      minor: version.minor,
      suggestedMajor: PROTOCOL_VERSION.major,
      suggestedMinor: PROTOCOL_VERSION.minor,
      compressed: false,
      encrypted: false,
      truncated,
      sessionId: req.sessionId,
      requestId: req.requestId,
      sequenceNumber: 0,
    },
    message,
  );
}

/** Starts the TCP and UDP listeners on one port number. */
export async function startNative(node: IdNode, o: NativeOptions): Promise<NativeServer> {
  const stats: NativeStats = { tcpConnections: 0, tcpRequests: 0, udpRequests: 0, errors: 0, dropped: 0 };
  const tcp = createServer({ noDelay: true });
  tcp.maxConnections = o.maxConnections;
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(o.port, o.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  const addr = tcp.address();
  const tcpPort = typeof addr === 'object' && addr !== null ? addr.port : o.port;
  const udp = createSocket({ type: isIPv6(o.host) ? 'udp6' : 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(tcpPort, o.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((r) => tcp.close(() => r()));
    throw err;
  }
  udp.on('error', () => {
    stats.errors++;
  });
  const handler = new NativeHandler(node);
  const sockets = new Set<Socket>();
  tcp.on('connection', (s) => {
    sockets.add(s);
    stats.tcpConnections++;
    s.once('close', () => sockets.delete(s));
    serveTcp(s, handler, o, stats);
  });
  tcp.on('error', () => {
    stats.errors++;
  });
  serveUdp(udp, handler, o, stats);

  let closing: Promise<void> | null = null;
  return {
    tcpPort,
    udpPort: tcpPort,
    stats: () => ({ ...stats }),
    close() {
      closing ??= (async () => {
        udp.close();
        await new Promise<void>((r) => {
          tcp.close(() => r());
          for (const s of sockets) s.destroy();
        });
      })();
      return closing;
    },
  };
}

/**
 * One TCP connection: envelope, then the message it announces; answers go out in request order. Reading pauses while
 * `maxPipelined` answers are owed or the peer does not read them, so a slow or hostile peer holds at most one
 * message of buffer; an idle one is closed after `idleTimeoutMs`. A request without the keep-alive flag is the last.
 */
function serveTcp(s: Socket, handler: NativeHandler, o: NativeOptions, stats: NativeStats): void {
  s.setTimeout(o.idleTimeoutMs, () => s.destroy());
  s.on('error', () => {});
  /** bytes of a request not complete yet */
  let rest: Buffer | null = null;
  /** answers owed, in request order (bytes null while the resolver works) */
  const owed: { bytes: Buffer | null; keepAlive: boolean }[] = [];
  let last = false; // a request without keep-alive arrived: nothing after it is read
  let blocked = false; // the peer is not reading

  const flush = () => {
    if (s.destroyed) return;
    const out: Buffer[] = [];
    let end = false;
    while (owed.length > 0 && owed[0]!.bytes !== null) {
      const a = owed.shift()!;
      out.push(a.bytes!);
      if (!a.keepAlive) {
        end = true;
        owed.length = 0;
        break;
      }
    }
    if (out.length === 0) return;
    const data = out.length === 1 ? out[0]! : Buffer.concat(out);
    if (end) {
      last = true;
      s.end(data);
      return;
    }
    if (!s.write(data) && !blocked) {
      blocked = true;
      s.pause();
      s.once('drain', () => {
        blocked = false;
        if (owed.length < o.maxPipelined && !last) s.resume();
      });
    } else if (!blocked && owed.length < o.maxPipelined && s.isPaused() && !last) s.resume();
  };

  const fail = (text: string, requestId: number) => {
    // an envelope we cannot trust: answer once, in 2.10, and close
    const header = { opCode: OC.RESERVED, responseCode: RC.PROTOCOL_ERROR, opFlags: 0, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 };
    const env = { major: 2, minor: 10, suggestedMajor: 0, suggestedMinor: 0, compressed: false, encrypted: false, truncated: false, sessionId: 0, requestId, sequenceNumber: 0, messageLength: 0 };
    stats.errors++;
    owed.push({ bytes: withEnvelope(env, { major: 2, minor: 10 }, encodeMessage(header, encodeErrorBody(text, null))), keepAlive: false });
    last = true;
    flush();
  };

  s.on('data', (chunk: Buffer) => {
    if (last) return;
    const buf: Buffer = rest === null ? chunk : Buffer.concat([rest, chunk]);
    rest = null;
    let at = 0;
    while (buf.length - at >= ENVELOPE_SIZE) {
      const length = buf.readUInt32BE(at + ENVELOPE_AT.messageLength);
      if (length > o.maxMessageBytes) {
        fail(`message length ${length} exceeds ${o.maxMessageBytes}`, buf.readUInt32BE(at + ENVELOPE_AT.requestId));
        return;
      }
      if (buf.length - at - ENVELOPE_SIZE < length) break;
      stats.tcpRequests++;
      const keepAlive = length >= HEADER_SIZE && (buf.readUInt32BE(at + AT_OPFLAGS) & OPFLAG.KEEP_ALIVE) !== 0;
      const quick = handler.fast(buf, at, length);
      if (quick !== null) {
        owed.push({ bytes: quick, keepAlive });
      } else {
        let env: Envelope;
        try {
          env = decodeEnvelope(buf.subarray(at, at + ENVELOPE_SIZE));
        } catch (e) {
          fail(e instanceof Error ? e.message : 'bad envelope', buf.readUInt32BE(at + ENVELOPE_AT.requestId));
          return;
        }
        const slot: { bytes: Buffer | null; keepAlive: boolean } = { bytes: null, keepAlive: true };
        owed.push(slot);
        void handler.answer(env, buf.subarray(at, at + ENVELOPE_SIZE), buf.subarray(at + ENVELOPE_SIZE, at + ENVELOPE_SIZE + length)).then((r) => {
          slot.bytes = r.bytes;
          slot.keepAlive = r.keepAlive;
          flush();
        });
      }
      at += ENVELOPE_SIZE + length;
      if (!keepAlive) {
        last = true;
        break;
      }
    }
    // a partial request is copied out, so the chunk it came in can go
    if (!last && at < buf.length) rest = Buffer.from(buf.subarray(at));
    if (owed.length >= o.maxPipelined) s.pause();
    flush();
  });
}

/** UDP: one datagram per request (or a request in fragments, reassembled); answers over 492 bytes go in fragments. */
function serveUdp(udp: UdpSocket, handler: NativeHandler, o: NativeOptions, stats: NativeStats): void {
  const reassembler = new UdpReassembler({ maxMessages: 1024, maxMessageBytes: o.maxMessageBytes, ttlMs: 5000 });
  let inFlight = 0;
  const send = (bufs: Buffer[], to: RemoteInfo) => {
    for (const b of bufs) udp.send(b, to.port, to.address);
  };
  const reply = (env: Envelope, r: Reply, to: RemoteInfo) => {
    const message = r.bytes.subarray(ENVELOPE_SIZE);
    if (message.length <= UDP_FRAGMENT_PAYLOAD) {
      send([r.bytes], to);
    } else if (message.length <= o.udpMaxResponseBytes) {
      const base = { major: r.version.major, minor: r.version.minor, suggestedMajor: PROTOCOL_VERSION.major, suggestedMinor: PROTOCOL_VERSION.minor, compressed: false, encrypted: false, sessionId: env.sessionId, requestId: env.requestId };
      send(fragmentForUdp(base, message), to);
    } else {
      // too big for UDP: the truncated flag tells the client to ask again over TCP
      const text = encodeMessage(
        { opCode: OC.RESOLUTION, responseCode: RC.ERROR, opFlags: 0, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 },
        encodeErrorBody(`Answer of ${message.length} bytes is too large for UDP; retry over TCP`, null),
      );
      send([withEnvelope(env, r.version, text, true)], to);
    }
  };
  udp.on('message', (dgram: Buffer, rinfo: RemoteInfo) => {
    if (dgram.length < ENVELOPE_SIZE) {
      stats.dropped++;
      return;
    }
    const length = dgram.readUInt32BE(ENVELOPE_AT.messageLength);
    if ((dgram[ENVELOPE_AT.flags]! & ENV_TC) === 0 && length <= dgram.length - ENVELOPE_SIZE) {
      const quick = handler.fast(dgram, 0, length);
      if (quick !== null && quick.length - ENVELOPE_SIZE <= UDP_FRAGMENT_PAYLOAD) {
        stats.udpRequests++;
        udp.send(quick, rinfo.port, rinfo.address);
        return;
      }
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(dgram.subarray(0, ENVELOPE_SIZE));
    } catch {
      stats.dropped++;
      return;
    }
    let message: Buffer;
    if (env.truncated) {
      // one fragment of a request sent in several datagrams
      const whole = reassembler.add(`${rinfo.address}|${rinfo.port}`, env, dgram.subarray(ENVELOPE_SIZE), Date.now());
      if (whole === null) return;
      message = whole;
    } else {
      if (env.messageLength > o.maxMessageBytes || dgram.length - ENVELOPE_SIZE < env.messageLength) {
        stats.dropped++;
        return;
      }
      message = dgram.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + env.messageLength);
    }
    if (inFlight >= 10_000) {
      stats.dropped++;
      return;
    }
    inFlight++;
    stats.udpRequests++;
    void handler.answer(env, dgram.subarray(0, ENVELOPE_SIZE), message).then((r) => {
      inFlight--;
      reply(env, r, rinfo);
    });
  });
}
