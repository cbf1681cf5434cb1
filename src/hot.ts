// The front door: answers anonymous GETs whose answer is already in the in-process cache straight on the Node
// response — before fastify routes the request — for the Handle REST face and proxy redirects. Everything else
// (credentials, other parameters, cache misses, errors, other paths) goes on to fastify, which answers the same way.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { RC } from '../handle/codes.js';
import { filterValues, typeMatches } from '../handle/filter.js';
import { decodeUrlPath, parseHandle, type HandleId } from '../handle/identifier.js';
import { valuesToJson } from '../handle/json.js';
import type { HandleValue } from '../handle/types.js';
import { minEffectiveTtl } from '../handle/value.js';
import type { HitToken, ResolvedRecord, Resolution, Resolver } from '../resolver/types.js';
import type { IdNode } from './node.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
const API = '/api/handles/';
/**
 * Distinct requests remembered as parsed, each with its last answer (the same string as the cached record's slot,
 * so it costs nothing extra while the record is cached; an answer whose entry has gone is dropped on the next visit
 * or when the memo is cleared at this bound).
 */
const MEMO_MAX = 50_000;

/** One distinct API request (path + `type`/`index` query), parsed once. */
interface ApiMemo {
  id: HandleId;
  types: string[];
  indexes: number[];
  /** the 404 answer, built on first use (small: the handle and a message) */
  notFound: { body: string; length: number } | null;
  /** the last answer sent from the in-process cache, while `token` says it is current: one check, no lookups */
  token: HitToken | null;
  status: number;
  body: string;
  length: number;
}

/** A redirect answer for a proxy path. */
interface Redirect {
  location: string;
  maxAge: number;
}

/** First URL to redirect to: the requested types in order (default URL, then URL.*), lowest index first. */
export function redirectTarget(values: readonly HandleValue[], types: readonly string[]): string | undefined {
  const order = types.length > 0 ? types : ['URL', 'URL.'];
  for (const t of order) {
    const hit = values
      .filter((v) => typeMatches(t, v.type) && v.data.format === 'string' && v.data.value !== '')
      .sort((a, b) => a.index - b.index)[0];
    if (hit) return hit.data.value as string;
  }
  return undefined;
}

/** A Location header value: what can be decoded is decoded, then encoded once (no CR/LF, only ASCII). */
export function locationOf(url: string): string {
  let s = url;
  try {
    s = decodeURI(url);
  } catch {
    // keep as given
  }
  return encodeURI(s);
}

let dateCache = { second: -1, text: '' };
/** An HTTP date, formatted once per second. */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateCache.second) dateCache = { second, text: new Date(second * 1000).toUTCString() };
  return dateCache.text;
}

/** Paths that are never handles: the other faces and operations. */
const RESERVED = /^\/(?:api|identity|identityv2|snms|operator|healthz|readyz|metrics|docs)(?:[/?]|$)/;

export class HotPath {
  private readonly api = new Map<string, ApiMemo>();
  private readonly proxy = new Map<string, HandleId>();
  /** the redirect of each cached record (weakly: it goes with the record when the cache drops it) */
  private readonly redirects = new WeakMap<ResolvedRecord, Redirect | null>();

  private readonly resolver: Resolver;

  constructor(private readonly node: IdNode) {
    this.resolver = node.resolver;
  }

  /**
   * Answers `req` if it can: from the in-process cache at once, or — for the Handle REST face — after one trip
   * through the resolver (Redis, then the store). Returns false to let fastify handle it now; when the resolver
   * fails, `fallback(req, res)` hands the request to fastify, whose full path answers with the face's own error.
   */
  serve(req: IncomingMessage, res: ServerResponse, fallback: (req: IncomingMessage, res: ServerResponse) => void): boolean {
    if (req.method !== 'GET' || hasAuthorization(req.rawHeaders)) return false;
    const url = req.url ?? '';
    if (url.startsWith(API)) return this.serveApi(url, req, res, fallback);
    if (url.indexOf('?') < 0 && url.length > 1 && !RESERVED.test(url)) return this.serveProxy(url.slice(1), res);
    return false;
  }

  private serveApi(url: string, req: IncomingMessage, res: ServerResponse, fallback: (req: IncomingMessage, res: ServerResponse) => void): boolean {
    const m = this.api.get(url) ?? this.apiMemo(url);
    if (m === undefined) return false;
    // the same request answered from the same cache entry before: send that answer again
    if (m.token !== null && this.resolver.isCurrent(m.token)) {
      send(res, m.status, m.body, m.length);
      return true;
    }
    m.token = null;
    m.body = '';
    const r = this.resolver.peek(m.id.key);
    if (r !== undefined) {
      this.answerApi(m, r, res);
      return true;
    }
    // a miss: one trip through Redis and the store, still without fastify's routing (warm and cold resolutions)
    this.resolver.resolve(m.id.key).then(
      (r2) => this.answerApi(m, r2, res),
      () => fallback(req, res),
    );
    return true;
  }

