// Handle.Net writes (registry/handle-changes.ts) on PGlite and PostgreSQL: authorization and create-versus-modify on the locked row.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../handle/codes.js';
import { parseHandle, type HandleId } from '../../handle/identifier.js';
import type { Requester } from '../../registry/access.js';
import { STATUS } from '../../registry/db.js';
import { changeHandle, type ChangeOutcome, type HandleChange } from '../../registry/handle-changes.js';
import { mutateHandle } from '../../registry/handles.js';
import type { Store } from '../../registry/store.js';
import { backends, postgresBackend, testContext, useStore } from '../helpers/registry-backends.js';
import { hasPostgres } from '../helpers/services.js';
import { adminVal, seckeyVal, urlValue } from '../helpers/values.js';
import type { HandleValue } from '../../handle/types.js';
import { hashSecret } from '../../registry/secrets.js';

/** HS_SECKEY hashes at the node's policy (the write path refuses any other `scrypt$…`) */
const H = { abc: await hashSecret('abc') };


// read right to left: add_handle, delete_handle, add/delete derived prefix, modify, remove, add value, …
const ONLY_ADD_HANDLE = '000000000001';
const ALL = '111111111111';

const cred = (handle: string): Requester => ({ kind: 'credential', handle, key: parseHandle(handle, { caseSensitiveSuffix: false }).key, index: 300 });
const actorOf = (who: Requester) => ({ id: who.kind === 'credential' ? `${who.index}:${who.handle}` : 'other' });

/** The outcome of a change, or the Handle code it was refused with. */
async function attempt(p: Promise<ChangeOutcome>): Promise<ChangeOutcome | number> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof HandleError) return e.code;
    throw e;
  }
}

let seq = 0;

/** A prefix under the node whose 0.NA record names a creator (add_handle only) and an editor (everything). */
async function seedPrefix(ctx: ReturnType<typeof testContext>): Promise<{ prefix: string; creator: Requester; editor: Requester; stranger: Requester }> {
  seq += 1;
  const prefix = `88.320924.${500 + seq}`;
  const record = parseHandle(`0.NA/${prefix}`, ctx.policy);
  await mutateHandle(ctx, { handle: record.handle, key: record.key, prefixKey: record.prefixKey }, 'seed', { id: 'test' }, () => [
    adminVal(100, `${prefix}/creator`, 300, ONLY_ADD_HANDLE),
    adminVal(101, `${prefix}/editor`, 300, ALL),
  ]);
  return { prefix, creator: cred(`${prefix}/creator`), editor: cred(`${prefix}/editor`), stranger: cred(`${prefix}/stranger`) };
}

