// Hostile bodies on every face: JSON nested thousands deep, NUL and control characters in text fields. Each answers
// a client error in the face's own format (SNMS status -2 naming the field, Handle responseCode 4 with HTTP 400),
// writes nothing, and leaves no stack trace in the node's log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDepthExceeds, MAX_JSON_DEPTH, nulPath } from '../../src/faces/json-body.js';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';
import { application, bearer, failed, okData, onboard, operatorLogin, sval, templateBody } from '../helpers/snms.js';

const DEEP_ARRAY = '['.repeat(5000) + ']'.repeat(5000);
const DEEP_OBJECT = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
const JSON_TYPE = { 'content-type': 'application/json' };

/** Every POST/PUT route that takes a JSON body, with the face whose format answers it. */
const ROUTES: { method: 'POST' | 'PUT'; path: string; face: 'snms' | 'handle'; auth: 'none' | 'enterprise' | 'operator' | 'admin' }[] = [
  { method: 'POST', path: '/identity/token', face: 'snms', auth: 'none' },
  { method: 'POST', path: '/identity/token/v1', face: 'snms', auth: 'none' },
  { method: 'POST', path: '/snms/api/v3/ent/apply', face: 'snms', auth: 'none' },
  { method: 'POST', path: '/identityv2/data', face: 'snms', auth: 'enterprise' },
  { method: 'PUT', path: '/identityv2/data', face: 'snms', auth: 'enterprise' },
  { method: 'POST', path: '/identityv2/data/batchCreate', face: 'snms', auth: 'enterprise' },
  { method: 'PUT', path: '/identityv2/data/batchUpdate', face: 'snms', auth: 'enterprise' },
  { method: 'POST', path: '/snms/api/v5/template', face: 'snms', auth: 'enterprise' },
  { method: 'PUT', path: '/snms/api/v5/template', face: 'snms', auth: 'enterprise' },
  { method: 'POST', path: '/operator/users', face: 'snms', auth: 'operator' },
  { method: 'POST', path: '/operator/enterprises/1/approve', face: 'snms', auth: 'operator' },
  { method: 'POST', path: '/operator/enterprises/1/reject', face: 'snms', auth: 'operator' },
  { method: 'POST', path: '/operator/users/2/password', face: 'snms', auth: 'operator' },
  { method: 'POST', path: '/operator/users/2/role', face: 'snms', auth: 'operator' },
  { method: 'PUT', path: `/api/handles/${NODE_PREFIX}/DEEP-1`, face: 'handle', auth: 'none' },
  { method: 'PUT', path: `/api/handles/${NODE_PREFIX}/DEEP-1`, face: 'handle', auth: 'admin' },
  { method: 'POST', path: `/api/handles/${NODE_PREFIX}/DEEP-1`, face: 'handle', auth: 'none' },
];

