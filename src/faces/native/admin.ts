// The native face's administration (create, delete, add, remove, modify) behind the protocol's challenge-response (HS_SECKEY, HS_PUBKEY), through the registry's one write path and authorization.
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { publicKeyFromData, verifyPublicKeyAnswer, verifySecretKeyAnswer } from '../../../handle/challenge-auth.js';
import { HandleError, RC } from '../../../handle/codes.js';
import { parseHandle, type CasePolicy, type HandleId } from '../../../handle/identifier.js';
import { valueFromJson, valueToJson } from '../../../handle/json.js';
import { TYPE, type HandleValue } from '../../../handle/types.js';
import {
  AUTH_TYPE,
  decodeChallengeAnswer,
  decodeDeleteHandleRequest,
  decodeRemoveValueRequest,
  decodeValuesRequest,
  encodeChallenge,
  encodeCreateHandleResponse,
  encodeGenericResponse,
  type ChallengeAnswer,
} from '../../../handle/wire/admin.js';
import { digestAlgFor, encodeErrorBody, requestDigest } from '../../../handle/wire/body.js';
import { versionAtLeast } from '../../../handle/wire/envelope.js';
import { OC, OPFLAG, type Message } from '../../../handle/wire/message.js';
import { dataBytes } from '../../../handle/wire/values.js';
import { decodePublicKey } from '../../../handle/wire/keys.js';
import { actorId, isHomed, type Requester } from '../../../registry/access.js';
import type { RegistryContext } from '../../../registry/context.js';
import { changeHandle, type HandleChange } from '../../../registry/handle-changes.js';
import { secretKeysFor } from '../../../registry/secret-copies.js';
import { throttleFor, ThrottledError, type LoginThrottle } from '../../../registry/users/limiter.js';
import type { Resolver } from '../../../resolver/types.js';
import { BASIC_SCOPE } from '../../credentials.js';
import { isUnavailable } from '../errors.js';
import type { NativeClient } from './client.js';
import { SESSION_ID_MIN, type NativeSession } from './sessions.js';

// The exchange (Handle.Net HandleServer.createChallenge / authenticateUser; HandleResolver on the client side):
//   1. an administration request arrives; it is decoded and checked (handle, homed here, values) and kept pending
//      under a fresh session id, with a random 16-byte nonce; the answer is RC 402 carrying the digest of the request
//      and the nonce, in an envelope with that session id;
//   2. the client answers with CHALLENGE_RESPONSE (OC 200) in an envelope with that session id — Handle.Net's client
//      sends it on a NEW TCP connection, so the pending request is found by session id and must come from the same
//      client address (IP), not the same connection; it is used once;
//   3. the proof is checked (HS_SECKEY: a MAC with the secret's sealed copy; HS_PUBKEY: a signature checked with the
//      admin handle's HS_PUBKEY), failures counted by the login throttle per credential and address (shared with
//      HTTP Basic), and the pending request runs as that admin (Requester 'credential', as HTTP Basic gives) through
//      registry/handle-changes.ts: the same authorization, write path, audit and change event as the HTTP face.
// The final answer has the original request's op code and the answer's request id (as Handle.Net answers it).
// In a session (sessions.ts; the handler has checked the request's MAC): the challenge carries the session's own id,
// and a successful answer by the identity the session was set up for marks the session authenticated, so later
// requests in it run as that admin at once (Handle.Net's HandleServer.createChallenge / setSessionAuthenticated).

/** The op codes this answers: the administration requests and the challenge answer. */
export const ADMIN_OPCODES: ReadonlySet<number> = new Set([OC.CREATE_HANDLE, OC.DELETE_HANDLE, OC.ADD_VALUE, OC.REMOVE_VALUE, OC.MODIFY_VALUE, OC.CHALLENGE_RESPONSE]);

