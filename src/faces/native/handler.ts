// The native Handle protocol face's logic (RFC 3652), shared by TCP and UDP: one request in, one whole answer
// (envelope + message) out — resolution (recursive or referred) and site info from the same resolver as HTTP,
// certified answers signed, administration and sessions handed to admin.ts and sessions.ts.
import { HandleError, RC } from '../../../handle/codes.js';
import { asciiUpper, parseHandle, PREFIX_RECORD_PREFIX, prefixRecordHandle, type CasePolicy, type HandleId } from '../../../handle/identifier.js';
import type { HandleValue } from '../../../handle/types.js';
import { WireError } from '../../../handle/wire/bytes.js';
import { decodeResolutionRequest, digestAlgFor, encodeErrorBody, encodeResolutionResponse, requestDigest } from '../../../handle/wire/body.js';
import { ENVELOPE_AT, ENVELOPE_SIZE, PROTOCOL_VERSION, responseVersion, versionAtLeast, type Envelope } from '../../../handle/wire/envelope.js';
import { decodeMessage, encodeMessage, frameMessage, HEADER_AT, HEADER_SIZE, OC, OPFLAG, type Message } from '../../../handle/wire/message.js';
import { encodeSiteInfo, type SiteInfo } from '../../../handle/wire/site.js';
import { encodeHandleValue } from '../../../handle/wire/values.js';
import { SERVICE_VALUE_TYPES } from '../../../resolver/remote/sites.js';
import type { HitToken, Resolver } from '../../../resolver/types.js';
import { filterValues } from '../../../handle/filter.js';
import { MAX_KEPT_BODY } from '../../edge/front-door.js';
import { RequestMemo } from '../../edge/request-memo.js';
import type { AnswerSigner } from './signer.js';
import { ADMIN_OPCODES, type NativeAdmin } from './admin.js';
import type { NativeClient } from './client.js';
import { SESSION_OPCODES, type NativeSession, type NativeSessions } from './sessions.js';

export interface NativeDeps {
  resolver: Resolver;
  policy: CasePolicy;
  /** whether resolutions of `id` are answered (homed here, or recursion on); the rest get RC 301 */
  isHomed(id: HandleId): boolean;
  /** this node's site, as it stands now */
  site(): SiteInfo;
  /** bytes the memo of parsed requests may hold */
  memoBytes: number;
  /** an unexpected failure (answered RC 2; logged) */
  onError(err: unknown): void;
  /** signs the answers to certified requests (OPFLAG.CERT); without it they go unsigned */
  signer?: AnswerSigner;
  /** administration with challenge-response (src/faces/native/admin.ts); absent: those requests answer RC 5 */
  admin?: NativeAdmin;
  /** sessions (OC 400–402, sessions.ts); absent: those requests answer RC 5 and session ids are ignored */
  sessions?: NativeSessions;
}

const NO_CLIENT: NativeClient = { address: '' };

/**
 * An answer: envelope + message, the version it is in, and whether a TCP connection closes after it (only after an
 * answer to a message that could not be read or answered; the request's keep-alive flag does not close it).
 */
export interface Reply {
  bytes: Buffer;
  version: { major: number; minor: number };
  close: boolean;
}

/** The flags a response copies from its request (what it asked for and we honour); RD is set when a digest goes back. */
const ECHOED_FLAGS = OPFLAG.AUTH | OPFLAG.KEEP_ALIVE | OPFLAG.PUBLIC_ONLY | OPFLAG.RECURSIVE;
/**
 * Set on every answer: this node is the primary (and only) site of what it answers, and a primary server's answers
 * carry the authoritative flag (Handle.Net's HandleServer.sendResponse: `if (thisSite.isPrimary) response.authoritative
 * = true`), so a client asking for an authoritative answer takes this one as such.
 */
const PRIMARY = OPFLAG.AUTH;
/** Envelope byte 2: compressed, encrypted, truncated (RFC 3652 §2.2.1.3). */
const ENV_CP_EC_TC = 0xe0;
/** Offsets in a whole message (envelope + header): the header's opFlags, recursion count and body length. */
export const AT_OPFLAGS = ENVELOPE_SIZE + HEADER_AT.opFlags;
const AT_RECURSION = ENVELOPE_SIZE + HEADER_AT.recursionCount;
const AT_BODY_LENGTH = ENVELOPE_SIZE + HEADER_AT.bodyLength;

/** An answer kept with its cache entry, to copy and patch for a repeat of the same request. */
interface Template {
  bytes: Buffer;
}

/** A resolution request answered before from one cache entry. */
interface Memo {
  token: HitToken;
  template: Template;
  /** answered from this node's store (authoritative); false: a record resolved at another node */
  local: boolean;
}

