// Stored records whose values are not the value model (public answer still set) must never end the node's process.
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { tcpRequest, udpRequest, type Answer } from '../helpers/native-client.js';
import { admin, NODE_PREFIX } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, redisUrl, tempPostgres } from '../helpers/services.js';
import { urlValue } from '../helpers/values.js';
import type { HandleValue } from '../../handle/types.js';

const GOOD = [
  { index: 1, type: 'URL', data: 'https://example.org/hostile' },
  { index: 2, type: 'DESC', data: 'a description' },
];

/** A complete stored value, to break one part of at a time. */
const whole: HandleValue = urlValue('https://example.org/x');
const without = (k: keyof typeof whole) => Object.fromEntries(Object.entries(whole).filter(([n]) => n !== k));

/** What the `values` column is set to; `public_json` keeps the answer written with the handle. */
const CORRUPTIONS: { name: string; values: unknown }[] = [
  { name: 'a value with an index only', values: [{ index: 1 }] },
  { name: 'a value with a null type', values: [{ index: 1, type: null }] },
  { name: 'numbers instead of values', values: [1, 2] },
  { name: 'an object instead of a list', values: { x: 1 } },
  { name: 'JSON null instead of a list', values: null },
  { name: 'a value without data', values: [without('data')] },
  { name: 'a value without permissions', values: [without('permissions')] },
  // complete enough to be copied into Redis as it is, then broken where the answer is built
  { name: 'a whole value with a null type', values: [{ ...whole, type: null }] },
  { name: 'a whole value with a text timestamp', values: [{ ...whole, timestamp: 'soon' }] },
  { name: 'a whole value with null data', values: [{ ...whole, data: null }] },
];

