// The native face's sessions (Handle.Net OC 400 setup by Diffie-Hellman, 401 terminate): a bounded, time-limited in-process map of session keys, request MAC checks, and who a session has authenticated as.
import { createDiffieHellman, randomInt } from 'node:crypto';
import { RC } from '../../../handle/codes.js';
import { encodeErrorBody } from '../../../handle/wire/body.js';
import { WireError } from '../../../handle/wire/bytes.js';
import type { Envelope } from '../../../handle/wire/envelope.js';
import { OC, type Message } from '../../../handle/wire/message.js';
import {
  aesKeyFromDhSecret,
  decodeDhPublicKey,
  decodeSessionSetupRequest,
  encodeDhPublicKey,
  encodeSessionSetupResponse,
  ENCRYPT_ALG,
  KEY_EXCHANGE,
  macCredential,
  macSupported,
  SESSION_RC,
  unsignedBytes,
  verifyMac,
} from '../../../handle/wire/session.js';
import { withCredential } from '../../../handle/wire/credential.js';
import type { Requester } from '../../../registry/access.js';
import type { NativeClient } from './client.js';
import { answerContext, unsigned } from './signer.js';

// What Handle.Net's HandleServer does, and what this does:
//   - SESSION_SETUP (certified, asks for a digest): with KEY_EXCHANGE_DH, the client's DH public key (p, g, y) gets a
//     fresh key pair of ours in the same group; the shared secret makes a 32-byte AES session key; the answer carries
//     AES + our public key and a new session id in its envelope, signed with the server key (by the handler). Other
//     key exchange modes (RSA ciphers) answer RC 501. Sessions below protocol 2.7 (older MAC layouts) answer RC 501.
//   - Requests in a session carry its id in the envelope and an HS_MAC credential with a session counter. An
//     administration request in a session that has not authenticated yet is challenged under the session's own id;
//     a successful answer by the identity the session was set up for marks the session authenticated as that
//     admin, and later administration requests in it (their MAC checked, counters never reused) run as that admin
//     without a new challenge. A request naming an unknown (expired) session is treated as outside any session.
//   - SESSION_TERMINATE (MAC'd) ends the session. Encrypted sessions are not supported: the client's default
//     (HandleResolver's SessionSetupInfo) neither encrypts nor needs it, and the flag never reaches the server.
// Limits: sessions at most (all clients), per client address (its oldest gives way), idle time per the request's
// timeout capped (default 1 h), a total lifetime cap, and request counters remembered per session.

/** Session ids are drawn from [SESSION_ID_MIN, 2^31): the pending challenges outside sessions use the ids below. */
export const SESSION_ID_MIN = 0x40000000;
const SESSION_ID_MAX = 0x7fffffff;
/** DH primes accepted from clients, in bits (Handle.Net clients use 1024). */
const MIN_PRIME_BITS = 1024;
const MAX_PRIME_BITS = 4096;
/**
 * Request counters remembered per session (to refuse replays); past this the oldest is forgotten and counters up to
 * it are refused from then on (Handle.Net's SessionInfo keeps such a floor too).
 */
const MAX_SEEN_COUNTERS = 128;

export interface NativeSession {
  readonly id: number;
  readonly key: Buffer;
  /** the identity the client set the session up for ('' and -1 when none) */
  readonly identityHandle: string;
  readonly identityIndex: number;
  readonly address: string;
  /** who a challenge answer in this session proved (the session's own identity only); null until then */
  requester: Requester | null;
  readonly idleMs: number;
  expiresMs: number;
  readonly endMs: number;
  /** request counters seen, oldest first */
  readonly seen: Set<number>;
  /** counters up to this one are refused (the forgotten ones) */
  floor: number;
  /** the last counter this node's MACs used */
  counter: number;
}

export interface NativeSessionsOptions {
  /** sessions at most, all clients together (default 10 000) */
  maxSessions?: number;
  /** sessions of one client address at most; its oldest gives way (default 32) */
  maxPerClient?: number;
  /** longest idle time a client may ask for (default 1 h) */
  maxIdleMs?: number;
  /** longest a session lives, however busy (default 24 h) */
  maxLifetimeMs?: number;
  nowMs?: () => number;
}

/** A session operation's answer: the handler frames it (and signs it when the request is certified). */
export interface SessionAnswer {
  responseCode: number;
  body: Uint8Array;
  /** the envelope's session id (a new session's id for a setup) */
  sessionId: number;
}

/** How a request's MAC checked out in its session. */
export type MacCheck = { ok: true } | { ok: false; responseCode: number; text: string };

