// /metrics with WORKERS=2: every scrape, whichever worker answers it, is the same node-wide view of all workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { hasPostgres, hasRedis, redisNamespace, redisUrl, tempPostgres } from './helpers/services.js';

const ADMIN_HANDLE = '0.NA/88.320924';
const FOUND = 20;
const UNKNOWN = 10;

type Sample = Map<string, number>;

/** The sample lines of a Prometheus text exposition, by name with labels. */
function parse(text: string): Sample {
  const m: Sample = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const sp = line.lastIndexOf(' ');
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

const resolutions = (s: Sample) => ['memory', 'redis', 'store'].reduce((a, t) => a + (s.get(`idnode_resolutions_total{tier="${t}"}`) ?? 0), 0);
const pidsIn = (s: Sample) => [...s.keys()].flatMap((k) => /^idnode_process_info\{pid="(\d+)"\}$/.exec(k)?.[1] ?? []);

describe.skipIf(!hasPostgres || !hasRedis)('/metrics of idnode serve with WORKERS=2', () => {
  let db: { url: string; drop: () => Promise<void> };
  let node: ChildNode;
  let base = '';

  /** One scrape on a new connection (the cluster hands successive connections to different workers). */
  const scrape = async () => {
    const r = await request(`${base}/metrics`, { reset: true });
    const text = await r.body.text();
    return { status: r.statusCode, text, contentType: String(r.headers['content-type']), sample: parse(text) };
  };

  beforeAll(async () => {
    db = await tempPostgres();
    node = await startChildNode({ WORKERS: '2', NATIVE_PORT: '0', LATENCY_SAMPLE: '1', DATABASE_URL: db.url, REDIS_URL: redisUrl, REDIS_NAMESPACE: redisNamespace() });
    base = node.base;
    // both workers up: their pids seen on /metrics (in one scrape, or over several)
    const seen = new Set<string>();
    for (let i = 0; i < 100 && seen.size < 2; i++) {
      const s = await scrape();
      if (s.status === 200) for (const p of pidsIn(s.sample)) seen.add(p);
      if (seen.size < 2) await new Promise((res) => setTimeout(res, 50));
    }
    expect(seen.size, node.log()).toBe(2);
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    await db?.drop();
  });

  it('every scrape counts the resolutions of all workers, and scrapes without traffic between them agree', async () => {
    const before = resolutions((await scrape()).sample);
    for (let i = 0; i < FOUND; i++) {
      const r = await request(`${base}/api/handles/${ADMIN_HANDLE}`, { reset: true });
      await r.body.dump();
      expect(r.statusCode).toBe(200);
    }
    for (let i = 0; i < UNKNOWN; i++) {
      const r = await request(`${base}/api/handles/88.320924/NOPE-${i}`, { reset: true });
      await r.body.dump();
      expect(r.statusCode).toBe(404);
    }
    const scrapes = [];
    for (let i = 0; i < 6; i++) scrapes.push(await scrape());
    const totals = scrapes.map((s) => resolutions(s.sample));
    // the latency histogram (every request timed, LATENCY_SAMPLE=1) is summed over the workers like the counters
    const timed = scrapes.map((s) => s.sample.get('idnode_http_request_duration_seconds_count{face="handle-rest"}') ?? 0);
    for (const t of timed) expect(t, `timed ${timed.join(', ')}`).toBeGreaterThanOrEqual(FOUND + UNKNOWN);
    expect(new Set(timed).size, `timed ${timed.join(', ')}`).toBe(1);
    const misses = scrapes.map((s) => s.sample.get('idnode_cache_misses_total'));
    // logged, so a failure shows what each scrape said
    console.log(`resolutions before ${before}, after ${FOUND + UNKNOWN} requests: ${totals.join(', ')}; misses: ${misses.join(', ')}`);
    for (const t of totals) expect(t - before, `totals ${totals.join(', ')}`).toBeGreaterThanOrEqual(FOUND + UNKNOWN);
    expect(new Set(totals).size, `totals ${totals.join(', ')}`).toBe(1);
    expect(new Set(misses).size, `misses ${misses.join(', ')}`).toBe(1);
    for (const s of scrapes) {
      expect(s.status).toBe(200);
      expect(s.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(s.text).toContain('# TYPE idnode_resolutions_total counter');
      expect(pidsIn(s.sample)).toHaveLength(2); // one view of both workers
    }
  }, 30_000);

  it('counters never go down from one scrape to the next while traffic runs', async () => {
    // one request then three scrapes: with connections handed out in turn, the requests go to one worker and the
    // scrapes to both
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await request(`${base}/api/handles/${ADMIN_HANDLE}`, { reset: true });
      await r.body.dump();
      for (let j = 0; j < 3; j++) seen.push(resolutions((await scrape()).sample));
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i], `scrapes ${seen.join(', ')}`).toBeGreaterThanOrEqual(seen[i - 1]!);
  }, 30_000);

  it('a worker that does not answer makes the scrape fail within seconds instead of hanging it', async () => {
    const pids = pidsIn((await scrape()).sample).map(Number);
    expect(pids).toHaveLength(2);
    const stopped = pids[0]!;
    process.kill(stopped, 'SIGSTOP');
    try {
      // the stopped worker takes every other connection and never answers it; the other answers 503 in time
      let failed: { status: number; ms: number } | undefined;
      for (let i = 0; i < 4 && failed === undefined; i++) {
        const t0 = Date.now();
        try {
          const r = await request(`${base}/metrics`, { reset: true, headersTimeout: 8000, bodyTimeout: 8000 });
          await r.body.dump();
          failed = { status: r.statusCode, ms: Date.now() - t0 };
        } catch {
          // landed on the stopped worker
        }
      }
      expect(failed?.status).toBe(503);
      expect(failed!.ms).toBeLessThan(6000);
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
    // once it runs again, scrapes are whole again
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      const s = await scrape();
      ok = s.status === 200 && pidsIn(s.sample).length === 2;
      if (!ok) await new Promise((res) => setTimeout(res, 250));
    }
    expect(ok).toBe(true);
  }, 60_000);
});
