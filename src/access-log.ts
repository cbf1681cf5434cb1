// The access log: one info line per HTTP request (or one in N, ACCESS_LOG), the request ids (x-request-id, honoured
// when sane, else made here), and the line the credential code writes for failed logins and locks.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { redactTarget } from './log-redact.js';
import { clientAddress, type TrustFn } from './trust-proxy.js';

/** A request id a client may choose (else the node makes one): short, and nothing that could forge a log line. */
const SANE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
const ID_PREFIX = randomBytes(4).toString('hex');
let lastId = 0;

/** The id of a request: the client's `x-request-id` when sane, else a new one (unique per process run). */
export function requestId(given: string | string[] | undefined): string {
  if (typeof given === 'string' && SANE_ID.test(given)) return given;
  return `${ID_PREFIX}-${(++lastId).toString(36)}`;
}

/** Which face a request target belongs to (the log's `face` field). */
export function faceOf(target: string): string {
  if (target.startsWith('/api/') || target === '/api') return 'handle-rest';
  if (/^\/(identity|identityv2|snms)(\/|\?|$)/.test(target)) return 'snms';
  if (/^\/operator(\/|\?|$)/.test(target)) return 'operator';
  if (/^\/(healthz|readyz|metrics)(\/|\?|$)/.test(target)) return 'ops';
  if (/^\/(docs|openapi\.json)(\/|\?|$)/.test(target)) return 'docs';
  return 'proxy';
}

/** Marks a raw request fastify routed (the front door then leaves its line to fastify's hooks). */
export const VIA_APP = Symbol('idnode.viaApp');

export class AccessLog {
  readonly enabled: boolean;
  private readonly every: number;
  private seen = 0;

  constructor(
    mode: string,
    private readonly log: FastifyBaseLogger,
    private readonly trust: TrustFn | null,
  ) {
    const sample = /^sample:(\d+)$/.exec(mode);
    this.every = sample ? Number(sample[1]) : 1;
    this.enabled = mode !== 'off' && (log.level === 'info' || log.level === 'debug' || log.level === 'trace');
  }

  /** Whether this request gets a line (every one, or one in N). */
  take(): boolean {
    if (!this.enabled) return false;
    return this.every === 1 || ++this.seen % this.every === 0;
  }

  /** One line: `ms` is the time from the request's arrival to its answer. */
  write(id: string, method: string, target: string, status: number, ms: number, client: string, face: string): void {
    this.log.info({ reqId: id, method, path: redactTarget(target), status, ms: Math.round(ms * 10) / 10, client, face }, 'request');
  }

  /**
   * A request the front door took (answered now, or after a resolver trip): its id goes back in `x-request-id`, and
   * its line is written when the answer is complete — unless fastify took it over (its hooks write that line).
   */
  frontDoor(req: IncomingMessage, res: ServerResponse, startedMs: number, id: string): void {
    const done = () => {
      if ((req as unknown as Record<symbol, unknown>)[VIA_APP] === true) return;
      const target = req.url ?? '';
      const client = clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], this.trust);
      this.write(id, req.method ?? '', target, res.statusCode, performance.now() - startedMs, client, faceOf(target));
    };
    if (res.writableEnded) done();
    else res.once('finish', done);
  }
}

/** The x-request-id a client sent, read from the raw header list (no headers object is built). */
export function rawRequestId(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === 12 && k.toLowerCase() === 'x-request-id') return raw[i + 1];
  }
  return undefined;
}

/**
 * Failed logins and locks, for the credential code: a warn line with the request id, the client address (as the
 * limits see it: request.ip, TRUST_PROXY applied), the face and the account — never the password or token.
 */
export function logAuthEvent(req: FastifyRequest, event: 'login-failed' | 'login-locked' | 'auth-failed', account?: string): void {
  const target = req.raw.url ?? '';
  req.log.warn({ event, reqId: req.id, client: req.ip, face: faceOf(target), ...(account !== undefined ? { account } : {}) }, event);
}