export const SESSION_OPCODES: ReadonlySet<number> = new Set([OC.SESSION_SETUP, OC.SESSION_TERMINATE, OC.SESSION_EXCHANGEKEY]);

export class NativeSessions {
  private readonly sessions = new Map<number, NativeSession>();
  private readonly perClient = new Map<string, number>();
  private readonly max: number;
  private readonly maxPerClient: number;
  private readonly maxIdleMs: number;
  private readonly maxLifetimeMs: number;
  private readonly now: () => number;

  constructor(o: NativeSessionsOptions = {}) {
    this.max = o.maxSessions ?? 10_000;
    this.maxPerClient = o.maxPerClient ?? 32;
    this.maxIdleMs = o.maxIdleMs ?? 3_600_000;
    this.maxLifetimeMs = o.maxLifetimeMs ?? 24 * 3_600_000;
    this.now = o.nowMs ?? Date.now;
  }

  /** live sessions now (for tests and stats) */
  get size(): number {
    return this.sessions.size;
  }

  /** The live session with this id (expired ones are dropped), or undefined. */
  get(id: number): NativeSession | undefined {
    if (id === 0) return undefined;
    const s = this.sessions.get(id);
    if (s === undefined) return undefined;
    const now = this.now();
    if (s.expiresMs <= now || s.endMs <= now) {
      this.remove(s);
      return undefined;
    }
    return s;
  }

  /**
   * Answers OC 400, 401 and 402. WireErrors (bodies that cannot be decoded) propagate: the handler answers RC 4.
   * `digest`: the digest section the request asked for (null when none).
   */
  answer(env: Envelope, msg: Message, version: { major: number; minor: number }, client: NativeClient, digest: Uint8Array | null): SessionAnswer {
    const fail = (code: number, text: string): SessionAnswer => ({ responseCode: code, body: encodeErrorBody(text, digest), sessionId: env.sessionId });
    switch (msg.header.opCode) {
      case OC.SESSION_SETUP:
        return this.setup(msg, version, client, digest, fail);
      case OC.SESSION_TERMINATE: {
        const s = this.get(env.sessionId);
        if (s === undefined) return fail(SESSION_RC.SESSION_TIMEOUT, 'No such session (expired or ended)');
        const check = this.check(s, env, msg);
        if (!check.ok) return fail(check.responseCode, check.text);
        this.remove(s);
        return { responseCode: RC.SUCCESS, body: digest ?? Buffer.alloc(0), sessionId: env.sessionId };
      }
      default:
        return fail(SESSION_RC.SESSION_FAILED, 'Key exchange by the server key (KEY_EXCHANGE_CIPHER_SERVER) is not supported: set sessions up with Diffie-Hellman');
    }
  }

  private setup(
    msg: Message,
    version: { major: number; minor: number },
    client: NativeClient,
    digest: Uint8Array | null,
    fail: (code: number, text: string) => SessionAnswer,
  ): SessionAnswer {
    const req = decodeSessionSetupRequest(msg.body);
    if (req.keyExchangeMode !== KEY_EXCHANGE.DH) {
      return fail(SESSION_RC.SESSION_FAILED, `Key exchange mode ${req.keyExchangeMode} is not supported: only Diffie-Hellman (4)`);
    }
    if (!macSupported(version.major, version.minor)) {
      return fail(SESSION_RC.SESSION_FAILED, `Sessions need protocol 2.7 or later (this request is in ${version.major}.${version.minor})`);
    }
    let key: Buffer;
    let data: Buffer;
    try {
      const theirs = decodeDhPublicKey(req.publicKey!);
      const bits = bitLength(theirs.p);
      if (bits < MIN_PRIME_BITS || bits > MAX_PRIME_BITS || (theirs.p[theirs.p.length - 1]! & 1) === 0) {
        return fail(SESSION_RC.SESSION_FAILED, `The Diffie-Hellman prime must be odd and of ${MIN_PRIME_BITS} to ${MAX_PRIME_BITS} bits`);
      }
      if (!between1AndPMinus1(theirs.g, theirs.p) || !between1AndPMinus1(theirs.y, theirs.p)) {
        return fail(SESSION_RC.SESSION_FAILED, 'The Diffie-Hellman generator or public value is out of range');
      }
      const dh = createDiffieHellman(theirs.p, theirs.g);
      const y = dh.generateKeys();
      const secret = dh.computeSecret(theirs.y);
      key = aesKeyFromDhSecret(secret, theirs.p.length);
      const ours = encodeDhPublicKey({ y, p: theirs.p, g: theirs.g });
      data = Buffer.alloc(4 + ours.length);
      data.writeUInt32BE(ENCRYPT_ALG.AES, 0);
      ours.copy(data, 4);
    } catch (e) {
      const text = e instanceof WireError ? e.message : 'the key could not be used';
      return fail(SESSION_RC.SESSION_FAILED, `Diffie-Hellman key exchange failed: ${text}`);
    }
    const now = this.now();
    this.sweepIfFull(now);
    if ((this.perClient.get(client.address) ?? 0) >= this.maxPerClient) this.dropOldestOf(client.address);
    if (this.sessions.size >= this.max) return fail(RC.SERVER_TOO_BUSY, 'Too many sessions: retry shortly');
    let id: number;
    do id = randomInt(SESSION_ID_MIN, SESSION_ID_MAX);
    while (this.sessions.has(id));
    const idleMs = req.timeout > 0 ? Math.min(req.timeout * 1000, this.maxIdleMs) : this.maxIdleMs;
    const s: NativeSession = {
      id,
      key,
      identityHandle: req.identityHandle,
      identityIndex: req.identityIndex,
      address: client.address,
      requester: null,
      idleMs,
      expiresMs: now + idleMs,
      endMs: now + this.maxLifetimeMs,
      seen: new Set(),
      floor: -1,
      counter: 0,
    };
    this.sessions.set(id, s);
    this.perClient.set(client.address, (this.perClient.get(client.address) ?? 0) + 1);
    return { responseCode: RC.SUCCESS, body: encodeSessionSetupResponse(KEY_EXCHANGE.DH, data, digest), sessionId: id };
  }