describe.each(backends)('handle changes: $name', (backend) => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  const id = (h: string): HandleId => parseHandle(h, ctx.policy);
  const change = (h: string, c: HandleChange, who: Requester) => attempt(changeHandle(ctx, id(h), c, who, actorOf(who)));
  const create = (values: HandleValue[], overwrite = true): HandleChange => ({ op: 'create', values, overwrite });
  /** Row version, audit count and announcements of a handle: what a refused write must leave as it was. */
  const footprint = async (h: string) => ({
    version: (await store.getHandle(id(h).key))?.version ?? null,
    audit: (await store.listAudit({ handleKey: id(h).key, limit: 1000 })).length,
    announced: ctx.changes.filter((c) => c.keys.includes(id(h).key)).length,
  });

  useStore(backend, (s) => {
    store = s;
    ctx = testContext(s);
  });

  it('create versus modify is decided on the current row: add_handle creates, the same PUT over an existing handle is refused', async () => {
    const { prefix, creator } = await seedPrefix(ctx);
    const h = `${prefix}/Pump-1`;
    const created = await change(h, create([urlValue('https://one.example/')]), creator);
    expect(created).toMatchObject({ changed: true, existed: false, record: { handle: h, version: 1, values: [urlValue('https://one.example/')] } });
    expect(ctx.changes.at(-1)).toEqual({ keys: [`${prefix}/PUMP-1`], prefixKeys: [] });
    const [audit] = await store.listAudit({ handleKey: `${prefix}/PUMP-1` });
    expect(audit).toMatchObject({ actor: `300:${prefix}/creator`, action: 'handle.create', before: null, after: [urlValue('https://one.example/')] });

    // the same credential, the same kind of PUT, now over an existing handle: that needs modify_value
    const before = await footprint(h);
    expect(await change(h, create([urlValue('https://two.example/')]), creator)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await change(h, { op: 'add', values: [urlValue('https://two.example/', 2)], overwrite: false }, creator)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await change(h, { op: 'remove', indexes: [1] }, creator)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await change(h, { op: 'delete' }, creator)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await footprint(h)).toEqual(before);
    expect((await store.getHandle(`${prefix}/PUMP-1`))?.values).toEqual([urlValue('https://one.example/')]);
  });

  it('an editor replaces, adds, removes and deletes; a write that changes nothing is not written, audited or announced', async () => {
    const { prefix, editor } = await seedPrefix(ctx);
    const h = `${prefix}/valve`;
    expect(await change(h, create([urlValue('https://v1.example/')]), editor)).toMatchObject({ changed: true, existed: false });
    expect(await change(h, create([urlValue('https://v2.example/')]), editor)).toMatchObject({ changed: true, existed: true, record: { version: 2 } });
    // without overwrite an existing handle is 101 (the editor may modify, the request says create only)
    expect(await change(h, create([urlValue('https://v3.example/')], false), editor)).toBe(RC.HANDLE_ALREADY_EXISTS);
    const before = await footprint(h);
    // the same values again, timestamps aside: nothing happens
    expect(await change(h, create([{ ...urlValue('https://v2.example/'), timestamp: 1_800_000_000 }]), editor)).toMatchObject({
      changed: false,
      existed: true,
      record: { version: 2, values: [urlValue('https://v2.example/')] },
    });
    expect(await footprint(h)).toEqual(before);
    expect(await change(h, { op: 'add', values: [urlValue('https://extra.example/', 2)], overwrite: false }, editor)).toMatchObject({ record: { version: 3 } });
    expect(await change(h, { op: 'remove', indexes: [1] }, editor)).toMatchObject({ record: { version: 4, values: [urlValue('https://extra.example/', 2)] } });
    expect(await change(h, { op: 'delete' }, editor)).toMatchObject({ record: null, changed: true, existed: true });
    expect(await store.getHandle(id(h).key)).toBeNull();
    expect((await store.listAudit({ handleKey: id(h).key, limit: 100 })).map((a) => a.action)).toEqual([
      'handle.delete',
      'values.remove',
      'values.add',
      'handle.create',
      'handle.create',
    ]);
    expect(await change(h, { op: 'delete' }, editor)).toBe(RC.HANDLE_NOT_FOUND);
  });

  it('nothing is written or announced when authorization fails: a stranger (400), a suspended prefix (401), not homed (301)', async () => {
    const { prefix, stranger, editor } = await seedPrefix(ctx);
    const h = `${prefix}/refused`;
    expect(await change(h, create([urlValue('https://s.example/')]), stranger)).toBe(RC.INVALID_ADMIN);
    expect(await footprint(h)).toEqual({ version: null, audit: 0, announced: 0 });

    const ent = await store.db
      .insertInto('enterprises')
      .values({ name: `e-${prefix}`, credit_code: `CC-${prefix}`, town: '合德镇', industry: 'C3441', address: 'x', contact_name: 'x', contact_phone: '1', status: STATUS.DISABLED })
      .returning('id')
      .executeTakeFirstOrThrow();
    await store.db.insertInto('prefixes').values({ prefix, prefix_key: prefix, enterprise_id: Number(ent.id), status: STATUS.DISABLED }).execute();
    expect(await change(h, create([urlValue('https://s.example/')]), editor)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await footprint(h)).toEqual({ version: null, audit: 0, announced: 0 });

    const outside = '99.1/x';
    expect(await change(outside, create([urlValue('https://s.example/')]), cred('0.NA/88.320924'))).toBe(RC.SERVER_NOT_RESP);
    expect(await store.getHandle('99.1/X')).toBeNull();
  });

  it('the node admin writes anywhere under the node prefix, including prefix records', async () => {
    const { prefix } = await seedPrefix(ctx);
    const node = cred('0.NA/88.320924');
    expect(await change(`${prefix}/by-node`, create([urlValue('https://n.example/')]), node)).toMatchObject({ changed: true, existed: false });
    expect(await change(`0.NA/${prefix}`, { op: 'add', values: [urlValue('https://site.example/', 5)], overwrite: false }, node)).toMatchObject({ changed: true, existed: true });
  });

  it('audits an HS_SECKEY redacted while the row keeps it', async () => {
    const { prefix, editor } = await seedPrefix(ctx);
    const h = `${prefix}/with-key`;
    const secret = seckeyVal(H.abc);
    await change(h, create([urlValue('https://k.example/')]), editor);
    await change(h, { op: 'add', values: [secret], overwrite: false }, editor);
    expect((await store.getHandle(id(h).key))?.values[1]?.data).toEqual({ format: 'string', value: H.abc });
    const [added] = await store.listAudit({ handleKey: id(h).key });
    expect(added?.after).toEqual([urlValue('https://k.example/'), seckeyVal('(redacted)')]);
    expect(JSON.stringify(await store.listAudit({ handleKey: id(h).key }))).not.toContain(H.abc);
  });

  it('two concurrent creates of one key: one created, the other 101', async () => {
    const { prefix, editor } = await seedPrefix(ctx);
    const h = `${prefix}/race`;
    // the second spells the handle in another case: the same key
    const results = await Promise.all([
      change(h, create([urlValue('https://a.example/')], false), editor),
      change(h.toUpperCase(), create([urlValue('https://b.example/')], false), editor),
    ]);
    expect(results.filter((r) => typeof r === 'object' && r.changed && !r.existed)).toHaveLength(1);
    expect(results.filter((r) => r === RC.HANDLE_ALREADY_EXISTS)).toHaveLength(1);
    expect(await footprint(h)).toEqual({ version: 1, audit: 1, announced: 1 });
  });

  it('concurrent overwrite PUTs by a credential that may only create: exactly one creates, none overwrites', async () => {
    const { prefix, creator } = await seedPrefix(ctx);
    const h = `${prefix}/contended`;
    const results = await Promise.all(Array.from({ length: 6 }, (_x, i) => change(h, create([urlValue(`https://w${i}.example/`)]), creator)));
    const winners = results.flatMap((r, i) => (typeof r === 'object' ? [i] : []));
    expect(winners).toHaveLength(1);
    // the losers saw the handle absent (then lost the insert: 101) or present (no modify_value: 401)
    for (const r of results) if (typeof r !== 'object') expect([RC.HANDLE_ALREADY_EXISTS, RC.INSUFFICIENT_PERMISSIONS]).toContain(r);
    const rec = await store.getHandle(id(h).key);
    expect(rec?.version).toBe(1);
    expect(rec?.values).toEqual([urlValue(`https://w${winners[0]}.example/`)]);
    expect(await footprint(h)).toEqual({ version: 1, audit: 1, announced: 1 });
  });
});

