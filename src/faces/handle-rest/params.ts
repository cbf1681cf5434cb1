// Handle REST plumbing: query parameters the Handle.Net way (repeatable, or POSTed as JSON), Handle JSON replies and errors.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HandleError, httpStatusFor, RC, type RequestKind } from '../../../handle/codes.js';

export type Params = Record<string, string[]>;

/** Query parameters as lists (repeatable `type=`/`index=`), merged with POSTed JSON parameters when given. */
export function paramsOf(req: FastifyRequest, extra?: unknown): Params {
  const out: Params = {};
  const q = req.query as Record<string, string | string[] | undefined>;
  for (const [k, v] of Object.entries(q ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v : [v];
  }
  if (extra !== null && typeof extra === 'object' && !Array.isArray(extra)) {
    for (const [k, v] of Object.entries(extra as Record<string, unknown>)) {
      const list = Array.isArray(v) ? v : [v];
      out[k] = list.filter((x) => x !== null && x !== undefined).map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x)));
    }
  }
  return out;
}

export function first(p: Params, name: string): string | undefined {
  return p[name]?.[0];
}

/** Handle.Net's boolean parameters: absent false; empty, `true`, `yes` (any case) true. */
export function flag(p: Params, name: string): boolean {
  const v = first(p, name);
  if (v === undefined) return false;
  return v === '' || /^(true|yes)$/i.test(v);
}

/** `index=` values as integers; anything else is a protocol error, as in Handle.Net. */
export function indexes(p: Params): number[] {
  return (p.index ?? []).map((s) => {
    if (!/^-?\d{1,10}$/.test(s.trim()) || Math.abs(Number(s)) > 0x7fffffff) {
      throw new HandleError(RC.PROTOCOL_ERROR, `index must be an integer, got "${s.slice(0, 40)}"`);
    }
    return Number(s);
  });
}

/** The raw path after `base`, without the query string (percent-encoding untouched). */
export function rawPathAfter(req: FastifyRequest, base: string): string {
  const url = req.raw.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > base.length ? path.slice(base.length) : '';
}

function scrubCallback(cb: string): string {
  let out = '';
  for (let i = 0; i < cb.length; i++) {
    const ch = cb[i]!;
    const c = ch.charCodeAt(0);
    const ok = ch === '_' || ch === '$' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (i > 0 && ch >= '0' && ch <= '9') || c >= 0xa0;
    out += ok ? ch : '_';
  }
  return out.slice(0, 128);
}

/** Sends a Handle JSON body (an object, or a JSON string already serialised) honouring `pretty` and `callback`. */
export function sendHandleJson(reply: FastifyReply, p: Params, status: number, body: object | string): FastifyReply {
  let text = typeof body === 'string' ? body : JSON.stringify(body);
  if (flag(p, 'pretty')) text = JSON.stringify(JSON.parse(text), null, 2);
  const cb = first(p, 'callback');
  reply.code(status);
  if (cb !== undefined && cb !== '') {
    reply.header('content-type', 'application/javascript; charset=utf-8');
    return reply.send(`${scrubCallback(cb)}(${text});`);
  }
  reply.header('content-type', 'application/json; charset=utf-8');
  return reply.send(text);
}

/** A Handle JSON error reply for a HandleError, with the request's handle echoed when there is one. */
export function sendHandleError(
  reply: FastifyReply,
  p: Params,
  err: HandleError,
  handle: string | undefined,
  kind: RequestKind,
): FastifyReply {
  const body: Record<string, unknown> = { responseCode: err.code };
  if (handle !== undefined && handle !== '') body.handle = handle;
  body.message = err.message;
  if (err.code === RC.AUTHENTICATION_NEEDED) reply.header('www-authenticate', 'Basic realm="handle"');
  return sendHandleJson(reply, p, httpStatusFor(err.code, kind), body);
}
