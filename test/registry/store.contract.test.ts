// Store contract suite: the reads, lists, audit queries and migrations of PGlite (in memory) and PostgreSQL alike (PGlite on disk: test/slow/pglite-data-folder.test.ts).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PERMISSIONS, type HandleValue } from '../../handle/types.js';
import { jsonb } from '../../registry/audit.js';
import { mutateHandle } from '../../registry/handles.js';
import { migrations } from '../../registry/migrations/index.js';
import { openPgliteStore, openPostgresStore } from '../../registry/open.js';
import type { Actor, HandleRecord, HandleRef, Store, WriteResult } from '../../registry/store.js';
import { alice, bob, freshPrefix, testContext } from '../helpers/registry-backends.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';
import { ALL_FORMATS, urlValue } from '../helpers/values.js';

/** A ref under `prefix` whose key is the suffix lower-cased: the store takes keys as given, whatever their case. */
function ref(prefix: string, suffix: string): HandleRef {
  const handle = `${prefix}/${suffix}`;
  return { handle, key: `${prefix}/${suffix.toLowerCase()}`, prefixKey: prefix };
}

/** Seeds a handle through the one write path (registry/handles.ts): `values` replace whatever is there. */
function writer(store: Store) {
  const ctx = testContext(store);
  return (r: HandleRef, values: HandleValue[], actor: Actor = alice, action = 'handle.create'): Promise<WriteResult> =>
    mutateHandle(ctx, r, action, actor, () => values);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StoreUnderTest {
  store: Store;
  cleanup: () => Promise<void>;
}

export function describeStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    let s: StoreUnderTest;
    let store: Store;
    let write: ReturnType<typeof writer>;

    beforeAll(async () => {
      s = await open();
      store = s.store;
      await store.migrate();
      write = writer(store);
    });
    afterAll(async () => {
      await s?.cleanup();
    });

    it('migrate again (twice, and concurrently) is harmless', async () => {
      const r = ref(freshPrefix(), 'keep');
      await write(r, [urlValue('https://a.example/')]);
      await store.migrate();
      await Promise.all([store.migrate(), store.migrate()]);
      expect((await store.getHandle(r.key))?.values).toEqual([urlValue('https://a.example/')]);
      await store.ping();
    });

    it('getHandle finds a handle by its canonical key only, with its original case, values and metadata', async () => {
      const prefix = freshPrefix();
      const r = ref(prefix, 'PUMP-2024-000123');
      const written = await write(r, [urlValue('https://example.com/pump')]);
      const got = await store.getHandle(r.key);
      expect(got).toEqual(written.after);
      const rec = got as HandleRecord;
      expect(rec.handle).toBe(`${prefix}/PUMP-2024-000123`);
      expect(rec.key).toBe(`${prefix}/pump-2024-000123`);
      expect(rec.prefixKey).toBe(prefix);
      expect(rec.values).toEqual([urlValue('https://example.com/pump')]);
      expect(typeof rec.version).toBe('number');
      expect(rec.createdAt).toBeInstanceOf(Date);
      expect(rec.updatedAt).toBeInstanceOf(Date);
      expect(await store.getHandle(`${prefix}/nope`)).toBeNull();
      expect(await store.getHandle(r.handle)).toBeNull(); // only the canonical key finds it
    });

    it('resolveHandle reads just the handle, its values as JSON text and the public answer serialised at write time', async () => {
      const r = ref(freshPrefix(), 'Resolve-Me');
      await write(r, [urlValue('https://r.example/')]);
      const got = await store.resolveHandle(r.key);
      expect(got!.handle).toBe(r.handle);
      expect(JSON.parse(got!.valuesJson)).toEqual([urlValue('https://r.example/')]);
      expect(got!.publicJson).toBe(
        '[{"index":1,"type":"URL","data":{"format":"string","value":"https://r.example/"},"ttl":86400,"timestamp":"2023-11-14T22:13:20Z"}]',
      );
      // a value without public read stays out of the public answer
      const hidden = { ...urlValue('https://h.example/', 2), permissions: { ...DEFAULT_PERMISSIONS, publicRead: false } };
      await write(r, [urlValue('https://r.example/'), hidden]);
      expect(JSON.parse((await store.resolveHandle(r.key))!.valuesJson)).toHaveLength(2);
      expect((await store.resolveHandle(r.key))!.publicJson).toBe(
        '[{"index":1,"type":"URL","data":{"format":"string","value":"https://r.example/"},"ttl":86400,"timestamp":"2023-11-14T22:13:20Z"}]',
      );
      expect(await store.resolveHandle(`${r.key}-MISSING`)).toBeNull();
    });

    it('resolveHandle answers a row written without public_json (before migration 003) with publicJson null', async () => {
      const r = ref(freshPrefix(), 'Legacy');
      await store.db.insertInto('handles').values({ key: r.key, handle: r.handle, prefix_key: r.prefixKey, values: jsonb([urlValue('https://l.example/')]), version: 1 }).execute();
      const got = await store.resolveHandle(r.key);
      expect(got).toEqual({ handle: r.handle, valuesJson: expect.any(String), publicJson: null });
      expect(JSON.parse(got!.valuesJson)).toEqual([urlValue('https://l.example/')]);
    });

    it('resolveHandles answers many keys in key order, null for the missing, repeats included', async () => {
      const p = freshPrefix();
      const a = ref(p, 'Many-A');
      const b = ref(p, 'Many-B');
      await write(a, [urlValue('https://a.example/')]);
      await write(b, [urlValue('https://b.example/')]);
      const got = await store.resolveHandles([b.key, `${p}/NONE`, a.key, b.key]);
      expect(got.map((g) => g?.handle ?? null)).toEqual([b.handle, null, a.handle, b.handle]);
      expect(got[0]).toEqual(await store.resolveHandle(b.key));
      expect(await store.resolveHandles([])).toEqual([]);
    });

    it('lists handles of a prefix in key order, with paging and totals', async () => {
      const prefix = freshPrefix();
      const other = freshPrefix();
      const suffixes = ['d', 'B', 'a', 'E', 'c'];
      for (const sfx of suffixes) await write(ref(prefix, sfx), [urlValue(`https://${sfx}.example/`)]);
      await write(ref(other, 'zzz'), [urlValue('https://o.example/')]);
      await write(ref(`${prefix}.1`, 'a'), [urlValue('https://sub.example/')]);

      const all = await store.listHandles(prefix);
      expect(all).toEqual({ total: 5, handles: ['a', 'B', 'c', 'd', 'E'].map((x) => `${prefix}/${x}`) });
      expect(await store.listHandles(prefix, { page: 0, pageSize: 2 })).toEqual({ total: 5, handles: [`${prefix}/a`, `${prefix}/B`] });
      expect(await store.listHandles(prefix, { page: 1, pageSize: 2 })).toEqual({ total: 5, handles: [`${prefix}/c`, `${prefix}/d`] });
      expect(await store.listHandles(prefix, { page: 2, pageSize: 2 })).toEqual({ total: 5, handles: [`${prefix}/E`] });
      expect(await store.listHandles(prefix, { page: 3, pageSize: 2 })).toEqual({ total: 5, handles: [] });
      expect(await store.listHandles(prefix, { pageSize: 3 })).toEqual({ total: 5, handles: [`${prefix}/a`, `${prefix}/B`, `${prefix}/c`] });
      expect(await store.listHandles('88.999.none')).toEqual({ total: 0, handles: [] });
    });

    it('listAudit filters by handle key, actor and time range, newest first, with a limit', async () => {
      const prefix = freshPrefix();
      const a = ref(prefix, 'one');
      const b = ref(prefix, 'two');
      const carol: Actor = { id: `carol-${prefix}`, address: '2001:db8::1' };
      const dave: Actor = { id: `dave-${prefix}` };
      await write(a, [urlValue('https://a1.example/')], carol);
      await sleep(15);
      await write(b, [urlValue('https://b1.example/')], dave);
      await sleep(15);
      await write(a, [urlValue('https://a2.example/')], dave, 'values.add');
      await sleep(15);
      await write(b, [urlValue('https://b2.example/')], carol, 'values.add');

      const byA = await store.listAudit({ handleKey: a.key });
      expect(byA.map((e) => e.action)).toEqual(['values.add', 'handle.create']);
      const byDave = await store.listAudit({ actor: dave.id });
      expect(byDave.map((e) => `${e.handle} ${e.action}`)).toEqual([`${a.handle} values.add`, `${b.handle} handle.create`]);
      expect(await store.listAudit({ actor: dave.id, handleKey: b.key })).toHaveLength(1);

      const [e4, e3, e2, e1] = [...byDave, ...(await store.listAudit({ actor: carol.id }))].sort((x, y) => y.id - x.id);
      expect(e1!.at.getTime()).toBeLessThan(e4!.at.getTime());
      // since is inclusive, until exclusive (times come back with millisecond precision)
      const mid = await store.listAudit({ actor: carol.id, since: e1!.at, until: e4!.at });
      expect(mid.map((e) => e.id)).toEqual([e1!.id]);
      const range = (await store.listAudit({ since: e2!.at, until: e4!.at })).filter((e) => e.handle?.startsWith(prefix));
      expect(range.map((e) => e.id)).toEqual([e3!.id, e2!.id]);
      const after = (await store.listAudit({ since: e3!.at })).filter((e) => e.handle?.startsWith(prefix));
      expect(after.map((e) => e.id)).toEqual([e4!.id, e3!.id]);
      expect(await store.listAudit({ actor: carol.id, until: new Date(e1!.at.getTime() - 1000) })).toEqual([]);

      expect(await store.listAudit({ handleKey: a.key, limit: 1 })).toHaveLength(1);
      expect((await store.listAudit({ handleKey: a.key, limit: 0 })).length).toBe(1); // clamped to at least 1
    });

    it('listAudit limit defaults to 100 and caps at 1000', async () => {
      const actor: Actor = { id: `bulk-${freshPrefix()}` };
      const r = ref(freshPrefix(), 'bulk');
      for (let i = 0; i < 105; i++) await write(r, [urlValue(`https://b${i}.example/`)], actor, 'values.add');
      expect(await store.listAudit({ actor: actor.id })).toHaveLength(100);
      expect(await store.listAudit({ actor: actor.id, limit: 5000 })).toHaveLength(105);
      const top = await store.listAudit({ actor: actor.id, limit: 2 });
      expect(top.map((e) => (e.after as HandleValue[] | null)?.[0]?.data.value)).toEqual(['https://b104.example/', 'https://b103.example/']);
    });
  });
}

