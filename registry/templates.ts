// SNMS v5 metadata templates: create, incremental update (items added or disabled, never removed), delete when unused, read.
import { sql, type Transaction } from 'kysely';
import { prefixAncestors } from '../handle/identifier.js';
import { jsonb, writeAudit } from './audit.js';
import { RegistryError, type RegistryContext } from './context.js';
import type { Database, TemplateItem } from './db.js';
import type { Actor } from './store.js';
import {
  industryFields,
  MAX_VALUE_CHARS,
  mergeTemplateItems,
  normaliseTemplatePrefix,
  normaliseVersion,
  TEMPLATE_VALUE_INDEX,
  type TemplateInput,
} from './template-rules.js';

/**
 * A template in the SNMS v5 GET shape. Keys: the prefix (ASCII case-insensitive) and the version (case-sensitive).
 * Industry levels that were not given are "".
 */
export interface Template {
  prefix: string;
  version: string;
  industryCategory: string;
  industrySpecific: string;
  industryTrade: string;
  industrySubclass: string;
  /** 1 active identification carrier, 2 other */
  type: number;
  description: string;
  items: TemplateItem[];
}

/** What registration needs of a template. */
export interface TemplateRecord {
  prefixKey: string;
  version: string;
  items: TemplateItem[];
}

interface TemplateRow {
  prefix_key: string;
  version: string;
  prefix: string;
  industry: string;
  type: number;
  description: string | null;
  items: TemplateItem[];
}

const COLUMNS = ['prefix_key', 'version', 'prefix', 'industry', 'type', 'description', 'items'] as const;

/** Stored items with every metadata field present (rows written before defaults existed read the same). */
function itemsOut(items: readonly TemplateItem[]): TemplateItem[] {
  return items.map((it) => ({
    name: it.name,
    idType: it.idType,
    idIndex: it.idIndex,
    required: it.required,
    state: it.state,
    metadata: { type: it.metadata.type ?? 'string', minLength: it.metadata.minLength ?? 0, maxLength: it.metadata.maxLength ?? MAX_VALUE_CHARS },
  }));
}

function toTemplate(row: TemplateRow): Template {
  return {
    prefix: row.prefix,
    version: row.version,
    ...industryFields(row.industry),
    type: Number(row.type),
    description: row.description ?? '',
    items: itemsOut(row.items),
  };
}

/** The audit entity id of a template: `<prefix key>/<version>`. */
export function templateEntityId(prefixKey: string, version: string): string {
  return `${prefixKey}/${version}`;
}

/** The enterprise whose delegated prefix holds `prefixKey` (itself or the nearest parent), for audit rows. */
async function enterpriseOf(trx: Transaction<Database>, prefixKey: string): Promise<number | null> {
  const ancestors = prefixAncestors(prefixKey);
  const row = await trx
    .selectFrom('prefixes')
    .select('enterprise_id')
    .where('prefix_key', 'in', ancestors)
    .where('enterprise_id', 'is not', null)
    .orderBy(sql`length(prefix_key)`, 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.enterprise_id === null || row?.enterprise_id === undefined ? null : Number(row.enterprise_id);
}

/** Creates a template; RegistryError('conflict') when (prefix, version) exists. */
export async function createTemplate(ctx: RegistryContext, input: TemplateInput, actor: Actor): Promise<Template> {
  if (input.industry === undefined) throw new RegistryError('invalid', '缺少必要的参数: industryCategory / industryCategory is required');
  // Completes items sent as patches (normaliseTemplateInput's create mode already did; this keeps direct callers safe).
  const items = mergeTemplateItems([], input.items);
  const industry = input.industry;
  return ctx.store.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('templates')
      .values({
        prefix_key: input.prefixKey,
        version: input.version,
        prefix: input.prefix,
        industry,
        type: input.type ?? 2,
        description: input.description ?? null,
        items: jsonb(items),
      })
      .onConflict((oc) => oc.columns(['prefix_key', 'version']).doNothing())
      .returning(COLUMNS)
      .executeTakeFirst();
    if (!row) throw new RegistryError('conflict', '模板已存在 / template exists');
    const after = toTemplate(row);
    await writeAudit(trx, {
      actor,
      action: 'template.create',
      entity: 'template',
      entityId: templateEntityId(input.prefixKey, input.version),
      enterpriseId: await enterpriseOf(trx, input.prefixKey),
      before: null,
      after,
    });
    return after;
  });
}

/**
 * Updates a template incrementally (mergeTemplateItems: items are added or changed or disabled, never removed);
 * industry, type and description change when given. The version is the key and cannot change.
 * RegistryError('not-found') when absent. An update that changes nothing writes nothing.
 */