  /**
   * Checks a request's HS_MAC in session `s` (the envelope's version, suggested version, ids and the credential's
   * counter, over header + body), refuses a counter seen before, and keeps the session alive.
   */
  check(s: NativeSession, env: Envelope, msg: Message): MacCheck {
    const counter = verifyMac(
      s.key,
      {
        major: env.major,
        minor: env.minor,
        // as Handle.Net reads an envelope without a suggestion: the message's own version
        suggestedMajor: env.suggestedMajor === 0 ? env.major : env.suggestedMajor,
        suggestedMinor: env.suggestedMajor === 0 ? env.minor : env.suggestedMinor,
        sessionId: env.sessionId,
        requestId: env.requestId,
      },
      msg.digestInput,
      msg.credential,
    );
    if (counter === null) return { ok: false, responseCode: SESSION_RC.INVALID_SESSION_KEY, text: 'Session authentication failed (missing or invalid MAC)' };
    if (counter <= s.floor || s.seen.has(counter)) {
      return { ok: false, responseCode: SESSION_RC.SESSION_MESSAGE_REJECTED, text: `Session counter ${counter} was used before` };
    }
    s.seen.add(counter);
    if (s.seen.size > MAX_SEEN_COUNTERS) {
      const oldest = s.seen.values().next().value!;
      s.seen.delete(oldest);
      s.floor = Math.max(s.floor, oldest);
    }
    s.expiresMs = this.now() + s.idleMs;
    return { ok: true };
  }

  /**
   * `message` (header + body + an empty credential) with an HS_MAC by session `s` as its credential, for the answer
   * in envelope `version` / `sessionId` / `requestId` (suggesting ours, as withEnvelope writes it).
   */
  sign(s: NativeSession, req: { sessionId: number; requestId: number }, version: { major: number; minor: number }, message: Buffer): Buffer {
    s.counter = (s.counter + 1) >>> 0;
    const credential = macCredential(s.key, answerContext(req, version, s.counter), unsigned(message));
    return withCredential(message, credential);
  }

  private remove(s: NativeSession): void {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    const n = (this.perClient.get(s.address) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(s.address);
    else this.perClient.set(s.address, n);
  }

  private sweepIfFull(now: number): void {
    if (this.sessions.size < this.max) return;
    for (const s of this.sessions.values()) if (s.expiresMs <= now || s.endMs <= now) this.remove(s);
  }

  private dropOldestOf(address: string): void {
    for (const s of this.sessions.values()) {
      if (s.address === address) {
        this.remove(s);
        return;
      }
    }
  }
}

function bitLength(b: Buffer): number {
  const u = unsignedBytes(b);
  return u.length === 0 ? 0 : (u.length - 1) * 8 + (32 - Math.clz32(u[0]!));
}

/** 1 < v < p − 1 (both unsigned big-endian without leading zeros). */
function between1AndPMinus1(v: Buffer, p: Buffer): boolean {
  const x = BigInt(`0x${v.toString('hex') || '0'}`);
  const m = BigInt(`0x${p.toString('hex') || '0'}`);
  return x > 1n && x < m - 1n;
}

