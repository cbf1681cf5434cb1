// Identifier registration over PGlite and PostgreSQL: batch limits, per-item outcomes and problems, idempotent retry, scopes, audit, events.
import { beforeEach, describe, expect, it } from 'vitest';
import { parseHandle } from '../../handle/identifier.js';
import { adminValue } from '../../handle/admin.js';
import type { HandleValue } from '../../handle/types.js';
import { stringValue } from '../../handle/value.js';
import type { Transaction } from 'kysely';
import type { Principal } from '../../registry/context.js';
import { STATUS, type Database } from '../../registry/db.js';
import { enableEnterprise, suspendEnterprise } from '../../registry/enterprises.js';
import { createHandles, mutateHandle } from '../../registry/handles.js';
import { deleteBatch, deleteOne, identifierDetail, registerBatch, registerOne } from '../../registry/identifiers.js';
import type { Actor, Store } from '../../registry/store.js';
import { normaliseTemplateInput } from '../../registry/template-rules.js';
import { createTemplate } from '../../registry/templates.js';
import { backends, testContext, useStore } from '../helpers/registry-backends.js';
import { registryRejection } from '../helpers/errors.js';

const actor: Actor = { id: 'user:ent-a', address: '203.0.113.9' };
const NOW = new Date('2024-05-06T07:08:09Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);
/** A string value with the defaults, written at NOW. */
const str = (index: number, type: string, value: string): HandleValue => stringValue(index, type, value, NOW_SEC);

let seq = 0;
function prefix(): string {
  seq += 1;
  return `88.320924.${70 + seq}`;
}

/** Template 1.0: name (required, 1–20), color (optional), legacy (disabled). */
function templateBody(p: string) {
  return {
    prefix: p,
    version: '1.0',
    industryCategory: 'C',
    industrySpecific: '34',
    items: [
      { name: '名称', idType: 'name', idIndex: 2000, required: true, metadata: { type: 'string', minLength: 1, maxLength: 20 } },
      { name: '颜色', idType: 'color', idIndex: 2001 },
      { name: '旧字段', idType: 'legacy', idIndex: 2002, state: 0 },
    ],
  };
}

const val = (index: number, type: string, value: string) => ({ index, type, auth: '', data: { format: 'string', value } });
const good = (handle: string, name = 'pump', extra: unknown[] = []) => ({ handle, templateVersion: '1.0', value: [val(2000, 'name', name), ...extra] });

describe.each(backends)('identifiers: $name', (backend) => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  let p: string;
  useStore(backend, (s) => {
    store = s;
  });
  beforeEach(async () => {
    ctx = testContext(store, () => NOW);
    p = prefix();
    await createTemplate(ctx, normaliseTemplateInput(templateBody(p), 'create'), actor);
  });

  it('creates a batch of 2000 and refuses 2001, an empty batch and a non-array without writing anything', async () => {
    const items = Array.from({ length: 2000 }, (_x, i) => good(`${p}/item-${i}`, `n${i}`));
    const res = await registerBatch(ctx, items, 'create', actor);
    expect(res).toHaveLength(2000);
    expect(res.every((r, i) => r.outcome === 'created' && r.handle === `${p}/item-${i}`)).toBe(true);
    expect((await store.listHandles(p)).total).toBe(2000);
    expect(ctx.changes).toHaveLength(1);
    expect(ctx.changes[0]!.keys).toHaveLength(2000);
    expect(ctx.changes[0]!.keys).toContain(`${p}/ITEM-1999`);

    const q = prefix();
    await createTemplate(ctx, normaliseTemplateInput(templateBody(q), 'create'), actor);
    const over = Array.from({ length: 2001 }, (_x, i) => good(`${q}/item-${i}`));
    await registryRejection(registerBatch(ctx, over, 'create', actor), 'invalid', '单次最多2000条 / at most 2000 items per batch');
    await registryRejection(registerBatch(ctx, over, 'update', actor), 'invalid', /2000/);
    await registryRejection(deleteBatch(ctx, over.map((x) => x.handle), actor), 'invalid', /2000/);
    await registryRejection(registerBatch(ctx, [], 'create', actor), 'invalid', '请求不能为空 / the batch is empty');
    await registryRejection(registerBatch(ctx, { items: over.slice(0, 2) }, 'create', actor), 'invalid', '请求体必须是JSON数组 / the body must be a JSON array');
    await registryRejection(deleteBatch(ctx, 'x', actor), 'invalid');
    expect((await store.listHandles(q)).total).toBe(0);
    expect(ctx.changes).toHaveLength(1);
  });

  it('reports every item on its own, with what was wrong with an invalid one, and writes the valid ones', async () => {
    const other = prefix();
    await createHandles(ctx, [{ ref: { handle: `${p}/taken`, key: `${p}/TAKEN`, prefixKey: p }, values: [] }], actor, 'seed', () => false);
    ctx.changes.length = 0;
    const items: unknown[] = [
      good(`${p}/ok-1`), // 0
      { handle: `${p}/bad-index`, templateVersion: '1.0', value: [val(2000, 'name', 'x'), val(2005, 'x', 'y')] }, // 1
      { handle: `${p}/no-name`, templateVersion: '1.0', value: [val(2001, 'color', 'red')] }, // 2
      { handle: `${p}/reserved`, templateVersion: '1.0', value: [val(2000, 'name', 'x'), val(1001, 'TEMPLATE', '1.0')] }, // 3
      good(`${other}/not-mine`), // 4
      { handle: `${p}/no-template`, templateVersion: '9.9', value: [val(2000, 'name', 'x')] }, // 5
      good(`${p}/taken`, 'different'), // 6
      good(`${p}/dup`, 'same'), // 7
      good(`${p}/dup`, 'same'), // 8
      good(`${p}/dup2`, 'first'), // 9
      good(`${p}/dup2`, 'second'), // 10
      good('no-slash'), // 11
      'not an object', // 12
      { handle: `${p}/bad-shape`, templateVersion: '1.0', value: 'nope' }, // 13
      { handle: `${p}/too-long`, templateVersion: '1.0', value: [val(2000, 'name', '长'.repeat(21))] }, // 14
      { handle: `${p}/disabled`, templateVersion: '1.0', value: [val(2000, 'name', 'x'), val(2002, 'legacy', 'y')] }, // 15
      { handle: `${p}/wrong-type`, templateVersion: '1.0', value: [val(2000, 'color', 'x')] }, // 16
      { templateVersion: '1.0', value: [] }, // 17
      { handle: `${p}/no-version`, value: [val(2000, 'name', 'x')] }, // 18
      good(`${p}/ok-2`, 'zwei', [val(2001, 'COLOR', 'blue')]), // 19
      { handle: `${p}/long-version`, templateVersion: 'v'.repeat(129), value: [val(2000, 'name', 'x')] }, // 20
      { handle: 42, templateVersion: '1.0', value: [] }, // 21
    ];
    const res = await registerBatch(ctx, items, 'create', actor, { allowedPrefixKeys: (k) => k === p });
    expect(res.map((r) => r.outcome)).toEqual([
      'created',
      'invalid',
      'invalid',
      'invalid',
      'forbidden',
      'invalid',
      'exists',
      'created',
      'unchanged',
      'created',
      'exists',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'created',
      'invalid',
      'invalid',
    ]);
    const problem = (i: number) => {
      const r = res[i]!;
      if (r.outcome !== 'invalid') throw new Error(`item ${i} is ${r.outcome}`);
      return r.problem;
    };
    /** a problem found by the template's rules, worded by them */
    const values = (i: number, message: RegExp) => {
      const pr = problem(i);
      expect(pr.kind, `item ${i}`).toBe('values');
      expect(pr.kind === 'values' ? pr.message : '', `item ${i}`).toMatch(message);
    };
    values(1, /^非法操作，索引2005在模板中不存在/);
    values(2, /缺少必填项/);
    values(3, /^索引1001为系统保留 \/ index 1001 is reserved/);
    expect(problem(5)).toEqual({ kind: 'no-template', templateVersion: '9.9' });
    expect(problem(11)).toEqual({ kind: 'bad-handle', message: "Handle has no '/' between prefix and suffix" });
    expect(problem(12)).toEqual({ kind: 'not-an-object' });
    values(13, /value/);
    values(14, /1到20/);
    values(15, /已停用/);
    values(16, /类型应为name/);
    expect(problem(17)).toEqual({ kind: 'missing-handle' });
    expect(problem(18)).toEqual({ kind: 'missing-template-version' });
    expect(problem(20)).toEqual({ kind: 'template-version-too-long', max: 128 });
    expect(problem(21)).toEqual({ kind: 'missing-handle' });
    // no message of any face's wording travels with the results
    for (const r of res) expect(Object.keys(r).sort()).toEqual(r.outcome === 'invalid' ? ['handle', 'outcome', 'problem'] : ['handle', 'outcome']);
    expect(res.map((r) => r.handle)).toEqual(
      items.map((x) => (typeof x === 'object' && x !== null && typeof (x as { handle?: unknown }).handle === 'string' ? (x as { handle: string }).handle : '')),
    );

    // what was written: exactly the created items, with the template's type spelling and the TEMPLATE value
    expect((await store.listHandles(p)).handles.sort()).toEqual([`${p}/dup`, `${p}/dup2`, `${p}/ok-1`, `${p}/ok-2`, `${p}/taken`].sort());
    expect(await store.getHandle(`${other}/NOT-MINE`)).toBeNull();
    const ok2 = await store.getHandle(`${p}/OK-2`);
    expect(ok2?.values).toEqual([
      str(1001, 'TEMPLATE', '1.0'),
      str(2000, 'name', 'zwei'),
      str(2001, 'color', 'blue'),
    ]);
    expect((await store.getHandle(`${p}/DUP2`))?.values[1]?.data.value).toBe('first');
    expect((await store.getHandle(`${p}/TAKEN`))?.values).toEqual([]);

    // events: exactly the created keys, once
    expect(ctx.changes).toEqual([{ keys: [`${p}/DUP`, `${p}/DUP2`, `${p}/OK-1`, `${p}/OK-2`], prefixKeys: [] }]);
    // audit: one row per created identifier
    const rows = await store.listAudit({ handleKey: `${p}/OK-2` });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'identifier.create', actor: actor.id, address: actor.address, before: null, after: ok2?.values });
    expect(await store.listAudit({ handleKey: `${p}/DUP` })).toHaveLength(1);
  });

  it('treats a retried batch as unchanged: no new versions, audit rows or events', async () => {
    const items = Array.from({ length: 50 }, (_x, i) => good(`${p}/r-${i}`, `v${i}`, i % 2 ? [val(2001, 'color', 'red')] : []));
    expect((await registerBatch(ctx, items, 'create', actor)).every((r) => r.outcome === 'created')).toBe(true);
    const auditBefore = await store.listAudit({ actor: actor.id, limit: 1000 });
    const later = testContext(store, () => new Date(NOW.getTime() + 3_600_000));
    const retry = await registerBatch(later, items, 'create', actor);
    expect(retry).toEqual(items.map((x) => ({ handle: x.handle, outcome: 'unchanged' })));
    expect(later.changes).toEqual([]);
    expect(await store.listAudit({ actor: actor.id, limit: 1000 })).toEqual(auditBefore);
    const rec = await store.getHandle(`${p}/R-7`);
    expect(rec?.version).toBe(1);
    expect(rec?.values.every((v) => v.timestamp === NOW_SEC)).toBe(true);
    // a different value is not a retry
    expect(await registerBatch(later, [good(`${p}/r-7`, 'changed')], 'create', actor)).toEqual([{ handle: `${p}/r-7`, outcome: 'exists' }]);
  });

  it('updates per item, replacing template values and keeping the Handle face values below 1000', async () => {
    await registerBatch(ctx, [good(`${p}/u-1`, 'one', [val(2001, 'color', 'red')]), good(`${p}/u-2`, 'two')], 'create', actor);
    // the Handle face adds an admin value to u-1
    const admin = adminValue(`0.NA/${p}`, 200, '111111111111', 100, 1);
    await mutateHandle(ctx, { handle: `${p}/u-1`, key: `${p}/U-1`, prefixKey: p }, 'test', actor, (cur) => [admin, ...cur!.values]);
    ctx.changes.length = 0;

    const later = testContext(store, () => new Date(NOW.getTime() + 60_000));
    const res = await registerBatch(
      later,
      [
        good(`${p}/u-1`, 'one-b'), // color dropped, name changed
        good(`${p}/u-2`, 'two'), // same: unchanged
        good(`${p}/u-missing`),
        { handle: `${p}/u-2`, templateVersion: '1.0', value: [val(2001, 'color', 'x')] }, // required missing
      ],
      'update',
      actor,
    );
    expect(res.slice(0, 3)).toEqual([
      { handle: `${p}/u-1`, outcome: 'updated' },
      { handle: `${p}/u-2`, outcome: 'unchanged' },
      { handle: `${p}/u-missing`, outcome: 'not-found' },
    ]);
    expect(res[3]).toEqual({ handle: `${p}/u-2`, outcome: 'invalid', problem: { kind: 'values', message: expect.stringMatching(/缺少必填项/) } });
    const u1 = await store.getHandle(`${p}/U-1`);
    expect(u1?.values.map((v) => [v.index, v.type, v.data.value])).toEqual([
      [100, 'HS_ADMIN', admin.data.value],
      [1001, 'TEMPLATE', '1.0'],
      [2000, 'name', 'one-b'],
    ]);
    // unchanged values keep their timestamp, changed ones get the new one
    expect(u1?.values.find((v) => v.index === 1001)?.timestamp).toBe(NOW_SEC);
    expect(u1?.values.find((v) => v.index === 2000)?.timestamp).toBe(NOW_SEC + 60);
    expect((await store.getHandle(`${p}/U-2`))?.version).toBe(1);
    expect(later.changes).toEqual([{ keys: [`${p}/U-1`], prefixKeys: [] }]);
    const rows = await store.listAudit({ handleKey: `${p}/U-1` });
    expect(rows[0]).toMatchObject({ action: 'identifier.update' });
    expect((rows[0]!.before as HandleValue[]).find((v) => v.index === 2001)?.data.value).toBe('red');
  });

  it('deletes per item: deleted, not-found, invalid, forbidden', async () => {
    await registerBatch(ctx, [good(`${p}/d-1`), good(`${p}/d-2`)], 'create', actor);
    ctx.changes.length = 0;
    const elsewhere = `${prefix()}/d-x`;
    const res = await deleteBatch(ctx, [`${p}/d-1`, `${p}/d-none`, 42, elsewhere, `${p}/D-2`, 'no-slash'], actor, { allowedPrefixKeys: (k) => k === p });
    expect(res).toEqual([
      { handle: `${p}/d-1`, outcome: 'deleted' },
      { handle: `${p}/d-none`, outcome: 'not-found' },
      { handle: '', outcome: 'invalid', problem: { kind: 'missing-handle' } },
      { handle: elsewhere, outcome: 'forbidden' },
      { handle: `${p}/D-2`, outcome: 'deleted' },
      { handle: 'no-slash', outcome: 'invalid', problem: { kind: 'bad-handle', message: "Handle has no '/' between prefix and suffix" } },
    ]);
    expect((await store.listHandles(p)).total).toBe(0);
    expect(ctx.changes).toEqual([{ keys: [`${p}/D-1`, `${p}/D-2`], prefixKeys: [] }]);
    const rows = await store.listAudit({ handleKey: `${p}/D-1` });
    expect(rows[0]).toMatchObject({ action: 'identifier.delete', after: null });
  });

  it('single operations are batches of one with that item\'s result; detail reads an identifier back', async () => {
    expect(await registerOne(ctx, good(`${p}/s-1`), 'create', actor)).toEqual({ handle: `${p}/s-1`, outcome: 'created' });
    expect(await registerOne(ctx, good(`${p}/s-1`), 'create', actor)).toEqual({ handle: `${p}/s-1`, outcome: 'unchanged' });
    expect(await registerOne(ctx, good(`${p}/s-1`, 'other'), 'create', actor)).toEqual({ handle: `${p}/s-1`, outcome: 'exists' });
    expect(await registerOne(ctx, good(`${p}/s-2`, ''), 'create', actor)).toMatchObject({ outcome: 'invalid', problem: { kind: 'values', message: expect.stringMatching(/1到20/) } });
    expect(await registerOne(ctx, good(`${p}/s-3`), 'create', actor, { allowedPrefixKeys: () => false })).toEqual({ handle: `${p}/s-3`, outcome: 'forbidden' });
    expect(await registerOne(ctx, { ...good(`${p}/s-3`), templateVersion: 'nope' }, 'create', actor)).toEqual({
      handle: `${p}/s-3`,
      outcome: 'invalid',
      problem: { kind: 'no-template', templateVersion: 'nope' },
    });
    expect(await registerOne(ctx, good(`${p}/s-9`), 'update', actor)).toEqual({ handle: `${p}/s-9`, outcome: 'not-found' });
    expect(await registerOne(ctx, good(`${p}/s-1`, 'renamed'), 'update', actor)).toEqual({ handle: `${p}/s-1`, outcome: 'updated' });

    const id = (h: string) => parseHandle(h, ctx.policy);
    expect(await identifierDetail(ctx, id(`${p}/S-1`))).toEqual({
      handle: `${p}/s-1`,
      prefix: p,
      templateVersion: '1.0',
      values: [str(1001, 'TEMPLATE', '1.0'), str(2000, 'name', 'renamed')],
    });
    expect(await identifierDetail(ctx, id(`${p}/none`))).toBeNull();
    // a handle not registered over a template: no version, every value by index
    const admin: HandleValue = { ...str(100, 'HS_ADMIN', ''), data: { format: 'admin', value: { handle: `0.NA/${p}`, index: 300, permissions: '111111111111' } } };
    await mutateHandle(ctx, { handle: `${p}/Plain`, key: `${p}/PLAIN`, prefixKey: p }, 'test', actor, () => [str(7, 'URL', 'https://x.example/'), admin]);
    expect(await identifierDetail(ctx, id(`${p}/plain`))).toEqual({ handle: `${p}/Plain`, prefix: p, templateVersion: null, values: [str(7, 'URL', 'https://x.example/'), admin] });

    expect(await deleteOne(ctx, `${p}/s-1`, actor)).toEqual({ handle: `${p}/s-1`, outcome: 'deleted' });
    expect(await deleteOne(ctx, `${p}/s-1`, actor)).toEqual({ handle: `${p}/s-1`, outcome: 'not-found' });
    expect(await identifierDetail(ctx, id(`${p}/s-1`))).toBeNull();
  });

  it('fails the whole call when the database fails at commit, writing nothing and firing no events', async () => {
    // the batch's transaction does all its work, then the database fails before the commit
    const broken = testContext(
      withTransactionHook(store, (run) =>
        run(async () => {
          throw new Error('connection lost');
        }),
      ),
    );
    await expect(registerBatch(broken, [good(`${p}/f-1`), good(`${p}/f-2`)], 'create', actor)).rejects.toThrow('connection lost');
    expect(broken.changes).toEqual([]);
    expect(await store.getHandle(`${p}/F-1`)).toBeNull();
    expect(await store.listAudit({ handleKey: `${p}/F-1` })).toEqual([]);
  });

  describe('a principal\'s prefixes', () => {
    const enterpriseActor: Actor = { id: 'user:ent', address: '203.0.113.10' };
    let seqEnt = 0;
    /** An enabled enterprise holding `prefix` (rows as approval leaves them) and its principal. */
    async function enterpriseWith(prefixText: string): Promise<{ id: number; principal: Principal }> {
      seqEnt += 1;
      const ent = await store.db
        .insertInto('enterprises')
        .values({ name: `ent-${prefixText}`, credit_code: `CC-${prefixText}-${seqEnt}`, town: '合德镇', industry: 'C3441', address: 'x', contact_name: 'x', contact_phone: '1', status: STATUS.ENABLED })
        .returning('id')
        .executeTakeFirstOrThrow();
      await store.db.insertInto('prefixes').values({ prefix: prefixText, prefix_key: prefixText, enterprise_id: Number(ent.id), status: STATUS.ENABLED }).execute();
      return { id: Number(ent.id), principal: { userId: 1000 + seqEnt, username: `ent${seqEnt}`, role: 'enterprise', enterpriseId: Number(ent.id) } };
    }
    const reviewer: Principal = { userId: 1, username: 'rev', role: 'reviewer', enterpriseId: null };
    const operator: Principal = { userId: 2, username: 'op', role: 'operator', enterpriseId: null };

    it('an enterprise writes under its prefix and those derived from it; elsewhere, and for reviewers, items are forbidden', async () => {
      const { principal } = await enterpriseWith(p);
      const sub = `${p}.5`;
      await createTemplate(ctx, normaliseTemplateInput(templateBody(sub), 'create'), actor);
      const other = prefix();
      await createTemplate(ctx, normaliseTemplateInput(templateBody(other), 'create'), actor);
      const res = await registerBatch(ctx, [good(`${p}/e-1`), good(`${sub}/e-2`), good(`${other}/e-3`)], 'create', enterpriseActor, { principal });
      expect(res.map((r) => r.outcome)).toEqual(['created', 'created', 'forbidden']);
      expect(await store.getHandle(`${other}/E-3`)).toBeNull();
      expect((await registerBatch(ctx, [good(`${p}/e-4`)], 'create', enterpriseActor, { principal: reviewer })).map((r) => r.outcome)).toEqual(['forbidden']);
      expect((await registerBatch(ctx, [good(`${other}/e-5`)], 'create', enterpriseActor, { principal: operator })).map((r) => r.outcome)).toEqual(['created']);
      // a fixed restriction and a principal both apply
      const both = await registerBatch(ctx, [good(`${p}/e-6`), good(`${sub}/e-7`)], 'create', enterpriseActor, { principal, allowedPrefixKeys: (k) => k === sub });
      expect(both.map((r) => r.outcome)).toEqual(['forbidden', 'created']);
      expect((await deleteBatch(ctx, [`${other}/e-5`, `${p}/e-1`], enterpriseActor, { principal })).map((r) => r.outcome)).toEqual(['forbidden', 'deleted']);
    });

    it('a suspended enterprise\'s items are forbidden and nothing is written', async () => {
      const { id, principal } = await enterpriseWith(p);
      await registerBatch(ctx, [good(`${p}/s-1`)], 'create', enterpriseActor, { principal });
      await suspendEnterprise(ctx, id, 'test', actor);
      ctx.changes.length = 0;
      const created = await registerBatch(ctx, [good(`${p}/s-2`)], 'create', enterpriseActor, { principal });
      const updated = await registerBatch(ctx, [good(`${p}/s-1`, 'renamed')], 'update', enterpriseActor, { principal });
      const deleted = await deleteBatch(ctx, [`${p}/s-1`], enterpriseActor, { principal });
      expect([...created, ...updated, ...deleted].map((r) => r.outcome)).toEqual(['forbidden', 'forbidden', 'forbidden']);
      expect(await store.getHandle(`${p}/S-2`)).toBeNull();
      expect((await store.getHandle(`${p}/S-1`))?.values.find((v) => v.index === 2000)?.data.value).toBe('pump');
      expect(ctx.changes).toEqual([]);
    });

    it('a suspension committing between the pre-check and the write is seen inside the transaction: every item forbidden', async () => {
      const { id, principal } = await enterpriseWith(p);
      expect((await registerBatch(ctx, [good(`${p}/r-1`), good(`${p}/r-2`)], 'create', enterpriseActor, { principal })).map((r) => r.outcome)).toEqual([
        'created',
        'created',
      ]);
      // the suspension commits when the batch opens its write transaction, after its pre-check passed
      let suspended = 0;
      const racing = testContext(
        withTransactionHook(store, async (run) => {
          if (suspended === 0) {
            suspended += 1;
            await suspendEnterprise(ctx, id, 'suspended meanwhile', actor);
          }
          return run();
        }),
        () => NOW,
      );
      const auditBefore = (await store.listAudit({ actor: enterpriseActor.id, limit: 1000 })).length;
      const created = await registerBatch(racing, [good(`${p}/r-3`), good(`${p}/r-4`)], 'create', enterpriseActor, { principal });
      expect(suspended).toBe(1);
      expect(created.map((r) => [r.handle, r.outcome])).toEqual([
        [`${p}/r-3`, 'forbidden'],
        [`${p}/r-4`, 'forbidden'],
      ]);
      expect(await store.getHandle(`${p}/R-3`)).toBeNull();
      expect(racing.changes).toEqual([]);

      // the same for an update and a delete (the enterprise enabled again before each pre-check)
      for (const op of ['update', 'delete'] as const) {
        await enableEnterprise(ctx, id, actor);
        suspended = 0;
        const res =
          op === 'update'
            ? await registerBatch(racing, [good(`${p}/r-1`, 'changed')], 'update', enterpriseActor, { principal })
            : await deleteBatch(racing, [`${p}/r-2`], enterpriseActor, { principal });
        expect(suspended).toBe(1);
        expect(res.map((r) => r.outcome)).toEqual(['forbidden']);
      }
      expect((await store.getHandle(`${p}/R-1`))?.values.find((v) => v.index === 2000)?.data.value).toBe('pump');
      expect(await store.getHandle(`${p}/R-2`)).not.toBeNull();
      expect(racing.changes).toEqual([]);
      expect(await store.listAudit({ actor: enterpriseActor.id, limit: 1000 })).toHaveLength(auditBefore);
    });
  });
});

/**
 * `store` with a hook around every transaction the registry opens: `hook(run)` decides when (and whether) the real
 * transaction runs; `run(after)` runs it, calling `after` inside the transaction once the work is done.
 */
function withTransactionHook(store: Store, hook: (run: (after?: () => Promise<void>) => Promise<unknown>) => Promise<unknown>): Store {
  const db = new Proxy(store.db, {
    get(target, prop) {
      if (prop === 'transaction') {
        return () => ({
          execute: (fn: (trx: Transaction<Database>) => Promise<unknown>) =>
            hook((after) =>
              target.transaction().execute(async (trx) => {
                const result = await fn(trx);
                if (after) await after();
                return result;
              }),
            ),
        });
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'db') return db;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
