// The bulk create's parameters and storage on PGlite and PostgreSQL: binary text arrays round-trip, lz4 where the server has it, mixed secret items audited redacted, atomicity.
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { sameValues } from '../../handle/ops.js';
import type { HandleValue } from '../../handle/types.js';
import { REDACTED } from '../../registry/audit.js';
import { createHandles, handleTransaction } from '../../registry/handles.js';
import type { Actor, BulkItem, HandleRef, Store } from '../../registry/store.js';
import { binaryTextArray, TextArrayBuilder } from '../../registry/text-array.js';
import { backends, ref, testContext, useStore } from '../helpers/registry-backends.js';
import { val } from '../helpers/values.js';

const actor: Actor = { id: 'user:arrays', address: '192.0.2.9' };
const item = (r: HandleRef, ...values: HandleValue[]): BulkItem => ({ ref: r, values });

/** Strings that an array literal would have to escape, and sizes that make the builder grow. */
const AWKWARD: (string | null)[] = [
  '',
  null,
  'plain',
  '"quoted" \\ back\\slash, {brace}, comma',
  'tab\tnew\nline\rreturn',
  '离心泵 IS80-65-160 射阳县',
  'emoji 🚰 and 𠀀 (surrogate pairs)',
  'NULL',
  'x'.repeat(70_000),
  '泵'.repeat(30_000),
];

describe('binary text arrays (registry/text-array.ts)', () => {
  it("writes PostgreSQL's array_send layout: header, then length-prefixed UTF-8, -1 for NULL", () => {
    const b = binaryTextArray(['a', null, '泵']);
    expect(b.readInt32BE(0)).toBe(1); // one dimension
    expect(b.readInt32BE(4)).toBe(1); // has nulls
    expect(b.readInt32BE(8)).toBe(25); // text
    expect(b.readInt32BE(12)).toBe(3);
    expect(b.readInt32BE(16)).toBe(1);
    expect(b.readInt32BE(20)).toBe(1);
    expect(b.subarray(24, 25).toString()).toBe('a');
    expect(b.readInt32BE(25)).toBe(-1);
    expect(b.readInt32BE(29)).toBe(3);
    expect(b.subarray(33).toString()).toBe('泵');
    expect(binaryTextArray([]).length).toBe(20);
    expect(binaryTextArray(['x']).readInt32BE(4)).toBe(0);
  });

  it('grows when later elements are far larger than the first, and gives PGlite a plain array', () => {
    const b = new TextArrayBuilder('postgres', 3);
    for (const s of ['a', 'b'.repeat(100_000), '泵'.repeat(50_000)]) b.push(s);
    const out = b.param() as Buffer;
    expect(out.length).toBe(20 + 3 * 4 + 1 + 100_000 + 150_000);
    const l = new TextArrayBuilder('pglite');
    l.push('a');
    l.push(null);
    expect(l.param()).toEqual(['a', null]);
  });
});

describe.each(backends)('bulk create parameters and storage: $name', (backend) => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  useStore(backend, (s) => {
    store = s;
    ctx = testContext(s);
  });

  it('passes awkward strings, NULLs and large elements through unnest() intact', async () => {
    const b = new TextArrayBuilder(store.kind, AWKWARD.length);
    for (const s of AWKWARD) b.push(s);
    const r = await sql<{ s: string | null; n: string | number }>`select s, n from unnest(${b.param()}::text[]) with ordinality as t(s, n) order by n`.execute(store.db);
    expect(r.rows.map((x) => x.s)).toEqual(AWKWARD);
  });

  it('compresses handle values with lz4 where the server has it (migration 009), pglz otherwise', async () => {
    const has = await sql<{ lz4: boolean }>`
      select coalesce('lz4' = any(enumvals), false) as lz4 from pg_settings where name = 'default_toast_compression'`.execute(store.db);
    const cols = await sql<{ attname: string; attcompression: string }>`
      select attname, attcompression::text as attcompression from pg_attribute
      where attrelid in ('handles'::regclass, 'audit_log'::regclass) and attname in ('values', 'public_json', 'before', 'after') order by attname`.execute(store.db);
    expect(cols.rows).toHaveLength(4);
    for (const c of cols.rows) expect(c.attcompression, c.attname).toBe(has.rows[0]?.lz4 === true ? 'l' : '');
    // PGlite is built without lz4: its migration leaves pglz
    if (backend.name === 'pglite') expect(has.rows[0]?.lz4).toBe(false);
    // a large row is stored compressed and reads back the same
    const r = ref('88.320924.91', 'big');
    const big = val(2000, 'name', '泵'.repeat(3000));
    expect(await createHandles(ctx, [item(r, big)], actor, 'bulk.create', sameValues)).toEqual(['created']);
    expect((await store.getHandle(r.key))?.values).toEqual([big]);
  });

  it('audits secret items redacted and the others with their values, wherever the first secret falls in the batch', async () => {
    const p = '88.320924.92';
    const refs = ['a', 'b', 'c', 'd'].map((s) => ref(p, s));
    const secret = (n: string): HandleValue => ({ ...val(300, 'HS_SECKEY', `plain-${n}`), permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false } });
    const out = await createHandles(
      ctx,
      [item(refs[0]!, val(2000, 'name', 'a')), item(refs[1]!, val(2000, 'name', 'b')), item(refs[2]!, secret('c'), val(2000, 'name', 'c')), item(refs[3]!, val(2000, 'name', 'd'))],
      actor,
      'bulk.create',
      sameValues,
    );
    expect(out).toEqual(['created', 'created', 'created', 'created']);
    for (const [i, r] of refs.entries()) {
      const rows = await store.listAudit({ handleKey: r.key });
      expect(rows, r.handle).toHaveLength(1);
      const after = rows[0]!.after as HandleValue[];
      if (i === 2) {
        expect(after.find((v) => v.type === 'HS_SECKEY')?.data.value).toBe(REDACTED);
        // the row keeps the secret (hashed at the node's policy), never the plain text
        const stored = (await store.getHandle(r.key))!.values.find((v) => v.type === 'HS_SECKEY')!.data.value as string;
        expect(stored.startsWith('scrypt$')).toBe(true);
      } else {
        expect(after).toEqual((await store.getHandle(r.key))!.values);
      }
    }
  });

  it('leaves nothing of a batch when its transaction fails after the bulk statement (row, audit and event together)', async () => {
    const r = ref('88.320924.93', 'atomic');
    const before = ctx.changes.length;
    await expect(
      handleTransaction(ctx, actor, async (tx) => {
        expect(await tx.createMany([item(r, val(2000, 'name', 'x'))], 'bulk.create', sameValues)).toEqual(['created']);
        throw new Error('fails before commit');
      }),
    ).rejects.toThrow('fails before commit');
    expect(await store.getHandle(r.key)).toBeNull();
    expect(await store.listAudit({ handleKey: r.key })).toEqual([]);
    expect(ctx.changes.length).toBe(before);
    // and the same batch sent again is created once, then unchanged on every re-send
    expect(await createHandles(ctx, [item(r, val(2000, 'name', 'x'))], actor, 'bulk.create', sameValues)).toEqual(['created']);
    expect(await createHandles(ctx, [item(r, val(2000, 'name', 'x'))], actor, 'bulk.create', sameValues)).toEqual(['unchanged']);
    expect(await store.listAudit({ handleKey: r.key })).toHaveLength(1);
  });
});