  private answerApi(m: ApiMemo, r: Resolution, res: ServerResponse): void {
    let status: number;
    let body: string;
    let length: number;
    if (!r.found) {
      const nf = (m.notFound ??= sized(JSON.stringify({ responseCode: RC.HANDLE_NOT_FOUND, handle: m.id.handle, message: 'Handle Not Found' })));
      status = 404;
      body = nf.body;
      length = nf.length;
    } else {
      // the record keeps one pre-encoded answer, for the request (memo) that asked last
      let slot = r.record.slot;
      if (slot === null || slot.owner !== m) {
        const text = apiBody(m, r.record);
        slot = r.record.slot = { owner: m, body: text, length: Buffer.byteLength(text) };
      }
      status = 200;
      body = slot.body;
      length = slot.length;
    }
    if (r.token !== undefined) {
      m.token = r.token;
      m.status = status;
      m.body = body;
      m.length = length;
    }
    send(res, status, body, length);
  }

  /** Parses and remembers an API request (keyed by its whole URL); undefined when fastify must answer it. */
  private apiMemo(url: string): ApiMemo | undefined {
    const rest = url.slice(API.length);
    const q = rest.indexOf('?');
    let types: string[] = [];
    let indexes: number[] = [];
    if (q >= 0) {
      const query = parseQuery(rest.slice(q + 1));
      for (const k of Object.keys(query)) if (k !== 'type' && k !== 'index') return undefined;
      const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
      types = list(query.type);
      const raw = list(query.index);
      if (!raw.every((i) => /^\d{1,9}$/.test(i))) return undefined;
      indexes = raw.map(Number);
    }
    const id = this.homedId(q < 0 ? rest : rest.slice(0, q));
    if (id === undefined) return undefined;
    if (this.api.size >= MEMO_MAX) this.api.clear();
    const m: ApiMemo = { id, types, indexes, notFound: null, token: null, status: 0, body: '', length: 0 };
    this.api.set(url, m);
    return m;
  }

  private serveProxy(rest: string, res: ServerResponse): boolean {
    let id = this.proxy.get(rest);
    if (id === undefined) {
      id = this.homedId(rest);
      if (id === undefined) return false;
      if (this.proxy.size >= MEMO_MAX) this.proxy.clear();
      this.proxy.set(rest, id);
    }
    const r = this.resolver.peek(id.key);
    if (r === undefined || !r.found) return false;
    let d = this.redirects.get(r.record);
    if (d === undefined) this.redirects.set(r.record, (d = redirectOf(r.record)));
    if (d === null) return false;
    res.writeHead(302, {
      location: d.location,
      'cache-control': `public, max-age=${d.maxAge}`,
      expires: httpDate(Date.now() + d.maxAge * 1000),
      'content-length': 0,
    });
    res.end();
    return true;
  }

  private homedId(rawPath: string): HandleId | undefined {
    try {
      const id = parseHandle(decodeUrlPath(rawPath), this.node.policy);
      return this.node.isHomed(id) ? id : undefined;
    } catch {
      return undefined;
    }
  }
}

const sized = (body: string) => ({ body, length: Buffer.byteLength(body) });

/** The JSON answer (a string body goes out with the headers in one write; a Buffer would take a second chunk). */
function send(res: ServerResponse, status: number, body: string, length: number): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': length });
  res.end(body);
}

/** Whether the request carries an Authorization header (read from the raw list: `req.headers` is built lazily). */
function hasAuthorization(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === 13 && k.toLowerCase() === 'authorization') return true;
  }
  return false;
}

/** The redirect for a record, or null when the full path must answer (no URL, or TTLs that count down). */
function redirectOf(record: ResolvedRecord): Redirect | null {
  const shown = filterValues(record.values, { types: [], indexes: [], publicOnly: true });
  const target = redirectTarget(shown, []);
  // only relative TTLs give a max-age that does not change with time
  if (target === undefined || !shown.every((v) => v.ttlType === 'relative')) return null;
  return { location: locationOf(target), maxAge: minEffectiveTtl(shown, 0, 86400) };
}

function apiBody(m: ApiMemo, record: ResolvedRecord): string {
  return resolutionBody(m.id.handle, record, { types: m.types, indexes: m.indexes, publicOnly: true });
}

/**
 * The Handle JSON answer to a resolution of `record` (the handle echoed as requested): responseCode 1 with the
 * values the filter keeps, or 200 with `values: []` when it keeps none. Used by the front door and the full path.
 */
export function resolutionBody(handle: string, record: ResolvedRecord, f: { types: readonly string[]; indexes: readonly number[]; publicOnly: boolean }): string {
  const h = JSON.stringify(handle);
  let values = f.publicOnly && f.types.length === 0 && f.indexes.length === 0 ? record.publicValuesJson : null;
  if (values === null) {
    const shown = filterValues(record.values, f);
    values = shown.length === 0 ? '[]' : valuesToJson(shown);
  }
  return values === '[]' ? `{"responseCode":200,"handle":${h},"values":[]}` : `{"responseCode":1,"handle":${h},"values":${values}}`;
}
