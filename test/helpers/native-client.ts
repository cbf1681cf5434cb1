// A minimal native Handle protocol client for tests: one request over TCP or UDP, the answer decoded; administration with its challenge-response.
import type { KeyObject } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { signPublicKeyAnswer, signSecretKeyAnswer } from '../../handle/challenge-auth.js';
import { decodeChallenge, encodeChallengeAnswer } from '../../handle/wire/admin.js';
import { decodeEnvelope, type Envelope, ENVELOPE_SIZE } from '../../handle/wire/envelope.js';
import { decodeMessage, encodeMessage, encodeRequest, frameMessage, type Message, OC, OPFLAG } from '../../handle/wire/message.js';
import { encodeResolutionRequest, requestDigest, type DigestAlg } from '../../handle/wire/body.js';

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

/** How an administration request proves who sends it: an HS_SECKEY secret, or the private key of an HS_PUBKEY. */
export type AdminAuth =
  | { kind: 'seckey'; handle: string; index: number; secret: string; alg?: number }
  | { kind: 'pubkey'; handle: string; index: number; privateKey: KeyObject; hash?: 'sha1' | 'sha256' };

/** A whole request with a session id in its envelope (a challenge answer carries the challenge's). */
export function sessionRequestBytes(o: { opCode: number; opFlags?: number; body: Uint8Array; sessionId: number; requestId?: number; version?: { major: number; minor: number } }): {
  bytes: Buffer;
  requestId: number;
} {
  const requestId = o.requestId ?? nextId++;
  const v = o.version ?? { major: 2, minor: 10 };
  const message = encodeMessage(
    { opCode: o.opCode, responseCode: 0, opFlags: (o.opFlags ?? 0) >>> 0, siteInfoSerial: 0, recursionCount: 0, expiration: Math.floor(Date.now() / 1000) + 600 },
    o.body,
  );
  const env = { major: v.major, minor: v.minor, suggestedMajor: v.major, suggestedMinor: v.minor, compressed: false, encrypted: false, truncated: false, sessionId: o.sessionId, requestId, sequenceNumber: 0 };
  return { bytes: frameMessage(env, message), requestId };
}

/** The signed response a Handle.Net client makes for `challenge` (a 402 answer to the request whose message is `request`). */
export async function signChallenge(auth: AdminAuth, challenge: Answer, request: Buffer): Promise<Buffer> {
  const { nonce, digest } = decodeChallenge(challenge.message.body);
  // as SecretKeyAuthenticationInfo does: the digest must be of the request we sent
  const mine = Buffer.from(requestDigest(digest[0] as DigestAlg, decodeMessage(request)));
  if (!mine.equals(Buffer.from(digest))) throw new Error('asked to sign an unidentified request');
  const signed =
    auth.kind === 'seckey' ? await signSecretKeyAnswer(auth.secret, nonce, digest, auth.alg) : signPublicKeyAnswer(auth.privateKey, nonce, digest, auth.hash);
  return encodeChallengeAnswer({ authType: auth.kind === 'seckey' ? 'HS_SECKEY' : 'HS_PUBKEY', userIdHandle: auth.handle, userIdIndex: auth.index, signedResponse: signed });
}

/**
 * One administration request as Handle.Net's client sends it over TCP: the request; when challenged (402), the
 * answer with the challenge's session id on a NEW connection (`sameConnection`: on the same one). Returns the first
 * answer and the final one (the same when there was no challenge).
 */
export async function tcpAdmin(
  port: number,
  req: { opCode: number; opFlags?: number; body: Uint8Array; version?: { major: number; minor: number } },
  auth: AdminAuth,
  o: { sameConnection?: boolean; answerOpFlags?: number } = {},
): Promise<{ challenge: Answer; result: Answer }> {
  const first = requestBytes({ opCode: req.opCode, opFlags: req.opFlags ?? 0, body: req.body, ...(req.version ? { version: req.version } : {}) });
  const r = await tcpConnect(port);
  try {
    r.socket.write(first.bytes);
    const challenge = await r.next();
    if (challenge.message.header.responseCode !== 402) return { challenge, result: challenge };
    const body = await signChallenge(auth, challenge, first.message);
    const answer = sessionRequestBytes({ opCode: OC.CHALLENGE_RESPONSE, opFlags: o.answerOpFlags ?? 0, body, sessionId: challenge.envelope.sessionId, ...(req.version ? { version: req.version } : {}) });
    if (o.sameConnection) {
      r.socket.write(answer.bytes);
      return { challenge, result: await r.next() };
    }
    const r2 = await tcpConnect(port);
    try {
      r2.socket.write(answer.bytes);
      return { challenge, result: await r2.next() };
    } finally {
      r2.socket.destroy();
    }
  } finally {
    r.socket.destroy();
  }
}

/** The same over UDP (both datagrams from one client socket). */
export async function udpAdmin(port: number, req: { opCode: number; opFlags?: number; body: Uint8Array }, auth: AdminAuth): Promise<{ challenge: Answer; result: Answer }> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  const exchange = (bytes: Buffer, requestId: number) =>
    new Promise<Answer>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no UDP answer in time')), 3000);
      const on = (d: Buffer) => {
        const env = decodeEnvelope(d.subarray(0, ENVELOPE_SIZE));
        if (env.requestId !== requestId) return;
        clearTimeout(t);
        sock.off('message', on);
        resolve({ envelope: env, message: decodeMessage(d.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + env.messageLength)), datagrams: 1 });
      };
      sock.on('message', on);
      sock.send(bytes, port, '127.0.0.1');
    });
  try {
    const first = requestBytes({ opCode: req.opCode, opFlags: req.opFlags ?? 0, body: req.body });
    const challenge = await exchange(first.bytes, first.requestId);
    if (challenge.message.header.responseCode !== 402) return { challenge, result: challenge };
    const answer = sessionRequestBytes({ opCode: OC.CHALLENGE_RESPONSE, body: await signChallenge(auth, challenge, first.message), sessionId: challenge.envelope.sessionId });
    return { challenge, result: await exchange(answer.bytes, answer.requestId) };
  } finally {
    sock.close();
  }
}
