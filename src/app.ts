// The HTTP application as a fastify plugin: content parsing, error mapping, and every route of the node.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError, RC } from '../handle/codes.js';
import { paramsOf, sendHandleError, sendHandleJson } from './http.js';
import { fail, SNMS } from './snms.js';
import type { IdNode } from './node.js';
import handleRoutes from './routes/handles.js';
import healthRoutes from './routes/health.js';
import metricsRoutes from './routes/metrics.js';
import operatorRoutes from './routes/operator.js';
import proxyRoutes from './routes/proxy.js';
import snmsRoutes from './routes/snms.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Paths of the SNMS-compatible and operator faces, whose errors use the SNMS envelope. */
function isSnmsPath(url: string): boolean {
  return /^\/(identity|identityv2|snms|operator)(\/|\?|$)/.test(url);
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

/** Errors meaning the store cannot be reached right now (answered with responseCode 3, HTTP 503). */
function isUnavailable(err: Error & { code?: unknown }): boolean {
  if (typeof err.code === 'string' && UNAVAILABLE_CODES.has(err.code)) return true;
  return /pool after calling end|Connection terminated|PGlite is closed|not connected|connect ECONNREFUSED/i.test(err.message);
}

/** Maps a framework or unexpected error to the face's own format; never a stack trace. */
function errorToReply(app: FastifyInstance, err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const api = (req.raw.url ?? '').startsWith('/api/');
  const status = err.statusCode ?? 500;
  let he: HandleError;
  if (err instanceof HandleError) he = err;
  else if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') he = new HandleError(RC.PROTOCOL_ERROR, 'Request body too large');
  else if (status >= 400 && status < 500) he = new HandleError(RC.PROTOCOL_ERROR, err.message || 'Bad request');
  else if (isUnavailable(err)) {
    app.log.warn({ err: err.message, url: req.raw.url }, 'store unavailable');
    he = new HandleError(RC.SERVER_TOO_BUSY, 'Store unavailable, try again later');
  } else {
    app.log.error({ err, url: req.raw.url, method: req.method }, 'request failed');
    he = new HandleError(RC.ERROR, 'Internal error');
  }
  if (api) return sendHandleError(reply, paramsOf(req), he, undefined, 'other');
  if (isSnmsPath(req.raw.url ?? '')) {
    return fail(reply, he.code === RC.ERROR ? SNMS.INTERNAL : SNMS.BUSINESS, he.code === RC.ERROR ? '系统内部错误 / internal error' : `请求无效 / ${he.message}`);
  }
  reply.code(he.code === RC.ERROR ? 500 : 400).type('text/plain; charset=utf-8');
  return reply.send(`${he.message}\n`);
}

export default async function app(fastify: FastifyInstance, opts: { node: IdNode }): Promise<void> {
  const defaultJson = fastify.getDefaultJsonParser('error', 'error');
  // JSON bodies must be valid UTF-8 (fastify would otherwise substitute U+FFFD silently).
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    let text: string;
    try {
      text = strictUtf8.decode(body as Buffer);
    } catch {
      done(new HandleError(RC.PROTOCOL_ERROR, 'Request body is not valid UTF-8'), undefined);
      return;
    }
    defaultJson(req, text, (err, value) => {
      if (err) done(new HandleError(RC.PROTOCOL_ERROR, `Invalid JSON in request body: ${err.message}`), undefined);
      else done(null, value);
    });
  });
  // Any other media type is accepted here and refused by the route with the face's own error.
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  fastify.setErrorHandler((err: FastifyError, req, reply) => errorToReply(fastify, err, req, reply));
  fastify.setNotFoundHandler((req, reply) => {
    if ((req.raw.url ?? '').startsWith('/api/')) {
      const message = `Unknown HTTP API endpoint ${req.method} ${(req.raw.url ?? '').split('?')[0]}`;
      return sendHandleJson(reply, paramsOf(req), 404, { responseCode: RC.PROTOCOL_ERROR, message });
    }
    return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
  });

  await fastify.register(healthRoutes, { node: opts.node });
  await fastify.register(metricsRoutes, { node: opts.node });
  await fastify.register(handleRoutes, { node: opts.node });
  await fastify.register(snmsRoutes, { node: opts.node });
  await fastify.register(operatorRoutes, { node: opts.node });
  await fastify.register(proxyRoutes, { node: opts.node });
}
