// The OpenAPI document and the docs UI: a valid OpenAPI 3.1 document naming every route of every face with its request and response schemas, swagger-ui served from the node alone, the schema compilers leaving answers and requests as they are, and unknown paths answered by their face's 404.
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { routeChecked, serializerCompiler, validatorCompiler } from '../../src/faces/schema-compilers.js';
import { buildServer } from '../../src/server.js';
import { startTestServer, type TestServer } from '../helpers/node.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;
type Operation = {
  tags?: string[];
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
  security?: Record<string, string[]>[];
};
type Doc = {
  openapi: string;
  info: { title: string; version: string };
  tags: { name: string }[];
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
};

interface CollectedRoute {
  method: string;
  url: string;
  schema?: RouteOptions['schema'] & { hide?: boolean };
}

/** `/a/:id/*` and `/a/{id}/{handle}` alike: path parameters (and a trailing wildcard) as `{}`. */
const canonical = (path: string) => path.replace(/\{[^}]+\}/g, '{}').replace(/:\w+/g, '{}').replace(/\*$/, '{}');

/** swagger-ui's own routes (its page and assets), hidden from the document on purpose. */
const isDocsUi = (r: CollectedRoute) => r.schema?.hide === true && (r.url === '/docs' || r.url.startsWith('/docs/'));

/**
 * What is wrong with the document for the routes fastify has: a route the document lacks, a route without a request
 * or a response schema, or a documented operation no route answers.
 */
function problems(routes: CollectedRoute[], doc: Doc): string[] {
  const out: string[] = [];
  const documented = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) if (item[m]) documented.set(`${m.toUpperCase()} ${canonical(path)}`, item[m]!);
  }
  const seen = new Set<string>();
  for (const r of routes) {
    if (r.method === 'HEAD' || isDocsUi(r)) continue;
    const key = `${r.method} ${canonical(r.url)}`;
    seen.add(key);
    const s = r.schema;
    if (s === undefined || (s.querystring === undefined && s.params === undefined && s.body === undefined)) out.push(`${key}: no request schema`);
    if (s?.response === undefined) out.push(`${key}: no response schema`);
    const op = documented.get(key);
    if (op === undefined) {
      out.push(`${key}: not in the document`);
      continue;
    }
    const answers = Object.values(op.responses ?? {});
    if (!answers.some((a) => Object.values(a.content ?? {}).some((c) => c.schema !== undefined))) out.push(`${key}: no documented answer schema`);
    if (s?.body !== undefined && op.requestBody?.content?.['application/json']?.schema === undefined) out.push(`${key}: body not documented`);
  }
  for (const key of documented.keys()) if (!seen.has(key)) out.push(`${key}: documented, but no such route`);
  return out;
}

/** Every `$ref` in `x` (to check they all resolve). */
function refs(x: unknown, acc: string[] = []): string[] {
  if (Array.isArray(x)) for (const e of x) refs(e, acc);
  else if (x !== null && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) {
      if (k === '$ref' && typeof v === 'string') acc.push(v);
      else refs(v, acc);
    }
  }
  return acc;
}

