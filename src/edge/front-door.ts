// The front door: anonymous GETs of the Handle REST face and proxy redirects answered straight on the Node response
// before any framework code — from the in-process cache at once, or (Handle REST) after one trip through the
// resolver. Everything else (credentials, other parameters, other paths) goes on to fastify, which answers the same.
// Hand-written on purpose: a repeated request costs one memo probe and one O(1) check (bench: the hot rows).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { decodeUrlPath, parseHandle, type CasePolicy, type HandleId } from '../../handle/identifier.js';
import { stringBytes } from '../../resolver/record.js';
import type { HitToken, Resolution, Resolver } from '../../resolver/types.js';
import { bodyAround, filterKey, httpDate, JSON_TYPE, notFoundBody, redirectOf, valuesJsonFor, type Redirect, type RequestFilter } from './answers.js';
import { RequestMemo } from './request-memo.js';

const API = '/api/handles/';
/** Bodies up to this size are kept rendered with their cache entry; larger ones are built for each request. */
export const MAX_KEPT_BODY = 16 * 1024;

/** Paths that are never handles: the other faces and operations. */
export const RESERVED = /^\/(?:api|identity|identityv2|snms|operator|healthz|readyz|metrics|docs|openapi\.json|console|assets)(?:[/?]|$)/;

export interface FrontDoorDeps {
  resolver: Resolver;
  policy: CasePolicy;
  /** whether this node answers for the handle (else fastify's full path says so) */
  isHomed(id: HandleId): boolean;
  /** bytes the memo of parsed requests may hold */
  memoBytes: number;
  /** an unexpected failure while answering (logged; the client gets the face's error) */
  onError(err: unknown, url: string): void;
}

/**
 * A rendered answer kept with its cache entry: sent again while the entry stands. `body` is in wire form: its UTF-8
 * bytes, one character per byte (see `wire`).
 */
interface Rendered {
  status: number;
  body: string;
  length: number;
}

/** One distinct API request (path + `type`/`index` query), parsed once. */
interface ApiRequest {
  id: HandleId;
  filter: RequestFilter;
  /** the variant names of what is derived for it: the values JSON (shared by case variants), the whole body */
  valuesVariant: string;
  bodyVariant: string;
  /** the last answer sent from the cache, while `token` says it is current: one check, no lookups */
  token: HitToken | null;
  rendered: Rendered | null;
}

export class FrontDoor {
  private readonly api: RequestMemo<ApiRequest>;
  private readonly proxy: RequestMemo<HandleId>;

  constructor(private readonly d: FrontDoorDeps) {
    // most of it for the API's requests (each URL with its query), the rest for proxy paths
    this.api = new RequestMemo(Math.floor((d.memoBytes * 3) / 4));
    this.proxy = new RequestMemo(Math.floor(d.memoBytes / 4));
  }

  /**
   * Answers `req` if it can. Returns false to let fastify handle it now; when the resolver fails, `fallback` hands
   * the request to fastify, whose full path answers with the face's own error. Never throws.
   */
  serve(req: IncomingMessage, res: ServerResponse, fallback: (req: IncomingMessage, res: ServerResponse) => void): boolean {
    if (req.method !== 'GET' || hasAuthorization(req.rawHeaders)) return false;
    const url = req.url ?? '';
    try {
      if (url.startsWith(API)) return this.serveApi(url, req, res, fallback);
      if (url.indexOf('?') < 0 && url.length > 1 && !RESERVED.test(url)) return this.serveProxy(url.slice(1), res);
      return false;
    } catch (err) {
      return this.failed(err, url, res);
    }
  }

  private serveApi(url: string, req: IncomingMessage, res: ServerResponse, fallback: (req: IncomingMessage, res: ServerResponse) => void): boolean {
    const m = this.api.get(url) ?? this.parseApi(url);
    if (m === undefined) return false;
    // the same request answered from the same cache entry before: send that answer again
    const kept = m.rendered;
    if (kept !== null && kept.length !== 0 && m.token !== null && this.d.resolver.isCurrent(m.token)) {
      send(res, kept.status, kept.body, kept.length);
      return true;
    }
    m.token = null;
    m.rendered = null;
    const r = this.d.resolver.peek(m.id.key);
    if (r !== undefined) {
      this.answerApi(m, r, res);
      return true;
    }
    // a miss: one trip through Redis and the store, still without fastify's routing (warm and cold resolutions)
    this.d.resolver.resolve(m.id.key).then(
      (r2) => {
        try {
          this.answerApi(m, r2, res);
        } catch (err) {
          this.failed(err, url, res);
        }
      },
      () => fallback(req, res),
    );
    return true;
  }