// --- PGlite, in memory ---------------------------------------------------------------------------------------------
describeStoreContract('pglite (in-memory)', async () => {
  const store = await openPgliteStore(null);
  expect(store.kind).toBe('pglite');
  return { store, cleanup: () => store.close() };
});

// --- PostgreSQL ------------------------------------------------------------------------------------------------------
describe.skipIf(!hasPostgres)('postgres', () => {
  describeStoreContract('postgres', async () => {
    const db = await tempPostgres();
    const store = await openPostgresStore(db.url, { poolSize: 4 });
    expect(store.kind).toBe('postgres');
    return {
      store,
      cleanup: async () => {
        await store.close();
        await db.drop();
      },
    };
  });

  describe('postgres specifics', () => {
    let db: Awaited<ReturnType<typeof tempPostgres>>;
    let stores: Store[] = [];
    beforeAll(async () => {
      db = await tempPostgres();
    });
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await db?.drop();
    });

    it('several processes migrating a fresh database at once all succeed', async () => {
      stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore(db.url, { poolSize: 2 })));
      await Promise.all(stores.map((s) => s.migrate()));
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query<{ name: string }>('select name from kysely_migration order by name');
        expect(rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
        const idx = await c.query<{ indexname: string }>(
          "select indexname from pg_indexes where tablename in ('handles','audit_log') order by indexname",
        );
        expect(idx.rows.map((r) => r.indexname)).toEqual([
          'audit_log_actor_at_idx',
          'audit_log_at_idx',
          'audit_log_enterprise_at_idx',
          'audit_log_handle_key_at_idx',
          'audit_log_pkey',
          'handles_pkey',
          'handles_prefix_key_key_idx',
        ]);
      } finally {
        await c.end();
      }
    });

    it('getHandle works on every pooled connection (named prepared statement)', async () => {
      const store = stores[1]!;
      const r = ref(freshPrefix(), 'prep');
      await writer(store)(r, [urlValue('https://p.example/')]);
      const got = await Promise.all(Array.from({ length: 20 }, () => store.getHandle(r.key)));
      for (const g of got) expect(g?.values).toEqual([urlValue('https://p.example/')]);
      // JSONB holds the value list itself (an array), not a JSON string or a Postgres array literal
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query<{ t: string; a: string | null }>(
          'select jsonb_typeof(h.values) as t, jsonb_typeof(a.after) as a from handles h join audit_log a on a.handle_key = h.key where h.key = $1',
          [r.key],
        );
        expect(rows).toEqual([{ t: 'array', a: 'array' }]);
      } finally {
        await c.end();
      }
    });
  });
});
