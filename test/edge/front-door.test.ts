// The edge front door on a real node:http server over a real resolver: kept answers, changes, case variants, budget, large handles, the throw path, what it leaves to fastify.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { isUnderPrefix, type HandleId } from '../../handle/identifier.js';
import { RecordError } from '../../handle/record-json.js';
import { FrontDoor, MAX_KEPT_BODY } from '../../src/edge/front-door.js';
import { DERIVED_OVERHEAD_BYTES, MAX_DERIVED_PER_ENTRY } from '../../resolver/memory-cache.js';
import { createResolver } from '../../resolver/pipeline.js';
import type { Resolver } from '../../resolver/types.js';
import { val } from '../helpers/values.js';
import { TestSource } from '../resolver/helpers.js';

const HOME = '88.1';
const FALLBACK = 299;
const INTERNAL = '{"responseCode":2,"message":"Internal error"}';

/** The Handle JSON of a default-permission relative-TTL string value, written out by hand. */
function handleJson(index: number, type: string, value: string, ttl = 86400): string {
  return `{"index":${index},"type":"${type}","data":{"format":"string","value":"${value}"},"ttl":${ttl},"timestamp":"2023-11-14T22:13:20Z"}`;
}

/** What keeping a derived value costs: its bytes, its variant's name (ASCII here: a byte a character), a fixed overhead. */
function derivedCost(variant: string, bytes: number): number {
  return bytes + variant.length + DERIVED_OVERHEAD_BYTES;
}

