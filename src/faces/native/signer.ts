// Signs the native face's answers to certified requests (OPFLAG.CERT) with the server key, as Handle.Net's server does.
import type { KeyObject } from 'node:crypto';
import { signMessage, withCredential, type SigningContext } from '../../../handle/wire/credential.js';
import { PROTOCOL_VERSION, type Envelope } from '../../../handle/wire/envelope.js';

/**
 * Handle.Net's HandleServer.sendResponse signs every answer to a request with the certify flag, with the server's
 * private key (outside a session): HS_SIGNED, SHA-256 with RSA from protocol 2.7 (SHA-1 before). The signature covers
 * the envelope's version, suggested version, session and request ids and the whole header and body, so a signed answer
 * is made for one request and never kept for another.
 */
export class AnswerSigner {
  /** signatures left in the current second (a token bucket refilled continuously) */
  private tokens: number;
  private at = Date.now();

  /**
   * `perSecond`: signatures this process makes per second at most (each costs about 1.6 ms of RSA work here), so a
   * flood of certified requests — over UDP they cost the sender nothing — cannot take the process's CPU; beyond it
   * certified requests are answered busy.
   */
  constructor(
    private readonly privateKey: KeyObject,
    private readonly perSecond = 400,
  ) {
    this.tokens = perSecond;
  }

  /** Takes one signature from the budget: false when this second's is spent (answer busy, unsigned). */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * `message` (header + body + an empty credential, from encodeMessage) with its signature as the credential section.
   * `version` is the answer's version; its envelope suggests ours (PROTOCOL_VERSION), as withEnvelope writes it.
   */
  sign(req: Pick<Envelope, 'sessionId' | 'requestId'>, version: { major: number; minor: number }, message: Buffer): Buffer {
    return withCredential(message, signMessage(this.privateKey, answerContext(req, version), unsigned(message)));
  }
}

/**
 * What the signature (or session MAC) of an answer covers besides its message: the answer's version, the version its
 * envelope suggests (ours: PROTOCOL_VERSION, as withEnvelope writes it), the ids, and in a session its counter.
 */
export function answerContext(req: Pick<Envelope, 'sessionId' | 'requestId'>, version: { major: number; minor: number }, sessionCounter?: number): SigningContext {
  return {
    major: version.major,
    minor: version.minor,
    suggestedMajor: PROTOCOL_VERSION.major,
    suggestedMinor: PROTOCOL_VERSION.minor,
    sessionId: req.sessionId,
    requestId: req.requestId,
    ...(sessionCounter !== undefined ? { sessionCounter } : {}),
  };
}

/** An encoded message (header + body + an empty credential, from encodeMessage) without its empty credential. */
export function unsigned(message: Buffer): Buffer {
  return message.subarray(0, message.length - 4);
}