const EMPTY = Buffer.alloc(0);
const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * The memo key of a resolution request: the envelope's version bytes (the answer's version follows them) and the
 * body bytes (handle, index list, type list) as they came.
 */
function memoKey(env: Buffer, envAt: number, body: Buffer, bodyAt: number, bodyLength: number): string {
  return String.fromCharCode(env[envAt]!, env[envAt + 1]!, env[envAt + 2]! & 0x03, env[envAt + 3]!) + body.toString('latin1', bodyAt, bodyAt + bodyLength);
}

function valueList(values: readonly HandleValue[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32BE(values.length, 0);
  for (const v of values) parts.push(encodeHandleValue(v));
  return Buffer.concat(parts);
}

/** The envelope of an answer to `req` (in `version`, suggesting ours, as Handle.Net does), then the message. */
export function withEnvelope(req: Pick<Envelope, 'sessionId' | 'requestId'>, version: { major: number; minor: number }, message: Buffer, truncated = false): Buffer {
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

/** An error answer for a message whose envelope or message could not be trusted: RC 4 in 2.10, then close. */
export function protocolErrorReply(text: string, requestId: number): Buffer {
  const header = { opCode: OC.RESERVED, responseCode: RC.PROTOCOL_ERROR, opFlags: PRIMARY, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 };
  return withEnvelope({ sessionId: 0, requestId }, { major: 2, minor: 10 }, encodeMessage(header, encodeErrorBody(text, null)));
}

export class NativeHandler {
  private readonly memo: RequestMemo<Memo>;
  private site: { info: SiteInfo; bytes: Buffer } | null = null;

  constructor(private readonly d: NativeDeps) {
    this.memo = new RequestMemo(d.memoBytes);
  }

  /**
   * The answer at once, without decoding anything, when this very request (same version and body) was answered
   * from an in-process cache entry that is still current: a copy of that answer with this request's ids and flags.
   * Null when the full path must answer. `at` is where the envelope starts in `buf`; the whole message is there.
   * Never throws.
   */
  fast(buf: Buffer, at: number, messageLength: number): Buffer | null {
    if (this.memo.size === 0 || (buf[at + ENVELOPE_AT.flags]! & ENV_CP_EC_TC) !== 0 || messageLength < HEADER_SIZE) return null;
    const opFlags = buf.readUInt32BE(at + AT_OPFLAGS);
    // a digest or a signature depends on the request: the full path makes those
    if (buf.readUInt32BE(at + ENVELOPE_SIZE + HEADER_AT.opCode) !== OC.RESOLUTION || (opFlags & (OPFLAG.RETURN_DIGEST | OPFLAG.CERT)) !== 0) return null;
    const bodyLength = buf.readUInt32BE(at + AT_BODY_LENGTH);
    if (bodyLength > messageLength - HEADER_SIZE) return null;
    const m = this.memo.get(memoKey(buf, at, buf, at + ENVELOPE_SIZE + HEADER_SIZE, bodyLength));
    if (m === undefined) return null;
    const template = m.template.bytes;
    // a record from another node answers only a request that asked for recursion (the rest get a referral)
    if (template.length === 0 || (!m.local && (opFlags & OPFLAG.RECURSIVE) === 0) || !this.d.resolver.isCurrent(m.token)) return null;
    const out = Buffer.allocUnsafe(template.length);
    template.copy(out, 0);
    buf.copy(out, ENVELOPE_AT.sessionId, at + ENVELOPE_AT.sessionId, at + ENVELOPE_AT.requestId + 4); // session id, request id
    out.writeUInt32BE(((opFlags & ECHOED_FLAGS) | (m.local ? PRIMARY : 0)) >>> 0, AT_OPFLAGS);
    out[AT_RECURSION] = buf[at + AT_RECURSION]!;
    return out;
  }

  /** The site record in wire form, re-encoded when the node's site changes. */
  private siteBytes(): Buffer {
    const info = this.d.site();
    if (this.site === null || this.site.info !== info) this.site = { info, bytes: encodeSiteInfo(info) };
    return this.site.bytes;
  }

  /**
   * Answers one request: `envBytes` its 20 envelope bytes, `bytes` its message. Never throws: undecodable input gets
   * RC 4, anything unexpected RC 2 (and the connection closes after either).
   */
  async answer(env: Envelope, envBytes: Buffer, bytes: Buffer, client: NativeClient = NO_CLIENT): Promise<Reply> {
    const version = responseVersion(env);
    let msg: Message | null = null;
    try {
      if (env.encrypted || env.compressed) throw new WireError('encrypted and compressed messages are not supported (sessions without encryption only)');
      msg = decodeMessage(bytes);
      const h = msg.header;
      // Handle.Net sends a request digest only from protocol 2.1 on (Encoder.writeHeader sets the flag from there)
      const wantsDigest = (h.opFlags & OPFLAG.RETURN_DIGEST) !== 0 && versionAtLeast(version.major, version.minor, 2, 1);
      const digest = wantsDigest ? requestDigest(digestAlgFor(version.major, version.minor), msg) : null;
      // a certified request gets a signed answer, which says so with the certify flag (Handle.Net echoes it)
      const signer = (h.opFlags & OPFLAG.CERT) !== 0 ? this.d.signer : undefined;
      // the public-key work an anonymous client can ask for draws on one budget: a signature, and a session setup's
      // Diffie-Hellman exchange (certified or not, with a prime of the client's choosing up to 4096 bits)
      const budget = signer ?? (h.opCode === OC.SESSION_SETUP ? this.d.signer : undefined);
      if (budget !== undefined && !budget.take()) {
        const header = { opCode: h.opCode, responseCode: RC.SERVER_TOO_BUSY, opFlags: (h.opFlags & ECHOED_FLAGS) >>> 0, siteInfoSerial: 1, recursionCount: h.recursionCount, expiration: nowSec() + 60 };
        return { bytes: withEnvelope(env, version, encodeMessage(header, encodeErrorBody('Too many certified requests or session setups: retry shortly', digest))), version, close: false };
      }
      const reply = (responseCode: number, body: Uint8Array, primary = true, sessionId = env.sessionId): Reply => {
        const flags = ((h.opFlags & ECHOED_FLAGS) | (primary ? PRIMARY : 0) | (digest !== null ? OPFLAG.RETURN_DIGEST : 0) | (signer ? OPFLAG.CERT : 0)) >>> 0;
        const header = { opCode: h.opCode, responseCode, opFlags: flags, siteInfoSerial: 1, recursionCount: h.recursionCount, expiration: nowSec() + 3600 };
        const message = encodeMessage(header, body);
        const to = { sessionId, requestId: env.requestId };
        return { bytes: withEnvelope(to, version, signer ? signer.sign(to, version, message) : message), version, close: false };
      };
      // sessions: setup (answered with the new session's id, signed with the server key), terminate (sessions.ts)
      if (this.d.sessions !== undefined && SESSION_OPCODES.has(h.opCode)) {
        const a = this.d.sessions.answer(env, msg, version, client, digest);
        return reply(a.responseCode, a.body, true, a.sessionId);
      }
      // administration: a challenge, or the result of the request a challenge answer authenticates (admin.ts)
      if (this.d.admin !== undefined && ADMIN_OPCODES.has(h.opCode)) {
        // in a live session, the request's MAC must check out (a challenge answer is proof enough by itself)
        const session = h.opCode === OC.CHALLENGE_RESPONSE ? undefined : this.d.sessions?.get(env.sessionId);
        if (session !== undefined) {
          const check = this.d.sessions!.check(session, env, msg);
          if (!check.ok) return reply(check.responseCode, encodeErrorBody(check.text, digest));
        }
        return await this.administer(this.d.admin, env, msg, version, client, digest, session ?? null);
      }
      switch (h.opCode) {
        case OC.RESOLUTION: {
          const { reply: r, token, local } = await this.resolution(msg, digest, reply);
          // kept when it came from a cache entry (and without a digest or signature, which depend on the request)
          if (token !== undefined && digest === null && signer === undefined && r.bytes.length <= MAX_KEPT_BODY) {
            const key = memoKey(envBytes, 0, bytes, HEADER_SIZE, h.bodyLength);
            const t = this.d.resolver.derive(token, `n:${key}`, () => {
              const template: Template = { bytes: r.bytes };
              return { value: template, bytes: r.bytes.length, release: () => void (template.bytes = EMPTY) };
            });
            if (t.kept) this.memo.set(key, { token, template: t.value, local });
          }
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
      if (!(err instanceof WireError)) this.d.onError(err);
      const code = err instanceof WireError ? RC.PROTOCOL_ERROR : RC.ERROR;
      const text = err instanceof WireError ? `Protocol error: ${err.message}` : 'Server error processing request';
      const opCode = msg?.header.opCode ?? OC.RESERVED;
      const header = { opCode, responseCode: code, opFlags: PRIMARY, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 };
      return { bytes: withEnvelope(env, version, encodeMessage(header, encodeErrorBody(text, null))), version, close: true };
    }
  }

  /** An administration request or challenge answer, answered by `admin` in its op code and session (admin.ts). */
  private async administer(
    admin: NativeAdmin,
    env: Envelope,
    msg: Message,
    version: Reply['version'],
    client: NativeClient,
    digest: Uint8Array | null,
    session: NativeSession | null,
  ): Promise<Reply> {
    const h = msg.header;
    const a = await admin.answer(msg, env.sessionId, version, client, digest, session);
    // a certified request's answer is signed: with the session's key when it is in a live session (an HS_MAC, as
    // Handle.Net's sendResponse does), else with the server key
    const certify = (h.opFlags & OPFLAG.CERT) !== 0;
    const live = certify ? this.d.sessions?.get(a.sessionId) : undefined;
    const signer = certify ? this.d.signer : undefined;
    const certified = live !== undefined || signer !== undefined;
    const flags = ((h.opFlags & ECHOED_FLAGS) | PRIMARY | (a.returnDigest ? OPFLAG.RETURN_DIGEST : 0) | (certified ? OPFLAG.CERT : 0)) >>> 0;
    const header = { opCode: a.opCode, responseCode: a.responseCode, opFlags: flags, siteInfoSerial: 1, recursionCount: h.recursionCount, expiration: nowSec() + 3600 };
    const to = { sessionId: a.sessionId, requestId: env.requestId };
    let message = encodeMessage(header, a.body);
    if (live !== undefined) message = this.d.sessions!.sign(live, to, version, message);
    else if (signer !== undefined) message = signer.sign(to, version, message);
    return { bytes: withEnvelope(to, version, message), version, close: false };
  }

  private async resolution(
    msg: Message,
    digest: Uint8Array | null,
    reply: (rc: number, body: Uint8Array, primary?: boolean) => Reply,
  ): Promise<{ reply: Reply; token?: HitToken; local: boolean }> {
    const req = decodeResolutionRequest(msg.body);
    let id: HandleId;
    try {
      id = parseHandle(req.handle, this.d.policy);
    } catch (e) {
      const text = e instanceof HandleError ? e.message : 'Invalid handle';
      return { reply: reply(RC.INVALID_HANDLE, encodeErrorBody(text, digest)), local: true };
    }
    if (!this.d.isHomed(id)) return { reply: reply(RC.SERVER_NOT_RESP, encodeErrorBody(`This node does not home ${id.prefix}`, digest)), local: true };
    const local = this.d.resolver.homes(id.key);
    // not held here: a client that did not ask for recursion is referred to the prefix's service
    if (!local && (msg.header.opFlags & OPFLAG.RECURSIVE) === 0) return { reply: await this.referral(id, digest, reply), local };
    let r;
    try {
      r = this.d.resolver.peek(id.key) ?? (await this.d.resolver.resolve(id.key));
    } catch (e) {
      // recursion that failed (no answer in time, a loop, busy) is said in the protocol's own codes; anything else is ours
      if (!(e instanceof HandleError)) throw e;
      return { reply: reply(e.code, encodeErrorBody(e.message, digest), local), local };
    }
    const token = r.token;
    if (!r.found) return { reply: reply(RC.HANDLE_NOT_FOUND, encodeErrorBody('Handle not found', digest), local), token, local };
    // Without authentication only public values ever leave the node, whatever the public-only flag says. (The whole
    // answer is kept with the record for a repeat of this request; a new variant of it encodes its values afresh.)
    const values = valueList(filterValues(r.record.publicValues, { types: req.types, indexes: req.indexes, publicOnly: true }));
    if (values.readUInt32BE(0) === 0) {
      const none = req.types.length === 0 && req.indexes.length === 0 ? 'No public values' : 'Values not found';
      return { reply: reply(RC.VALUES_NOT_FOUND, encodeErrorBody(none, digest), local), token, local };
    }
    const handle = Buffer.from(req.handle, 'utf8');
    const parts: Uint8Array[] = [];
    if (digest !== null) parts.push(digest);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(handle.length, 0);
    parts.push(len, handle, values);
    return { reply: reply(RC.SUCCESS, Buffer.concat(parts), local), token, local };
  }

  /**
   * A service referral (RC 302, as Handle.Net clients follow it): the prefix record's handle and its site and service
   * values. RC 301 when no service is known for the prefix.
   */
  private async referral(id: HandleId, digest: Uint8Array | null, reply: (rc: number, body: Uint8Array, primary?: boolean) => Reply): Promise<Reply> {
    const notHere = () => reply(RC.SERVER_NOT_RESP, encodeErrorBody(`This node does not home ${id.prefix}; ask with the recursion flag, or ask the prefix's own service`, digest), false);
    if (id.prefixKey === PREFIX_RECORD_PREFIX) return notHere();
    const recordHandle = prefixRecordHandle(id.prefix);
    let values: readonly HandleValue[];
    try {
      const r = await this.d.resolver.resolve(parseHandle(recordHandle, this.d.policy).key);
      if (!r.found) return notHere();
      values = r.record.publicValues.filter((v) => SERVICE_VALUE_TYPES.includes(asciiUpper(v.type)));
    } catch (e) {
      if (!(e instanceof HandleError)) throw e;
      return notHere();
    }
    if (values.length === 0) return notHere();
    return reply(RC.SERVICE_REFERRAL, encodeResolutionResponse(recordHandle, values, digest), false);
  }
}
