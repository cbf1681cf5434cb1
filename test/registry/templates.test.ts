// Templates over PGlite and PostgreSQL: create/get/list, incremental update (add, disable, never delete), delete refused in use.
import { describe, expect, it } from 'vitest';
import { deleteHandles } from '../../registry/handles.js';
import { registerOne } from '../../registry/identifiers.js';
import type { Actor, Store } from '../../registry/store.js';
import { normaliseTemplateInput } from '../../registry/template-rules.js';
import { createTemplate, deleteTemplate, getTemplate, listTemplates, updateTemplate } from '../../registry/templates.js';
import { backends, testContext, useStore } from '../helpers/registry-backends.js';
import { registryRejection } from '../helpers/errors.js';

const actor: Actor = { id: 'user:ent-a', address: '198.51.100.4' };

let seq = 0;
function prefix(): string {
  seq += 1;
  return `88.320924.${40 + seq}`;
}

function body(p: string, extra: Record<string, unknown> = {}) {
  return {
    prefix: p,
    version: '1.0',
    industryCategory: 'C',
    industrySpecific: '34',
    industryTrade: '344',
    industrySubclass: '3441',
    type: 1,
    description: '离心泵',
    items: [
      { name: '产品名称', idType: 'productName', idIndex: '2000', required: true, metadata: { type: 'string', minLength: 1, maxLength: 64 } },
      { name: '型号', idType: 'model', idIndex: '2001', metadata: { type: 'string', minLength: 0, maxLength: 32 } },
    ],
    ...extra,
  };
}