export async function updateTemplate(ctx: RegistryContext, input: TemplateInput, actor: Actor): Promise<Template> {
  return ctx.store.db.transaction().execute(async (trx) => {
    const cur = await trx
      .selectFrom('templates')
      .select(COLUMNS)
      .where('prefix_key', '=', input.prefixKey)
      .where('version', '=', input.version)
      .forUpdate()
      .executeTakeFirst();
    if (!cur) throw new RegistryError('not-found', '模板不存在 / template not found');
    const before = toTemplate(cur);
    const items = mergeTemplateItems(before.items, input.items);
    const next: TemplateRow = {
      ...cur,
      industry: input.industry ?? cur.industry,
      type: input.type ?? Number(cur.type),
      description: input.description === undefined ? cur.description : input.description,
      items,
    };
    const after = toTemplate(next);
    if (JSON.stringify(after) === JSON.stringify(before) && next.description === cur.description) return before;
    await trx
      .updateTable('templates')
      .set({ industry: next.industry, type: next.type, description: next.description, items: jsonb(items), updated_at: sql<Date>`now()` })
      .where('prefix_key', '=', input.prefixKey)
      .where('version', '=', input.version)
      .execute();
    await writeAudit(trx, {
      actor,
      action: 'template.update',
      entity: 'template',
      entityId: templateEntityId(input.prefixKey, input.version),
      enterpriseId: await enterpriseOf(trx, input.prefixKey),
      before,
      after,
    });
    return after;
  });
}

/**
 * Deletes a template. Refused (RegistryError('conflict')) while an identifier under the prefix names it in its
 * TEMPLATE value; RegistryError('not-found') when absent. (An identifier registered concurrently with the delete
 * can still commit after it: registration reads templates outside its write transaction.)
 */
export async function deleteTemplate(ctx: RegistryContext, prefix: string, version: string, actor: Actor): Promise<void> {
  const { prefixKey } = normaliseTemplatePrefix(prefix);
  const v = normaliseVersion(version);
  await ctx.store.db.transaction().execute(async (trx) => {
    const cur = await trx
      .selectFrom('templates')
      .select(COLUMNS)
      .where('prefix_key', '=', prefixKey)
      .where('version', '=', v)
      .forUpdate()
      .executeTakeFirst();
    if (!cur) throw new RegistryError('not-found', '模板不存在 / template not found');
    const used = await trx
      .selectFrom('handles')
      .select('handle')
      .where('prefix_key', '=', prefixKey)
      .where(sql<boolean>`values @> ${jsonb([{ index: TEMPLATE_VALUE_INDEX, data: { value: v } }])}`)
      .limit(1)
      .executeTakeFirst();
    if (used) {
      throw new RegistryError('conflict', `模板正在被标识使用(${used.handle})，不能删除 / template is in use by identifiers (e.g. ${used.handle})`);
    }
    await trx.deleteFrom('templates').where('prefix_key', '=', prefixKey).where('version', '=', v).execute();
    await writeAudit(trx, {
      actor,
      action: 'template.delete',
      entity: 'template',
      entityId: templateEntityId(prefixKey, v),
      enterpriseId: await enterpriseOf(trx, prefixKey),
      before: toTemplate(cur),
      after: null,
    });
  });
}

/** One template, or null. RegistryError('invalid') for a malformed prefix or version. */
export async function getTemplate(ctx: RegistryContext, prefix: string, version: string): Promise<Template | null> {
  const { prefixKey } = normaliseTemplatePrefix(prefix);
  const v = normaliseVersion(version);
  const row = await ctx.store.db
    .selectFrom('templates')
    .select(COLUMNS)
    .where('prefix_key', '=', prefixKey)
    .where('version', '=', v)
    .executeTakeFirst();
  return row ? toTemplate(row) : null;
}

/** Every template of a prefix, by version. */
export async function listTemplates(ctx: RegistryContext, prefix: string): Promise<Template[]> {
  const { prefixKey } = normaliseTemplatePrefix(prefix);
  const rows = await ctx.store.db.selectFrom('templates').select(COLUMNS).where('prefix_key', '=', prefixKey).orderBy('version').execute();
  return rows.map(toTemplate);
}

/** The lookup key of loadTemplates' map (prefix keys never contain `/`). */
export function templateKey(prefixKey: string, version: string): string {
  return `${prefixKey}/${version}`;
}

/** The templates a batch names, in one query: a map keyed by templateKey(prefixKey, version). */
export async function loadTemplates(
  ctx: RegistryContext,
  wanted: readonly { prefixKey: string; version: string }[],
): Promise<Map<string, TemplateRecord>> {
  const out = new Map<string, TemplateRecord>();
  if (wanted.length === 0) return out;
  const prefixKeys = [...new Set(wanted.map((w) => w.prefixKey))];
  const versions = [...new Set(wanted.map((w) => w.version))];
  const rows = await ctx.store.db
    .selectFrom('templates')
    .select(['prefix_key', 'version', 'items'])
    .where('prefix_key', 'in', prefixKeys)
    .where('version', 'in', versions)
    .execute();
  for (const r of rows) out.set(templateKey(r.prefix_key, r.version), { prefixKey: r.prefix_key, version: r.version, items: itemsOut(r.items) });
  return out;
}
