// Store contract suite: the same behaviour from the PGlite (in-memory and on disk) and PostgreSQL backends.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../handle/codes.js';
import { valuesToJson } from '../../handle/json.js';
import { DEFAULT_PERMISSIONS, type HandleValue } from '../../handle/types.js';
import { migrations } from '../../registry/migrations/index.js';
import { openPgliteStore, openPostgresStore } from '../../registry/open.js';
import type { Actor, HandleRecord, HandleRef, Mutation, Store } from '../../registry/store.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';

const perms = { ...DEFAULT_PERMISSIONS };

function value(index: number, type: string, data: HandleValue['data'], extra: Partial<HandleValue> = {}): HandleValue {
  return { index, type, data, ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, permissions: perms, references: [], ...extra };
}

function url(u: string, index = 1): HandleValue {
  return value(index, 'URL', { format: 'string', value: u });
}

/** One value of every data format, with unicode, escapes and non-default permissions/ttl/references. */
const ALL_FORMATS: HandleValue[] = [
  value(1, 'URL', { format: 'string', value: 'https://例え.jp/产品/泵?q=ä&x="y"\\z\n\t' }),
  value(2, 'DESC', { format: 'string', value: '工业互联网标识 🏭 — Ünïcödé e\u0301 \u{1F600} \u2028' }),
  value(3, 'BLOB', { format: 'base64', value: 'AAECA//+/Q==' }),
  value(100, 'HS_ADMIN', { format: 'admin', value: { handle: '0.NA/88.320924', index: 200, permissions: '011111110011' } }),
  value(200, 'HS_VLIST', {
    format: 'vlist',
    value: [
      { handle: '0.NA/88.320924', index: 300 },
      { handle: '88.320924.17/管理员', index: 301 },
    ],
  }),
  value(5, 'HS_SITE', {
    format: 'site',
    value: { version: 1, protocolVersion: '2.10', serialNumber: 1, primarySite: true, multiPrimary: false, servers: [{ serverId: 1, address: '::1', publicKey: { format: 'key', value: null }, interfaces: [{ query: true, admin: true, protocol: 'TCP', port: 2641 }] }], attributes: [{ name: 'desc', value: '主站点' }] },
  }),
  value(300, 'HS_PUBKEY', { format: 'key', value: { kty: 'RSA', n: 'qwerty', e: 'AQAB', nested: { empty: {}, list: [], n: null, f: 1.5, neg: -3, big: 2147483647 } } }, {
    ttlType: 'absolute',
    ttl: 1_893_456_000,
    permissions: { adminRead: true, adminWrite: false, publicRead: false, publicWrite: false },
    references: [{ handle: '88.320924.17/ref', index: 1 }],
  }),
];

const alice: Actor = { id: '300:0.NA/88.320924', address: '192.0.2.10' };
const bob: Actor = { id: 'cli' };

let seq = 0;
/** A fresh prefix and a ref under it, so tests never see each other's rows. */
function freshPrefix(): string {
  seq += 1;
  return `88.320924.${Date.now() % 100000}${seq}`;
}
function ref(prefix: string, suffix: string): HandleRef {
  const handle = `${prefix}/${suffix}`;
  return { handle, key: `${prefix}/${suffix.toLowerCase()}`, prefixKey: prefix };
}

const put = (values: HandleValue[]): Mutation => () => values;
const createOnly = (values: HandleValue[]): Mutation => (cur) => {
  if (cur) throw new HandleError(RC.HANDLE_ALREADY_EXISTS, `exists: ${cur.handle}`);
  return values;
};
const del: Mutation = (cur) => {
  if (!cur) throw new HandleError(RC.HANDLE_NOT_FOUND, 'not found');
  return null;
};
const same: Mutation = (cur) => {
  if (!cur) throw new HandleError(RC.HANDLE_NOT_FOUND, 'not found');
  return cur.values;
};

async function codeOf(p: Promise<unknown>): Promise<number | string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof HandleError ? e.code : `other: ${String(e)}`;
  }
}

