// The console face: the page at / and /console/ (no-cache, strict CSP), hashed assets cached for a year and sent pre-compressed, nothing outside them, and a clear page when the console was not built.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import consoleFace from '../../src/faces/console/routes.js';
import { serializerCompiler, validatorCompiler } from '../../src/faces/schema-compilers.js';
import { startTestServer, type TestServer } from '../helpers/node.js';

/** A fastify app with the node's zod schema compilers, as src/server.ts sets them. */
function bare(): FastifyInstance {
  const app = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  return app;
}

describe('console face on a built folder', () => {
  let dir: string;
  let app: FastifyInstance;
  const script = 'console.log("idnode console")';
  beforeAll(async () => {
    dir = `${mkdtempSync(join(tmpdir(), 'idnode-console-'))}/`;
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div><script type="module" src="/console/assets/index-AbC123.js"></script>');
    writeFileSync(join(dir, 'assets', 'index-AbC123.js'), script);
    writeFileSync(join(dir, 'assets', 'index-AbC123.js.br'), brotliCompressSync(script));
    writeFileSync(join(dir, 'secret.txt'), 'not an asset');
    writeFileSync(join(dir, 'assets', '.hidden'), 'not an asset');
    app = bare();
    await app.register(consoleFace, { dir, nodePrefix: '88.1' });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page at / and /console/ uncached, under a CSP that allows only this origin', async () => {
    for (const url of ['/', '/console', '/console/']) {
      const r = await app.inject({ url });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('<div id="app">');
      expect(r.headers['cache-control']).toBe('no-cache');
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-eval');
      expect(r.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('serves hashed assets for a year, immutable, pre-compressed when the client takes it', async () => {
    const plain = await app.inject({ url: '/console/assets/index-AbC123.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe(script);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['x-content-type-options']).toBe('nosniff');
    const br = await app.inject({ url: '/console/assets/index-AbC123.js', headers: { 'accept-encoding': 'br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.rawPayload).toString()).toBe(script);
  });

  it('serves nothing outside the assets folder, and no listing', async () => {
    // (the inject client normalises `..` segments away: the encoded slashes and the dot file are what reach the route)
    for (const url of ['/console/assets/', '/console/assets/..%2fsecret.txt', '/console/assets/%2e%2e%2fsecret.txt', '/console/assets/.hidden', '/console/assets/nope.js', '/console/secret.txt']) {
      const r = await app.inject({ url });
      expect([403, 404], url).toContain(r.statusCode);
      expect(r.body).not.toContain('not an asset');
    }
  });
});

describe('console face without a build', () => {
  it('says how to build it, and still offers the API docs', async () => {
    const app = bare();
    await app.register(consoleFace, { dir: '/nonexistent/console/', nodePrefix: '88.1' });
    const r = await app.inject({ url: '/' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('npm run build');
    expect(r.body).toContain('/docs');
    await app.close();
  });
});

describe('console in the node', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('pglite');
  });
  afterAll(async () => s?.close());

  it('the home page is the built console, and its script and stylesheet load', async () => {
    const page = await s.get('/');
    expect(page.status).toBe(200);
    const html = page.text;
    expect(html).toContain('lang="zh-CN"');
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      const r = await s.get(a);
      expect(r.status, a).toBe(200);
      expect(r.headers['cache-control']).toContain('immutable');
    }
  });
});
