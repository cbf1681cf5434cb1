// Distinct request variants of one large cached handle, on HTTP and native, must not grow the node past CACHE_MAX_BYTES.
import { connect } from 'node:net';
import { Pool, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ENVELOPE_AT, ENVELOPE_SIZE } from '../../handle/wire/envelope.js';
import { HEADER_AT } from '../../handle/wire/message.js';
import { startChildNode, type ChildNode } from '../helpers/child-node.js';
import { requestBytes, OPFLAG } from '../helpers/native-client.js';
import { admin, NODE_PREFIX } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, redisUrl, tempPostgres } from '../helpers/services.js';

const MiB = 1024 * 1024;
/** the node's cache budget in this test */
const CACHE_MAX_BYTES = 32 * MiB;
/**
 * What the node may hold above its settled baseline besides the cache budget: V8 heap headroom and garbage of the
 * flood not yet collected (every answer is built and thrown away), allocator slack. Measured with the per-request
 * answer memos turned off, 9 runs on a busy 2-core machine: settled growth −8…73 MiB over HTTP and 7…52 MiB over
 * native (peaks ≤ 90 MiB over baseline). Before the memos were put inside the budget (commit da891d6): +400–520 MiB,
 * and it stayed.
 */
const OVERHEAD = 96 * MiB;

/** a suffix with many letters: its ASCII case variants are distinct URLs of one (case-insensitive) handle */
const SUFFIX = 'memory-flood-abcdefghijklmnop';
const HANDLE = `${NODE_PREFIX}/${SUFFIX}`;
const VALUES = 15;
const VALUE_BYTES = 60_000; // under the 65535-byte limit of one value
const HTTP_VARIANTS = 600;
const NATIVE_VARIANTS = 450;
const CONCURRENCY = 16;

/** The i-th case variant of the suffix (i ≥ 1: never the stored spelling). */
function variant(i: number): string {
  let bit = 0;
  let out = '';
  for (const c of SUFFIX) {
    if (c >= 'a' && c <= 'z') out += (i >> bit++) & 1 ? c.toUpperCase() : c;
    else out += c;
  }
  return out;
}

function largeValues() {
  return Array.from({ length: VALUES }, (_, k) => ({
    index: k + 1,
    type: 'DESC',
    data: `${k}:`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (k % 26))),
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `n` tasks with at most `limit` at once. */
async function bounded(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** RSS while `flood` runs (sampled every 100 ms) and after it, over ~2.5 s; settled is the lowest of the late samples. */
async function measure(node: ChildNode, flood: () => Promise<void>): Promise<{ baseline: number; peak: number; settled: number; samples: number[]; floodMs: number }> {
  await sleep(1500);
  const before: number[] = [];
  for (let i = 0; i < 5; i++) {
    before.push(node.rss());
    await sleep(100);
  }
  const baseline = Math.min(...before);
  let peak = baseline;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, node.rss());
    } catch {
      // exited: the test fails on its answers
    }
  }, 100);
  const t0 = Date.now();
  try {
    await flood();
  } finally {
    clearInterval(timer);
  }
  const floodMs = Date.now() - t0;
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    await sleep(250);
    samples.push(node.rss());
  }
  peak = Math.max(peak, ...samples);
  return { baseline, peak, settled: Math.min(...samples.slice(-4)), samples, floodMs };
}

const mb = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

