// Sealed copies of plain HS_SECKEY secrets (registry/secret-copies.ts, migration 008) on PGlite and PostgreSQL: kept by every write path in the row's transaction, dropped with the secret, never readable without the key.
import { describe, expect, it } from 'vitest';
import { HandleError } from '../../handle/codes.js';
import { sameValues } from '../../handle/ops.js';
import { TYPE, type HandleValue } from '../../handle/types.js';
import { secretKeyValue } from '../../handle/value.js';
import { ensureNodeAdmin } from '../../registry/bootstrap.js';
import { createHandles, deleteHandles, handleTransaction, mutateHandle, updateHandles } from '../../registry/handles.js';
import { copyActions, secretKeysFor } from '../../registry/secret-copies.js';
import { hashSecret } from '../../registry/secrets.js';
import type { Store } from '../../registry/store.js';
import { alice, backends, freshPrefix, ref, testContext, useStore } from '../helpers/registry-backends.js';
import { T0, urlValue } from '../helpers/values.js';

const sec = (secret: string, index = 300): HandleValue => ({ ...secretKeyValue(secret, T0), index });

describe('copyActions', () => {
  const a = sec('scrypt$a');
  const b = sec('scrypt$b');
  it('seals what was given in plain text, drops what changed otherwise or went away, keeps what was carried over', () => {
    expect([...copyActions(null, [a], new Map([[300, 'plain']]))]).toEqual([[300, { hash: 'scrypt$a', secret: 'plain' }]]);
    expect([...copyActions([a], [a], new Map())]).toEqual([]);
    expect([...copyActions([a], [b], new Map())]).toEqual([[300, null]]);
    expect([...copyActions([a], [urlValue('https://x.example/')], new Map())]).toEqual([[300, null]]);
    expect([...copyActions([a], null, new Map())]).toEqual([]); // the row goes, its copies with it (cascade)
  });
});