  private answerApi(m: ApiRequest, r: Resolution, res: ServerResponse): void {
    if (!r.found) return this.sent(m, r.token, this.d.resolver.derive(r.token, m.bodyVariant, () => kept(404, notFoundBody(m.id.handle))), res);
    const record = r.record;
    const values = m.valuesVariant === '' ? record.publicJson : this.d.resolver.derive(r.token, m.valuesVariant, () => sized(valuesJsonFor(record, m.filter, true))).value;
    // a body too large to keep goes out in pieces, built for this request only (variants of one large handle share
    // its record and its values JSON, never a copy each)
    if (values.length + m.id.handle.length > MAX_KEPT_BODY) {
      const body = wire(bodyAround(m.id.handle, values));
      send(res, 200, body, body.length);
      return;
    }
    this.sent(m, r.token, this.d.resolver.derive(r.token, m.bodyVariant, () => kept(200, bodyAround(m.id.handle, values))), res);
  }

  /** Sends a rendered answer; one kept with a cache entry is remembered for the request (nothing else is). */
  private sent(m: ApiRequest, token: HitToken | undefined, a: { value: Rendered; kept: boolean }, res: ServerResponse): void {
    if (token !== undefined && a.kept) {
      m.token = token;
      m.rendered = a.value;
    }
    send(res, a.value.status, a.value.body, a.value.length);
  }

  /** Parses and remembers an API request (keyed by its whole URL); undefined when fastify must answer it. */
  private parseApi(url: string): ApiRequest | undefined {
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
    const filter = { types, indexes };
    const fk = filterKey(filter);
    const m: ApiRequest = { id, filter, valuesVariant: fk === '' ? '' : `v:${fk}`, bodyVariant: `h:${id.handle}\u0000${fk}`, token: null, rendered: null };
    this.api.set(url, m);
    return m;
  }

  private serveProxy(rest: string, res: ServerResponse): boolean {
    let id = this.proxy.get(rest);
    if (id === undefined) {
      id = this.homedId(rest);
      if (id === undefined) return false;
      this.proxy.set(rest, id);
    }
    const r = this.d.resolver.peek(id.key);
    if (r === undefined || !r.found) return false;
    const record = r.record;
    const d: Redirect | null = this.d.resolver.derive(r.token, 'r:', () => ({ value: redirectOf(record), bytes: 256 })).value;
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
      const id = parseHandle(decodeUrlPath(rawPath), this.d.policy);
      return this.d.isHomed(id) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Something unexpected (a corrupt record, say): the face's own error, and the process goes on. */
  private failed(err: unknown, url: string, res: ServerResponse): boolean {
    this.d.onError(err, url);
    if (!res.headersSent) {
      const body = '{"responseCode":2,"message":"Internal error"}';
      send(res, 500, body, body.length);
    } else res.destroy();
    return true;
  }
}

const sized = (text: string) => ({ value: text, bytes: stringBytes(text) });

const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * A body in wire form: its UTF-8 bytes as a string of one character per byte (latin1). Sent with the latin1
 * encoding it goes out as those bytes by a plain copy, and V8 keeps it one byte per character: an answer holding
 * Chinese text (a two-byte string, twice its length in memory, encoded anew on every send) costs the cache about
 * half as much and nothing to send. ASCII text is its own wire form.
 */
function wire(body: string): string {
  return NON_ASCII.test(body) ? Buffer.from(body, 'utf8').toString('latin1') : body;
}

/** A rendered answer to keep, with what it costs (its body's bytes). */
function kept(status: number, body: string): { value: Rendered; bytes: number; release: () => void } {
  const w = wire(body);
  const a: Rendered = { status, body: w, length: w.length };
  // dropped from the cache: a memo still pointing at it must not keep the body alive (nor send it)
  return { value: a, bytes: w.length, release: () => void ((a.body = ''), (a.length = 0)) };
}

/** The JSON answer, `body` in wire form (a string goes out with the headers in one write; a Buffer would take a second chunk). */
function send(res: ServerResponse, status: number, body: string, length: number): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': length });
  res.end(body, 'latin1');
}

/** Whether the request carries an Authorization header (read from the raw list: `req.headers` is built lazily). */
function hasAuthorization(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === 13 && k.toLowerCase() === 'authorization') return true;
  }
  return false;
}
