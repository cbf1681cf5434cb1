// The one handle write path (registry/handles.ts) on PGlite and PostgreSQL: read-modify-write, races, rollback, audit, change events.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../handle/codes.js';
import type { HandleValue } from '../../handle/types.js';
import type { RegistryChange } from '../../registry/context.js';
import { handleTransaction, mutateHandle, redactSecrets } from '../../registry/handles.js';
import type { Actor, HandleRecord, HandleRef, Mutation, Store } from '../../registry/store.js';
import { alice, backends, bob, freshPrefix, postgresBackend, ref, testContext, useStore } from '../helpers/registry-backends.js';
import { hasPostgres } from '../helpers/services.js';
import { ALL_FORMATS, seckeyVal, urlValue, value } from '../helpers/values.js';
import { hashSecret } from '../../registry/secrets.js';

/** HS_SECKEY hashes at the node's policy (the write path refuses any other `scrypt$…`) */
const H = { first: await hashSecret('first'), second: await hashSecret('second'), hidden: await hashSecret('hidden') };

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

describe.each(backends)('handle write path: $name', (backend) => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  useStore(backend, (s) => {
    store = s;
    ctx = testContext(s);
  });
  /** The changes announced while `fn` runs. */
  async function announced(fn: () => Promise<unknown>): Promise<RegistryChange[]> {
    const from = ctx.changes.length;
    await fn();
    return ctx.changes.slice(from);
  }
  const write = (r: HandleRef, action: string, actor: Actor, fn: Mutation) => mutateHandle(ctx, r, action, actor, fn);

  it('creates a handle with its original case under the canonical key and announces the key after commit', async () => {
    const prefix = freshPrefix();
    const r = ref(prefix, 'Pump-2024-000123');
    const before = Date.now();
    let seenAtAnnouncement: HandleRecord | null | undefined;
    const watching = testContext(store);
    watching.events = {
      changed: async (c) => {
        // announced after commit: the row is visible to every other reader by now
        seenAtAnnouncement = await store.getHandle(r.key);
        watching.changes.push(c);
      },
    };
    const res = await mutateHandle(watching, r, 'handle.create', alice, createOnly([urlValue('https://example.com/pump')]));
    expect(res.before).toBeNull();
    expect(res.after).toMatchObject({ handle: `${prefix}/Pump-2024-000123`, key: `${prefix}/PUMP-2024-000123`, prefixKey: prefix, version: 1 });
    expect(Math.abs(res.after!.createdAt.getTime() - before)).toBeLessThan(60_000);
    expect(await store.getHandle(r.key)).toEqual(res.after);
    expect(seenAtAnnouncement).toEqual(res.after);
    expect(watching.changes).toEqual([{ keys: [`${prefix}/PUMP-2024-000123`], prefixKeys: [] }]);
  });

  it('update bumps the version, keeps the original case and created_at', async () => {
    const r = ref(freshPrefix(), 'Valve-X');
    const created = await write(r, 'handle.create', alice, put([urlValue('https://v1.example/')]));
    await sleep(5);
    const variant = { ...r, handle: r.handle.toUpperCase() }; // same key, different text
    const changes = await announced(async () => {
      const res = await write(variant, 'values.add', bob, (cur) => [...(cur?.values ?? []), urlValue('https://v2.example/', 2)]);
      expect(res.before?.version).toBe(1);
      expect(res.after?.version).toBe(2);
      expect(res.after?.handle).toBe(r.handle);
      expect(res.after?.values).toEqual([urlValue('https://v1.example/'), urlValue('https://v2.example/', 2)]);
      expect(res.after?.createdAt.getTime()).toBe(created.after?.createdAt.getTime());
      expect(res.after!.updatedAt.getTime()).toBeGreaterThan(created.after!.updatedAt.getTime());
      expect(await store.getHandle(r.key)).toEqual(res.after);
    });
    expect(changes).toEqual([{ keys: [r.key], prefixKeys: [] }]);
    const third = await write(r, 'values.remove', bob, () => [urlValue('https://v3.example/')]);
    expect(third.after?.version).toBe(3);
  });

  it('a mutation returning the same values writes nothing, audits nothing and announces nothing', async () => {
    const r = ref(freshPrefix(), 'same');
    const created = await write(r, 'handle.create', alice, put(ALL_FORMATS));
    const changes = await announced(async () => {
      const res = await write(r, 'handle.create', bob, same);
      expect(res.before).toEqual(created.after);
      expect(res.after).toEqual(created.after);
      // equal values built afresh (different object identity and key order) also count as unchanged
      expect(Object.keys(reverseKeys(ALL_FORMATS[0]) as object)).toEqual(Object.keys(ALL_FORMATS[0]!).reverse());
      const res2 = await write(r, 'handle.create', bob, (cur) => reverseKeys(cur!.values) as HandleValue[]);
      expect(res2.after?.version).toBe(1);
    });
    expect(changes).toEqual([]);
    const rec = await store.getHandle(r.key);
    expect(rec?.version).toBe(1);
    expect(rec?.updatedAt).toEqual(created.after?.updatedAt);
    const audit = await store.listAudit({ handleKey: r.key });
    expect(audit).toHaveLength(1);
    expect(audit[0]?.actor).toBe(alice.id);
  });

  it('deletes a handle (deleting a missing one writes and announces nothing); it can be created again at version 1', async () => {
    const r = ref(freshPrefix(), 'gone');
    await write(r, 'handle.create', alice, put([urlValue('https://x.example/')]));
    const changes = await announced(async () => {
      const res = await write(r, 'handle.delete', bob, del);
      expect(res.before?.values).toEqual([urlValue('https://x.example/')]);
      expect(res.after).toBeNull();
    });
    expect(changes).toEqual([{ keys: [r.key], prefixKeys: [] }]);
    expect(await store.getHandle(r.key)).toBeNull();
    expect(await codeOf(write(r, 'handle.delete', bob, del))).toBe(RC.HANDLE_NOT_FOUND);
    expect(await announced(async () => expect(await write(r, 'handle.delete', bob, () => null)).toEqual({ before: null, after: null }))).toEqual([]);
    const audit = await store.listAudit({ handleKey: r.key });
    expect(audit.map((a) => a.action)).toEqual(['handle.delete', 'handle.create']);
    expect(audit[0]?.after).toBeNull();
    const again = await write(r, 'handle.create', alice, createOnly([urlValue('https://y.example/')]));
    expect(again.after?.version).toBe(1);
  });

  it('a mutation that throws HandleError leaves the row and the audit log untouched and announces nothing', async () => {
    const r = ref(freshPrefix(), 'guarded');
    const created = await write(r, 'handle.create', alice, put([urlValue('https://g.example/')]));
    const boom: Mutation = () => {
      throw new HandleError(RC.INSUFFICIENT_PERMISSIONS, 'no');
    };
    const missing = ref(freshPrefix(), 'never');
    const changes = await announced(async () => {
      expect(await codeOf(write(r, 'values.add', bob, boom))).toBe(RC.INSUFFICIENT_PERMISSIONS);
      expect(await codeOf(write(missing, 'handle.create', bob, boom))).toBe(RC.INSUFFICIENT_PERMISSIONS);
    });
    expect(changes).toEqual([]);
    expect(await store.getHandle(r.key)).toEqual(created.after);
    expect(await store.getHandle(missing.key)).toBeNull();
    expect(await store.listAudit({ handleKey: r.key })).toHaveLength(1);
    expect(await store.listAudit({ handleKey: missing.key })).toHaveLength(0);
  });

  it('a database error mid-transaction rolls everything back, announces nothing, and the store keeps working', async () => {
    const r = ref(freshPrefix(), 'atomic');
    const created = await write(r, 'handle.create', alice, put([urlValue('https://a.example/')]));
    // The update succeeds inside the transaction, then the audit insert fails (text cannot hold NUL).
    const bad: Actor = { id: 'bad\u0000actor' };
    const changes = await announced(async () => {
      expect(await codeOf(write(r, 'values.add', bad, () => [urlValue('https://b.example/')]))).toMatch(/^other: /);
    });
    expect(changes).toEqual([]);
    expect(await store.getHandle(r.key)).toEqual(created.after);
    expect(await store.listAudit({ handleKey: r.key })).toHaveLength(1);
    const ok = await write(r, 'values.add', bob, () => [urlValue('https://c.example/')]);
    expect(ok.after?.version).toBe(2);
  });

  it('refuses a case-variant create of an existing handle with 101, even when the mutation does not check', async () => {
    const prefix = freshPrefix();
    const r = ref(prefix, 'Motor-7');
    await write(r, 'handle.create', alice, createOnly([urlValue('https://m.example/')]));
    const variant: HandleRef = { ...r, handle: `${prefix}/MOTOR-7` };
    expect(variant.key).toBe(r.key);
    expect(await codeOf(write(variant, 'handle.create', bob, createOnly([urlValue('https://evil.example/')])))).toBe(RC.HANDLE_ALREADY_EXISTS);
    const got = await store.getHandle(r.key);
    expect(got?.handle).toBe(`${prefix}/Motor-7`);
    expect(got?.values).toEqual([urlValue('https://m.example/')]);
    expect((await store.listHandles(prefix)).handles).toEqual([`${prefix}/Motor-7`]);
  });

  it('concurrent creates of one key: exactly one succeeds, the others get 101, one audit row, one announcement', async () => {
    const prefix = freshPrefix();
    const changes = await announced(async () => {
      const codes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          codeOf(write(ref(prefix, i % 2 ? 'RACE' : 'race'), 'handle.create', { id: `actor-${i}` }, createOnly([urlValue(`https://r${i}.example/`)]))),
        ),
      );
      expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
      expect(codes.filter((c) => c === RC.HANDLE_ALREADY_EXISTS)).toHaveLength(7);
    });
    expect(changes).toEqual([{ keys: [`${prefix}/RACE`], prefixKeys: [] }]);
    expect((await store.getHandle(`${prefix}/RACE`))?.version).toBe(1);
    expect(await store.listAudit({ handleKey: `${prefix}/RACE` })).toHaveLength(1);
  });

  it('concurrent updates of one key never lose a write', async () => {
    const r = ref(freshPrefix(), 'counter');
    await write(r, 'handle.create', alice, put([]));
    const n = 10;
    await Promise.all(Array.from({ length: n }, (_, i) => write(r, 'values.add', bob, (cur) => [...(cur?.values ?? []), urlValue(`https://c${i}.example/`, i + 1)])));
    const got = await store.getHandle(r.key);
    expect(got?.version).toBe(n + 1);
    expect(got?.values.map((v) => v.index).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await store.listAudit({ handleKey: r.key, limit: 1000 })).toHaveLength(n + 1);
  });

  it('audit rows carry actor, address, action, handle and before/after values', async () => {
    const r = ref(freshPrefix(), 'Audited');
    const v1 = [urlValue('https://1.example/')];
    const v2 = [urlValue('https://2.example/'), urlValue('https://3.example/', 2)];
    await write(r, 'handle.create', alice, put(v1));
    await write({ ...r, handle: r.handle.toLowerCase() }, 'values.add', bob, put(v2));
    await write(r, 'handle.delete', alice, del);
    const audit = await store.listAudit({ handleKey: r.key });
    expect(audit).toHaveLength(3);
    const [d, u, c] = audit;
    expect(c).toMatchObject({ actor: alice.id, address: alice.address, action: 'handle.create', entity: 'handle', handle: r.handle, before: null, after: v1 });
    expect(u).toMatchObject({ actor: bob.id, address: null, action: 'values.add', handle: r.handle.toLowerCase(), before: v1, after: v2 });
    expect(d).toMatchObject({ actor: alice.id, address: alice.address, action: 'handle.delete', before: v2, after: null });
    for (const e of audit) {
      expect(typeof e.id).toBe('number');
      expect(e.at).toBeInstanceOf(Date);
    }
    expect(d!.id).toBeGreaterThan(u!.id);
    expect(u!.id).toBeGreaterThan(c!.id);
  });

  it('audit rows redact HS_SECKEY data (any case of the type) while the row keeps it', async () => {
    const r = ref(freshPrefix(), 'keyed');
    const redacted = (index: number, type = 'HS_SECKEY') =>
      value(index, type, { format: 'string', value: '(redacted)' }, { permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false } });
    await write(r, 'handle.create', alice, put([urlValue('https://k.example/'), seckeyVal(H.first)]));
    await write(r, 'values.add', alice, put([urlValue('https://k.example/'), seckeyVal(H.first), { ...seckeyVal(H.second), index: 301, type: 'hs_SecKey' }]));
    // the row keeps the real data (the credential check needs it)
    expect((await store.getHandle(r.key))?.values.map((v) => v.data.value)).toEqual(['https://k.example/', H.first, H.second]);
    await write(r, 'handle.delete', alice, del);
    const [d, u, c] = await store.listAudit({ handleKey: r.key });
    expect(c?.after).toEqual([urlValue('https://k.example/'), redacted(300)]);
    expect(u?.before).toEqual([urlValue('https://k.example/'), redacted(300)]);
    expect(u?.after).toEqual([urlValue('https://k.example/'), redacted(300), redacted(301, 'hs_SecKey')]);
    expect(d?.before).toEqual([urlValue('https://k.example/'), redacted(300), redacted(301, 'hs_SecKey')]);
    expect(JSON.stringify([c, u, d])).not.toContain('scrypt$');
    expect(redactSecrets([seckeyVal('x'), urlValue('https://k.example/')])).toEqual([redacted(300), urlValue('https://k.example/')]);
    expect(redactSecrets(null)).toBeNull();
  });

  it('values of every data format with unicode round-trip exactly, through the row and the audit log', async () => {
    const r = ref(freshPrefix(), '产品/序列:001/Ä');
    const res = await write(r, 'handle.create', alice, put(ALL_FORMATS));
    expect(res.after?.values).toEqual(ALL_FORMATS);
    const got = await store.getHandle(r.key);
    expect(got?.values).toEqual(ALL_FORMATS);
    expect(got?.handle).toBe(r.handle);
    const [entry] = await store.listAudit({ handleKey: r.key });
    expect(entry?.after).toEqual(ALL_FORMATS);
    // an empty value list is a valid record too
    const empty = ref(freshPrefix(), 'empty');
    await write(empty, 'handle.create', alice, put([]));
    expect((await store.getHandle(empty.key))?.values).toEqual([]);
  });

  it('writes public_json with every write: the public values serialised as Handle JSON', async () => {
    const r = ref(freshPrefix(), 'public');
    const publicJson = async () =>
      (await store.db.selectFrom('handles').select('public_json').where('key', '=', r.key).executeTakeFirstOrThrow()).public_json;
    await write(r, 'handle.create', alice, put([urlValue('https://p.example/'), seckeyVal(H.hidden)]));
    expect(await publicJson()).toBe(
      '[{"index":1,"type":"URL","data":{"format":"string","value":"https://p.example/"},"ttl":86400,"timestamp":"2023-11-14T22:13:20Z"}]',
    );
    await write(r, 'values.add', alice, put([seckeyVal(H.hidden)]));
    expect(await publicJson()).toBe('[]');
  });

  it('handleTransaction: several writes commit together and are announced once, with the prefixes marked changed', async () => {
    const p = freshPrefix();
    const a = ref(p, 'tx-a');
    const b = ref(p, 'tx-b');
    const changes = await announced(() =>
      handleTransaction(ctx, alice, async (tx) => {
        await tx.mutate(a, 'handle.create', put([urlValue('https://a.example/')]));
        const locked = await tx.lock(a.key);
        expect(locked?.values).toEqual([urlValue('https://a.example/')]);
        expect(await tx.read(b.key)).toBeNull();
        await tx.write(b, 'handle.create', null, [urlValue('https://b.example/')]);
        await tx.write(a, 'values.add', locked, [urlValue('https://a2.example/')]);
        tx.prefixChanged(p);
      }),
    );
    expect(changes).toEqual([{ keys: [a.key, b.key].sort(), prefixKeys: [p] }]);
    expect((await store.getHandle(a.key))?.values).toEqual([urlValue('https://a2.example/')]);
    expect((await store.getHandle(a.key))?.version).toBe(2);
    expect((await store.getHandle(b.key))?.version).toBe(1);
    // a transaction that changes nothing announces nothing; one that only marks a prefix announces just that
    expect(await announced(() => handleTransaction(ctx, alice, async (tx) => tx.mutate(a, 'noop', same)))).toEqual([]);
    expect(await announced(() => handleTransaction(ctx, alice, async (tx) => tx.prefixChanged(`${p}.9`)))).toEqual([{ keys: [], prefixKeys: [`${p}.9`] }]);
  });

  it('handleTransaction: a failure after some writes rolls all of them back and announces nothing', async () => {
    const p = freshPrefix();
    const a = ref(p, 'undo-a');
    const b = ref(p, 'undo-b');
    await write(a, 'handle.create', alice, put([urlValue('https://a.example/')]));
    const changes = await announced(async () => {
      await expect(
        handleTransaction(ctx, alice, async (tx) => {
          await tx.mutate(a, 'values.add', put([urlValue('https://changed.example/')]));
          await tx.mutate(b, 'handle.create', put([urlValue('https://b.example/')]));
          tx.prefixChanged(p);
          throw new Error('late failure');
        }),
      ).rejects.toThrow('late failure');
    });
    expect(changes).toEqual([]);
    expect((await store.getHandle(a.key))?.values).toEqual([urlValue('https://a.example/')]);
    expect((await store.getHandle(a.key))?.version).toBe(1);
    expect(await store.getHandle(b.key)).toBeNull();
    expect(await store.listAudit({ handleKey: a.key })).toHaveLength(1);
    expect(await store.listAudit({ handleKey: b.key })).toHaveLength(0);
  });
});

describe.skipIf(!hasPostgres)('handle write path: postgres races', () => {
  let store: Store;
  let dbUrl: string;
  useStore(postgresBackend, (s, url) => {
    store = s;
    dbUrl = url;
  });

  it('a create racing a committed concurrent insert of the same key gets 101, not a database error', async () => {
    const ctx = testContext(store);
    const prefix = freshPrefix();
    const r = ref(prefix, 'Racer');
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    try {
      await c.query('begin');
      await c.query("insert into handles(key, handle, prefix_key, values, version) values ($1, $2, $3, '[]'::jsonb, 1)", [r.key, `${prefix}/RACER`, prefix]);
      // The write path's lock sees no row; its insert then waits on the uncommitted one.
      const pending = codeOf(mutateHandle(ctx, r, 'handle.create', alice, createOnly([urlValue('https://late.example/')])));
      await sleep(200);
      await c.query('commit');
      expect(await pending).toBe(RC.HANDLE_ALREADY_EXISTS);
    } finally {
      await c.end();
    }
    const got = await store.getHandle(r.key);
    expect(got?.handle).toBe(`${prefix}/RACER`);
    expect(await store.listAudit({ handleKey: r.key })).toHaveLength(0);
    expect(ctx.changes).toEqual([]);
  });
});