describe.each(backends)('templates: $name', (backend) => {
  let store: Store;
  useStore(backend, (s) => {
    store = s;
  });

  it('creates a template and returns it in the SNMS v5 GET shape, case-insensitive on the prefix only', async () => {
    const ctx = testContext(store);
    const p = prefix();
    const created = await createTemplate(ctx, normaliseTemplateInput(body(`${p}.ab`), 'create'), actor);
    const expected = {
      prefix: `${p}.ab`,
      version: '1.0',
      industryCategory: 'C',
      industrySpecific: '34',
      industryTrade: '344',
      industrySubclass: '3441',
      type: 1,
      description: '离心泵',
      items: [
        { name: '产品名称', idType: 'productName', idIndex: 2000, required: true, state: 1, metadata: { type: 'string', minLength: 1, maxLength: 64 } },
        { name: '型号', idType: 'model', idIndex: 2001, required: false, state: 1, metadata: { type: 'string', minLength: 0, maxLength: 32 } },
      ],
    };
    expect(created).toEqual(expected);
    expect(await getTemplate(ctx, `${p}.AB`, '1.0')).toEqual(expected);
    expect(await getTemplate(ctx, `${p}.ab`, '1.0 ')).toBeNull();
    expect(await getTemplate(ctx, `${p}.ab`, '1.O')).toBeNull();
    await registryRejection(getTemplate(ctx, '88..1', '1.0'), 'invalid');
    await registryRejection(getTemplate(ctx, `${p}.ab`, ''), 'invalid');

    const rows = await store.listAudit({ entity: 'template', entityId: `${p}.AB/1.0` });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'template.create', actor: actor.id, address: actor.address, before: null, after: expected });
  });

  it('refuses a second template with the same prefix (any case) and version; another version is fine', async () => {
    const ctx = testContext(store);
    const p = prefix();
    await createTemplate(ctx, normaliseTemplateInput(body(`${p}.x`), 'create'), actor);
    const e = await registryRejection(createTemplate(ctx, normaliseTemplateInput(body(`${p}.X`), 'create'), actor), 'conflict');
    expect(e.message).toBe('模板已存在 / template exists');
    await createTemplate(ctx, normaliseTemplateInput(body(`${p}.x`, { version: '1.0-b' }), 'create'), actor);
    await createTemplate(ctx, normaliseTemplateInput(body(`${p}.x`, { version: '1.0-A' }), 'create'), actor);
    expect((await listTemplates(ctx, `${p}.x`)).map((t) => t.version)).toEqual(['1.0', '1.0-A', '1.0-b']);
    expect(await listTemplates(ctx, `${p}.none`)).toEqual([]);
    expect(await store.listAudit({ entity: 'template', entityId: `${p}.X/1.0` })).toHaveLength(1);
  });

  it('updates incrementally: adds and disables items, changes metadata, never deletes; version is the key', async () => {
    const ctx = testContext(store);
    const p = prefix();
    await createTemplate(ctx, normaliseTemplateInput(body(p), 'create'), actor);
    const updated = await updateTemplate(
      ctx,
      normaliseTemplateInput(
        {
          prefix: p,
          version: '1.0',
          description: '新描述',
          items: [
            { name: '型号(停用)', idType: 'MODEL', idIndex: 2001, state: 0 },
            { name: '生产日期', idType: 'productionDate', metadata: { minLength: 10, maxLength: 10 } },
            { name: '批次', idType: 'batch', idIndex: '2100', required: true },
          ],
        },
        'update',
      ),
      actor,
    );
    expect(updated.description).toBe('新描述');
    expect(updated.industrySubclass).toBe('3441');
    expect(updated.type).toBe(1);
    expect(updated.items).toEqual([
      { name: '产品名称', idType: 'productName', idIndex: 2000, required: true, state: 1, metadata: { type: 'string', minLength: 1, maxLength: 64 } },
      { name: '型号(停用)', idType: 'model', idIndex: 2001, required: false, state: 0, metadata: { type: 'string', minLength: 0, maxLength: 32 } },
      { name: '生产日期', idType: 'productionDate', idIndex: 2002, required: false, state: 1, metadata: { type: 'string', minLength: 10, maxLength: 10 } },
      { name: '批次', idType: 'batch', idIndex: 2100, required: true, state: 1, metadata: { type: 'string', minLength: 0, maxLength: 255 } },
    ]);
    expect(await getTemplate(ctx, p, '1.0')).toEqual(updated);

    // an update sending only one item leaves the others in place; re-enabling works
    const again = await updateTemplate(
      ctx,
      normaliseTemplateInput({ prefix: p, version: '1.0', industryCategory: 'C', industrySpecific: '35', items: [{ name: '型号', idType: 'model', idIndex: 2001, state: 1 }] }, 'update'),
      actor,
    );
    expect(again.items).toHaveLength(4);
    expect(again.items[1]).toMatchObject({ name: '型号', state: 1 });
    expect([again.industryCategory, again.industrySpecific, again.industryTrade]).toEqual(['C', '35', '']);

    const rows = await store.listAudit({ entity: 'template', entityId: `${p}/1.0` });
    expect(rows.map((r) => r.action)).toEqual(['template.update', 'template.update', 'template.create']);
    expect((rows[1]!.before as { items: unknown[] }).items).toHaveLength(2);
    expect((rows[1]!.after as { items: unknown[] }).items).toHaveLength(4);

    // changing nothing writes nothing
    await updateTemplate(ctx, normaliseTemplateInput({ prefix: p, version: '1.0', items: [{ name: '型号', idType: 'model', idIndex: 2001 }] }, 'update'), actor);
    expect(await store.listAudit({ entity: 'template', entityId: `${p}/1.0` })).toHaveLength(3);
  });

  it('refuses bad updates and changes nothing', async () => {
    const ctx = testContext(store);
    const p = prefix();
    await createTemplate(ctx, normaliseTemplateInput(body(p), 'create'), actor);
    const before = await getTemplate(ctx, p, '1.0');
    const upd = (items: unknown[], version = '1.0') => updateTemplate(ctx, normaliseTemplateInput({ prefix: p, version, items }, 'update'), actor);
    // idIndex 2000 belongs to productName: changing its idType is refused
    await registryRejection(upd([{ name: 'x', idType: 'other', idIndex: 2000 }]), 'invalid');
    // a new item may not reuse an idType
    await registryRejection(upd([{ name: 'x', idType: 'ProductName' }]), 'invalid');
    // unknown version (the key): not found, never a rename
    await registryRejection(upd([{ name: 'x', idType: 'x' }], '2.0'), 'not-found');
    expect(await getTemplate(ctx, p, '1.0')).toEqual(before);
    expect(await getTemplate(ctx, p, '2.0')).toBeNull();
    expect(await store.listAudit({ entity: 'template', entityId: `${p}/1.0` })).toHaveLength(1);
  });

  it('deletes a template only while no identifier under the prefix names it', async () => {
    const ctx = testContext(store);
    const p = prefix();
    await createTemplate(ctx, normaliseTemplateInput(body(p), 'create'), actor);
    await createTemplate(ctx, normaliseTemplateInput(body(p, { version: '2.0' }), 'create'), actor);
    // an identifier under another prefix with a TEMPLATE value "1.0" does not count
    const other = prefix();
    await createTemplate(ctx, normaliseTemplateInput(body(other), 'create'), actor);
    await registerOne(ctx, { handle: `${other}/o-1`, templateVersion: '1.0', value: [{ index: 2000, type: 'productName', data: { format: 'string', value: 'p' } }] }, 'create', actor);

    await registerOne(ctx, { handle: `${p}/pump-1`, templateVersion: '1.0', value: [{ index: 2000, type: 'productName', data: { format: 'string', value: '泵' } }] }, 'create', actor);
    const e = await registryRejection(deleteTemplate(ctx, p, '1.0', actor), 'conflict');
    expect(e.message).toContain(`${p}/pump-1`);
    expect(await getTemplate(ctx, p, '1.0')).not.toBeNull();

    await deleteTemplate(ctx, p, '2.0', actor);
    expect(await getTemplate(ctx, p, '2.0')).toBeNull();
    await registryRejection(deleteTemplate(ctx, p, '2.0', actor), 'not-found');

    // once the identifier is gone, the template can go
    await deleteHandles(ctx, [{ handle: `${p}/pump-1`, key: `${p}/PUMP-1`, prefixKey: p }], actor, 'test');
    await deleteTemplate(ctx, p.toLowerCase(), '1.0', actor);
    expect(await getTemplate(ctx, p, '1.0')).toBeNull();
    const rows = await store.listAudit({ entity: 'template', entityId: `${p}/1.0` });
    expect(rows[0]).toMatchObject({ action: 'template.delete', after: null });
    expect((rows[0]!.before as { version: string }).version).toBe('1.0');
  });

  it('records the owning enterprise of the prefix (or its nearest parent) on template audit rows', async () => {
    const ctx = testContext(store);
    const p = prefix();
    const ent = await store.db
      .insertInto('enterprises')
      .values({ name: '泵业', credit_code: `91320924MA${String(seq).padStart(8, '0')}`, town: '合德镇', industry: 'C3441', address: 'x', contact_name: 'x', contact_phone: 'x', status: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    await store.db.insertInto('prefixes').values({ prefix_key: p, prefix: p, enterprise_id: Number(ent.id), status: 1 }).execute();
    await createTemplate(ctx, normaliseTemplateInput(body(`${p}.7`), 'create'), actor);
    const rows = await store.listAudit({ entity: 'template', entityId: `${p}.7/1.0` });
    expect(rows[0]?.enterpriseId).toBe(Number(ent.id));
  });
});
