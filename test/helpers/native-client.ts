// A minimal native Handle protocol client for tests: one request over TCP or UDP, the answer decoded.
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { decodeEnvelope, type Envelope, ENVELOPE_SIZE } from '../../handle/wire/envelope.js';
import { decodeMessage, encodeRequest, type Message, OC, OPFLAG } from '../../handle/wire/message.js';
import { encodeResolutionRequest } from '../../handle/wire/body.js';

let nextId = 1;

export interface RequestOptions {
  opCode?: number;
  opFlags?: number;
  version?: { major: number; minor: number; suggestedMajor?: number; suggestedMinor?: number };
  body?: Uint8Array;
  requestId?: number;
}

/** A whole request: envelope + message. */
export function requestBytes(o: RequestOptions & { handle?: string; indexes?: number[]; types?: string[] }): { bytes: Buffer; requestId: number; message: Buffer } {
  const requestId = o.requestId ?? nextId++;
  const body = o.body ?? encodeResolutionRequest({ handle: o.handle ?? '', indexes: o.indexes ?? [], types: o.types ?? [] });
  const bytes = encodeRequest({
    opCode: o.opCode ?? OC.RESOLUTION,
    opFlags: o.opFlags ?? 0,
    body,
    requestId,
    expiration: Math.floor(Date.now() / 1000) + 600,
    ...(o.version ? { version: o.version } : {}),
  });
  return { bytes, requestId, message: bytes.subarray(ENVELOPE_SIZE) };
}

export interface Answer {
  envelope: Envelope;
  message: Message;
  /** datagrams it came in (UDP) */
  datagrams: number;
}

/** Reads whole answers off a TCP socket, in order. */
export class TcpReader {
  private buf = Buffer.alloc(0);
  private waiting: ((a: Answer) => void)[] = [];
  private ready: Answer[] = [];
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      for (;;) {
        if (this.buf.length < ENVELOPE_SIZE) return;
        const env = decodeEnvelope(this.buf.subarray(0, ENVELOPE_SIZE));
        if (this.buf.length < ENVELOPE_SIZE + env.messageLength) return;
        const msg = decodeMessage(this.buf.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + env.messageLength));
        this.buf = this.buf.subarray(ENVELOPE_SIZE + env.messageLength);
        const a = { envelope: env, message: msg, datagrams: 1 };
        const w = this.waiting.shift();
        if (w) w(a);
        else this.ready.push(a);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  next(timeoutMs = 5000): Promise<Answer> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer in time')), timeoutMs);
      this.waiting.push((a) => {
        clearTimeout(t);
        resolve(a);
      });
    });
  }

  /** Resolves when the server has closed the connection. */
  whenClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** A TCP connection to 127.0.0.1:`port`, from `localAddress` when given (any of 127.0.0.0/8 on Linux). */
export async function tcpConnect(port: number, localAddress?: string): Promise<TcpReader> {
  const s = connect({ port, host: '127.0.0.1', ...(localAddress !== undefined ? { localAddress } : {}) });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  return new TcpReader(s);
}

/** One request over a fresh TCP connection. */
export async function tcpRequest(port: number, o: Parameters<typeof requestBytes>[0], localAddress?: string): Promise<Answer> {
  const r = await tcpConnect(port, localAddress);
  try {
    r.socket.write(requestBytes(o).bytes);
    return await r.next();
  } finally {
    r.socket.destroy();
  }
}

/** Sends datagrams and collects the answer to `requestId` (reassembling fragments by sequence number). */
export async function udpExchange(port: number, datagrams: Buffer[], requestId: number, timeoutMs = 3000): Promise<Answer> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const parts = new Map<number, Buffer>();
      let first: Envelope | null = null;
      const t = setTimeout(() => reject(new Error('no UDP answer in time')), timeoutMs);
      sock.on('message', (d: Buffer) => {
        const env = decodeEnvelope(d.subarray(0, ENVELOPE_SIZE));
        if (env.requestId !== requestId) return;
        first ??= env;
        parts.set(env.sequenceNumber, d.subarray(ENVELOPE_SIZE));
        const total = [...parts.values()].reduce((a, b) => a + b.length, 0);
        if (total < env.messageLength) return;
        clearTimeout(t);
        const whole = Buffer.concat([...parts.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b));
        resolve({ envelope: first, message: decodeMessage(whole.subarray(0, env.messageLength)), datagrams: parts.size });
      });
      sock.bind(0, '127.0.0.1', () => {
        for (const d of datagrams) sock.send(d, port, '127.0.0.1');
      });
    });
  } finally {
    sock.close();
  }
}

export async function udpRequest(port: number, o: Parameters<typeof requestBytes>[0]): Promise<Answer> {
  const r = requestBytes(o);
  return udpExchange(port, [r.bytes], r.requestId);
}

export { OPFLAG };
