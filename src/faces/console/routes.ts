// The console face: the web app built into dist/console, its page at / and /console/, its hashed assets (long-lived) by @fastify/static.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONSOLE_ROUTES as S } from './schemas.js';

/**
 * Where the build put the console: dist/console, beside dist/src when the node runs from dist/, or under dist/ when
 * it runs from the sources (the tests).
 */
export const CONSOLE_DIR: string =
  ['../../../console/', '../../../dist/console/'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((d) => existsSync(`${d}index.html`)) ??
  fileURLToPath(new URL('../../../console/', import.meta.url));

/**
 * The page may load only the node's own scripts, styles and data (no CDN, nothing inline but style attributes), may
 * not be framed, and sends no referrer elsewhere.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface ConsoleDeps {
  /** the folder holding index.html and assets/ (CONSOLE_DIR by default) */
  dir?: string;
  nodePrefix: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The page when the console was not built (a node run from sources without `npm run build`): what to do, and a resolve box. */
function notBuilt(nodePrefix: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>idnode ${esc(nodePrefix)}</title></head><body>
<h1>idnode ${esc(nodePrefix)}</h1>
<p>网页控制台尚未构建：请运行 <code>npm run build</code> 后重启节点。 / The web console is not built: run <code>npm run build</code> and restart the node.</p>
<form action="/api/handles" method="get"><label>标识 / Identifier <input name="prefix" size="40" placeholder="${esc(nodePrefix)}/..."></label></form>
<p>API: <a href="/docs">/docs</a> · <a href="/healthz">/healthz</a></p></body></html>`;
}

export default async function consoleFace(app: FastifyInstance, d: ConsoleDeps): Promise<void> {
  const dir = d.dir ?? CONSOLE_DIR;
  const indexFile = `${dir}index.html`;
  const built = existsSync(indexFile);
  const html = built ? readFileSync(indexFile, 'utf8') : notBuilt(d.nodePrefix);

  const sendPage = (reply: FastifyReply) =>
    reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .header('x-frame-options', 'DENY')
      .type('text/html; charset=utf-8')
      .send(html);

  app.get('/', S.home, async (_req, reply) => sendPage(reply));
  app.get('/console', S.console, async (_req, reply) => sendPage(reply));
  app.get('/console/', S.console, async (_req, reply) => sendPage(reply));

  if (built) {
    // file names carry their content's hash: cached for a year, never revalidated; the build wrote .br and .gz beside
    // each (src/console/vite.config.ts). @fastify/static does the sending (ranges, encodings, path checks).
    await app.register(fastifyStatic, {
      root: `${dir}assets`,
      serve: false,
      index: false,
      list: false,
      dotfiles: 'deny',
      cacheControl: true,
      maxAge: '365d',
      immutable: true,
      etag: true,
      lastModified: false,
      preCompressed: true,
      setHeaders: (reply) => void reply.header('x-content-type-options', 'nosniff'),
    });
    app.get('/console/assets/*', S.asset, (req, reply) => {
      const name = (req.params as { '*': string })['*'];
      // one file of the folder: no sub-paths, no dot files (the names Vite writes)
      if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) return reply.callNotFound();
      return reply.sendFile(name);
    });
  }
}
