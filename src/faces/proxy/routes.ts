// Proxy-style resolution (like hdl.handle.net): GET /{prefix}/{suffix} redirects to the handle's URL or shows its values.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError, RC } from '../../../handle/codes.js';
import { filterValues } from '../../../handle/filter.js';
import { decodeUrlPath, parseHandle, type CasePolicy, type HandleId } from '../../../handle/identifier.js';
import { formatTimestamp } from '../../../handle/json.js';
import type { HandleValue } from '../../../handle/types.js';
import { minEffectiveTtl } from '../../../handle/value.js';
import type { Resolver } from '../../../resolver/types.js';
import { httpDate, locationOf, redirectTarget, resolutionBody } from '../../edge/answers.js';
import { RESERVED } from '../../edge/front-door.js';
import { classify } from '../errors.js';
import { flag, first, indexes, paramsOf, rawPathAfter } from '../handle-rest/params.js';
import { PROXY_ROUTES as S } from './schemas.js';

/** What the proxy face needs, and nothing else. */
export interface ProxyDeps {
  resolver: Resolver;
  policy: CasePolicy;
  nodePrefix: string;
  isHomed(id: HandleId): boolean;
  /** answers a path that belongs to another face (or to none) in that face's format */
  notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply;
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}code{word-break:break-all}</style></head><body>${body}</body></html>`;
}

function wantsJson(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return /application\/json/i.test(accept) && !/text\/html/i.test(accept);
}

function dataText(v: HandleValue): string {
  return typeof v.data.value === 'string' ? v.data.value : JSON.stringify(v.data.value);
}

export default async function proxyFace(app: FastifyInstance, d: ProxyDeps): Promise<void> {
  // this face's errors in its own format: a page (or Handle JSON on Accept: application/json)
  app.setErrorHandler((err, req, reply) => {
    const f = classify(err);
    if (f.kind === 'internal') req.log.error({ err, url: req.raw.url }, 'request failed');
    const code = f.kind === 'handle' ? f.error.code : f.kind === 'unavailable' ? RC.SERVER_TOO_BUSY : f.kind === 'internal' ? RC.ERROR : RC.PROTOCOL_ERROR;
    const status = f.kind === 'internal' ? 500 : f.kind === 'unavailable' ? 503 : 400;
    return fail(req, reply, status, code, '', f.kind === 'handle' ? f.error.message : f.message);
  });


  function fail(req: FastifyRequest, reply: FastifyReply, status: number, code: number, handle: string, message: string) {
    reply.code(status);
    if (wantsJson(req)) return reply.type('application/json; charset=utf-8').send({ responseCode: code, handle, message });
    return reply
      .type('text/html; charset=utf-8')
      .send(page(message, `<h1>${esc(message)}</h1><p>Handle: <code>${esc(handle)}</code></p><p><a href="/">idnode ${esc(d.nodePrefix)}</a></p>`));
  }

  // Cache hits of redirects are answered by the front door (src/edge/front-door.ts) before routing; this is the full path.
  app.get('/*', S.resolve, (req, reply) => proxyResolve(req, reply));

  async function proxyResolve(req: FastifyRequest, reply: FastifyReply) {
    // the other faces' paths are never identifiers: an unknown one is their own 404
    if (RESERVED.test(req.raw.url ?? '')) return d.notFound(req, reply);
    const p = paramsOf(req);
    let raw = '';
    try {
      raw = decodeUrlPath(rawPathAfter(req, '/'));
      // a path without prefix/suffix is no identifier at all
      if (!raw.includes('/')) return fail(req, reply, 404, RC.HANDLE_NOT_FOUND, raw, 'Not found');
      const id = parseHandle(raw, d.policy);
      if (!d.isHomed(id)) return fail(req, reply, 404, RC.SERVER_NOT_RESP, raw, 'Prefix not homed on this node');
      const res = d.resolver.peek(id.key) ?? (await d.resolver.resolve(id.key));
      if (!res.found) return fail(req, reply, 404, RC.HANDLE_NOT_FOUND, raw, 'Handle not found');
      const types = p.type ?? [];
      const idx = indexes(p);
      const shown = filterValues(res.record.publicValues, { types, indexes: idx, publicOnly: true });
      const ttl = minEffectiveTtl(shown, Math.floor(Date.now() / 1000), 86400);
      reply.header('cache-control', `public, max-age=${ttl}`);
      reply.header('expires', httpDate(Date.now() + ttl * 1000));
      if (!flag(p, 'noredirect')) {
        const target = redirectTarget(shown, types);
        if (target !== undefined) {
          const append = first(p, 'urlappend') ?? '';
          return reply.redirect(locationOf(target + append), 302);
        }
      }
      if (wantsJson(req)) {
        return reply.type('application/json; charset=utf-8').send(resolutionBody(raw, res.record, { types, indexes: idx }, true));
      }
      const rows = shown
        .map(
          (v) =>
            `<tr><td>${v.index}</td><td>${esc(v.type)}</td><td><code>${esc(dataText(v))}</code></td><td>${v.timestamp ? formatTimestamp(v.timestamp) : ''}</td></tr>`,
        )
        .join('');
      return reply
        .type('text/html; charset=utf-8')
        .send(
          page(
            raw,
            `<h1>Handle <code>${esc(raw)}</code></h1>` +
              (shown.length
                ? `<table><tr><th>Index</th><th>Type</th><th>Data</th><th>Timestamp</th></tr>${rows}</table>`
                : '<p>No values match.</p>'),
          ),
        );
    } catch (err) {
      if (err instanceof HandleError) return fail(req, reply, proxyStatus(err.code), err.code, raw, err.message);
      throw err;
    }
  }
}

/**
 * The HTTP status of a failed resolution: bad input 400; a prefix nobody here can find 404; recursion that got no
 * answer from the prefix's own service (none in time, a referral loop, too deep) 502 — a gateway's error, not ours —
 * and busy 503.
 */
function proxyStatus(code: number): number {
  if (code === RC.INVALID_HANDLE || code === RC.PROTOCOL_ERROR) return 400;
  if (code === RC.SERVER_NOT_RESP) return 404;
  if (code === RC.SERVER_TOO_BUSY) return 503;
  if (code === RC.ERROR || code === RC.RECURSION_COUNT_TOO_HIGH) return 502;
  return 500;
}