export interface NativeAdminDeps {
  registry: RegistryContext;
  resolver: Resolver;
  policy: CasePolicy;
  /** failed authentications, per credential and client address (shared by workers and instances) */
  throttle: LoginThrottle;
  /** pending challenges at most, all clients together (default 10 000) */
  maxPending?: number;
  /** pending challenges of one client address at most; its oldest gives way (default 64) */
  maxPendingPerClient?: number;
  /** request body bytes the pending challenges hold at most, all clients together (default 16 MiB) */
  maxPendingBytes?: number;
  /** how long a challenge may be answered (default 60 s) */
  challengeTtlMs?: number;
  nowMs?: () => number;
}

/** What the handler sends back: op code, response code, body (digest section included when set), envelope session id. */
export interface AdminAnswer {
  opCode: number;
  responseCode: number;
  body: Uint8Array;
  /** the header's RETURN_DIGEST flag (a digest section opens the body) */
  returnDigest: boolean;
  sessionId: number;
}

interface Pending {
  opCode: number;
  id: HandleId;
  change: HandleChange;
  /** the challenged request's envelope session id (the final answer carries it, as Handle.Net's does) */
  sessionId: number;
  nonce: Buffer;
  /** digest section of the challenged request (algorithm byte + digest) */
  digest: Uint8Array;
  address: string;
  expiresMs: number;
  /** the request body's size (what the pending request holds, roughly) */
  bytes: number;
  /** the session the request came in (its id is the challenge's), or null */
  session: NativeSession | null;
}

const NONCE_BYTES = 16;
/** ids of challenges outside sessions: below the session ids (sessions.ts) */
const MAX_CHALLENGE_ID = SESSION_ID_MIN;

/** Values from the wire, validated as the HTTP face validates JSON values (RC 202), stamped `nowSec`. */
function checkedValues(values: readonly HandleValue[], nowSec: number): HandleValue[] {
  return values.map((v) => valueFromJson(valueToJson({ ...v, timestamp: 0 }), nowSec));
}

