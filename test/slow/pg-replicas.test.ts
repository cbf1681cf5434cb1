// Read replicas (DATABASE_REPLICA_URLS): a primary and a pg_basebackup replica started here; two nodes over them and
// Redis; replay paused and resumed, the replica stopped and restarted — no stale answer after an acknowledged write,
// no failed resolution, and reads back on the replica once it has caught up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, startTestServer, type TestServer } from '../helpers/node.js';
import { pgBinDir, startReplication, type Replication } from '../helpers/pg-replication.js';
import { hasPostgres, hasRedis, redisNamespace } from '../helpers/services.js';

const bin = pgBinDir();
const P = '88.320924';
// caches kept short, so repeated resolutions reach the store (and so the replica) again
const CACHE = { CACHE_MIN_TTL: '0', CACHE_MAX_TTL: '1', CACHE_NEGATIVE_TTL: '0', CACHE_STALE_TTL: '0' };

describe.skipIf(bin === null || !hasPostgres || !hasRedis)('PostgreSQL read replicas', () => {
  let rep: Replication;
  let a: TestServer;
  let b: TestServer;

  const put = async (s: TestServer, suffix: string, url: string) => {
    const r = await s.send('PUT', `/api/handles/${P}/${suffix}`, { values: [{ index: 1, type: 'URL', data: url }] }, admin());
    expect(r.status, r.text).toBeLessThan(300);
  };
  const urlOf = async (s: TestServer, suffix: string): Promise<string | null> => {
    const r = await s.get(`/api/handles/${P}/${suffix}`);
    if (r.status === 404 || r.json?.responseCode === 100) return null;
    expect(r.status, r.text).toBe(200);
    return r.json.values.find((v: { type: string }) => v.type === 'URL').data.value as string;
  };
  const stats = () => {
    const x = { replicaKeys: 0, lagKeys: 0, replicaErrors: 0 };
    for (const s of [a, b]) {
      const st = s.node.replicas!.stats;
      x.replicaKeys += st.replicaKeys;
      x.lagKeys += st.lagKeys;
      x.replicaErrors += st.replicaErrors;
    }
    return x;
  };
  const replayed = async (suffix: string) => {
    for (let i = 0; i < 200; i++) {
      const rows = await rep.replica.query(`select 1 from handles where key = '${P}/${suffix.toUpperCase()}'`);
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${suffix} never reached the replica`);
  };

  beforeAll(async () => {
    rep = await startReplication(bin!);
    const shared = { databaseUrl: rep.primary.url(), namespace: redisNamespace() };
    const env = { DATABASE_REPLICA_URLS: rep.replica.url(), ...CACHE };
    a = await startTestServer('postgres+redis', env, shared);
    b = await startTestServer('postgres+redis', env, shared);
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    rep?.stop();
  });

  it('resolution reads go to the replica', async () => {
    await put(a, 'R-1', 'https://one.example.com');
    await replayed('R-1');
    await new Promise((r) => setTimeout(r, 1100));
    const before = stats();
    for (let i = 0; i < 5; i++) {
      expect(await urlOf(b, 'R-1')).toBe('https://one.example.com');
      expect(await urlOf(a, 'R-1')).toBe('https://one.example.com');
      await new Promise((r) => setTimeout(r, 1050));
    }
    expect(stats().replicaKeys).toBeGreaterThan(before.replicaKeys);
    const m = await a.get('/metrics');
    expect(m.text).toMatch(/idnode_replica_reads_total\{source="replica"\} [1-9]/);
  }, 30_000);

  it('register then resolve stays exact while replay is paused, and reads return to the replica when it resumes', async () => {
    await rep.replica.query('select pg_wal_replay_pause()');
    try {
      const before = stats();
      let checked = 0;
      for (let i = 0; i < 20; i++) {
        const [w, r] = i % 2 === 0 ? [a, b] : [b, a];
        // new handles (resolved as missing first, so a negative answer is in play) and changes of an existing one
        expect(await urlOf(r, `LAG-${i}`)).toBeNull();
        await put(w, `LAG-${i}`, `https://lag.example.com/${i}`);
        expect(await urlOf(r, `LAG-${i}`)).toBe(`https://lag.example.com/${i}`);
        await put(w, 'R-1', `https://one.example.com/v${i}`);
        expect(await urlOf(r, 'R-1')).toBe(`https://one.example.com/v${i}`);
        expect(await urlOf(w, 'R-1')).toBe(`https://one.example.com/v${i}`);
        checked += 3;
      }
      expect(checked).toBe(60);
      // the replica is still paused: what was written is not there, so those reads went to the primary
      expect((await rep.replica.query(`select 1 from handles where key = '${P}/LAG-19'`)).length).toBe(0);
      expect(stats().lagKeys).toBeGreaterThan(before.lagKeys);
    } finally {
      await rep.replica.query('select pg_wal_replay_resume()');
    }
    await replayed('LAG-19');
    await new Promise((r) => setTimeout(r, 1500));
    const resumed = stats();
    for (let i = 0; i < 20; i++) expect(await urlOf(i % 2 ? a : b, `LAG-${i}`)).toBe(`https://lag.example.com/${i}`);
    expect(stats().replicaKeys).toBeGreaterThan(resumed.replicaKeys);
  }, 60_000);

  it('the replica stopped (cleanly, then as in a crash) and started again: no failed resolution, no stale answer', async () => {
    for (const mode of ['fast', 'immediate'] as const) {
      let failures = 0;
      let resolved = 0;
      let n = 0;
      const round = async (tag: string) => {
        for (let i = 0; i < 10; i++) {
          const [w, r] = n++ % 2 === 0 ? [a, b] : [b, a];
          const url = `https://stop.example.com/${mode}/${tag}/${i}`;
          await put(w, `STOP-${mode}`, url);
          try {
            expect(await urlOf(r, `STOP-${mode}`)).toBe(url);
            expect(await urlOf(r, 'R-1')).not.toBeNull();
            resolved += 2;
          } catch (e) {
            failures++;
            throw e;
          }
        }
      };
      await round('up');
      rep.replica.stop(mode);
      await round('down');
      await new Promise((r) => setTimeout(r, 1100));
      await round('down-later');
      rep.replica.start();
      await round('restarted');
      await replayed(`STOP-${mode}`);
      await new Promise((r) => setTimeout(r, 1500));
      const back = stats();
      await round('caught-up');
      await new Promise((r) => setTimeout(r, 1100));
      expect(await urlOf(a, 'R-1')).not.toBeNull();
      expect(await urlOf(b, 'R-1')).not.toBeNull();
      expect(stats().replicaKeys, `reads back on the replica after a ${mode} stop`).toBeGreaterThan(back.replicaKeys);
      expect(failures).toBe(0);
      expect(resolved).toBe(100);
    }
  }, 120_000);
});
