// Proxy-style resolution (like hdl.handle.net): GET /{prefix}/{suffix} redirects to the handle's URL or shows its values.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError, RC } from '../../handle/codes.js';
import { filterValues, typeMatches } from '../../handle/filter.js';
import { decodeUrlPath, parseHandle, type HandleId } from '../../handle/identifier.js';
import { valuesToJson, formatTimestamp } from '../../handle/json.js';
import type { HandleValue } from '../../handle/types.js';
import { minEffectiveTtl } from '../../handle/value.js';
import { flag, first, indexes, paramsOf, rawPathAfter } from '../http.js';
import type { IdNode } from '../node.js';
import type { ResolvedRecord } from '../../resolver/types.js';

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

/** First URL to redirect to: the requested types in order (default URL, then URL.*), lowest index first. */
function redirectTarget(values: HandleValue[], types: string[]): string | undefined {
  const order = types.length > 0 ? types : ['URL', 'URL.'];
  for (const t of order) {
    const hit = values
      .filter((v) => typeMatches(t, v.type) && v.data.format === 'string' && v.data.value !== '')
      .sort((a, b) => a.index - b.index)[0];
    if (hit) return hit.data.value as string;
  }
  return undefined;
}

export default async function proxyRoutes(app: FastifyInstance, opts: { node: IdNode }): Promise<void> {
  const node = opts.node;

  function fail(req: FastifyRequest, reply: FastifyReply, status: number, code: number, handle: string, message: string) {
    reply.code(status);
    if (wantsJson(req)) return reply.type('application/json; charset=utf-8').send({ responseCode: code, handle, message });
    return reply
      .type('text/html; charset=utf-8')
      .send(page(message, `<h1>${esc(message)}</h1><p>Handle: <code>${esc(handle)}</code></p><p><a href="/">idnode ${esc(node.prefix)}</a></p>`));
  }

  app.get('/', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(
      page(
        `idnode ${node.prefix}`,
        `<h1>idnode — identifier resolution node ${esc(node.prefix)}</h1>
<form onsubmit="location.href='/'+this.h.value;return false"><input name="h" size="50" placeholder="${esc(node.prefix)}/..."> <button>Resolve</button></form>
<p>API: <code>/api/handles/{handle}</code> · health: <a href="/healthz">/healthz</a></p>`,
      ),
    ),
  );

  // The hot path: a redirect without parameters for a handle whose record is in the in-process cache — no promise,
  // no re-parsing (raw path → id, bounded memo) and the redirect target kept until the cache holds another record.
  const memo = new Map<string, { id: HandleId; record: ResolvedRecord | null; location: string | null; maxAge: number }>();
  const MEMO_MAX = 100_000;
  app.get('/*', (req, reply) => {
    const url = req.raw.url ?? '';
    if (url.indexOf('?') < 0 && !url.startsWith('/api/')) {
      const rest = url.slice(1);
      let m = memo.get(rest);
      if (m === undefined) {
        try {
          const id = parseHandle(decodeUrlPath(rest), node.policy);
          if (node.isHomed(id)) {
            if (memo.size >= MEMO_MAX) memo.clear();
            m = { id, record: null, location: null, maxAge: 0 };
            memo.set(rest, m);
          }
        } catch {
          // the full path below answers with the error page
        }
      }
      const res = m === undefined ? undefined : node.resolver.peek(m.id.key);
      if (res !== undefined && res.found) {
        const e = m!;
        if (e.record !== res.record) {
          e.record = res.record;
          const shown = filterValues(res.record.values, { types: [], indexes: [], publicOnly: true });
          const target = redirectTarget(shown, []);
          // only relative TTLs give a max-age that does not change with time
          e.location = target !== undefined && shown.every((v) => v.ttlType === 'relative') ? encodeURI(decodeURIComponentSafe(target)) : null;
          e.maxAge = minEffectiveTtl(shown, 0, 86400);
        }
        if (e.location !== null) {
          reply.header('cache-control', `public, max-age=${e.maxAge}`);
          reply.header('expires', httpDate(Date.now() + e.maxAge * 1000));
          return reply.redirect(e.location, 302);
        }
      }
    }
    return proxyResolve(req, reply);
  });

  async function proxyResolve(req: FastifyRequest, reply: FastifyReply) {
    if ((req.raw.url ?? '').startsWith('/api/')) return reply.callNotFound();
    const p = paramsOf(req);
    let raw = '';
    try {
      raw = decodeUrlPath(rawPathAfter(req, '/'));
      const id = parseHandle(raw, node.policy);
      if (!node.isHomed(id)) return fail(req, reply, 404, RC.SERVER_NOT_RESP, raw, 'Prefix not homed on this node');
      const res = node.resolver.peek(id.key) ?? (await node.resolver.resolve(id.key));
      if (!res.found) return fail(req, reply, 404, RC.HANDLE_NOT_FOUND, raw, 'Handle not found');
      const types = p.type ?? [];
      const idx = indexes(p);
      const shown = filterValues(res.record.values, { types, indexes: idx, publicOnly: true });
      const ttl = minEffectiveTtl(shown, Math.floor(Date.now() / 1000), 86400);
      reply.header('cache-control', `public, max-age=${ttl}`);
      reply.header('expires', httpDate(Date.now() + ttl * 1000));
      if (!flag(p, 'noredirect')) {
        const target = redirectTarget(shown, types);
        if (target !== undefined) {
          const append = first(p, 'urlappend') ?? '';
          return reply.redirect(encodeURI(decodeURIComponentSafe(target + append)), 302);
        }
      }
      if (wantsJson(req)) {
        return reply
          .type('application/json; charset=utf-8')
          .send(`{"responseCode":${shown.length ? 1 : 200},"handle":${JSON.stringify(raw)},"values":${valuesToJson(shown)}}`);
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
      if (err instanceof HandleError) return fail(req, reply, err.code === RC.INVALID_HANDLE || err.code === RC.PROTOCOL_ERROR ? 400 : 500, err.code, raw, err.message);
      throw err;
    }
  }
}

/** An HTTP date, formatted once per second. */
let dateCache = { second: -1, text: '' };
function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateCache.second) dateCache = { second, text: new Date(second * 1000).toUTCString() };
  return dateCache.text;
}

/** Keeps an already-encoded URL encoded once: decode what can be decoded, then encodeURI. */
function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURI(s);
  } catch {
    return s;
  }
}