const STACK = /\n\s+at |TypeError|RangeError|SyntaxError|ReferenceError|Cannot read prop/;

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A GET; an Error when the connection failed (the node may have gone: callers check that first). */
async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Got | Error> {
  try {
    const r = await request(base + path, { headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  } catch (e) {
    return e as Error;
  }
}

function answered(label: string, g: Got | Error): Got {
  if (g instanceof Error) throw new Error(`${label}: no answer (${g.message})`);
  return g;
}

/**
 * An answer in the Handle JSON of the face: a responseCode, values when it says success, and no stack trace.
 * Soft: the case goes on to its other requests (whether the node is still up is checked hard, after each).
 */
function expectHandleJson(label: string, g: Got): void {
  expect.soft(g.text, `${label}: stack trace in the body`).not.toMatch(STACK);
  expect.soft(String(g.headers['content-type']), `${label}: HTTP ${g.status} ${g.text.slice(0, 100)}`).toMatch(/^application\/json/);
  let body: { responseCode?: unknown; values?: unknown };
  try {
    body = JSON.parse(g.text) as typeof body;
  } catch {
    expect.soft(false, `${label}: HTTP ${g.status} body is not JSON: ${g.text.slice(0, 300)}`).toBe(true);
    return;
  }
  expect.soft(typeof body.responseCode, `${label}: responseCode in ${g.text.slice(0, 300)}`).toBe('number');
  if (g.status === 200) {
    expect.soft([1, 200], `${label}: HTTP 200 with responseCode ${String(body.responseCode)}`).toContain(body.responseCode);
    expect.soft(Array.isArray(body.values), `${label}: values`).toBe(true);
  } else {
    expect.soft(g.status >= 400 && g.status < 600, `${label}: HTTP ${g.status}`).toBe(true);
    expect.soft(body.responseCode, `${label}: an error code`).not.toBe(1);
  }
}

const setups: { name: string; redis: boolean }[] = [
  { name: 'PostgreSQL + Redis', redis: true },
  { name: 'PostgreSQL only', redis: false },
];

describe.skipIf(!hasPostgres || !hasRedis)('stored records that are not the value model', () => {
  describe.each(setups)('node on $name', ({ redis }) => {
    let db: { url: string; drop: () => Promise<void> };
    let sql: pg.Client;
    let node: ChildNode;
    const namespace = redisNamespace();
    const deaths: string[] = [];

    const start = async () => {
      node = await startChildNode({ DATABASE_URL: db.url, REDIS_URL: redis ? redisUrl : '', REDIS_NAMESPACE: namespace });
    };

    const put = async (h: string, values: unknown) => {
      const r = await request(`${node.base}/api/handles/${h}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...admin() },
        body: JSON.stringify(values),
      });
      const text = await r.body.text();
      expect(r.statusCode, text).toBeLessThan(300);
    };

    /** Fails with what the node last wrote when it is gone after `label`. */
    const expectAlive = async (label: string) => {
      const ok = await node.alive();
      if (!ok) deaths.push(label);
      expect(ok, `the node exited (code ${String(node.exited())}) after ${label}; its output:\n${node.log().slice(-2000)}`).toBe(true);
      expect(node.exited()).toBeNull();
    };

    beforeAll(async () => {
      db = await tempPostgres();
      sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      await start();
    }, 60_000);

    // a case that ended the node leaves the next one a fresh node on the same database
    beforeEach(async () => {
      if (!(await node.alive())) await start();
    }, 60_000);

    afterAll(async () => {
      await node?.stop();
      await sql?.end();
      await db?.drop();
    });

    it.each(CORRUPTIONS.map((c, i) => ({ ...c, i })))('$name: every request is answered and the node stays up', async ({ values, i }) => {
      const h = `${NODE_PREFIX}/hostile-${i}`;
      await put(h, GOOD);
      const u = await sql.query<{ n: number }>(
        `update handles set values = $1::jsonb where handle = $2 and public_json is not null returning 1 as n`,
        [JSON.stringify(values), h],
      );
      expect(u.rowCount, 'the row was corrupted with public_json kept').toBe(1);

      // the unfiltered answer comes from public_json and puts the record in the node's memory cache (where the node
      // takes it in: today not when its values cannot be copied to Redis or give no TTL)
      const first = await get(node.base, `/api/handles/${h}`);
      await expectAlive(`GET /api/handles/${h}`);
      expectHandleJson('first unfiltered GET', answered('first unfiltered GET', first));

      // now the cached record's values are read: filters, the proxy redirect, the native face
      const apiPaths = [`/api/handles/${h}?type=URL`, `/api/handles/${h}?index=1`, `/api/handles/${h}`, `/api/handles/${h}`, `/api/handles/${h}?type=URL&pretty`];
      for (const path of apiPaths) {
        const g = await get(node.base, path);
        await expectAlive(`GET ${path}`);
        expectHandleJson(`GET ${path}`, answered(`GET ${path}`, g));
      }
      for (const path of [`/${h}`, `/${h}?noredirect`]) {
        const label = `GET ${path} (Accept: application/json)`;
        const got = await get(node.base, path, { accept: 'application/json' });
        await expectAlive(label);
        const g = answered(label, got);
        if (g.status === 302) expect.soft(g.headers.location, `${label}: redirect target`).toBeTruthy();
        else expectHandleJson(label, g);
      }
      const nativeAsks: [string, () => Promise<Answer>][] = [
        ['native TCP resolution type=URL', () => tcpRequest(node.nativePort, { handle: h, types: ['URL'] })],
        ['native UDP resolution type=URL', () => udpRequest(node.nativePort, { handle: h, types: ['URL'] })],
        ['native TCP resolution', () => tcpRequest(node.nativePort, { handle: h })],
      ];
      for (const [label, ask] of nativeAsks) {
        const a = await ask().catch((e: unknown) => e as Error);
        await expectAlive(label);
        if (a instanceof Error) expect.soft(a.message, `${label}: no answer`).toBe('an answer');
        else expect.soft(typeof a.message.header.responseCode, label).toBe('number');
      }
    });

    it('a normal handle still resolves on every face afterwards', async () => {
      const h = `${NODE_PREFIX}/hostile-normal`;
      await put(h, GOOD);
      for (const path of [`/api/handles/${h}`, `/api/handles/${h}?type=URL`]) {
        const g = answered(path, await get(node.base, path));
        expect(g.status, path).toBe(200);
        const body = JSON.parse(g.text) as { responseCode: number; values: { type: string; data: { value: string } }[] };
        expect(body.responseCode).toBe(1);
        expect(body.values.find((v) => v.type === 'URL')?.data.value).toBe('https://example.org/hostile');
      }
      const redirect = answered('proxy', await get(node.base, `/${h}`));
      expect(redirect.status).toBe(302);
      expect(redirect.headers.location).toBe('https://example.org/hostile');
      const a = await tcpRequest(node.nativePort, { handle: h, types: ['URL'] });
      expect(a.message.header.responseCode).toBe(1);
      await expectAlive('the normal handle');
    });

    it('no request ended the node', () => {
      expect(deaths, 'requests after which the node had exited').toEqual([]);
    });
  });
});