export class NativeAdmin {
  /** pending challenges by session id, oldest first (Map keeps insertion order) */
  private readonly pending = new Map<number, Pending>();
  private readonly perClient = new Map<string, number>();
  private pendingBytes = 0;
  private readonly maxPending: number;
  private readonly maxBytes: number;
  private readonly maxPerClient: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly d: NativeAdminDeps) {
    this.maxPending = d.maxPending ?? 10_000;
    this.maxPerClient = d.maxPendingPerClient ?? 64;
    this.maxBytes = d.maxPendingBytes ?? 16 * 1024 * 1024;
    this.ttlMs = d.challengeTtlMs ?? 60_000;
    this.now = d.nowMs ?? Date.now;
  }

  /** pending challenges now (for tests and stats) */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Answers an administration request (a challenge, or an error) or a challenge answer (the result of the request it
   * authenticates). `digest`: the digest section the request asked for (null when it did not). WireErrors (bodies
   * that cannot be decoded) propagate: the handler answers RC 4.
   */
  async answer(
    msg: Message,
    sessionId: number,
    version: { major: number; minor: number },
    client: NativeClient,
    digest: Uint8Array | null,
    session: NativeSession | null = null,
  ): Promise<AdminAnswer> {
    const opCode = msg.header.opCode;
    const fail = (code: number, text: string, op = opCode, sid = sessionId): AdminAnswer => ({
      opCode: op,
      responseCode: code,
      body: encodeErrorBody(text, digest),
      returnDigest: digest !== null,
      sessionId: sid,
    });
    if (opCode === OC.CHALLENGE_RESPONSE) return this.answered(msg, sessionId, client, digest, fail);

    const prepared = this.prepare(msg);
    if (prepared instanceof HandleError) return fail(prepared.code, prepared.message);
    // a session authenticated before: its admin, without a new challenge
    if (session?.requester) return this.run(opCode, prepared.id, prepared.change, session.requester, client, digest, sessionId, fail);
    this.expire();
    if (session !== null) {
      const former = this.pending.get(session.id);
      if (former !== undefined) this.remove(session.id, former);
    }
    if ((this.perClient.get(client.address) ?? 0) >= this.maxPerClient) this.dropOldestOf(client.address);
    if (this.pending.size >= this.maxPending || this.pendingBytes + msg.body.byteLength > this.maxBytes) {
      return fail(RC.SERVER_TOO_BUSY, 'Too many pending authentications: retry shortly');
    }

    let sid: number;
    if (session !== null) sid = session.id;
    else {
      do sid = randomInt(1, MAX_CHALLENGE_ID);
      while (this.pending.has(sid));
    }
    const nonce = randomBytes(NONCE_BYTES);
    const modern = versionAtLeast(version.major, version.minor, 2, 1);
    // Before 2.1 the challenge carries an MD5 of the request in its own field (Encoder.encodeChallenge's old format).
    const challenged = modern
      ? requestDigest(digestAlgFor(version.major, version.minor), msg)
      : Buffer.concat([Buffer.of(0), createHash('md5').update(msg.digestInput).digest()]);
    const bytes = msg.body.byteLength;
    this.pending.set(sid, { ...prepared, opCode, sessionId, nonce, digest: challenged, address: client.address, expiresMs: this.now() + this.ttlMs, bytes, session });
    this.perClient.set(client.address, (this.perClient.get(client.address) ?? 0) + 1);
    this.pendingBytes += bytes;
    return {
      opCode,
      responseCode: RC.AUTHENTICATION_NEEDED,
      body: modern ? encodeChallenge(nonce, challenged) : encodeChallenge(nonce, null, challenged.subarray(1)),
      returnDigest: modern,
      sessionId: sid,
    };
  }

  /** The request decoded and checked before any challenge: what it would change, or the HandleError to answer. */
  private prepare(msg: Message): { id: HandleId; change: HandleChange } | HandleError {
    const h = msg.header;
    const nowSec = Math.floor(this.now() / 1000);
    let raw: string;
    let build: () => HandleChange;
    switch (h.opCode) {
      case OC.CREATE_HANDLE:
      case OC.ADD_VALUE:
      case OC.MODIFY_VALUE: {
        const req = decodeValuesRequest(msg.body, h.opCode === OC.CREATE_HANDLE ? 'create handle request' : h.opCode === OC.ADD_VALUE ? 'add value request' : 'modify value request');
        raw = req.handle;
        if (h.opCode === OC.CREATE_HANDLE && (h.opFlags & OPFLAG.MINT) !== 0) raw = raw.includes('/') ? raw + randomUUID() : `${raw}/${randomUUID()}`;
        build = () => {
          if (h.opCode !== OC.CREATE_HANDLE && req.values.length === 0) throw new HandleError(RC.INVALID_VALUE, 'Empty value list');
          const values = checkedValues(req.values, nowSec);
          if (h.opCode === OC.CREATE_HANDLE) return { op: 'create', values, overwrite: (h.opFlags & OPFLAG.OVERWRITE) !== 0 };
          if (h.opCode === OC.ADD_VALUE) return { op: 'add', values, overwrite: false };
          return { op: 'modify', values };
        };
        break;
      }
      case OC.REMOVE_VALUE: {
        const req = decodeRemoveValueRequest(msg.body);
        raw = req.handle;
        build = () => {
          if (req.indexes.length === 0) throw new HandleError(RC.VALUES_NOT_FOUND, 'No index given');
          return { op: 'remove', indexes: req.indexes };
        };
        break;
      }
      default: {
        raw = decodeDeleteHandleRequest(msg.body).handle;
        build = () => ({ op: 'delete' });
      }
    }
    try {
      const id = parseHandle(raw, this.d.policy);
      if (!isHomed(this.d.registry, id)) return new HandleError(RC.SERVER_NOT_RESP, `This node does not home ${id.prefix}`);
      return { id, change: build() };
    } catch (e) {
      if (e instanceof HandleError) return e;
      throw e;
    }
  }

  /** A CHALLENGE_RESPONSE: the pending request it answers, authenticated and run. */
  private async answered(
    msg: Message,
    sessionId: number,
    client: NativeClient,
    digest: Uint8Array | null,
    fail: (code: number, text: string, op?: number, sid?: number) => AdminAnswer,
  ): Promise<AdminAnswer> {
    const answer = decodeChallengeAnswer(msg.body);
    this.expire();
    const p = this.pending.get(sessionId);
    if (p === undefined || p.address !== client.address) {
      return fail(RC.AUTHEN_TIMEOUT, 'No pending challenge for this session (expired, answered already, or from another address): send the request again');
    }
    this.remove(sessionId, p);
    const op = p.opCode;
    const who = await this.authenticate(answer, p, client);
    if (who instanceof HandleError) return fail(who.code, who.message, op, p.sessionId);
    if (p.session !== null && p.session.requester === null && this.isSessionIdentity(p.session, answer, who)) p.session.requester = who;
    return this.run(op, p.id, p.change, who, client, digest, p.sessionId, fail);
  }

  /** Whether a proven answer is by the identity its session was set up for (Handle.Net compares handle and index). */
  private isSessionIdentity(s: NativeSession, a: ChallengeAnswer, who: Requester): boolean {
    if (s.identityIndex < 0 || s.identityIndex !== a.userIdIndex || who.kind !== 'credential') return false;
    try {
      return parseHandle(s.identityHandle, this.d.policy).key === who.key;
    } catch {
      return false;
    }
  }

  /** Runs an authenticated request through the registry's write path; the answer carries `sid` in its envelope. */
  private async run(
    op: number,
    id: HandleId,
    change: HandleChange,
    who: Requester,
    client: NativeClient,
    digest: Uint8Array | null,
    sid: number,
    fail: (code: number, text: string, op?: number, sid?: number) => AdminAnswer,
  ): Promise<AdminAnswer> {
    try {
      const outcome = await changeHandle(this.d.registry, id, change, who, { id: actorId(who), address: client.address });
      const body = op === OC.CREATE_HANDLE ? encodeCreateHandleResponse(outcome.record?.handle ?? id.handle, digest) : encodeGenericResponse(digest);
      return { opCode: op, responseCode: RC.SUCCESS, body, returnDigest: digest !== null, sessionId: sid };
    } catch (e) {
      if (e instanceof HandleError) return fail(e.code, e.message, op, sid);
      if (e instanceof Error && isUnavailable(e)) return fail(RC.SERVER_TOO_BUSY, 'Store unavailable, try again later', op, sid);
      throw e;
    }
  }

  /** The requester a challenge answer proves, or the HandleError to answer (403 for every failed proof). */
  private async authenticate(a: ChallengeAnswer, p: Pending, client: NativeClient): Promise<Requester | HandleError> {
    const secretKey = a.authType === AUTH_TYPE.SECRET_KEY;
    if (!secretKey && a.authType !== AUTH_TYPE.PUBLIC_KEY) {
      return new HandleError(RC.INVALID_CREDENTIAL, `Unsupported authentication type ${JSON.stringify(a.authType.slice(0, 40))}: use HS_SECKEY or HS_PUBKEY`);
    }
    let id: HandleId;
    try {
      id = parseHandle(a.userIdHandle, this.d.policy);
    } catch {
      return new HandleError(RC.INVALID_CREDENTIAL, 'The user id handle is not a valid handle');
    }
    if (a.userIdIndex > 0x7fffffff) return new HandleError(RC.INVALID_CREDENTIAL, 'The user id index is out of range');
    const account = `${a.userIdIndex}:${id.key}`;
    const label = `${a.userIdIndex}:${id.handle}`;
    const nowMs = this.now();
    try {
      await this.d.throttle.check(BASIC_SCOPE, account, client.address, nowMs);
    } catch (e) {
      if (e instanceof ThrottledError) {
        return new HandleError(RC.AUTHENTICATION_FAILED, `Too many failed authentications as ${label} from this address: retry in ${e.retryAfterSeconds} s`);
      }
      throw e;
    }
    let index: number | null;
    if (secretKey) {
      const keys = await secretKeysFor(this.d.registry, id.key, a.userIdIndex);
      if (keys.stored > 0 && keys.secrets.length === 0) {
        // not a wrong guess: nothing here can check the answer (not counted as a failure)
        return new HandleError(
          RC.AUTHENTICATION_FAILED,
          `The HS_SECKEY of ${label} was stored before this node kept secrets for the native protocol (or the node keeps no password key file): set the secret again (over HTTP PUT with the plain secret), then retry`,
        );
      }
      index = null;
      for (const s of keys.secrets) {
        if (await verifySecretKeyAnswer(a.signedResponse, s.secret, p.nonce, p.digest)) {
          index = s.index;
          break;
        }
      }
    } else {
      index = await this.verifyPublicKey(id, a, p);
    }
    if (index === null) {
      await this.d.throttle.failed(BASIC_SCOPE, account, client.address, nowMs);
      return new HandleError(RC.AUTHENTICATION_FAILED, 'Authentication failed');
    }
    await this.d.throttle.succeeded(BASIC_SCOPE, account, client.address, nowMs);
    // Handle.Net: an answer as index 0 authenticates as the index of the value that verified
    return { kind: 'credential', handle: id.handle, key: id.key, index: a.userIdIndex === 0 ? index : a.userIdIndex };
  }

  /** The index of the admin's HS_PUBKEY (at the answer's index, or any when 0) that verifies the signature; null when none does. */
  private async verifyPublicKey(id: HandleId, a: ChallengeAnswer, p: Pending): Promise<number | null> {
    if (!isHomed(this.d.registry, id)) return null;
    const res = await this.d.resolver.resolve(id.key);
    if (!res.found) return null;
    const keys = res.record.values
      .filter((v) => v.type.toUpperCase() === TYPE.PUBKEY && (a.userIdIndex === 0 || v.index === a.userIdIndex))
      .sort((x, y) => x.index - y.index);
    for (const v of keys) {
      let key;
      try {
        key = publicKeyFromData(v.data.format === 'key' ? v.data.value : decodePublicKey(dataBytes(v)));
      } catch {
        continue;
      }
      if (key !== null && verifyPublicKeyAnswer(a.signedResponse, key, p.nonce, p.digest)) return v.index;
    }
    return null;
  }

  private remove(sid: number, p: Pending): void {
    this.pending.delete(sid);
    this.pendingBytes -= p.bytes;
    const n = (this.perClient.get(p.address) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(p.address);
    else this.perClient.set(p.address, n);
  }

  /** Drops expired challenges (the oldest come first, so this stops at the first live one). */
  private expire(): void {
    const now = this.now();
    for (const [sid, p] of this.pending) {
      if (p.expiresMs > now) break;
      this.remove(sid, p);
    }
  }

  private dropOldestOf(address: string): void {
    for (const [sid, p] of this.pending) {
      if (p.address === address) {
        this.remove(sid, p);
        return;
      }
    }
  }
}

/** The node's administration for its native face: its registry, resolver and case policy, and the login throttle HTTP Basic uses. */
export function nativeAdminFor(node: { registry: RegistryContext; resolver: Resolver; policy: CasePolicy }): NativeAdmin {
  return new NativeAdmin({
    registry: node.registry,
    resolver: node.resolver,
    policy: node.policy,
    throttle: node.registry.loginThrottle ?? throttleFor(node.registry.store),
  });
}