/** A deep copy with every object's keys in reverse order. */
function reverseKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(reverseKeys);
  if (x === null || typeof x !== 'object') return x;
  return Object.fromEntries(Object.entries(x).reverse().map(([k, v]) => [k, reverseKeys(v)]));
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

    beforeAll(async () => {
      s = await open();
      store = s.store;
      await store.migrate();
    });
    afterAll(async () => {
      await s?.cleanup();
    });

    it('migrate again (twice, and concurrently) is harmless', async () => {
      const r = ref(freshPrefix(), 'keep');
      await store.mutate(r, 'handle.create', alice, put([url('https://a.example/')]));
      await store.migrate();
      await Promise.all([store.migrate(), store.migrate()]);
      expect((await store.getHandle(r.key))?.values).toEqual([url('https://a.example/')]);
      await store.ping();
    });

    it('creates and gets a handle with its original case under the canonical key', async () => {
      const prefix = freshPrefix();
      const r = ref(prefix, 'PUMP-2024-000123');
      const before = Date.now();
      const res = await store.mutate(r, 'handle.create', alice, createOnly([url('https://example.com/pump')]));
      expect(res.before).toBeNull();
      expect(res.after).toMatchObject({ handle: r.handle, key: r.key, prefixKey: prefix, version: 1 });

      const got = await store.getHandle(r.key);
      expect(got).not.toBeNull();
      const rec = got as HandleRecord;
      expect(rec.handle).toBe(`${prefix}/PUMP-2024-000123`);
      expect(rec.key).toBe(`${prefix}/pump-2024-000123`);
      expect(rec.prefixKey).toBe(prefix);
      expect(rec.values).toEqual([url('https://example.com/pump')]);
      expect(rec.version).toBe(1);
      expect(typeof rec.version).toBe('number');
      expect(rec.createdAt).toBeInstanceOf(Date);
      expect(rec.updatedAt).toBeInstanceOf(Date);
      expect(Math.abs(rec.createdAt.getTime() - before)).toBeLessThan(60_000);
      expect(res.after).toEqual(rec);

      expect(await store.getHandle(`${prefix}/nope`)).toBeNull();
      expect(await store.getHandle(r.handle)).toBeNull(); // only the canonical key finds it
    });

    it('resolveHandle reads just the handle and its values (the resolver\'s lookup)', async () => {
      const r = ref(freshPrefix(), 'Resolve-Me');
      await store.mutate(r, 'handle.create', alice, put([url('https://r.example/')]));
      const got = await store.resolveHandle(r.key);
      expect(got!.handle).toBe(r.handle);
      expect(JSON.parse(got!.valuesJson)).toEqual([url('https://r.example/')]);
      // the public answer was serialised when the row was written
      expect(got!.publicJson).toBe(valuesToJson([url('https://r.example/')]));
      const hidden = { ...url('https://h.example/', 2), permissions: { ...DEFAULT_PERMISSIONS, publicRead: false } };
      await store.mutate(r, 'values.add', alice, put([url('https://r.example/'), hidden]));
      expect((await store.resolveHandle(r.key))!.publicJson).toBe(valuesToJson([url('https://r.example/')]));
      expect(await store.resolveHandle(`${r.key}-MISSING`)).toBeNull();
    });

    it('resolveHandles answers many keys in key order, null for the missing, repeats included', async () => {
      const p = freshPrefix();
      const a = ref(p, 'Many-A');
      const b = ref(p, 'Many-B');
      await store.mutate(a, 'handle.create', alice, put([url('https://a.example/')]));
      await store.mutate(b, 'handle.create', alice, put([url('https://b.example/')]));
      const got = await store.resolveHandles([b.key, `${p}/NONE`, a.key, b.key]);
      expect(got.map((g) => g?.handle ?? null)).toEqual([b.handle, null, a.handle, b.handle]);
      expect(got[0]).toEqual(await store.resolveHandle(b.key));
      expect(await store.resolveHandles([])).toEqual([]);
    });

    it('update bumps the version, keeps the original case and created_at', async () => {
      const r = ref(freshPrefix(), 'Valve-X');
      const created = await store.mutate(r, 'handle.create', alice, put([url('https://v1.example/')]));
      await sleep(5);
      const variant = { ...r, handle: r.handle.toUpperCase() }; // same key, different text
      const res = await store.mutate(variant, 'values.add', bob, (cur) => [...(cur?.values ?? []), url('https://v2.example/', 2)]);
      expect(res.before?.version).toBe(1);
      expect(res.after?.version).toBe(2);
      expect(res.after?.handle).toBe(r.handle);
      expect(res.after?.values).toEqual([url('https://v1.example/'), url('https://v2.example/', 2)]);
      expect(res.after?.createdAt.getTime()).toBe(created.after?.createdAt.getTime());
      expect(res.after!.updatedAt.getTime()).toBeGreaterThan(created.after!.updatedAt.getTime());

      const got = await store.getHandle(r.key);
      expect(got).toEqual(res.after);

      const third = await store.mutate(r, 'values.remove', bob, () => [url('https://v3.example/')]);
      expect(third.after?.version).toBe(3);
    });

    it('a mutation returning the same values writes nothing and no audit row', async () => {
      const r = ref(freshPrefix(), 'same');
      const created = await store.mutate(r, 'handle.create', alice, put(ALL_FORMATS));
      const res = await store.mutate(r, 'handle.create', bob, same);
      expect(res.before).toEqual(created.after);
      expect(res.after).toEqual(created.after);
      // equal values built afresh (different object identity and key order) also count as unchanged
      const reordered: Mutation = (cur) => reverseKeys(cur!.values) as HandleValue[];
      expect(Object.keys(reverseKeys(ALL_FORMATS[0]) as object)).toEqual(Object.keys(ALL_FORMATS[0]!).reverse());
      const res2 = await store.mutate(r, 'handle.create', bob, reordered);
      expect(res2.after?.version).toBe(1);
      expect((await store.getHandle(r.key))?.version).toBe(1);
      const audit = await store.listAudit({ handleKey: r.key });
      expect(audit).toHaveLength(1);
      expect(audit[0]?.actor).toBe(alice.id);
    });

    it('deletes a handle (and deleting a missing one writes nothing)', async () => {
      const r = ref(freshPrefix(), 'gone');
      await store.mutate(r, 'handle.create', alice, put([url('https://x.example/')]));
      const res = await store.mutate(r, 'handle.delete', bob, del);
      expect(res.before?.values).toEqual([url('https://x.example/')]);
      expect(res.after).toBeNull();
      expect(await store.getHandle(r.key)).toBeNull();
      expect(await codeOf(store.mutate(r, 'handle.delete', bob, del))).toBe(RC.HANDLE_NOT_FOUND);
      expect(await store.mutate(r, 'handle.delete', bob, () => null)).toEqual({ before: null, after: null });
      const audit = await store.listAudit({ handleKey: r.key });
      expect(audit.map((a) => a.action)).toEqual(['handle.delete', 'handle.create']);
      expect(audit[0]?.after).toBeNull();
      // it can be created again, starting over at version 1
      const again = await store.mutate(r, 'handle.create', alice, createOnly([url('https://y.example/')]));
      expect(again.after?.version).toBe(1);
    });

    it('a mutation that throws HandleError leaves the row and the audit log untouched', async () => {
      const r = ref(freshPrefix(), 'guarded');
      const created = await store.mutate(r, 'handle.create', alice, put([url('https://g.example/')]));
      const boom: Mutation = () => {
        throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, 'no');
      };
      expect(await codeOf(store.mutate(r, 'values.add', bob, boom))).toBe(RC.INSUFFICIENT_PERMISSIONS);
      const missing = ref(freshPrefix(), 'never');
      expect(await codeOf(store.mutate(missing, 'handle.create', bob, boom))).toBe(RC.INSUFFICIENT_PERMISSIONS);
      expect(await store.getHandle(r.key)).toEqual(created.after);
      expect(await store.getHandle(missing.key)).toBeNull();
      expect(await store.listAudit({ handleKey: r.key })).toHaveLength(1);
      expect(await store.listAudit({ handleKey: missing.key })).toHaveLength(0);
    });

    it('a database error mid-transaction rolls everything back and the store keeps working', async () => {
      const r = ref(freshPrefix(), 'atomic');
      const created = await store.mutate(r, 'handle.create', alice, put([url('https://a.example/')]));
      // The update succeeds inside the transaction, then the audit insert fails (text cannot hold NUL).
      const bad: Actor = { id: 'bad\u0000actor' };
      const outcome = await codeOf(store.mutate(r, 'values.add', bad, () => [url('https://b.example/')]));
      expect(outcome).toMatch(/^other: /);
      expect(await store.getHandle(r.key)).toEqual(created.after);
      expect(await store.listAudit({ handleKey: r.key })).toHaveLength(1);
      const ok = await store.mutate(r, 'values.add', bob, () => [url('https://c.example/')]);
      expect(ok.after?.version).toBe(2);
    });

    it('refuses a case-variant create of an existing handle', async () => {
      const prefix = freshPrefix();
      const r = ref(prefix, 'Motor-7');
      await store.mutate(r, 'handle.create', alice, createOnly([url('https://m.example/')]));
      const variant: HandleRef = { ...r, handle: `${prefix}/MOTOR-7` };
      expect(variant.key).toBe(r.key);
      expect(await codeOf(store.mutate(variant, 'handle.create', bob, createOnly([url('https://evil.example/')])))).toBe(
        RC.HANDLE_ALREADY_EXISTS,
      );
      const got = await store.getHandle(r.key);
      expect(got?.handle).toBe(`${prefix}/Motor-7`);
      expect(got?.values).toEqual([url('https://m.example/')]);
      expect((await store.listHandles(prefix)).handles).toEqual([`${prefix}/Motor-7`]);
    });

    it('concurrent creates of one key: exactly one succeeds, the others get 101', async () => {
      const prefix = freshPrefix();
      const attempts = Array.from({ length: 8 }, (_, i) =>
        codeOf(store.mutate(ref(prefix, i % 2 ? 'RACE' : 'race'), 'handle.create', { id: `actor-${i}` }, createOnly([url(`https://r${i}.example/`)]))),
      );
      const codes = await Promise.all(attempts);
      expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
      expect(codes.filter((c) => c === RC.HANDLE_ALREADY_EXISTS)).toHaveLength(7);
      const got = await store.getHandle(`${prefix}/race`);
      expect(got?.version).toBe(1);
      expect(await store.listAudit({ handleKey: `${prefix}/race` })).toHaveLength(1);
    });

    it('concurrent updates of one key never lose a write', async () => {
      const r = ref(freshPrefix(), 'counter');
      await store.mutate(r, 'handle.create', alice, put([]));
      const n = 10;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.mutate(r, 'values.add', bob, (cur) => [...(cur?.values ?? []), url(`https://c${i}.example/`, i + 1)]),
        ),
      );
      const got = await store.getHandle(r.key);
      expect(got?.version).toBe(n + 1);
      expect(got?.values).toHaveLength(n);
    });

    it('lists handles of a prefix in key order, with paging and totals', async () => {
      const prefix = freshPrefix();
      const other = freshPrefix();
      const suffixes = ['d', 'B', 'a', 'E', 'c'];
      for (const sfx of suffixes) await store.mutate(ref(prefix, sfx), 'handle.create', alice, put([url(`https://${sfx}.example/`)]));
      await store.mutate(ref(other, 'zzz'), 'handle.create', alice, put([url('https://o.example/')]));
      await store.mutate(ref(`${prefix}.1`, 'a'), 'handle.create', alice, put([url('https://sub.example/')]));

      const all = await store.listHandles(prefix);
      expect(all).toEqual({ total: 5, handles: ['a', 'B', 'c', 'd', 'E'].map((x) => `${prefix}/${x}`) });
      expect(await store.listHandles(prefix, { page: 0, pageSize: 2 })).toEqual({ total: 5, handles: [`${prefix}/a`, `${prefix}/B`] });
      expect(await store.listHandles(prefix, { page: 1, pageSize: 2 })).toEqual({ total: 5, handles: [`${prefix}/c`, `${prefix}/d`] });
      expect(await store.listHandles(prefix, { page: 2, pageSize: 2 })).toEqual({ total: 5, handles: [`${prefix}/E`] });
      expect(await store.listHandles(prefix, { page: 3, pageSize: 2 })).toEqual({ total: 5, handles: [] });
      expect(await store.listHandles(prefix, { pageSize: 3 })).toEqual({ total: 5, handles: [`${prefix}/a`, `${prefix}/B`, `${prefix}/c`] });
      expect(await store.listHandles('88.999.none')).toEqual({ total: 0, handles: [] });
    });

    it('audit rows carry actor, address, action, handle and before/after values', async () => {
      const r = ref(freshPrefix(), 'Audited');
      const v1 = [url('https://1.example/')];
      const v2 = [url('https://2.example/'), url('https://3.example/', 2)];
      await store.mutate(r, 'handle.create', alice, put(v1));
      await store.mutate({ ...r, handle: r.handle.toLowerCase() }, 'values.add', bob, put(v2));
      await store.mutate(r, 'handle.delete', alice, del);
      const audit = await store.listAudit({ handleKey: r.key });
      expect(audit).toHaveLength(3);
      const [d, u, c] = audit;
      expect(c).toMatchObject({ actor: alice.id, address: alice.address, action: 'handle.create', handle: r.handle, before: null, after: v1 });
      expect(u).toMatchObject({ actor: bob.id, address: null, action: 'values.add', handle: r.handle.toLowerCase(), before: v1, after: v2 });
      expect(d).toMatchObject({ actor: alice.id, address: alice.address, action: 'handle.delete', before: v2, after: null });
      for (const e of audit) {
        expect(typeof e.id).toBe('number');
        expect(e.at).toBeInstanceOf(Date);
      }
      expect(d!.id).toBeGreaterThan(u!.id);
      expect(u!.id).toBeGreaterThan(c!.id);
    });

    it('listAudit filters by handle key, actor and time range, newest first, with a limit', async () => {
      const prefix = freshPrefix();
      const a = ref(prefix, 'one');
      const b = ref(prefix, 'two');
      const carol: Actor = { id: `carol-${prefix}`, address: '2001:db8::1' };
      const dave: Actor = { id: `dave-${prefix}` };
      await store.mutate(a, 'handle.create', carol, put([url('https://a1.example/')]));
      await sleep(15);
      await store.mutate(b, 'handle.create', dave, put([url('https://b1.example/')]));
      await sleep(15);
      await store.mutate(a, 'values.add', dave, put([url('https://a2.example/')]));
      await sleep(15);
      await store.mutate(b, 'values.add', carol, put([url('https://b2.example/')]));

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
      for (let i = 0; i < 105; i++) await store.mutate(r, 'values.add', actor, put([url(`https://b${i}.example/`)]));
      expect(await store.listAudit({ actor: actor.id })).toHaveLength(100);
      expect(await store.listAudit({ actor: actor.id, limit: 5000 })).toHaveLength(105);
      const top = await store.listAudit({ actor: actor.id, limit: 2 });
      expect(top.map((e) => (e.after as HandleValue[] | null)?.[0]?.data.value)).toEqual(['https://b104.example/', 'https://b103.example/']);
    });

    it('values of every data format with unicode round-trip exactly', async () => {
      const r = ref(freshPrefix(), '产品/序列:001/Ä');
      const res = await store.mutate(r, 'handle.create', alice, put(ALL_FORMATS));
      expect(res.after?.values).toEqual(ALL_FORMATS);
      const got = await store.getHandle(r.key);
      expect(got?.values).toEqual(ALL_FORMATS);
      expect(got?.handle).toBe(r.handle);
      const [entry] = await store.listAudit({ handleKey: r.key });
      expect(entry?.after).toEqual(ALL_FORMATS);
      // an empty value list is a valid record too
      const empty = ref(freshPrefix(), 'empty');
      await store.mutate(empty, 'handle.create', alice, put([]));
      expect((await store.getHandle(empty.key))?.values).toEqual([]);
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

    it('a create racing a committed concurrent insert of the same key gets 101, not a database error', async () => {
      const store = stores[0]!;
      const prefix = freshPrefix();
      const r = ref(prefix, 'Racer');
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query('begin');
        await c.query(
          "insert into handles(key, handle, prefix_key, values, version) values ($1, $2, $3, '[]'::jsonb, 1)",
          [r.key, `${prefix}/RACER`, prefix],
        );
        // The store's select sees no row; its insert then waits on the uncommitted one.
        const pending = codeOf(store.mutate(r, 'handle.create', alice, createOnly([url('https://late.example/')])));
        await sleep(200);
        await c.query('commit');
        expect(await pending).toBe(RC.HANDLE_ALREADY_EXISTS);
      } finally {
        await c.end();
      }
      const got = await store.getHandle(r.key);
      expect(got?.handle).toBe(`${prefix}/RACER`);
      expect(await store.listAudit({ handleKey: r.key })).toHaveLength(0);
    });

    it('getHandle works on every pooled connection (named prepared statement)', async () => {
      const store = stores[1]!;
      const r = ref(freshPrefix(), 'prep');
      await store.mutate(r, 'handle.create', alice, put([url('https://p.example/')]));
      const got = await Promise.all(Array.from({ length: 20 }, () => store.getHandle(r.key)));
      for (const g of got) expect(g?.values).toEqual([url('https://p.example/')]);
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

// --- PGlite, in a data folder ----------------------------------------------------------------------------------------
describe('pglite with a data folder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idnode-pglite-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('persists across close and reopen (and creates the folder)', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const r = ref('88.320924.17', 'Persist-Ü');
    const first = await openPgliteStore(dataDir);
    await first.migrate();
    await first.mutate(r, 'handle.create', alice, put(ALL_FORMATS));
    await first.close();
    await first.close(); // idempotent

    const second = await openPgliteStore(dataDir);
    try {
      await second.migrate();
      const got = await second.getHandle(r.key);
      expect(got?.handle).toBe(r.handle);
      expect(got?.values).toEqual(ALL_FORMATS);
      expect(got?.version).toBe(1);
      expect(await second.listAudit({ handleKey: r.key })).toHaveLength(1);
      const upd = await second.mutate(r, 'values.add', bob, put([url('https://after-reopen.example/')]));
      expect(upd.after?.version).toBe(2);
    } finally {
      await second.close();
    }
  });
});