describe.skipIf(!hasPostgres)('handle changes: decided inside the transaction (postgres)', () => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  let client: pg.Client;
  useStore(postgresBackend, async (s, url) => {
    store = s;
    ctx = testContext(s);
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });

  /** Resolves once some session of this database waits for a row lock. */
  async function someoneWaitsForALock(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await client.query<{ n: string }>(
        "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      );
      if (Number(rows[0]!.n) > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no session waited for a lock');
  }

  it('a create-only credential\'s PUT waiting on a row deleted meanwhile creates it (judged on the locked row, not a pre-check)', async () => {
    const { prefix, creator } = await seedPrefix(ctx);
    const h = parseHandle(`${prefix}/Reborn`, ctx.policy);
    await mutateHandle(ctx, { handle: h.handle, key: h.key, prefixKey: h.prefixKey }, 'seed', { id: 'test' }, () => [urlValue('https://old.example/')]);
    await client.query('begin');
    await client.query('select key from handles where key = $1 for update', [h.key]);
    const pending = attempt(changeHandle(ctx, h, { op: 'create', values: [urlValue('https://new.example/')], overwrite: true }, creator, actorOf(creator)));
    await someoneWaitsForALock();
    await client.query('delete from handles where key = $1', [h.key]);
    await client.query('commit');
    // when its lock was granted the handle was gone: a create, which add_handle allows
    expect(await pending).toMatchObject({ changed: true, existed: false, record: { version: 1, values: [urlValue('https://new.example/')] } });
  });

  it('a create racing an insert of the same key that commits meanwhile gets 101, writes and announces nothing', async () => {
    const { prefix, editor } = await seedPrefix(ctx);
    const h = parseHandle(`${prefix}/Late`, ctx.policy);
    await client.query('begin');
    await client.query("insert into handles(key, handle, prefix_key, values, version) values ($1, $2, $3, '[]'::jsonb, 1)", [h.key, h.handle, h.prefixKey]);
    const pending = attempt(changeHandle(ctx, h, { op: 'create', values: [urlValue('https://late.example/')], overwrite: false }, editor, actorOf(editor)));
    await someoneWaitsForALock();
    await client.query('commit');
    expect(await pending).toBe(RC.HANDLE_ALREADY_EXISTS);
    expect((await store.getHandle(h.key))?.values).toEqual([]);
    expect(ctx.changes.some((c) => c.keys.includes(h.key))).toBe(false);
  });
});
