// One native Handle request to one server interface (UDP or TCP) and its answer, bounded in time and size: the client half of recursion.
import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv4, type Socket } from 'node:net';
import { WireError } from '../../handle/wire/bytes.js';
import { decodeEnvelope, ENVELOPE_SIZE, MAX_MESSAGE_LENGTH, type Envelope } from '../../handle/wire/envelope.js';
import { UdpReassembler } from '../../handle/wire/fragments.js';
import { decodeMessage, encodeRequest, HEADER_AT, type Message } from '../../handle/wire/message.js';

/** Where a request goes: an address as text (IPv4 or IPv6), a port, and the transport. */
export interface Endpoint {
  host: string;
  port: number;
  protocol: 'udp' | 'tcp';
}

export interface WireRequest {
  opCode: number;
  opFlags: number;
  body: Uint8Array;
  recursionCount?: number;
}

/** Why an exchange gave no answer: nothing came back in time, the server could not be reached, or it sent garbage. */
export class ExchangeError extends Error {
  constructor(
    readonly reason: 'timeout' | 'unreachable' | 'malformed',
    message: string,
  ) {
    super(message);
    this.name = 'ExchangeError';
  }
}

export function endpointText(e: Endpoint): string {
  return `${e.protocol}:${isIPv4(e.host) ? e.host : `[${e.host}]`}:${e.port}`;
}

/** The request as it goes out: protocol 2.10 (what CAICT's and CNRI's servers all speak), a fresh request id. */
function requestOf(r: WireRequest): { bytes: Buffer; requestId: number } {
  const requestId = randomInt(1, 0x7fffffff);
  const bytes = encodeRequest({ opCode: r.opCode, opFlags: r.opFlags, body: r.body, requestId, expiration: Math.floor(Date.now() / 1000) + 60 });
  if (r.recursionCount !== undefined) bytes[ENVELOPE_SIZE + HEADER_AT.recursionCount] = Math.min(255, r.recursionCount);
  return { bytes, requestId };
}

/** The answer's message, checked against the request: its request id, a message that decodes, no trailing bytes. */
function answerOf(env: Envelope, message: Buffer, requestId: number): Message {
  if (env.requestId !== requestId) throw new ExchangeError('malformed', `answer to request ${env.requestId}, not ${requestId}`);
  if (env.encrypted || env.compressed) throw new ExchangeError('malformed', 'encrypted or compressed answer (no session was set up)');
  try {
    return decodeMessage(message);
  } catch (e) {
    throw new ExchangeError('malformed', e instanceof WireError ? e.message : 'undecodable answer');
  }
}

/** Sends `r` to `to` and resolves with the answer's message, or rejects with ExchangeError within `timeoutMs`. */
export function exchange(to: Endpoint, r: WireRequest, timeoutMs: number): Promise<Message> {
  return to.protocol === 'udp' ? overUdp(to, r, timeoutMs) : overTcp(to, r, timeoutMs);
}

function overUdp(to: Endpoint, r: WireRequest, timeoutMs: number): Promise<Message> {
  const { bytes, requestId } = requestOf(r);
  return new Promise((resolve, reject) => {
    const sock: UdpSocket = createSocket(isIPv4(to.host) ? 'udp4' : 'udp6');
    const parts = new UdpReassembler({ maxMessages: 1, maxBytes: MAX_MESSAGE_LENGTH, ttlMs: Math.max(1, timeoutMs) });
    let done = false;
    const finish = (err: Error | null, m?: Message): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err !== null) reject(err);
      else resolve(m!);
    };
    const timer = setTimeout(() => finish(new ExchangeError('timeout', `no answer from ${endpointText(to)} within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish(new ExchangeError('unreachable', `${endpointText(to)}: ${e.code ?? e.message}`)));
    sock.on('message', (dgram) => {
      if (dgram.length < ENVELOPE_SIZE) return;
      let env: Envelope;
      try {
        env = decodeEnvelope(dgram);
      } catch {
        return; // not ours: keep waiting (a forged datagram must not cut a good exchange short)
      }
      if (env.requestId !== requestId) return;
      const message = parts.add('server', env, dgram.subarray(ENVELOPE_SIZE), Date.now());
      if (message === null) return;
      try {
        finish(null, answerOf(env, message, requestId));
      } catch (e) {
        finish(e as Error);
      }
    });
    // connected: only the server's own datagrams are delivered, and a closed port reports ECONNREFUSED
    sock.connect(to.port, to.host, () => {
      if (bytes.length > 512 + ENVELOPE_SIZE) {
        finish(new ExchangeError('malformed', 'request too long for one datagram'));
        return;
      }
      sock.send(bytes, (e) => {
        if (e) finish(new ExchangeError('unreachable', `${endpointText(to)}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });
    });
  });
}

function overTcp(to: Endpoint, r: WireRequest, timeoutMs: number): Promise<Message> {
  const { bytes, requestId } = requestOf(r);
  return new Promise((resolve, reject) => {
    const sock: Socket = connect({ host: to.host, port: to.port });
    let got: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (err: Error | null, m?: Message): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err !== null) reject(err);
      else resolve(m!);
    };
    const timer = setTimeout(() => finish(new ExchangeError('timeout', `no answer from ${endpointText(to)} within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish(new ExchangeError('unreachable', `${endpointText(to)}: ${e.code ?? e.message}`)));
    sock.on('close', () => finish(new ExchangeError('unreachable', `${endpointText(to)} closed the connection before answering`)));
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (chunk: Buffer) => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      if (got.length < ENVELOPE_SIZE) return;
      let env: Envelope;
      try {
        env = decodeEnvelope(got);
      } catch (e) {
        finish(new ExchangeError('malformed', e instanceof WireError ? e.message : 'undecodable envelope'));
        return;
      }
      if (env.messageLength > MAX_MESSAGE_LENGTH) {
        finish(new ExchangeError('malformed', `answer of ${env.messageLength} bytes is longer than ${MAX_MESSAGE_LENGTH}`));
        return;
      }
      if (got.length < ENVELOPE_SIZE + env.messageLength) return;
      try {
        finish(null, answerOf(env, got.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + env.messageLength), requestId));
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}