describe.skipIf(!hasPostgres || !hasRedis)(`variants of one large handle, CACHE_MAX_BYTES=${CACHE_MAX_BYTES}`, () => {
  let node: ChildNode | undefined;
  let db: { url: string; drop: () => Promise<void> } | undefined;

  afterEach(async () => {
    await node?.stop();
    await db?.drop();
    node = undefined;
    db = undefined;
  });

  async function start(): Promise<ChildNode> {
    db = await tempPostgres();
    node = await startChildNode({ DATABASE_URL: db.url, REDIS_URL: redisUrl, REDIS_NAMESPACE: redisNamespace(), CACHE_MAX_BYTES: String(CACHE_MAX_BYTES) });
    const r = await request(`${node.base}/api/handles/${HANDLE}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...admin() },
      body: JSON.stringify(largeValues()),
    });
    expect(r.statusCode, await r.body.text()).toBeLessThan(300);
    return node;
  }

  it(`${HTTP_VARIANTS} case variants of its URL on the Handle REST face: RSS stays within the budget plus ${mb(OVERHEAD)}`, async () => {
    const n = await start();
    const pool = new Pool(n.base, { connections: CONCURRENCY, pipelining: 1 });
    let answered = 0;
    const get = async (path: string, want: string) => {
      const r = await pool.request({ method: 'GET', path });
      let bytes = 0;
      let head = '';
      for await (const chunk of r.body as AsyncIterable<Buffer>) {
        if (head.length < 200) head += chunk.toString('latin1', 0, 200);
        bytes += chunk.length;
      }
      expect(r.statusCode, `${path}: ${head.slice(0, 200)}`).toBe(200);
      expect(head.startsWith(`{"responseCode":1,"handle":"${want}"`), head.slice(0, 120)).toBe(true);
      expect(bytes).toBeGreaterThan(VALUES * VALUE_BYTES);
    };
    try {
      // warm: the record is in the node's cache
      await get(`/api/handles/${HANDLE}`, HANDLE);
      const m = await measure(n, () =>
        bounded(HTTP_VARIANTS, CONCURRENCY, async (i) => {
          const h = `${NODE_PREFIX}/${variant(i + 1)}`;
          await get(`/api/handles/${h}`, h);
          answered++;
        }),
      );
      const growth = m.settled - m.baseline;
      console.info(`HTTP: ${answered} variants in ${m.floodMs} ms; RSS baseline ${mb(m.baseline)}, peak ${mb(m.peak)}, settled ${mb(m.settled)} (growth ${mb(growth)}); samples ${m.samples.map(mb).join(' ')}`);
      expect(answered).toBe(HTTP_VARIANTS);
      expect(n.exited()).toBeNull();
      expect(growth, `settled RSS growth ${mb(growth)} after ${HTTP_VARIANTS} URL variants (baseline ${mb(m.baseline)}, peak ${mb(m.peak)}, settled ${mb(m.settled)})`).toBeLessThanOrEqual(
        CACHE_MAX_BYTES + OVERHEAD,
      );
    } finally {
      await pool.close();
    }
  }, 60_000);

  it(`${NATIVE_VARIANTS} index lists over native TCP: RSS stays within the budget plus ${mb(OVERHEAD)}`, async () => {
    const n = await start();
    const all = Array.from({ length: VALUES }, (_, k) => k + 1);
    let answered = 0;
    /** One keep-alive connection asking its share of the lists one after another; each answer must be a success. */
    const connection = async (lists: number[][]) => {
      const s = connect({ port: n.nativePort, host: '127.0.0.1' });
      await new Promise<void>((resolve, reject) => {
        s.once('connect', resolve);
        s.once('error', reject);
      });
      let chunks: Buffer[] = [];
      let have = 0;
      let pending: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
      const fail = (e: Error) => {
        pending?.reject(e);
        pending = null;
      };
      s.on('error', fail);
      s.on('close', () => fail(new Error('connection closed')));
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        have += c.length;
        for (;;) {
          if (have < ENVELOPE_SIZE) return;
          if (chunks[0]!.length < ENVELOPE_SIZE) chunks = [Buffer.concat(chunks)];
          const total = ENVELOPE_SIZE + chunks[0]!.readUInt32BE(ENVELOPE_AT.messageLength);
          if (have < total) return;
          const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          chunks = have > total ? [all.subarray(total)] : [];
          have -= total;
          const p = pending;
          pending = null;
          p?.resolve(all.subarray(0, total));
        }
      });
      try {
        for (const indexes of lists) {
          const answer = new Promise<Buffer>((resolve, reject) => (pending = { resolve, reject }));
          s.write(requestBytes({ handle: HANDLE, indexes, opFlags: OPFLAG.KEEP_ALIVE }).bytes);
          const a = await answer;
          expect(a.readUInt32BE(ENVELOPE_SIZE + HEADER_AT.responseCode), `responseCode for [${indexes.join(',')}]`).toBe(1);
          expect(a.length).toBeGreaterThan(VALUES * VALUE_BYTES);
          answered++;
        }
      } finally {
        s.destroy();
      }
    };
    // warm
    await connection([all]);
    answered = 0;
    // each list asks for every value and one index the handle does not have: distinct requests, whole answers
    const lists = Array.from({ length: NATIVE_VARIANTS }, (_, i) => [...all, 1000 + i]);
    const perConnection = Array.from({ length: CONCURRENCY }, (_, c) => lists.filter((_, i) => i % CONCURRENCY === c));
    const m = await measure(n, async () => {
      await Promise.all(perConnection.map(connection));
    });
    const growth = m.settled - m.baseline;
    console.info(`native: ${answered} index lists in ${m.floodMs} ms; RSS baseline ${mb(m.baseline)}, peak ${mb(m.peak)}, settled ${mb(m.settled)} (growth ${mb(growth)}); samples ${m.samples.map(mb).join(' ')}`);
    expect(answered).toBe(NATIVE_VARIANTS);
    expect(n.exited()).toBeNull();
    expect(growth, `settled RSS growth ${mb(growth)} after ${NATIVE_VARIANTS} index lists (baseline ${mb(m.baseline)}, peak ${mb(m.peak)}, settled ${mb(m.settled)})`).toBeLessThanOrEqual(
      CACHE_MAX_BYTES + OVERHEAD,
    );
  }, 60_000);
});
