// The Handle REST face over a listening server: every row of the responseCode→HTTP table, parameters, bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { admin, basic, NODE_PREFIX, startTestServer, type Backend, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, tempPostgres } from '../helpers/services.js';

const P = NODE_PREFIX;
const backends: Backend[] = ['pglite', ...(hasPostgres && hasRedis ? (['postgres+redis'] as const) : [])];

describe.each(backends)('Handle REST API on %s', (backend) => {
  let s: TestServer;
  let db: { url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    if (backend === 'postgres+redis') db = await tempPostgres();
    s = await startTestServer(backend, {}, db ? { databaseUrl: db.url, namespace: `t-${Math.random()}:` } : undefined);
    const r = await s.send('PUT', `/api/handles/${P}/DOC-1`, {
      values: [
        { index: 1, type: 'URL', data: { format: 'string', value: 'https://example.com/doc-1' }, ttl: 600 },
        { index: 2, type: 'URL.mirror', data: 'https://mirror.example.com/doc-1' },
        { index: 3, type: 'EMAIL', data: { format: 'string', value: 'ops@example.com' } },
        { index: 4, type: 'SECRET_NOTE', data: 'hidden', permissions: '1100' },
      ],
    }, admin());
    expect(r.status).toBe(200);
  });

  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  it('1 → 200: resolves with values as {format,value}, the handle echoed exactly as requested', async () => {
    const r = await s.get(`/api/handles/${P}/doc-1`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    expect(r.json.responseCode).toBe(1);
    expect(r.json.handle).toBe(`${P}/doc-1`);
    expect(r.json.values.map((v: any) => v.index)).toEqual([1, 2, 3]);
    expect(r.json.values[1].data).toEqual({ format: 'string', value: 'https://mirror.example.com/doc-1' });
    expect(r.json.values[0].ttl).toBe(600);
    expect(r.json.values[0].timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('admin credentials see values without public read; publicOnly hides them again', async () => {
    const all = await s.get(`/api/handles/${P}/DOC-1`, admin());
    expect(all.json.values.map((v: any) => v.index)).toEqual([1, 2, 3, 4]);
    expect(all.json.values[3].permissions).toBe('1100');
    const pub = await s.get(`/api/handles/${P}/DOC-1?publicOnly=true`, admin());
    expect(pub.json.values.map((v: any) => v.index)).toEqual([1, 2, 3]);
  });

  it('type (repeatable, case-insensitive, trailing dot = subtypes) and index filters form a union', async () => {
    const url = await s.get(`/api/handles/${P}/DOC-1?type=url`);
    expect(url.json.values.map((v: any) => v.index)).toEqual([1]);
    const sub = await s.get(`/api/handles/${P}/DOC-1?type=URL.`);
    expect(sub.json.values.map((v: any) => v.index)).toEqual([1, 2]);
    const union = await s.get(`/api/handles/${P}/DOC-1?type=EMAIL&index=1`);
    expect(union.json.values.map((v: any) => v.index)).toEqual([1, 3]);
    const two = await s.get(`/api/handles/${P}/DOC-1?index=2&index=3`);
    expect(two.json.values.map((v: any) => v.index)).toEqual([2, 3]);
  });

  it('200 → 200 with values: [] when filters match nothing', async () => {
    const r = await s.get(`/api/handles/${P}/DOC-1?type=NOPE`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ responseCode: 200, handle: `${P}/DOC-1`, values: [] });
  });

  it('pretty and callback (JSONP) shape the body', async () => {
    const pretty = await s.get(`/api/handles/${P}/DOC-1?pretty`);
    expect(pretty.text).toContain('\n  "responseCode": 1');
    const cb = await s.get(`/api/handles/${P}/DOC-1?callback=show`);
    expect(cb.headers['content-type']).toMatch(/application\/javascript/);
    expect(cb.text.startsWith('show({"responseCode":1')).toBe(true);
    expect(cb.text.endsWith(');')).toBe(true);
    const evil = await s.get(`/api/handles/${P}/DOC-1?callback=${encodeURIComponent('x</script><b>')}`);
    expect(evil.text.startsWith('x__script__b_(')).toBe(true);
  });

  it('HEAD answers like GET without a body; POST is GET with JSON parameters', async () => {
    const head = await s.send('HEAD', `/api/handles/${P}/DOC-1`);
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const post = await s.send('POST', `/api/handles/${P}/DOC-1`, { type: ['EMAIL'] });
    expect(post.status).toBe(200);
    expect(post.json.values.map((v: any) => v.index)).toEqual([3]);
  });

  it('100 → 404 for an unknown handle', async () => {
    const r = await s.get(`/api/handles/${P}/NOPE-404`);
    expect(r.status).toBe(404);
    expect(r.json.responseCode).toBe(100);
    expect(r.json.handle).toBe(`${P}/NOPE-404`);
  });

  it('register then resolve never sees a stale "not found"', async () => {
    const miss = await s.get(`/api/handles/${P}/LATE-1`);
    expect(miss.status).toBe(404);
    const put = await s.send('PUT', `/api/handles/${P}/LATE-1`, [{ index: 1, type: 'URL', data: 'https://late.example.com' }], admin());
    expect(put.status).toBe(200);
    const hit = await s.get(`/api/handles/${P}/LATE-1`);
    expect(hit.status).toBe(200);
    expect(hit.json.values[0].data.value).toBe('https://late.example.com');
  });

  it('1 → 201 for a create with overwrite=false; 101 → 409 when it exists; case variants are the same handle', async () => {
    const body = [{ index: 1, type: 'URL', data: 'https://example.com/new' }];
    const created = await s.send('PUT', `/api/handles/${P}/New-1?overwrite=false`, body, admin());
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ responseCode: 1, handle: `${P}/New-1` });
    const again = await s.send('PUT', `/api/handles/${P}/New-1?overwrite=false`, body, admin());
    expect(again.status).toBe(409);
    expect(again.json.responseCode).toBe(101);
    const variant = await s.send('PUT', `/api/handles/${P}/NEW-1?overwrite=false`, body, admin());
    expect(variant.status).toBe(409);
    expect(variant.json.responseCode).toBe(101);
  });

  it('PUT with index= adds or replaces values; 201 → 409 with overwrite=false on an existing index', async () => {
    const add = await s.send('PUT', `/api/handles/${P}/New-1?index=5`, [{ index: 5, type: 'DESC', data: 'five' }], admin());
    expect(add.status).toBe(200);
    const clash = await s.send('PUT', `/api/handles/${P}/New-1?index=5&overwrite=false`, [{ index: 5, type: 'DESC', data: 'again' }], admin());
    expect(clash.status).toBe(409);
    expect(clash.json.responseCode).toBe(201);
    const various = await s.send('PUT', `/api/handles/${P}/New-1?index=various`, [{ index: 6, type: 'DESC', data: 'six' }, { index: 5, type: 'DESC', data: 'FIVE' }], admin());
    expect(various.status).toBe(200);
    const r = await s.get(`/api/handles/${P}/New-1`);
    expect(r.json.values.map((v: any) => [v.index, v.data.value])).toEqual([[1, 'https://example.com/new'], [5, 'FIVE'], [6, 'six']]);
    const mismatch = await s.send('PUT', `/api/handles/${P}/New-1?index=7`, [{ index: 8, type: 'DESC', data: 'x' }], admin());
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.responseCode).toBe(4);
  });

  it('DELETE with index removes values; 200 → 400 when none of them exist; DELETE removes the handle', async () => {
    const rm = await s.send('DELETE', `/api/handles/${P}/New-1?index=6`, undefined, admin());
    expect(rm.status).toBe(200);
    const none = await s.send('DELETE', `/api/handles/${P}/New-1?index=99`, undefined, admin());
    expect(none.status).toBe(400);
    expect(none.json.responseCode).toBe(200);
    const del = await s.send('DELETE', `/api/handles/${P}/New-1`, undefined, admin());
    expect(del.status).toBe(200);
    expect((await s.get(`/api/handles/${P}/New-1`)).status).toBe(404);
    const gone = await s.send('DELETE', `/api/handles/${P}/New-1`, undefined, admin());
    expect(gone.status).toBe(404);
    expect(gone.json.responseCode).toBe(100);
  });

  it('mintNewSuffix creates a UUID suffix and returns the new handle', async () => {
    const r = await s.send('PUT', `/api/handles/${P}/BATCH-?mintNewSuffix=true`, [{ index: 1, type: 'URL', data: 'https://example.com/m' }], admin());
    expect(r.status).toBe(200);
    expect(r.json.handle).toMatch(new RegExp(`^${P}/BATCH-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`));
    expect((await s.get(`/api/handles/${r.json.handle}`)).status).toBe(200);
  });

  it('402 → 401 with WWW-Authenticate for an unauthenticated write; nothing stored', async () => {
    const r = await s.send('PUT', `/api/handles/${P}/ANON-1`, [{ index: 1, type: 'URL', data: 'https://x' }]);
    expect(r.status).toBe(401);
    expect(r.json.responseCode).toBe(402);
    expect(r.headers['www-authenticate']).toBe('Basic realm="handle"');
    expect((await s.get(`/api/handles/${P}/ANON-1`)).status).toBe(404);
  });

  it('403 → 403 for a wrong password, 404 → 403 for unreadable credentials', async () => {
    const wrong = await s.send('PUT', `/api/handles/${P}/ANON-2`, [], basic(`300:0.NA/${P}`, 'not-the-secret'));
    expect(wrong.status).toBe(403);
    expect(wrong.json.responseCode).toBe(403);
    const junk = await s.send('PUT', `/api/handles/${P}/ANON-2`, [], { authorization: 'Basic bm9jb2xvbg==' });
    expect(junk.status).toBe(403);
    expect(junk.json.responseCode).toBe(404);
    const scheme = await s.send('PUT', `/api/handles/${P}/ANON-2`, [], { authorization: 'Digest username="x"' });
    expect(scheme.status).toBe(403);
    expect(scheme.json.responseCode).toBe(404);
    const forged = await s.send('PUT', `/api/handles/${P}/ANON-2`, [], { authorization: 'Bearer abc.def' });
    expect(forged.status).toBe(403);
    expect(forged.json.responseCode).toBe(403);
    expect((await s.get(`/api/handles/${P}/ANON-2`)).status).toBe(404);
  });

  it('400/401 → 403: other identities write only where an HS_ADMIN names them with the permission', async () => {
    const user = `${P}/USER-1`;
    await s.send('PUT', `/api/handles/${user}`, [{ index: 300, type: 'HS_SECKEY', data: 'user-pw', permissions: '1100' }], admin());
    const notAdmin = await s.send('PUT', `/api/handles/${P}/OWNED-BY-ADMIN`, [], basic(`300:${user}`, 'user-pw'));
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.json.responseCode).toBe(400);
    // a handle administered by USER-1 with every permission but add_value (6th character, most significant first)
    await s.send('PUT', `/api/handles/${P}/OWNED-1`, [
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: user, index: 300, permissions: '111110111111' } } },
    ], admin());
    const noAdd = await s.send('PUT', `/api/handles/${P}/OWNED-1?index=2`, [{ index: 2, type: 'URL', data: 'https://x' }], basic(`300:${user}`, 'user-pw'));
    expect(noAdd.status).toBe(403);
    expect(noAdd.json.responseCode).toBe(401);
    const replace = await s.send('PUT', `/api/handles/${P}/OWNED-1`, [
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: user, index: 300, permissions: '111111111111' } } },
      { index: 1, type: 'URL', data: 'https://owned.example.com' },
    ], basic(`300:${user}`, 'user-pw'));
    expect(replace.status).toBe(200);
    expect((await s.get(`/api/handles/${P}/OWNED-1?type=URL`)).json.values[0].data.value).toBe('https://owned.example.com');
  });

  it('301 → 400 for a write under a prefix this node does not home', async () => {
    const r = await s.send('PUT', '/api/handles/99.999/X-1', [{ index: 1, type: 'URL', data: 'https://x' }], admin());
    expect(r.status).toBe(400);
    expect(r.json.responseCode).toBe(301);
    const g = await s.get('/api/handles/99.999/X-1');
    expect(g.json.responseCode).toBe(301);
  });

  it('5 → 501 for homing a prefix', async () => {
    const r = await s.send('POST', '/api/prefixes/99.1', undefined, admin());
    expect(r.status).toBe(501);
    expect(r.json.responseCode).toBe(5);
  });

  it('102 → 400 for malformed handles, over-long prefixes and handles, bad percent-encoding and invalid UTF-8', async () => {
    const bad = [
      '/api/handles/nosuffix',
      '/api/handles/' + 'a'.repeat(65) + '/x',
      `/api/handles/${P}/` + 'x'.repeat(250),
      `/api/handles/${P}/%ZZ`,
      `/api/handles/${P}/%E4%B8`,
      `/api/handles/${P}/%FF`,
      `/api/handles/${P}/a%00b`,
      '/api/handles/.88/x',
      '/api/handles/',
    ];
    for (const path of bad) {
      const r = await s.get(path);
      expect(r.status, path).toBe(400);
      expect(r.json.responseCode, path).toBe(102);
      expect(typeof r.json.message).toBe('string');
    }
  });

  it('4 → 400 for non-numeric index, wrong content type, malformed or huge JSON; 202 → 400 for bad values', async () => {
    const idx = await s.get(`/api/handles/${P}/DOC-1?index=abc`);
    expect([idx.status, idx.json.responseCode]).toEqual([400, 4]);
    const ct = await s.send('PUT', `/api/handles/${P}/BAD-1`, 'index=1', { ...admin(), 'content-type': 'text/plain' });
    expect([ct.status, ct.json.responseCode]).toEqual([400, 4]);
    const broken = await s.send('PUT', `/api/handles/${P}/BAD-1`, '{"values": [', { ...admin(), 'content-type': 'application/json' });
    expect([broken.status, broken.json.responseCode]).toEqual([400, 4]);
    const huge = await s.send('PUT', `/api/handles/${P}/BAD-1`, JSON.stringify([{ index: 1, type: 'X', data: 'y'.repeat(2_000_000) }]), { ...admin(), 'content-type': 'application/json' });
    expect([huge.status, huge.json.responseCode]).toEqual([400, 4]);
    const latin1 = await s.send('PUT', `/api/handles/${P}/BAD-1`, Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), { ...admin(), 'content-type': 'application/json' });
    expect([latin1.status, latin1.json.responseCode]).toEqual([400, 4]);
    const shape = await s.send('PUT', `/api/handles/${P}/BAD-1`, { nothing: true }, admin());
    expect([shape.status, shape.json.responseCode]).toEqual([400, 4]);
    const format = await s.send('PUT', `/api/handles/${P}/BAD-1`, [{ index: 1, type: 'X', data: { format: 'weird', value: 'v' } }], admin());
    expect([format.status, format.json.responseCode]).toEqual([400, 202]);
    const index = await s.send('PUT', `/api/handles/${P}/BAD-1`, [{ index: 'one', type: 'X', data: 'v' }], admin());
    expect([index.status, index.json.responseCode]).toEqual([400, 202]);
    expect((await s.get(`/api/handles/${P}/BAD-1`)).status).toBe(404);
  });

  it('percent-decoding keeps "+" and allows "/" and Chinese in suffixes', async () => {
    const h = `${P}/泵-2024/A+B:C`;
    const put = await s.send('PUT', `/api/handles/${encodeURI(h)}`, [{ index: 1, type: 'URL', data: 'https://pump.example.com' }], admin());
    expect(put.status).toBe(200);
    expect(put.json.handle).toBe(h);
    const r = await s.get(`/api/handles/${encodeURIComponent(h)}`);
    expect(r.json.handle).toBe(h);
    const plus = await s.get(`/api/handles/${P}/A B`.replace(' ', '+'));
    expect(plus.status).toBe(404);
  });

  it('lists handles under a prefix (authenticated) with totalCount as a string', async () => {
    const anon = await s.get(`/api/handles?prefix=${P}`);
    expect([anon.status, anon.json.responseCode]).toEqual([401, 402]);
    const r = await s.get(`/api/handles?prefix=${P}&page=0&pageSize=2`, admin());
    expect(r.status).toBe(200);
    expect(typeof r.json.totalCount).toBe('string');
    expect(Number(r.json.totalCount)).toBeGreaterThanOrEqual(3);
    expect(r.json.handles).toHaveLength(2);
    expect(r.json.page).toBe(0);
  });

  it('/api/prefixes and /api/site describe the node', async () => {
    const p = await s.get('/api/prefixes');
    expect(p.json).toEqual({ responseCode: 1, totalCount: '1', prefixes: [P] });
    const site = await s.get('/api/site');
    expect(site.json.responseCode).toBe(1);
    // the port the node really listens on (PORT=0 here), and no native interfaces while that face is off
    expect(site.json.site.servers[0].interfaces).toEqual([expect.objectContaining({ protocol: 'HTTP', port: Number(new URL(s.url).port) })]);
  });

  it('the node admin handle exists with a hashed secret that anonymous resolvers cannot see', async () => {
    const r = await s.get(`/api/handles/0.NA/${P}`);
    expect(r.status).toBe(200);
    expect(r.json.values.map((v: any) => v.type)).toEqual(['HS_SITE', 'HS_ADMIN', 'HS_PUBKEY']); // HS_SITE and the server key's HS_PUBKEY: built from the configuration, not stored
    const a = await s.get(`/api/handles/0.NA/${P}?index=300`, admin());
    expect(a.json.values[0].data.value).toMatch(/^scrypt\$/);
    expect(a.text).not.toContain('admin-secret-for-tests');
  });

  it('unknown API endpoints answer in Handle JSON', async () => {
    const r = await s.get('/api/nothing-here');
    expect(r.status).toBe(404);
    expect(r.json.responseCode).toBe(4);
  });

  it('/metrics counts resolutions per tier in the Prometheus text format', async () => {
    await s.get(`/api/handles/${P}/DOC-1`);
    const m = await s.get('/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain/);
    expect(m.text).toContain('# TYPE idnode_resolutions_total counter');
    expect(Number(/idnode_resolutions_total\{tier="memory"\} (\d+)/.exec(m.text)?.[1])).toBeGreaterThan(0);
    // CACHE_MAX_BYTES (default 128 MiB) less the request memos' share (1/4)
    expect(Number(/idnode_cache_max_bytes (\d+)/.exec(m.text)?.[1])).toBe((128 * 1024 * 1024 * 3) / 4);
  });

  it('/healthz and /readyz', async () => {
    expect((await s.get('/healthz')).json).toEqual({ status: 'ok' });
    const ready = await s.get('/readyz', admin());
    expect(ready.status).toBe(200);
    expect(ready.json.store).toBe(backend === 'pglite' ? 'pglite' : 'postgres');
    expect((await s.get('/readyz')).json).toEqual({ status: 'ready' }); // anonymous: the status only
  });
});

describe.skipIf(!hasPostgres)('store failures in the Handle REST face', () => {
  let s: TestServer;
  let db: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    db = await tempPostgres();
    s = await startTestServer('postgres+redis', {}, { databaseUrl: db.url, namespace: `t-${Math.random()}:` });
  });
  afterAll(async () => {
    await s?.close().catch(() => {});
    await db?.drop();
  });

  it('2 → 500 for a corrupt stored record, without a stack trace', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`insert into handles (key, handle, prefix_key, values, version) values ($1, $2, $3, '"garbage"'::jsonb, 1)`, [
      `${P}/CORRUPT`,
      `${P}/CORRUPT`,
      P,
    ]);
    await c.end();
    const r = await s.get(`/api/handles/${P}/CORRUPT`);
    expect(r.status).toBe(500);
    expect(r.json.responseCode).toBe(2);
    expect(r.text).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('3 → 503 when the store is unreachable and nothing is cached; /readyz says not ready', async () => {
    await s.node.store.close();
    const r = await s.get(`/api/handles/${P}/NEVER-SEEN`);
    expect(r.status).toBe(503);
    expect(r.json.responseCode).toBe(3);
    expect((await s.get('/readyz')).status).toBe(503);
  });
});