/** The real resolver, with every call the front door makes counted (and every derived value built, by variant). */
function counted(r: Resolver) {
  const calls = { peek: 0, resolve: 0, isCurrent: 0, derive: 0 };
  const builds: string[] = [];
  const kept: string[] = [];
  const spy: Resolver = {
    homes: (k) => r.homes(k),
    resolve: (k, o) => (calls.resolve++, r.resolve(k, o)),
    peek: (k) => (calls.peek++, r.peek(k)),
    isCurrent: (t) => (calls.isCurrent++, r.isCurrent(t)),
    derive: (token, variant, build) => {
      calls.derive++;
      const got = r.derive(token, variant, () => (builds.push(variant), build()));
      if (got.kept) kept.push(variant);
      return got;
    },
    invalidate: (c) => r.invalidate(c),
    stats: () => r.stats(),
    close: () => r.close(),
  };
  const reset = () => {
    calls.peek = calls.resolve = calls.isCurrent = calls.derive = 0;
    builds.length = 0;
    kept.length = 0;
  };
  return { spy, calls, builds, kept, reset };
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Harness {
  source: TestSource;
  resolver: Resolver;
  door: FrontDoor;
  count: ReturnType<typeof counted>;
  /** what serve() returned, per request */
  served: boolean[];
  errors: unknown[];
  get(path: string, headers?: Record<string, string>, method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE'): Promise<Got>;
}

describe('the edge front door', () => {
  const open: { server: Server; resolver: Resolver }[] = [];

  afterEach(async () => {
    for (const o of open.splice(0)) {
      await new Promise<void>((r) => o.server.close(() => r()));
      await o.resolver.close();
    }
  });

  async function harness(o: { maxBytes?: number; memoBytes?: number; source?: TestSource } = {}): Promise<Harness> {
    const source = o.source ?? new TestSource();
    const resolver = await createResolver({ source, cache: { maxBytes: o.maxBytes ?? 1 << 20 } });
    const count = counted(resolver);
    const errors: unknown[] = [];
    const served: boolean[] = [];
    const door = new FrontDoor({
      resolver: count.spy,
      policy: { caseSensitiveSuffix: false },
      isHomed: (id: HandleId) => isUnderPrefix(id.prefixKey, HOME),
      memoBytes: o.memoBytes ?? 1 << 20,
      onError: (err) => errors.push(err),
    });
    // what fastify would do with what the front door leaves
    const fallback = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(FALLBACK, { 'content-type': 'text/plain' });
      res.end('fallback');
    };
    const server = createServer((req, res) => {
      const took = door.serve(req, res, fallback);
      served.push(took);
      if (!took) fallback(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    open.push({ server, resolver });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' = 'GET'): Promise<Got> => {
      const r = await request(base + path, { method, headers, headersTimeout: 5000, bodyTimeout: 5000 });
      return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
    };
    return { source, resolver, door, count, served, errors, get };
  }

  it('answers holding Chinese (and Latin-1) text go out as their UTF-8 bytes, first and from the kept answer', async () => {
    const h = await harness();
    h.source.put('88.1/ZH', '88.1/zh', [val(2000, 'productName', '离心泵 IS80-65-160 · café')]);
    const want = `{"responseCode":1,"handle":"88.1/zh","values":[${handleJson(2000, 'productName', '离心泵 IS80-65-160 · café')}]}`;
    for (let i = 0; i < 3; i++) {
      const r = await h.get('/api/handles/88.1/zh');
      expect(r.status).toBe(200);
      expect(r.headers['content-length']).toBe(String(Buffer.byteLength(want)));
      expect(r.text).toBe(want);
    }
    // kept in wire form: its UTF-8 bytes (one per character), not its two-byte characters
    expect(h.count.kept.some((k) => k.startsWith('h:'))).toBe(true);
  });

  it('a repeated anonymous GET is answered from the kept answer: one O(1) check, no lookup, nothing built', async () => {
    const h = await harness();
    h.source.put('88.1/ABC', '88.1/abc', [val(1, 'URL', 'https://a.example'), val(2, 'SECRET', 's', 86400, false)]);
    const want = `{"responseCode":1,"handle":"88.1/abc","values":[${handleJson(1, 'URL', 'https://a.example')}]}`;

    const first = await h.get('/api/handles/88.1/abc');
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(first.headers['content-length']).toBe(String(Buffer.byteLength(want)));
    expect(first.text).toBe(want);
    expect(h.count.calls.resolve).toBe(1);

    for (let i = 0; i < 3; i++) {
      h.count.reset();
      const again = await h.get('/api/handles/88.1/abc');
      expect(again.status).toBe(200);
      expect(again.text).toBe(want);
      expect(h.count.calls).toEqual({ peek: 0, resolve: 0, isCurrent: 1, derive: 0 });
    }
    expect(h.source.reads).toBe(1);
    expect(h.served).toEqual([true, true, true, true]);
    expect(h.errors).toEqual([]);
  });

  it('a changed record is answered anew (found, not found, found again)', async () => {
    const h = await harness();
    h.source.put('88.1/C', '88.1/c', [val(1, 'URL', 'v1')]);
    expect((await h.get('/api/handles/88.1/c')).text).toBe(`{"responseCode":1,"handle":"88.1/c","values":[${handleJson(1, 'URL', 'v1')}]}`);

    // changed in the store without telling anyone: the kept answer stands (it is a cache)
    h.source.put('88.1/C', '88.1/c', [val(1, 'URL', 'v2')]);
    expect((await h.get('/api/handles/88.1/c')).text).toContain('"v1"');
    // told: the next GET answers the new record
    await h.resolver.invalidate({ keys: ['88.1/C'] });
    const changed = await h.get('/api/handles/88.1/c');
    expect(changed.status).toBe(200);
    expect(changed.text).toBe(`{"responseCode":1,"handle":"88.1/c","values":[${handleJson(1, 'URL', 'v2')}]}`);

    h.source.delete('88.1/C');
    await h.resolver.invalidate({ keys: ['88.1/C'] });
    const gone = await h.get('/api/handles/88.1/c');
    expect(gone.status).toBe(404);
    expect(gone.text).toBe('{"responseCode":100,"handle":"88.1/c","message":"Handle Not Found"}');
    expect((await h.get('/api/handles/88.1/c')).status).toBe(404); // the kept "not found"

    h.source.put('88.1/C', '88.1/c', [val(1, 'URL', 'v3')]);
    await h.resolver.invalidate({ keys: ['88.1/C'] });
    expect((await h.get('/api/handles/88.1/c')).text).toContain('"v3"');

    // a filter keeping nothing: 200 with no values
    const none = await h.get('/api/handles/88.1/c?type=EMAIL');
    expect(none.status).toBe(200);
    expect(none.text).toBe('{"responseCode":200,"handle":"88.1/c","values":[]}');
    expect(h.errors).toEqual([]);
  });

  it('case variants of one handle share one derived values JSON and keep one body each, counted in the budget', async () => {
    const h = await harness();
    h.source.put('88.1/ABC', '88.1/abc', [val(1, 'URL', 'https://a.example'), val(2, 'EMAIL', 'e@x')]);
    await h.get('/api/handles/88.1/abc'); // the record is cached (its values unparsed: the unfiltered answer is stored)
    const record = h.resolver.peek('88.1/ABC');
    if (record === undefined || !record.found) throw new Error('not cached');
    const before = h.resolver.stats().bytes;
    const recordBefore = record.record.sizeBytes;
    h.count.reset();

    const spellings = ['88.1/abc', '88.1/ABC', '88.1/aBc'];
    const values = `[${handleJson(1, 'URL', 'https://a.example')}]`;
    const bodies: string[] = [];
    for (const s of spellings) {
      const g = await h.get(`/api/handles/${s}?type=URL`);
      expect(g.status).toBe(200);
      expect(g.text).toBe(`{"responseCode":1,"handle":"${s}","values":${values}}`);
      bodies.push(g.text);
    }
    const valuesVariant = 'v:URL\u0000';
    const bodyVariants = spellings.map((s) => `h:${s}\u0000URL\u0000`);
    expect(h.count.builds.filter((b) => b.startsWith('v:'))).toEqual([valuesVariant]);
    expect(h.count.builds.filter((b) => b.startsWith('h:'))).toEqual(bodyVariants);
    // the cache grew by exactly one values JSON and three bodies (ASCII: a byte a character), each with its variant
    // name and overhead
    const grown = derivedCost(valuesVariant, values.length) + bodyVariants.reduce((s, v, i) => s + derivedCost(v, bodies[i]!.length), 0);
    // and by what the record's values took once the filter parsed them (counted once, when parsed)
    const parsed = record.record.sizeBytes - recordBefore;
    expect(parsed).toBeGreaterThan(0);
    expect(h.resolver.stats().bytes - before).toBe(grown + parsed);
    // the lower-case type asks for the same filter: same values JSON, its own kept body under the same variant name
    h.count.reset();
    expect((await h.get('/api/handles/88.1/abc?type=url')).text).toBe(bodies[0]);
    expect(h.count.builds).toEqual([]);
  });

  it('hundreds of case variants stay inside the cache budget and the memo share; evicted answers are never sent blank', async () => {
    const maxBytes = 256 * 1024;
    const memoBytes = 64 * 1024;
    const h = await harness({ maxBytes, memoBytes });
    const suffix = 'abcdefghijklmnop';
    const values = [val(1, 'URL', 'https://flood.example'), val(2, 'DESC', 'd'.repeat(300))];
    h.source.put(`88.1/${suffix.toUpperCase()}`, `88.1/${suffix}`, values);
    const variant = (i: number) => [...suffix].map((c, b) => ((i >> b) & 1 ? c.toUpperCase() : c)).join('');
    const wantValues = `[${handleJson(1, 'URL', 'https://flood.example')}]`;
    for (let i = 0; i < 400; i++) {
      const s = `88.1/${variant(i)}`;
      const g = await h.get(`/api/handles/${s}?type=URL`);
      expect(g.text).toBe(`{"responseCode":1,"handle":"${s}","values":${wantValues}}`);
      expect(h.resolver.stats().bytes).toBeLessThanOrEqual(maxBytes);
    }
    // at most MAX_DERIVED_PER_ENTRY derived values on the one entry
    const entryOnly = h.resolver.stats().bytes;
    const perBody = derivedCost(`h:88.1/${suffix}\u0000URL\u0000`, `{"responseCode":1,"handle":"88.1/${suffix}","values":${wantValues}}`.length);
    expect(h.resolver.stats().entries).toBe(1);
    expect(entryOnly).toBeLessThanOrEqual(maxBytes);
    expect(entryOnly).toBeLessThan(20_000 + MAX_DERIVED_PER_ENTRY * perBody);
    // the parsed-request memo of the API holds at most its three quarters of memoBytes (the proxy's has the rest)
    const memo = (h.door as unknown as { api: { usedBytes: number; maxBytes: number; size: number } }).api;
    expect(memo.maxBytes).toBe((memoBytes * 3) / 4);
    expect(memo.usedBytes).toBeLessThanOrEqual(memo.maxBytes);
    expect(memo.size).toBeLessThan(400);
    // the first variants' kept bodies were pushed out long ago: asked again, they are answered whole
    for (let i = 0; i < 3; i++) {
      const s = `88.1/${variant(i)}`;
      expect((await h.get(`/api/handles/${s}?type=URL`)).text).toBe(`{"responseCode":1,"handle":"${s}","values":${wantValues}}`);
    }
    expect(h.errors).toEqual([]);
  });

  it('an answer kept at the edge of the budget is sent whole (keeping it never evicts its own entry)', async () => {
    // one large record (a big private value) whose filtered answer is small, in a budget it nearly fills
    const values = [val(1, 'URL', 'https://edge.example'), val(2, 'NOTE', 'n'.repeat(10_000), 86400, false)];
    const want = (s: string) => `{"responseCode":1,"handle":"${s}","values":[${handleJson(1, 'URL', 'https://edge.example')}]}`;
    const probe = await harness();
    probe.source.put('88.1/EDGE', '88.1/edge', values);
    await probe.get('/api/handles/88.1/edge?type=URL');
    const used = probe.resolver.stats().bytes;
    // room for the first spelling's body, not for a second one
    const maxBytes = used + Math.floor(derivedCost('h:88.1/EDGE\u0000URL\u0000', want('88.1/EDGE').length * 2) / 2);

    const h = await harness({ maxBytes });
    h.source.put('88.1/EDGE', '88.1/edge', values);
    expect((await h.get('/api/handles/88.1/edge?type=URL')).text).toBe(want('88.1/edge'));
    expect(h.resolver.stats().bytes).toBe(used);
    for (const s of ['88.1/EDGE', '88.1/Edge', '88.1/edge']) {
      const g = await h.get(`/api/handles/${s}?type=URL`);
      expect(g.status).toBe(200);
      expect(g.text).toBe(want(s));
      expect(h.resolver.stats().bytes).toBeLessThanOrEqual(maxBytes);
    }
    // the record stayed cached all along
    expect(h.source.reads).toBe(1);
  });

  it('a body too large to keep is built for each request and never kept (nor its record copied)', async () => {
    const h = await harness();
    const big = 'x'.repeat(MAX_KEPT_BODY);
    h.source.put('88.1/BIG', '88.1/big', [val(1, 'URL', 'https://big.example'), val(2, 'DESC', big)]);
    const want = `{"responseCode":1,"handle":"88.1/big","values":[${handleJson(1, 'URL', 'https://big.example')},${handleJson(2, 'DESC', big)}]}`;
    expect((await h.get('/api/handles/88.1/big')).text).toBe(want);
    const bytes = h.resolver.stats().bytes;
    for (const s of ['88.1/big', '88.1/BIG', '88.1/Big']) {
      h.count.reset();
      const g = await h.get(`/api/handles/${s}`);
      expect(g.status).toBe(200);
      expect(g.headers['content-length']).toBe(String(want.length));
      expect(g.text).toBe(want.replace('"88.1/big"', JSON.stringify(s)));
      // looked up each time, nothing derived or kept
      expect(h.count.calls).toMatchObject({ peek: 1, isCurrent: 0, derive: 0 });
    }
    expect(h.resolver.stats().bytes).toBe(bytes);
    // filtered to something small, it is kept again
    h.count.reset();
    await h.get('/api/handles/88.1/big?type=URL');
    expect(h.count.kept.some((v) => v.startsWith('h:'))).toBe(true);
  });

  describe('the throw path: a record whose stored values are corrupt', () => {
    const corrupt = (source: TestSource) =>
      source.putText('88.1/BAD', { handle: '88.1/bad', valuesJson: '[{"index":1,"type":null}]', publicJson: `[${handleJson(1, 'URL', 'https://kept.example')}]` });

    it('asked with ?type=URL (cold, then warm): a 500 Handle JSON with responseCode 2, and the process goes on', async () => {
      const h = await harness();
      corrupt(h.source);
      h.source.put('88.1/GOOD', '88.1/good', [val(1, 'URL', 'https://good.example')]);
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      process.on('uncaughtException', onUnhandled);
      try {
        // cold: answered after the trip through the resolver
        const cold = await h.get('/api/handles/88.1/bad?type=URL');
        expect(cold.status).toBe(500);
        expect(cold.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(cold.text).toBe(INTERNAL);
        expect(JSON.parse(cold.text)).toMatchObject({ responseCode: 2 });

        // the unfiltered answer needs no parsing: the stored public answer
        const plain = await h.get('/api/handles/88.1/bad');
        expect(plain.status).toBe(200);
        expect(plain.text).toBe(`{"responseCode":1,"handle":"88.1/bad","values":[${handleJson(1, 'URL', 'https://kept.example')}]}`);

        // warm: answered from the cached record, synchronously
        for (const path of ['/api/handles/88.1/bad?type=URL', '/api/handles/88.1/BAD?index=1', '/88.1/bad']) {
          const g = await h.get(path);
          expect(g.status, path).toBe(500);
          expect(g.text, path).toBe(INTERNAL);
        }
        expect(h.errors.length).toBe(4);
        for (const e of h.errors) expect(e).toBeInstanceOf(RecordError);

        // and the server goes on answering
        const good = await h.get('/api/handles/88.1/good?type=URL');
        expect(good.status).toBe(200);
        expect(good.text).toContain('https://good.example');
        expect((await h.get('/88.1/good')).status).toBe(302);
      } finally {
        process.off('unhandledRejection', onUnhandled);
        process.off('uncaughtException', onUnhandled);
      }
      expect(unhandled).toEqual([]);
    });
  });

  it('leaves to fastify what it must not take: credentials, other parameters, unhomed handles, other methods and paths', async () => {
    const h = await harness();
    h.source.put('88.1/ABC', '88.1/abc', [val(1, 'URL', 'https://a.example')]);
    h.source.put('99.9/ABC', '99.9/abc', [val(1, 'URL', 'https://elsewhere.example')]);
    h.source.put('88.1/NOURL', '88.1/nourl', [val(1, 'EMAIL', 'e@x')]);
    // cached, so a front door that took them could answer them
    for (const k of ['88.1/ABC', '99.9/ABC', '88.1/NOURL']) await h.resolver.resolve(k);

    const leave: [string, Record<string, string>, ('GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE')?][] = [
      ['/api/handles/88.1/abc', { authorization: 'Bearer x' }],
      ['/api/handles/88.1/abc', { Authorization: 'Handle sessionId="1"' }],
      ['/88.1/abc', { authorization: 'Basic eDp5' }],
      ['/api/handles/88.1/abc?pretty', {}],
      ['/api/handles/88.1/abc?auth=true', {}],
      ['/api/handles/88.1/abc?type=URL&noredirect', {}],
      ['/api/handles/88.1/abc?index=one', {}],
      ['/api/handles/99.9/abc', {}],
      ['/api/handles/not-a-handle', {}],
      ['/api/handles/88.1/%zz', {}],
      ['/api/handles/88.1/abc', {}, 'HEAD'],
      ['/api/handles/88.1/abc', {}, 'POST'],
      ['/api/handles/88.1/abc', {}, 'PUT'],
      ['/api/handles/88.1/abc', {}, 'DELETE'],
      ['/api/other', {}],
      ['/healthz', {}],
      ['/metrics', {}],
      ['/', {}],
      ['/88.1/abc?noredirect', {}],
      ['/99.9/abc', {}],
      ['/88.1/nourl', {}],
      ['/88.1/notcached', {}],
    ];
    for (const [path, headers, method] of leave) {
      const before = h.served.length;
      const g = await h.get(path, headers, method ?? 'GET');
      expect(h.served.slice(before), `${method ?? 'GET'} ${path} ${JSON.stringify(headers)}`).toEqual([false]);
      expect(g.status, path).toBe(FALLBACK);
    }
    // and what it does take, for contrast
    const taken = await h.get('/88.1/abc');
    expect(h.served.at(-1)).toBe(true);
    expect(taken.status).toBe(302);
    expect(taken.headers.location).toBe('https://a.example');
    expect((await h.get('/api/handles/88.1/abc?type=URL&index=1')).status).toBe(200);
    expect(h.served.at(-1)).toBe(true);
    expect(h.errors).toEqual([]);
  });

  it('a failing resolver hands the request to fastify (whose full path answers with its own error)', async () => {
    const h = await harness();
    h.source.fail = true;
    const g = await h.get('/api/handles/88.1/down');
    expect(h.served).toEqual([true]); // taken, then handed over
    expect(g.status).toBe(FALLBACK);
    expect(h.errors).toEqual([]);
  });
});