describe('the OpenAPI document and the docs UI', () => {
  let s: TestServer;
  let doc: Doc;
  let routes: CollectedRoute[];
  let probe: FastifyInstance;

  beforeAll(async () => {
    s = await startTestServer('pglite');
    const r = await s.get('/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    doc = r.json;
    // fastify's own list of the routes: the same app over the same node, collected as they register
    routes = [];
    probe = buildServer(s.node, { logger: false });
    probe.addHook('onRoute', (o) => {
      for (const method of [o.method].flat()) routes.push({ method, url: o.url, schema: o.schema as CollectedRoute['schema'] });
    });
    await probe.ready();
  });
  afterAll(async () => {
    await probe?.close();
    await s?.close();
  });

  it('is a valid OpenAPI 3.1 document (the official schema), whose references all resolve', async () => {
    const v = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(v.errors ?? []).toEqual([]);
    expect(v.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'idnode 88.320924', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const components = new Set(Object.keys(doc.components.schemas ?? {}));
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(0);
    for (const ref of all) expect(components.has(ref.replace('#/components/schemas/', '')), ref).toBe(true);
    // every component is used (none left over from the input/output copies the type provider makes)
    const used = new Set(all.map((x) => x.replace('#/components/schemas/', '')));
    expect([...components].filter((c) => !used.has(c))).toEqual([]);
  });

  it('names every route of every face with its request and response schemas', () => {
    expect(routes.length).toBeGreaterThan(30);
    expect(problems(routes, doc)).toEqual([]);
    // each face is there, under its tag
    const byTag = new Map<string, number>();
    for (const item of Object.values(doc.paths)) {
      for (const m of METHODS) for (const t of item[m]?.tags ?? []) byTag.set(t, (byTag.get(t) ?? 0) + 1);
    }
    expect(Object.fromEntries(byTag)).toEqual({
      'Handle REST': 11,
      Proxy: 1,
      SNMS: 26,
      Operator: 19,
      Operations: 4,
      Console: 4,
    });
    expect(doc.tags.map((t) => t.name).sort()).toEqual([...byTag.keys()].sort());
  });

  it('the check above fails for a route without schemas, or one the document lacks', () => {
    const extra: CollectedRoute[] = [
      { method: 'GET', url: '/snms/api/v5/extra', schema: undefined },
      { method: 'POST', url: '/operator/enterprises/:id/extra', schema: { params: z.object({ id: z.string() }) } },
    ];
    expect(problems([...routes, ...extra], doc)).toEqual([
      'GET /snms/api/v5/extra: no request schema',
      'GET /snms/api/v5/extra: no response schema',
      'GET /snms/api/v5/extra: not in the document',
      'POST /operator/enterprises/{}/extra: no response schema',
      'POST /operator/enterprises/{}/extra: not in the document',
    ]);
    const fewer = routes.filter((r) => r.url !== '/operator/plan.csv');
    expect(problems(fewer, doc)).toEqual(['GET /operator/plan.csv: documented, but no such route']);
  });

  it('documents parameters, bodies, answers and security the way each face has them', () => {
    const resolve = doc.paths['/api/handles/{handle}']!.get!;
    expect(resolve.tags).toEqual(['Handle REST']);
    expect(resolve.parameters?.map((p) => `${p.in}:${p.name}:${p.required === true}`)).toEqual(
      expect.arrayContaining(['path:handle:true', 'query:type:false', 'query:index:false', 'query:pretty:false', 'query:callback:false']),
    );
    expect(Object.keys(resolve.responses!)).toEqual(['200', '400', '401', '403', '404', '500', '503']);
    expect(resolve.responses!['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/HandleResolution' });
    expect(resolve.security).toEqual([{}, { handleBasic: [] }, { bearer: [] }]);
    const put = doc.paths['/api/handles/{handle}']!.put!;
    expect(Object.keys(put.responses!)).toContain('201');
    expect(JSON.stringify(put.requestBody)).toContain('"index"');

    // the SNMS envelope, HTTP 200 with data or null; summaries in Chinese and English
    const batch = doc.paths['/identityv2/data/batchCreate']!.post!;
    expect(batch.summary).toMatch(/^批量注册 \/ Register/);
    const env = batch.responses!['200']!.content!['application/json']!.schema as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(env.properties)).toEqual(['status', 'message', 'data']);
    expect(env.required).toEqual(['status', 'message', 'data']);
    expect(JSON.stringify(env.properties.data)).toContain('"null"');
    expect(batch.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/snms/api/v3/ent/apply']!.post!.security).toEqual([]);
    expect(doc.paths['/operator/enterprises/{id}/approve']!.post!.summary).toMatch(/^批准/);

    // the proxy: a redirect without a body, a page or Handle JSON
    const proxy = doc.paths['/{handle}']!.get!;
    expect(proxy.responses!['302']!.content).toBeUndefined();
    expect(Object.keys(proxy.responses!['200']!.content!)).toEqual(['text/html', 'application/json']);
    expect(Object.keys(doc.paths['/metrics']!.get!.responses!['200']!.content!)).toEqual(['text/plain']);
    expect(Object.keys(doc.paths['/operator/plan.csv']!.get!.responses!['200']!.content!)).toEqual(['text/csv', 'application/json']);
    expect(Object.keys(doc.components.securitySchemes ?? {}).sort()).toEqual(['bearer', 'handleBasic']);
  });

  it('/docs is swagger-ui from this node alone: every script and style same-origin, served here, and a CSP that forbids other origins', async () => {
    const r = await s.get('/docs');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.text).toContain('<div id="swagger-ui">');
    const assets = [...r.text.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(5);
    expect(assets.filter((a) => a.endsWith('.js')).length).toBeGreaterThanOrEqual(3);
    expect(assets.filter((a) => a.endsWith('.css')).length).toBeGreaterThanOrEqual(1);
    for (const a of assets) {
      expect(a, a).not.toMatch(/^(?:[a-z]+:)?\/\//i); // no scheme, no protocol-relative host
      const url = new URL(a, `${s.url}/docs`);
      expect(url.origin).toBe(s.url);
      const got = await s.get(url.pathname);
      expect(got.status, a).toBe(200);
      expect(got.text.length, a).toBeGreaterThan(0);
    }
    expect(r.text).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    const csp = String(r.headers['content-security-policy']);
    for (const d of ["default-src 'self'", "script-src 'self'", "connect-src 'self'"]) expect(csp).toContain(d);
    expect(csp).not.toMatch(/https?:|\*/);
    // the page loads the document from the node too
    const init = await s.get('/docs/static/swagger-initializer.js');
    expect(init.text).toContain("resolveUrl('./json')");
    const json = await s.get('/docs/json');
    expect(json.json).toEqual(doc);
  });

  it('unknown top-level paths answer 404 in their face\'s format, never parsed as identifiers', async () => {
    const plain = await s.get('/docs/nope');
    expect([plain.status, plain.headers['content-type'], plain.text]).toEqual([404, 'text/plain; charset=utf-8', 'Not found\n']);
    const post = await s.send('POST', '/docs-x', {});
    expect([post.status, post.headers['content-type'], post.text]).toEqual([404, 'text/plain; charset=utf-8', 'Not found\n']);
    // GET /docs-x is the proxy face's: one path segment is no identifier, so its plain "Not found" page (or JSON)
    const docsX = await s.get('/docs-x');
    expect([docsX.status, docsX.headers['content-type']]).toEqual([404, 'text/html; charset=utf-8']);
    expect(docsX.text).toContain('<title>Not found</title>');
    expect((await s.get('/docs-x', { accept: 'application/json' })).json).toEqual({ responseCode: 100, handle: 'docs-x', message: 'Not found' });

    const op = await s.get('/operator/nope');
    expect([op.status, op.headers['content-type']]).toEqual([404, 'application/json; charset=utf-8']);
    expect(op.json).toEqual({ status: -2, message: '接口不存在 / no such endpoint: GET /operator/nope', data: null });
    const id = await s.get('/identity/nope?x=1');
    expect([id.status, id.json]).toEqual([404, { status: -2, message: '接口不存在 / no such endpoint: GET /identity/nope', data: null }]);
    const idPost = await s.send('POST', '/identityv2/nope', {});
    expect([idPost.status, idPost.json?.status]).toEqual([404, -2]);

    const api = await s.get('/api/nope');
    expect([api.status, api.headers['content-type']]).toEqual([404, 'application/json; charset=utf-8']);
    expect(api.json).toEqual({ responseCode: 4, message: 'Unknown HTTP API endpoint GET /api/nope' });
    const apiPost = await s.send('POST', '/api/nope/deeper', {});
    expect([apiPost.status, apiPost.json]).toEqual([404, { responseCode: 4, message: 'Unknown HTTP API endpoint POST /api/nope/deeper' }]);
  });
});

describe('the schema compilers', () => {
  const route = { method: 'GET', url: '/x' } as const;

  it('answers go out byte for byte as the route built them: key order and unlisted keys kept, Dates as JSON has them', () => {
    const serialize = serializerCompiler({ ...route, httpStatus: '200', schema: z.object({ b: z.int(), a: z.looseObject({ when: z.date() }) }) });
    const payload = { a: { extra: [1], when: new Date(0) }, b: 2 };
    expect(serialize(payload)).toBe(JSON.stringify(payload));
    expect(serialize(payload)).toBe('{"a":{"extra":[1],"when":"1970-01-01T00:00:00.000Z"},"b":2}');
  });

  it('an answer its schema does not describe is an error, not a rewritten answer', () => {
    const serialize = serializerCompiler({ ...route, httpStatus: '200', schema: z.object({ status: z.int(), data: z.string().nullable() }) });
    expect(() => serialize({ status: 1, data: 5 })).toThrow(/doesn't match the schema/);
    expect(() => serialize({ status: 'x', data: null })).toThrow(/doesn't match the schema/);
  });

  it('requests are checked, and handed on as they came', () => {
    const check = validatorCompiler({ ...route, httpPart: 'querystring', schema: z.looseObject({ n: z.string().optional() }) });
    const q = { n: '1', other: ['a', 'b'] };
    expect(check(q)).toBe(true); // nothing replaces the request's own object
    const bad = check({ n: ['1', '2'] }) as { error?: unknown };
    expect(bad.error).toBeDefined();
  });

  it('a part the route checks itself is not checked by fastify', () => {
    const strict = z.object({ handle: z.string() });
    expect((validatorCompiler({ ...route, httpPart: 'body', schema: strict })([1, 2]) as { error?: unknown }).error).toBeDefined();
    expect(validatorCompiler({ ...route, httpPart: 'body', schema: routeChecked(z.object({ handle: z.string() })) })([1, 2])).toBe(true);
  });

  it('refuses schemas that are not zod', () => {
    expect(() => validatorCompiler({ ...route, httpPart: 'body', schema: { type: 'object' } as never })).toThrow(/not a zod schema/);
  });
});
