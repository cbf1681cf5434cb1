// The SNMS envelope shared by the SNMS-compatible and operator faces: {status, message, data}, HTTP 200 even on
// errors, and Bearer-token principals.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { classify } from '../errors.js';
import { BodyError } from '../json-body.js';
import { HandleError } from '../../../handle/codes.js';
import { RegistryError, type Principal, type RegistryContext } from '../../../registry/context.js';
import type { Role } from '../../../registry/db.js';
import { verifyToken } from '../../../registry/users/tokens.js';

/** SNMS status codes: 1 success, -1 not logged in, -2 business error, -3 forbidden, -4 internal. */
export const SNMS = { OK: 1, NOT_LOGGED_IN: -1, BUSINESS: -2, FORBIDDEN: -3, INTERNAL: -4 } as const;

/** A failure with its SNMS status, thrown by route code and turned into the envelope by `snmsRoute`. */
export class SnmsError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SnmsError';
  }
}

export function ok(reply: FastifyReply, data: unknown): FastifyReply {
  return reply.code(200).type('application/json; charset=utf-8').send({ status: SNMS.OK, message: 'success', data });
}

export function fail(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(200).type('application/json; charset=utf-8').send({ status, message, data: null });
}

/** Maps any error to the envelope: expected ones keep their message, anything else is -4 without details. */
export function errorToSnms(reply: FastifyReply, err: unknown, log: (e: unknown) => void): FastifyReply {
  if (err instanceof SnmsError) return fail(reply, err.status, err.message);
  if (err instanceof RegistryError) {
    return fail(reply, err.kind === 'forbidden' ? SNMS.FORBIDDEN : SNMS.BUSINESS, err.message);
  }
  if (err instanceof HandleError) return fail(reply, SNMS.BUSINESS, err.message);
  // the store out of reach (a token that cannot be checked, say): try again later, not an internal error
  if (classify(err).kind === 'unavailable') return fail(reply, SNMS.INTERNAL, '服务暂不可用，请稍后再试 / store unavailable, try again later');
  log(err);
  return fail(reply, SNMS.INTERNAL, '系统内部错误 / internal error');
}

/** The principal of a `Authorization: Bearer <token>` request; -1 when absent or not valid. */
export async function principalOf(registry: RegistryContext, req: FastifyRequest): Promise<Principal> {
  const h = req.headers.authorization;
  const m = h === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (m === null) throw new SnmsError(SNMS.NOT_LOGGED_IN, '未登录 / not logged in: send Authorization: Bearer <token>');
  try {
    return await verifyToken(registry, m[1]!);
  } catch (err) {
    if (err instanceof RegistryError) throw new SnmsError(SNMS.NOT_LOGGED_IN, '登录已失效 / token invalid or expired');
    throw err;
  }
}

export function requireRole(p: Principal, ...roles: Role[]): void {
  if (!roles.includes(p.role)) throw new SnmsError(SNMS.FORBIDDEN, '无权限 / forbidden for this role');
}

/** A body that must be a JSON object (the envelope's -2 otherwise). */
export function objectBody(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === null || typeof b !== 'object' || Array.isArray(b) || Buffer.isBuffer(b)) {
    throw new SnmsError(SNMS.BUSINESS, '请求体须为JSON对象 / the body must be a JSON object (Content-Type: application/json)');
  }
  return b as Record<string, unknown>;
}

/** A body that must be a JSON array (batch endpoints). */
export function arrayBody(req: FastifyRequest): unknown[] {
  const b = req.body;
  if (!Array.isArray(b)) throw new SnmsError(SNMS.BUSINESS, '请求体须为JSON数组 / the body must be a JSON array (Content-Type: application/json)');
  return b;
}

export function str(o: Record<string, unknown>, name: string, max = 255, required = true): string | undefined {
  const v = o[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw new SnmsError(SNMS.BUSINESS, `缺少必要的请求参数: ${name} / missing parameter ${name}`);
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw new SnmsError(SNMS.BUSINESS, `参数类型错误: ${name} / ${name} must be a string`);
  const s = String(v);
  if (s.length > max) throw new SnmsError(SNMS.BUSINESS, `参数过长: ${name} (最多${max}) / ${name} longer than ${max}`);
  return s;
}

/**
 * Installs this face's error handler: whatever escapes a route — a malformed body, the store out of reach, a failure
 * of ours — is answered in the envelope (HTTP 200), never with a stack trace.
 */
export function useSnmsErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const f = classify(err);
    if (f.kind === 'handle') return fail(reply, SNMS.BUSINESS, f.error instanceof BodyError ? `${f.error.zh} / ${f.error.message}` : `请求无效 / ${f.error.message}`);
    if (f.kind === 'client' || f.kind === 'too-large') return fail(reply, SNMS.BUSINESS, `请求无效 / ${f.message}`);
    if (f.kind === 'unavailable') return fail(reply, SNMS.INTERNAL, '服务暂不可用，请稍后再试 / store unavailable, try again later');
    req.log.error({ err, url: req.raw.url, method: req.method }, 'request failed');
    return fail(reply, SNMS.INTERNAL, '系统内部错误 / internal error');
  });
}

/**
 * An unknown path of the SNMS and operator faces: HTTP 404 with the envelope, naming what was asked for. Sent as a
 * string: it may answer inside another face's route (the proxy's `GET /*`), whose response schemas are not its own.
 */
export function snmsNotFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const what = `${req.method} ${(req.raw.url ?? '').split('?')[0]}`;
  const body = JSON.stringify({ status: SNMS.BUSINESS, message: `接口不存在 / no such endpoint: ${what}`, data: null });
  return reply.code(404).type('application/json; charset=utf-8').send(body);
}