describe.each(backends)('sealed secret copies: $name', (backend) => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  useStore(backend, (s) => {
    store = s;
    ctx = testContext(s);
  });
  const copies = async (key: string) => (await store.db.selectFrom('secret_key_copies').select(['idx', 'sealed']).where('handle_key', '=', key).execute()).map((r) => r.idx);

  it('a plain secret written through the write path is kept sealed in the same transaction; a new one replaces it; removal drops it', async () => {
    const r = ref(freshPrefix(), 'ADMIN');
    await mutateHandle(ctx, r, 'create', alice, () => [sec('first'), sec('second', 301)]);
    expect(await copies(r.key)).toEqual([300, 301]);
    const sealed = (await store.db.selectFrom('secret_key_copies').select('sealed').where('handle_key', '=', r.key).execute()).map((x) => x.sealed).join('\n');
    expect(sealed).not.toMatch(/first|second/);
    expect(await secretKeysFor(ctx, r.key, 300)).toEqual({ stored: 1, secrets: [{ index: 300, secret: 'first' }] });
    expect(await secretKeysFor(ctx, r.key, 0)).toEqual({ stored: 2, secrets: [{ index: 300, secret: 'first' }, { index: 301, secret: 'second' }] });
    // another value changes: the copies stay
    await mutateHandle(ctx, r, 'add', alice, (cur) => [...cur!.values, urlValue('https://x.example/')]);
    expect((await secretKeysFor(ctx, r.key, 300)).secrets).toHaveLength(1);
    // a new secret at 300 replaces its copy; 301 removed drops its copy
    await mutateHandle(ctx, r, 'rotate', alice, (cur) => [...cur!.values.filter((v) => v.type !== TYPE.SECKEY), sec('third')]);
    expect(await copies(r.key)).toEqual([300]);
    expect((await secretKeysFor(ctx, r.key, 0)).secrets).toEqual([{ index: 300, secret: 'third' }]);
    // a hash given as such: stored, but nothing can check a MAC with it
    const hash = await hashSecret('fourth');
    await mutateHandle(ctx, r, 'hash', alice, (cur) => [...cur!.values.filter((v) => v.type !== TYPE.SECKEY), sec(hash)]);
    expect(await secretKeysFor(ctx, r.key, 300)).toEqual({ stored: 1, secrets: [] });
    // the same plain secret given again: nothing new in the row, but the copy is made
    const before = (await store.getHandle(r.key))!.version;
    await mutateHandle(ctx, r, 'again', alice, (cur) => [...cur!.values.filter((v) => v.type !== TYPE.SECKEY), sec('fourth')]);
    expect((await store.getHandle(r.key))!.version).toBe(before);
    expect((await secretKeysFor(ctx, r.key, 300)).secrets).toEqual([{ index: 300, secret: 'fourth' }]);
    // deleting the handle drops its copies
    await mutateHandle(ctx, r, 'delete', alice, () => null);
    expect(await copies(r.key)).toEqual([]);
    expect(await secretKeysFor(ctx, r.key, 300)).toEqual({ stored: 0, secrets: [] });
  });

  it('a write that fails rolls its copy back with the row', async () => {
    const r = ref(freshPrefix(), 'ROLLBACK');
    await expect(
      handleTransaction(ctx, alice, async (tx) => {
        await tx.mutate(r, 'create', () => [sec('never')]);
        throw new HandleError(2, 'abort');
      }),
    ).rejects.toThrow('abort');
    expect(await copies(r.key)).toEqual([]);
  });

  it('bulk create, update and delete keep the copies as the single write does', async () => {
    const p = freshPrefix();
    const [a, b] = [ref(p, 'BULK-A'), ref(p, 'BULK-B')];
    expect(await createHandles(ctx, [{ ref: a, values: [sec('a1')] }, { ref: b, values: [urlValue('https://b.example/')] }], alice, 'bulk.create', sameValues)).toEqual(['created', 'created']);
    expect((await secretKeysFor(ctx, a.key, 300)).secrets).toEqual([{ index: 300, secret: 'a1' }]);
    expect(await copies(b.key)).toEqual([]);
    expect(await updateHandles(ctx, [{ ref: a, values: [sec('a2')] }, { ref: b, values: [sec('b1')] }, { ref: a, values: [sec('a3')] }], alice, 'bulk.update', sameValues)).toEqual([
      'updated',
      'updated',
      'updated',
    ]);
    expect((await secretKeysFor(ctx, a.key, 300)).secrets).toEqual([{ index: 300, secret: 'a3' }]);
    expect((await secretKeysFor(ctx, b.key, 300)).secrets).toEqual([{ index: 300, secret: 'b1' }]);
    expect(await deleteHandles(ctx, [a, b], alice, 'bulk.delete')).toEqual(['deleted', 'deleted']);
    expect([...(await copies(a.key)), ...(await copies(b.key))]).toEqual([]);
  });

  it('a copy that does not belong to the stored hash, or does not open, is ignored; no key, no copies', async () => {
    const r = ref(freshPrefix(), 'TAMPER');
    await mutateHandle(ctx, r, 'create', alice, () => [sec('mine')]);
    const other = ref(freshPrefix(), 'OTHER');
    await mutateHandle(ctx, other, 'create', alice, () => [sec('theirs')]);
    // a copy moved from another handle names that handle: refused
    const theirs = (await store.db.selectFrom('secret_key_copies').select('sealed').where('handle_key', '=', other.key).executeTakeFirstOrThrow()).sealed;
    await store.db.updateTable('secret_key_copies').set({ sealed: theirs }).where('handle_key', '=', r.key).execute();
    expect(await secretKeysFor(ctx, r.key, 300)).toEqual({ stored: 1, secrets: [] });
    await store.db.updateTable('secret_key_copies').set({ sealed: 'k:garbage' }).where('handle_key', '=', r.key).execute();
    expect(await secretKeysFor(ctx, r.key, 300)).toEqual({ stored: 1, secrets: [] });
    // a node without a password key (SNMS_V1_LOGIN=off) keeps none
    const keyless = { ...testContext(store), passwordDigests: null };
    const k = ref(freshPrefix(), 'KEYLESS');
    await mutateHandle(keyless, k, 'create', alice, () => [sec('nokey')]);
    expect(await copies(k.key)).toEqual([]);
    expect(await secretKeysFor(keyless, k.key, 300)).toEqual({ stored: 1, secrets: [] });
  });

  it('the node admin made at start has its copy; an unchanged ADMIN_SECRET makes one for a node from before', async () => {
    const c = { ...testContext(store), nodePrefix: '88.777', nodePrefixKey: '88.777' };
    await ensureNodeAdmin(c, 'boot-secret');
    expect((await secretKeysFor(c, '0.NA/88.777', 300)).secrets).toEqual([{ index: 300, secret: 'boot-secret' }]);
    await store.db.deleteFrom('secret_key_copies').where('handle_key', '=', '0.NA/88.777').execute();
    expect((await ensureNodeAdmin(c, 'boot-secret')).outcome).toBe('unchanged');
    expect((await secretKeysFor(c, '0.NA/88.777', 300)).secrets).toEqual([{ index: 300, secret: 'boot-secret' }]);
  });
});
