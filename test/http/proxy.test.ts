// Proxy-style resolution: redirects, noredirect views, filters, urlappend, cache headers, readable 404s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';

const P = NODE_PREFIX;

describe('proxy resolution', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('pglite');
    await s.send('PUT', `/api/handles/${P}/PUMP-1`, [
      { index: 2, type: 'URL', data: 'https://example.com/pump?id=1', ttl: 300 },
      { index: 1, type: 'URL.mirror', data: 'https://mirror.example.com/pump', ttl: 120 },
      { index: 3, type: 'DESC', data: '<b>泵</b>', ttl: 600 },
    ], admin());
    await s.send('PUT', `/api/handles/${P}/MIRROR-ONLY`, [{ index: 1, type: 'URL.cn', data: 'https://cn.example.com/x' }], admin());
    await s.send('PUT', `/api/handles/${P}/NO-URL`, [{ index: 1, type: 'DESC', data: 'text only' }], admin());
  });
  afterAll(async () => s?.close());

  it('302 to the first URL value, with Cache-Control and Expires from the smallest TTL', async () => {
    const r = await s.get(`/${P}/pump-1`);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('https://example.com/pump?id=1');
    expect(r.headers['cache-control']).toBe('public, max-age=120');
    expect(Date.parse(String(r.headers.expires))).toBeGreaterThan(Date.now() + 100_000);
  });

  it('a repeated redirect follows a change of the record at once', async () => {
    await s.send('PUT', `/api/handles/${P}/MOVING`, [{ index: 1, type: 'URL', data: 'https://old.example.com/' }], admin());
    for (let i = 0; i < 3; i++) expect((await s.get(`/${P}/MOVING`)).headers.location).toBe('https://old.example.com/');
    await s.send('PUT', `/api/handles/${P}/MOVING?index=1`, [{ index: 1, type: 'URL', data: 'https://new.example.com/a b' }], admin());
    const moved = await s.get(`/${P}/MOVING`);
    expect(moved.headers.location).toBe('https://new.example.com/a%20b');
    await s.send('DELETE', `/api/handles/${P}/MOVING`, undefined, admin());
    expect((await s.get(`/${P}/MOVING`)).status).toBe(404);
  });

  it('absolute TTLs count down in Cache-Control', async () => {
    const expires = new Date(Date.now() + 1000 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    await s.send('PUT', `/api/handles/${P}/ABS`, [{ index: 1, type: 'URL', data: 'https://abs.example.com/', ttl: expires }], admin());
    for (let i = 0; i < 2; i++) {
      const r = await s.get(`/${P}/ABS`);
      expect(r.headers.location).toBe('https://abs.example.com/');
      const maxAge = Number(/max-age=(\d+)/.exec(String(r.headers['cache-control']))?.[1]);
      expect(maxAge).toBeGreaterThan(990);
      expect(maxAge).toBeLessThanOrEqual(1000);
    }
  });

  it('falls back to URL.* and honours type, index and urlappend', async () => {
    expect((await s.get(`/${P}/MIRROR-ONLY`)).headers.location).toBe('https://cn.example.com/x');
    expect((await s.get(`/${P}/PUMP-1?type=URL.mirror`)).headers.location).toBe('https://mirror.example.com/pump');
    expect((await s.get(`/${P}/PUMP-1?index=1&type=URL.`)).headers.location).toBe('https://mirror.example.com/pump');
    expect((await s.get(`/${P}/PUMP-1?urlappend=%26lang%3Dzh`)).headers.location).toBe('https://example.com/pump?id=1&lang=zh');
  });

  it('noredirect shows the values: HTML for browsers (escaped), JSON on Accept: application/json', async () => {
    const html = await s.get(`/${P}/PUMP-1?noredirect`, { accept: 'text/html' });
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.text).toContain('&lt;b&gt;泵&lt;/b&gt;');
    const json = await s.get(`/${P}/PUMP-1?noredirect`, { accept: 'application/json' });
    expect(json.json.values.map((v: any) => v.index)).toEqual([2, 1, 3]);
    const noUrl = await s.get(`/${P}/NO-URL`);
    expect(noUrl.status).toBe(200);
    expect(noUrl.text).toContain('text only');
  });

  it('a readable 404 page for unknown handles, JSON when asked, 400 for malformed ones', async () => {
    const r = await s.get(`/${P}/UNKNOWN`, { accept: 'text/html' });
    expect(r.status).toBe(404);
    expect(r.text).toContain('Handle not found');
    const j = await s.get(`/${P}/UNKNOWN`, { accept: 'application/json' });
    expect(j.json.responseCode).toBe(100);
    const bad = await s.get(`/${P}/%FF`);
    expect(bad.status).toBe(400);
    expect(bad.text).not.toMatch(/at .*\.(ts|js):\d+/);
  });
});
