// The native Handle protocol face (RFC 3652) on TCP and UDP: resolution and site info, answered by the same resolver as HTTP.
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { RC } from '../handle/codes.js';
import { filterValues } from '../handle/filter.js';
import { HandleError } from '../handle/codes.js';
import { parseHandle, type HandleId } from '../handle/identifier.js';
import type { HandleValue } from '../handle/types.js';
import {
  decodeEnvelope,
  decodeMessage,
  decodeResolutionRequest,
  digestAlgFor,
  encodeEnvelope,
  encodeErrorBody,
  encodeHandleValue,
  encodeMessage,
  encodeSiteInfo,
  ENVELOPE_SIZE,
  fragmentForUdp,
  OC,
  OPFLAG,
  requestDigest,
  responseVersion,
  UdpReassembler,
  versionAtLeast,
  UDP_FRAGMENT_PAYLOAD,
  WireError,
  type Envelope,
  type Message,
  type SiteInfo,
} from '../handle/wire.js';
import type { ResolvedRecord } from '../resolver/types.js';
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

/** One answer: the message (header + body + credential) and whether a TCP connection stays open after it. */
interface Answer {
  message: Buffer;
  keepAlive: boolean;
  version: { major: number; minor: number };
}

/** The protocol logic shared by both transports: one decoded request in, one encoded message out. */
export class NativeHandler {
  /** each record's value list in wire form (u32 count + values), built once per cached record */
  private readonly encodedValues = new WeakMap<ResolvedRecord, Buffer>();
  private site: { info: SiteInfo; bytes: Buffer } | null = null;

  constructor(private readonly node: IdNode) {}

  /** The site record in wire form, re-encoded when the node's site changes. */
  private siteBytes(): Buffer {
    const info = this.node.site();
    if (this.site === null || this.site.info !== info) this.site = { info, bytes: encodeSiteInfo(info) };
    return this.site.bytes;
  }

  /** Answers one request message; never throws (undecodable input gets RC 4, anything unexpected RC 2). */
  async answer(env: Envelope, bytes: Uint8Array): Promise<Answer> {
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
      const reply = (responseCode: number, body: Uint8Array) =>
        ({ message: this.header(msg!, responseCode, digest !== null, body), keepAlive, version }) satisfies Answer;
      switch (h.opCode) {
        case OC.RESOLUTION:
          return await this.resolution(msg, digest, reply);
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
      return { message: encodeMessage(header, encodeErrorBody(text, null)), keepAlive: false, version };
    }
  }

  private async resolution(msg: Message, digest: Uint8Array | null, reply: (rc: number, body: Uint8Array) => Answer): Promise<Answer> {
    const req = decodeResolutionRequest(msg.body);
    let id: HandleId;
    try {
      id = parseHandle(req.handle, this.node.policy);
    } catch (e) {
      const text = e instanceof HandleError ? e.message : 'Invalid handle';
      return reply(RC.INVALID_HANDLE, encodeErrorBody(text, digest));
    }
    if (!this.node.isHomed(id)) return reply(RC.SERVER_NOT_RESP, encodeErrorBody(`This node does not home ${id.prefix}`, digest));
    const r = this.node.resolver.peek(id.key) ?? (await this.node.resolver.resolve(id.key));
    if (!r.found) return reply(RC.HANDLE_NOT_FOUND, encodeErrorBody('Handle not found', digest));
    // Without authentication only public values ever leave the node, whatever the public-only flag says.
    const filtered = req.types.length > 0 || req.indexes.length > 0;
    let values: Buffer;
    if (!filtered) {
      values = this.encodedValues.get(r.record) ?? this.encodeValues(r.record);
      if (values.readUInt32BE(0) === 0) return reply(RC.VALUES_NOT_FOUND, encodeErrorBody('No public values', digest));
    } else {
      const shown = filterValues(r.record.values, { types: req.types, indexes: req.indexes, publicOnly: true });
      if (shown.length === 0) return reply(RC.VALUES_NOT_FOUND, encodeErrorBody('Values not found', digest));
      values = valueList(shown);
    }
    const handle = Buffer.from(req.handle, 'utf8');
    const parts: Uint8Array[] = [];
    if (digest !== null) parts.push(digest);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(handle.length, 0);
    parts.push(len, handle, values);
    return reply(RC.SUCCESS, Buffer.concat(parts));
  }

  private encodeValues(record: ResolvedRecord): Buffer {
    const shown = filterValues(record.values, { types: [], indexes: [], publicOnly: true });
    const b = valueList(shown);
    this.encodedValues.set(record, b);
    return b;
  }

  private header(req: Message, responseCode: number, withDigest: boolean, body: Uint8Array): Buffer {
    const flags = ((req.header.opFlags & ECHOED_FLAGS) | (withDigest ? OPFLAG.RETURN_DIGEST : 0)) >>> 0;
    return encodeMessage(
      { opCode: req.header.opCode, responseCode, opFlags: flags, siteInfoSerial: 1, recursionCount: req.header.recursionCount, expiration: nowSec() + 3600 },
      body,
    );
  }
}