describe('JSON depth and NUL scanning', () => {
  it('finds depth past the bound without recursing, ignoring brackets in strings', () => {
    expect(jsonDepthExceeds(DEEP_ARRAY, MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDepthExceeds('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonDepthExceeds(JSON.stringify({ a: '['.repeat(1000) }), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonDepthExceeds(JSON.stringify({ a: '\\"' + '['.repeat(1000) }), MAX_JSON_DEPTH)).toBe(false);
    expect(nulPath({ a: [{ b: 'x' }, { c: 'y\u0000' }] })).toBe('a[1].c');
    expect(nulPath({ ok: 'fine' })).toBeNull();
  });
});

describe('hostile bodies (PGlite)', () => {
  let s: TestServer;
  let op: string;
  let ent: Awaited<ReturnType<typeof onboard>>;

  beforeAll(async () => {
    s = await startTestServer('pglite');
    op = await operatorLogin(s);
    ent = await onboard(s, op, { n: 81, username: 'hostile-co', password: 'Hostile-pass-2024' });
    okData(await s.send('POST', '/snms/api/v5/template', templateBody(ent.prefix, 'v1'), bearer(ent.token)));
  });
  afterAll(async () => {
    await s?.close();
  });

  const headers = (auth: (typeof ROUTES)[number]['auth']) =>
    auth === 'enterprise' ? bearer(ent.token) : auth === 'operator' ? bearer(op) : auth === 'admin' ? admin() : {};

  it('5,000-deep JSON gets the face\'s client error on every POST/PUT route', async () => {
    for (const r of ROUTES) {
      for (const body of [DEEP_ARRAY, DEEP_OBJECT]) {
        const res = await s.send(r.method, r.path, body, { ...JSON_TYPE, ...headers(r.auth) });
        const what = `${r.method} ${r.path} (${r.auth}) ${body[0]}`;
        if (r.face === 'snms') {
          expect(res.status, what).toBe(200);
          expect(res.json, what).toMatchObject({ status: -2, data: null });
          expect(res.json.message, what).toMatch(/嵌套超过 64 层/);
        } else {
          expect(res.status, what).toBe(400);
          expect(res.json, what).toMatchObject({ responseCode: 4 });
          expect(res.json.message, what).toMatch(/nested deeper than 64/);
        }
      }
    }
  });

  const enterprises = async () => okData(await s.get('/operator/enterprises?pageSize=500', bearer(op))).total as number;

  it('NUL in any SNMS string field: -2 naming the field, nothing written', async () => {
    const before = await enterprises();
    const fields: [string, (a: any) => void][] = [
      ['sysUser.userName', (a) => (a.sysUser.userName = 'nul\u0000user')],
      ['sysUser.password', (a) => (a.sysUser.password = 'pass\u0000word-2024')],
      ['entBasicInfo.orgName', (a) => (a.entBasicInfo.orgName = '射阳\u0000公司')],
      ['entBasicInfo.orgAddr', (a) => (a.entBasicInfo.orgAddr = '合德镇\u0000')],
      ['entBasicInfo.contactName', (a) => (a.entBasicInfo.contactName = '张\u0000三')],
      ['entBasicInfo.contactEmail', (a) => (a.entBasicInfo.contactEmail = 'a\u0000@example.com')],
      ['entBasicInfo.town', (a) => (a.entBasicInfo.town = '合德镇\u0000')],
    ];
    for (const [field, spoil] of fields) {
      const a = application({ n: 82, username: 'nul-co', password: 'Nul-pass-2024' });
      spoil(a);
      const message = failed(await s.send('POST', '/snms/api/v3/ent/apply', a), -2);
      expect(message, field).toContain(field);
      expect(message, field).toMatch(/NUL/);
    }
    expect(await enterprises()).toBe(before);
    expect(failed(await s.send('POST', '/identity/token', { username: 'hostile\u0000co', password: 'x' }), -2)).toContain('username');
    expect(failed(await s.send('POST', '/identity/token/v1', { username: 'hostile-co', password: '\u0000' }), -2)).toContain('password');

    const handle = `${ent.prefix}/NUL-1`;
    const detail = async () => (await s.get(`/identityv2/data/detail?handle=${encodeURIComponent(handle)}`, bearer(ent.token))).json;
    const writes: [string, unknown, string][] = [
      ['templateVersion', { handle, templateVersion: 'v1\u0000', value: [sval(2000, 'PRODUCT_NAME', '泵')] }, 'templateVersion'],
      ['handle', { handle: `${handle}\u0000`, templateVersion: 'v1', value: [sval(2000, 'PRODUCT_NAME', '泵')] }, 'handle'],
      ['value type', { handle, templateVersion: 'v1', value: [sval(2000, 'PRODUCT\u0000NAME', '泵')] }, 'value[0].type'],
      ['value data', { handle, templateVersion: 'v1', value: [sval(2000, 'PRODUCT_NAME', '泵\u0000')] }, 'value[0].data.value'],
    ];
    for (const [name, body, field] of writes) {
      for (const [method, path, payload] of [
        ['POST', '/identityv2/data', body],
        ['POST', '/identityv2/data/batchCreate', [body]],
      ] as const) {
        const message = failed(await s.send(method, path, payload, bearer(ent.token)), -2);
        expect(message, `${path} ${name}`).toContain(field);
      }
    }
    expect((await detail()).status).toBe(-2); // not found: nothing was written
    // a control character where none makes sense (a line break in the template version) is refused too
    expect(failed(await s.send('POST', '/identityv2/data', { handle, templateVersion: 'v1\n', value: [sval(2000, 'PRODUCT_NAME', '泵')] }, bearer(ent.token)), -2)).toContain('templateVersion');
    expect(failed(await s.get(`/identityv2/data/detail?handle=${encodeURIComponent(`${handle}\u0000`)}`, bearer(ent.token)), -2)).toContain('handle');

    // templates: version, item name, idType, description
    const t = templateBody(ent.prefix, 'v2') as any;
    for (const [field, spoil] of [
      ['version', (b: any) => (b.version = 'v2\u0000')],
      ['items[0].name', (b: any) => (b.items[0].name = '名\u0000称')],
      ['items[0].idType', (b: any) => (b.items[0].idType = 'PRODUCT\u0000')],
      ['description', (b: any) => (b.description = '说明\u0000')],
      ['items[0].metadata.type', (b: any) => (b.items[0].metadata.type = 'string\u0000')],
    ] as const) {
      const b = structuredClone(t);
      spoil(b);
      expect(failed(await s.send('POST', '/snms/api/v5/template', b, bearer(ent.token)), -2), field).toContain(field);
    }
    expect((await s.get(`/snms/api/v5/template?prefix=${ent.prefix}&version=v2`, bearer(ent.token))).json.status).toBe(-2);

    // operator face
    expect(failed(await s.send('POST', '/operator/users', { username: 'rev\u0000iewer', password: 'Reviewer-pass-2024', role: 'reviewer' }, bearer(op)), -2)).toContain('username');
    expect(failed(await s.send('POST', `/operator/enterprises/${ent.enterpriseId}/suspend`, { reason: '违规\u0000' }, bearer(op)), -2)).toContain('reason');
    expect(okData(await s.get(`/operator/enterprises/${ent.enterpriseId}`, bearer(op))).status).toBe(1);
  });

  it('Handle REST: a string value with NUL is refused with responseCode 4, naming where, and nothing is stored', async () => {
    const path = `/api/handles/${ent.prefix}/NUL-2`;
    for (const body of [
      [{ index: 1, type: 'URL', data: 'https://example.com/\u0000' }],
      [{ index: 1, type: 'URL', data: { format: 'string', value: 'x\u0000y' } }],
      { values: [{ index: 1, type: 'DESC', data: 'ok' }, { index: 2, type: 'DE\u0000SC', data: 'ok' }] },
    ]) {
      const r = await s.send('PUT', path, body, ent.handleAuth);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.responseCode).toBe(4);
      expect(r.json.message).toMatch(/NUL/);
    }
    expect((await s.get(path)).status).toBe(404);
    // a type with a line break is not a type
    const r = await s.send('PUT', path, [{ index: 1, type: 'URL\n', data: 'https://example.com/' }], ent.handleAuth);
    expect(r.status).toBe(400);
    expect(r.json.responseCode).toBe(4);
    expect(r.json.message).toMatch(/type/);
    // free text keeps its line breaks
    expect((await s.send('PUT', path, [{ index: 1, type: 'DESC', data: 'line 1\nline 2' }], ent.handleAuth)).status).toBe(200);
  });

  it('a refused body on a path no face knows gets that face\'s 404, never a 500 (found by test/slow/fuzz-faces)', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: [string, string, string][] = [
      ['PATCH', `/api/handles/${ent.prefix}/x`, ''], // empty JSON body, a method the face has no route for
      ['OPTIONS', '/', '{'], // truncated JSON
      ['POST', '/identity/tok', '{"username":"a","password":"b'], // truncated, under the SNMS face
      ['PUT', '/identityv2/data/nope', `[${'['.repeat(5000)}`], // too deep
      ['DELETE', '/somewhere/else', '\u00ff\u00fe not json'],
    ];
    for (const [method, path, body] of cases) {
      const r = await s.send(method as 'PUT', path, body, json); // PATCH and OPTIONS too: the helper passes the method on
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    expect((await s.send('PATCH' as 'PUT', `/api/handles/${ent.prefix}/x`, '', json)).json.responseCode).toBe(4);
    expect((await s.send('POST', '/identity/tok', '{', json)).json.status).toBe(-2);
  });
});

describe.skipIf(!hasPostgres)('hostile bodies leave no stack in the log (child node, LOG_LEVEL=info)', () => {
  let node: ChildNode;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await tempPostgres();
    node = await startChildNode({ DATABASE_URL: db.url, REDIS_URL: '', LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await node?.stop();
    await db?.drop();
  });

  it('deep JSON to every anonymous POST/PUT route: client errors, nothing logged at error level, no stack', async () => {
    const { request } = await import('undici');
    for (const r of ROUTES.filter((x) => x.auth === 'none' || x.auth === 'admin')) {
      for (const body of [DEEP_ARRAY, DEEP_OBJECT]) {
        const res = await request(node.base + r.path, { method: r.method, body, headers: { ...JSON_TYPE, ...(r.auth === 'admin' ? admin() : {}) } });
        await res.body.dump();
        expect(res.statusCode, `${r.method} ${r.path}`).toBe(r.face === 'snms' ? 200 : 400);
      }
    }
    expect(await node.alive()).toBe(true);
    const log = node.log();
    expect(log).not.toMatch(/"stack"|Maximum call stack|RangeError/);
    expect(log).not.toMatch(/"level":50/);
  });
});
