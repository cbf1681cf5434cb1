// What went wrong, for every face's error handler: a client mistake, a body too large, the store out of reach, or a
// failure of ours — each face then answers in its own format, never with a stack trace.
import type { FastifyError } from 'fastify';
import { HandleError } from '../../handle/codes.js';

export type Failure =
  /** an expected failure carrying its Handle response code (bad handle, permissions, corrupt record, …) */
  | { kind: 'handle'; error: HandleError }
  /** the request itself is malformed (framework validation, bad JSON, wrong media type) */
  | { kind: 'client'; message: string }
  | { kind: 'too-large'; message: string }
  /** the store cannot be reached right now */
  | { kind: 'unavailable'; message: string }
  /** anything else: logged by the face, answered as an internal error */
  | { kind: 'internal'; message: string };

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

/** Errors meaning the store cannot be reached right now. */
export function isUnavailable(err: Error & { code?: unknown }): boolean {
  if (typeof err.code === 'string' && UNAVAILABLE_CODES.has(err.code)) return true;
  return /pool after calling end|Connection terminated|PGlite is closed|not connected|connect ECONNREFUSED/i.test(err.message);
}

export function classify(err: unknown): Failure {
  if (err instanceof HandleError) return { kind: 'handle', error: err };
  const e = (err instanceof Error ? err : new Error(String(err))) as FastifyError;
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413 || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { kind: 'too-large', message: 'Request body too large' };
  if (status >= 400 && status < 500) return { kind: 'client', message: e.message || 'Bad request' };
  if (isUnavailable(e)) return { kind: 'unavailable', message: 'Store unavailable, try again later' };
  return { kind: 'internal', message: 'Internal error' };
}
