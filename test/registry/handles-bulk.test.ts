// Bulk handle writes (registry/handles.ts createMany / updateMany / deleteMany) on PGlite and PostgreSQL: results, atomicity, audit, events.
import { describe, expect, it } from 'vitest';
import { sameValues } from '../../handle/ops.js';
import type { HandleValue } from '../../handle/types.js';
import { createHandles, deleteHandles, handleTransaction, updateHandles } from '../../registry/handles.js';
import type { Actor, BulkItem, HandleRef, Store } from '../../registry/store.js';
import { backends, ref, testContext, useStore } from '../helpers/registry-backends.js';
import { val } from '../helpers/values.js';
import { hashSecret } from '../../registry/secrets.js';

/** HS_SECKEY hashes at the node's policy (the write path refuses any other `scrypt$…`) */
const H = { one: await hashSecret('one'), two: await hashSecret('two') };

const actor: Actor = { id: 'user:bulk', address: '192.0.2.7' };

let seq = 0;
function prefix(): string {
  seq += 1;
  return `88.320924.${seq}`;
}
const item = (r: HandleRef, ...values: HandleValue[]): BulkItem => ({ ref: r, values });

describe.each(backends)('bulk handle writes: $name', (backend) => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  useStore(backend, (s) => {
    store = s;
    ctx = testContext(s);
  });

  const audit = (r: HandleRef) => store.listAudit({ handleKey: r.key, limit: 1000 });

  it('creates, recognises an identical retry as unchanged, and reports different values as exists', async () => {
    const p = prefix();
    const a = ref(p, 'a');
    const b = ref(p, 'b');
    expect(await createHandles(ctx, [item(a, val(2000, 'name', 'x')), item(b, val(2000, 'name', 'y'))], actor, 'bulk.create', sameValues)).toEqual([
      'created',
      'created',
    ]);
    // a retry with new timestamps is the same record; b with a different value is not
    expect(await createHandles(ctx, [item(a, { ...val(2000, 'name', 'x'), timestamp: 1_800_000_000 }), item(b, val(2000, 'name', 'other'))], actor, 'bulk.create', sameValues)).toEqual([
      'unchanged',
      'exists',
    ]);
    const recA = await store.getHandle(a.key);
    expect(recA?.version).toBe(1);
    expect(recA?.values[0]?.timestamp).toBe(1_700_000_000);
    expect((await store.getHandle(b.key))?.values[0]?.data.value).toBe('y');
    const rows = await audit(a);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: actor.id, address: actor.address, action: 'bulk.create', entity: 'handle', handle: a.handle, before: null });
    expect(rows[0]?.after).toEqual([val(2000, 'name', 'x')]);
    expect(await audit(b)).toHaveLength(1);
  });

  it('reports a case variant of an existing handle as exists even with the same values', async () => {
    const p = prefix();
    const lower = ref(p, 'pump-1');
    const upper = { ...ref(p, 'PUMP-1') };
    expect(upper.key).toBe(lower.key);
    expect(await createHandles(ctx, [item(lower, val(2000, 'name', 'x'))], actor, 'c', sameValues)).toEqual(['created']);
    expect(await createHandles(ctx, [item(upper, val(2000, 'name', 'x'))], actor, 'c', sameValues)).toEqual(['exists']);
    expect((await store.getHandle(lower.key))?.handle).toBe(lower.handle);
  });

  it('judges a key repeated inside one batch against what its first occurrence left', async () => {
    const p = prefix();
    const a = ref(p, 'dup-a');
    const b = ref(p, 'dup-b');
    const res = await createHandles(ctx, 
      [item(a, val(2000, 'name', '1')), item(b, val(2000, 'name', '1')), item(a, val(2000, 'name', '1')), item(b, val(2000, 'name', '2')), item(a, val(2000, 'name', '3'))],
      actor,
      'c',
      sameValues,
    );
    expect(res).toEqual(['created', 'created', 'unchanged', 'exists', 'exists']);
    expect((await store.getHandle(a.key))?.values).toEqual([val(2000, 'name', '1')]);
    expect((await store.getHandle(b.key))?.values).toEqual([val(2000, 'name', '1')]);
    expect(await audit(a)).toHaveLength(1);
  });

  it('carries quotes, backslashes, braces, commas and non-ASCII through the bulk parameters intact', async () => {
    const p = prefix();
    const odd = ref(p, 'a"b\\c,{d} e:f/g/产品-😀');
    const values = [val(2000, 'name', 'q"uote \\back\\\\slash {br,ace} NULL null\n\t产品 😀 \u2028'), val(1001, 'TEMPLATE', '1.0')];
    expect(await createHandles(ctx, [item(odd, ...values)], actor, 'c', sameValues)).toEqual(['created']);
    const rec = await store.getHandle(odd.key);
    expect(rec?.handle).toBe(odd.handle);
    expect(rec?.values).toEqual(values);
    expect((await audit(odd))[0]?.after).toEqual(values);
    expect(await createHandles(ctx, [item(odd, ...values)], actor, 'c', sameValues)).toEqual(['unchanged']);
  });

  it('writes a batch of 2000 in one call', async () => {
    const p = prefix();
    const items = Array.from({ length: 2000 }, (_x, i) => item(ref(p, `n${i}`), val(2000, 'name', `value ${i}`), val(1001, 'TEMPLATE', '1.0')));
    const res = await createHandles(ctx, items, actor, 'c', sameValues);
    expect(res.every((r) => r === 'created')).toBe(true);
    expect((await store.listHandles(p)).total).toBe(2000);
    const again = await createHandles(ctx, items, actor, 'c', sameValues);
    expect(again.every((r) => r === 'unchanged')).toBe(true);
    expect(await audit(items[1999]!.ref)).toHaveLength(1);
  });

  it('writes nothing when the call fails part-way (one transaction)', async () => {
    const p = prefix();
    const existing = ref(p, 'old');
    const fresh = ref(p, 'new');
    await createHandles(ctx, [item(existing, val(2000, 'name', 'x'))], actor, 'c', sameValues);
    const boom = () => {
      throw new Error('comparison failed');
    };
    await expect(createHandles(ctx, [item(fresh, val(2000, 'name', 'y')), item(existing, val(2000, 'name', 'z'))], actor, 'c', boom)).rejects.toThrow(
      'comparison failed',
    );
    expect(await store.getHandle(fresh.key)).toBeNull();
    expect(await audit(fresh)).toHaveLength(0);
  });

  it('returns [] for empty batches without touching the database', async () => {
    expect(await createHandles(ctx, [], actor, 'c', sameValues)).toEqual([]);
    expect(await updateHandles(ctx, [], actor, 'u', sameValues)).toEqual([]);
    expect(await deleteHandles(ctx, [], actor, 'd')).toEqual([]);
  });

  it('updates: not-found, unchanged (nothing written) and updated (version bumped, audit before/after)', async () => {
    const p = prefix();
    const a = ref(p, 'u-a');
    const b = ref(p, 'u-b');
    const missing = ref(p, 'u-missing');
    await createHandles(ctx, [item(a, val(2000, 'name', 'a1')), item(b, val(2000, 'name', 'b1'))], actor, 'c', sameValues);
    const res = await updateHandles(ctx, 
      [item(missing, val(2000, 'name', 'm')), item(a, { ...val(2000, 'name', 'a1'), timestamp: 1_800_000_000 }), item(b, val(2000, 'name', 'b2'))],
      actor,
      'bulk.update',
      sameValues,
    );
    expect(res).toEqual(['not-found', 'unchanged', 'updated']);
    expect(await store.getHandle(missing.key)).toBeNull();
    const recA = await store.getHandle(a.key);
    expect(recA?.version).toBe(1);
    expect(recA?.values).toEqual([val(2000, 'name', 'a1')]);
    const recB = await store.getHandle(b.key);
    expect(recB?.version).toBe(2);
    expect(recB?.values).toEqual([val(2000, 'name', 'b2')]);
    expect(recB!.updatedAt.getTime()).toBeGreaterThanOrEqual(recB!.createdAt.getTime());
    expect(await audit(a)).toHaveLength(1);
    const rowsB = await audit(b);
    expect(rowsB).toHaveLength(2);
    expect(rowsB[0]).toMatchObject({ action: 'bulk.update', before: [val(2000, 'name', 'b1')], after: [val(2000, 'name', 'b2')] });
  });

  it('applies a key repeated in an update batch in order, one version and audit row per change', async () => {
    const p = prefix();
    const a = ref(p, 'seq');
    await createHandles(ctx, [item(a, val(2000, 'name', '1'))], actor, 'c', sameValues);
    const res = await updateHandles(ctx, [item(a, val(2000, 'name', '2')), item(a, val(2000, 'name', '2')), item(a, val(2000, 'name', '3'))], actor, 'u', sameValues);
    expect(res).toEqual(['updated', 'unchanged', 'updated']);
    const rec = await store.getHandle(a.key);
    expect(rec?.values).toEqual([val(2000, 'name', '3')]);
    expect(rec?.version).toBe(3);
    const rows = (await audit(a)).filter((r) => r.action === 'u').reverse();
    expect(rows.map((r) => [r.before, r.after])).toEqual([
      [[val(2000, 'name', '1')], [val(2000, 'name', '2')]],
      [[val(2000, 'name', '2')], [val(2000, 'name', '3')]],
    ]);
  });

  it('builds the new values with compose(current, given)', async () => {
    const p = prefix();
    const a = ref(p, 'compose');
    await createHandles(ctx, [item(a, val(100, 'name', 'admin'), val(2000, 'name', 'old'))], actor, 'c', sameValues);
    const keepLow = (cur: HandleValue[], given: HandleValue[]) => [...cur.filter((x) => x.index < 1000), ...given];
    expect(await updateHandles(ctx, [item(a, val(2000, 'name', 'new'))], actor, 'u', sameValues, keepLow)).toEqual(['updated']);
    expect((await store.getHandle(a.key))?.values).toEqual([val(100, 'name', 'admin'), val(2000, 'name', 'new')]);
    expect(await updateHandles(ctx, [item(a, val(2000, 'name', 'new'))], actor, 'u', sameValues, keepLow)).toEqual(['unchanged']);
  });

  it('deletes per item with audit rows; a repeated key is not-found the second time', async () => {
    const p = prefix();
    const a = ref(p, 'd-a');
    const b = ref(p, 'd-b');
    await createHandles(ctx, [item(a, val(2000, 'name', 'a')), item(b, val(2000, 'name', 'b'))], actor, 'c', sameValues);
    expect(await deleteHandles(ctx, [a, ref(p, 'd-none'), a, b], actor, 'bulk.delete')).toEqual(['deleted', 'not-found', 'not-found', 'deleted']);
    expect(await store.getHandle(a.key)).toBeNull();
    expect(await store.getHandle(b.key)).toBeNull();
    const rows = await audit(a);
    expect(rows[0]).toMatchObject({ action: 'bulk.delete', before: [val(2000, 'name', 'a')], after: null, address: actor.address });
    expect(await deleteHandles(ctx, [a], actor, 'bulk.delete')).toEqual(['not-found']);
    expect(await audit(a)).toHaveLength(2);
  });

  it('lets concurrent overlapping batches finish with every key created exactly once', async () => {
    const p = prefix();
    const refs = Array.from({ length: 300 }, (_x, i) => ref(p, `c${i}`));
    const batch = (order: HandleRef[]) => order.map((r) => item(r, val(2000, 'name', r.handle)));
    const results = await Promise.all([
      createHandles(ctx, batch(refs), actor, 'c', sameValues),
      createHandles(ctx, batch([...refs].reverse()), actor, 'c', sameValues),
      createHandles(ctx, batch(refs.filter((_r, i) => i % 2 === 0)), actor, 'c', sameValues),
    ]);
    const created = results.flat().filter((r) => r === 'created').length;
    expect(created).toBe(300);
    expect(results.flat().every((r) => r === 'created' || r === 'unchanged')).toBe(true);
    expect((await store.listHandles(p)).total).toBe(300);
  });
  it('announces exactly the keys created, updated or deleted, once per call, and nothing for a call that changed nothing', async () => {
    const p = prefix();
    const a = ref(p, 'ev-a');
    const b = ref(p, 'ev-b');
    const from = ctx.changes.length;
    await createHandles(ctx, [item(a, val(2000, 'name', 'a')), item(b, val(2000, 'name', 'b'))], actor, 'c', sameValues);
    await createHandles(ctx, [item(a, val(2000, 'name', 'a')), item(b, val(2000, 'name', 'other'))], actor, 'c', sameValues); // unchanged, exists
    await updateHandles(ctx, [item(a, val(2000, 'name', 'a2')), item(b, val(2000, 'name', 'b')), item(ref(p, 'ev-none'), val(2000, 'name', 'x'))], actor, 'u', sameValues);
    await updateHandles(ctx, [item(a, val(2000, 'name', 'a2'))], actor, 'u', sameValues); // unchanged
    await deleteHandles(ctx, [b, ref(p, 'ev-none')], actor, 'd');
    await deleteHandles(ctx, [b], actor, 'd'); // not-found
    expect(ctx.changes.slice(from)).toEqual([
      { keys: [a.key, b.key], prefixKeys: [] },
      { keys: [a.key], prefixKeys: [] },
      { keys: [b.key], prefixKeys: [] },
    ]);
  });

  it('redacts HS_SECKEY data in the audit rows of bulk creates, updates and deletes; the rows keep it', async () => {
    const p = prefix();
    const a = ref(p, 'sec-a');
    const plain = ref(p, 'sec-plain');
    const secret = (value: string, type = 'HS_SECKEY'): HandleValue => val(300, type, value, 86400, false);
    const redacted = (type = 'HS_SECKEY'): HandleValue => secret('(redacted)', type);
    expect(await createHandles(ctx, [item(a, secret(H.one), val(2000, 'name', 'x')), item(plain, val(2000, 'name', 'p'))], actor, 'c', sameValues)).toEqual(['created', 'created']);
    expect((await store.getHandle(a.key))?.values[0]?.data.value).toBe(H.one);
    expect(await updateHandles(ctx, [item(a, secret(H.two, 'hs_seckey'), val(2000, 'name', 'x'))], actor, 'u', sameValues)).toEqual(['updated']);
    expect((await store.getHandle(a.key))?.values[0]?.data.value).toBe(H.two);
    expect(await deleteHandles(ctx, [a, plain], actor, 'd')).toEqual(['deleted', 'deleted']);
    const [d, u, c] = await audit(a);
    expect(c).toMatchObject({ action: 'c', before: null, after: [redacted(), val(2000, 'name', 'x')] });
    expect(u).toMatchObject({ action: 'u', before: [redacted(), val(2000, 'name', 'x')], after: [redacted('hs_seckey'), val(2000, 'name', 'x')] });
    expect(d).toMatchObject({ action: 'd', before: [redacted('hs_seckey'), val(2000, 'name', 'x')], after: null });
    expect(JSON.stringify([c, u, d])).not.toContain('scrypt$');
    // rows without a secret are audited as they are
    const [dp, cp] = await audit(plain);
    expect(cp?.after).toEqual([val(2000, 'name', 'p')]);
    expect(dp?.before).toEqual([val(2000, 'name', 'p')]);
  });

  it('bulk writes inside one handleTransaction roll back together with the rest of it', async () => {
    const p = prefix();
    const a = ref(p, 'tx-a');
    const b = ref(p, 'tx-b');
    await createHandles(ctx, [item(a, val(2000, 'name', 'a'))], actor, 'c', sameValues);
    const from = ctx.changes.length;
    await expect(
      handleTransaction(ctx, actor, async (tx) => {
        expect(await tx.createMany([item(b, val(2000, 'name', 'b'))], 'c', sameValues)).toEqual(['created']);
        expect(await tx.updateMany([item(a, val(2000, 'name', 'a2'))], 'u', sameValues)).toEqual(['updated']);
        expect(await tx.deleteMany([a], 'd')).toEqual(['deleted']);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(ctx.changes.length).toBe(from);
    expect(await store.getHandle(b.key)).toBeNull();
    expect(await store.getHandle(a.key)).toMatchObject({ version: 1, values: [val(2000, 'name', 'a')] });
    expect(await audit(a)).toHaveLength(1);
    expect(await audit(b)).toHaveLength(0);
  });
});