function valueList(values: readonly HandleValue[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32BE(values.length, 0);
  for (const v of values) parts.push(encodeHandleValue(v));
  return Buffer.concat(parts);
}

const nowSec = () => Math.floor(Date.now() / 1000);

/** The envelope of an answer to `req`. */
function envelopeFor(req: Envelope, a: Answer, length: number, sequenceNumber = 0, truncated = false): Buffer {
  return encodeEnvelope({
    major: a.version.major,
    minor: a.version.minor,
    suggestedMajor: a.version.major,
    suggestedMinor: a.version.minor,
    compressed: false,
    encrypted: false,
    truncated,
    sessionId: req.sessionId,
    requestId: req.requestId,
    sequenceNumber,
    messageLength: length,
  });
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
 * One TCP connection: envelope, then the message it announces; requests answered in order. Reading pauses while
 * `maxPipelined` requests wait or the peer does not read its answers, so a slow or hostile peer holds at most one
 * message of buffer; an idle one is closed after `idleTimeoutMs`.
 */
function serveTcp(s: Socket, handler: NativeHandler, o: NativeOptions, stats: NativeStats): void {
  s.setTimeout(o.idleTimeoutMs, () => s.destroy());
  s.on('error', () => {});
  let buf: Buffer = Buffer.alloc(0);
  let env: Envelope | null = null;
  let pending = 0;
  let chain: Promise<void> = Promise.resolve();
  let closing = false;

  const fail = (text: string) => {
    // an envelope we could not trust: answer once in protocol 2.10 and close
    const header = { opCode: OC.RESERVED, responseCode: RC.PROTOCOL_ERROR, opFlags: 0, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 };
    const message = encodeMessage(header, encodeErrorBody(text, null));
    const e = encodeEnvelope({ major: 2, minor: 10, suggestedMajor: 2, suggestedMinor: 10, compressed: false, encrypted: false, truncated: false, sessionId: 0, requestId: env?.requestId ?? 0, sequenceNumber: 0, messageLength: message.length });
    closing = true;
    stats.errors++;
    s.end(Buffer.concat([e, message]));
  };

  const onRequest = (reqEnv: Envelope, bytes: Buffer) => {
    pending++;
    if (pending >= o.maxPipelined) s.pause();
    stats.tcpRequests++;
    const answered = handler.answer(reqEnv, bytes);
    chain = chain.then(async () => {
      const a = await answered;
      pending--;
      if (s.destroyed) return;
      const ok = s.write(Buffer.concat([envelopeFor(reqEnv, a, a.message.length), a.message]));
      if (!a.keepAlive) {
        closing = true;
        s.end();
        return;
      }
      if (!ok) {
        s.pause();
        s.once('drain', () => {
          if (pending < o.maxPipelined) s.resume();
        });
      } else if (pending < o.maxPipelined && s.isPaused()) s.resume();
    });
  };

  s.on('data', (chunk: Buffer) => {
    if (closing) return;
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      if (env === null) {
        if (buf.length < ENVELOPE_SIZE) return;
        try {
          env = decodeEnvelope(buf.subarray(0, ENVELOPE_SIZE));
        } catch (e) {
          fail(e instanceof Error ? e.message : 'bad envelope');
          return;
        }
        if (env.messageLength > o.maxMessageBytes) {
          fail(`message length ${env.messageLength} exceeds ${o.maxMessageBytes}`);
          return;
        }
        buf = buf.subarray(ENVELOPE_SIZE);
      }
      if (buf.length < env.messageLength) return;
      const message = Buffer.from(buf.subarray(0, env.messageLength));
      buf = buf.subarray(env.messageLength);
      const e = env;
      env = null;
      onRequest(e, message);
      if (closing) return;
    }
  });
}

/** UDP: one datagram per request (or a request in fragments, reassembled); answers over 492 bytes go in fragments. */
function serveUdp(udp: UdpSocket, handler: NativeHandler, o: NativeOptions, stats: NativeStats): void {
  const reassembler = new UdpReassembler({ maxMessages: 1024, maxMessageBytes: o.maxMessageBytes, ttlMs: 5000 });
  let inFlight = 0;
  const send = (bufs: Buffer[], to: RemoteInfo) => {
    for (const b of bufs) udp.send(b, to.port, to.address);
  };
  udp.on('message', (dgram: Buffer, rinfo: RemoteInfo) => {
    if (dgram.length < ENVELOPE_SIZE) {
      stats.dropped++;
      return;
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(dgram.subarray(0, ENVELOPE_SIZE));
    } catch {
      stats.dropped++;
      return;
    }
    let message: Uint8Array;
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
    void handler.answer(env, message).then((a) => {
      inFlight--;
      const m = a.message;
      if (m.length <= UDP_FRAGMENT_PAYLOAD) {
        send([Buffer.concat([envelopeFor(env, a, m.length), m])], rinfo);
      } else if (m.length <= o.udpMaxResponseBytes) {
        const base = { major: a.version.major, minor: a.version.minor, suggestedMajor: a.version.major, suggestedMinor: a.version.minor, compressed: false, encrypted: false, sessionId: env.sessionId, requestId: env.requestId };
        send(fragmentForUdp(base, m), rinfo);
      } else {
        // too big for UDP: the truncated flag tells the client to ask again over TCP
        const text = encodeMessage(
          { opCode: OC.RESOLUTION, responseCode: RC.ERROR, opFlags: 0, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 },
          encodeErrorBody(`Answer of ${m.length} bytes is too large for UDP; retry over TCP`, null),
        );
        send([Buffer.concat([envelopeFor(env, a, text.length, 0, true), text])], rinfo);
      }
    });
  });
}

