// SNMS identifier registration over templates: single and batch create/update/delete and detail, one code path.
//
// Batch semantics — PER ITEM: every item is checked and reported on its own (bad handle, prefix not allowed,
// template missing, values breaking the template → that item's `msg`, nothing written for it), and all the valid
// items are written together in ONE database transaction. If the database itself fails, the whole call fails and
// nothing of it is written. A single create/update/delete is a batch of one, so it behaves exactly the same.
//
// Create of an identifier that already exists with the same handle text and the same values (timestamps aside)
// succeeds without writing anything (a client retrying after a timeout is safe); with different values the item
// is reported "标识已存在".
//
// Update REPLACES the identifier's template-area values (index ≥ 1000) with those given plus the TEMPLATE value
// (1001); values given that equal the current ones keep their timestamps. Values below 1000 (the Handle face's:
// HS_ADMIN, HS_SECKEY, HS_PUBKEY, URL …) are outside the SNMS template area and are kept, so an SNMS update
// never strips a handle's administrators.
import { HandleError } from '../handle/codes.js';
import { parseHandle, type HandleId } from '../handle/identifier.js';
import { sameValues } from '../handle/ops.js';
import type { HandleValue } from '../handle/types.js';
import { stringValue } from '../handle/value.js';
import { userScope, type PrefixScope } from './access.js';
import { RegistryError, type Principal, type RegistryContext } from './context.js';
import { handleTransaction } from './handles.js';
import type { Actor, BulkItem, HandleRef } from './store.js';
import {
  MAX_VERSION_CHARS,
  parseSnmsValues,
  TEMPLATE_VALUE_INDEX,
  TEMPLATE_VALUE_TYPE,
  validateValues,
  charLength,
  type SnmsValueItem,
} from './template-rules.js';
import { loadTemplates, templateKey, type TemplateRecord } from './templates.js';

export const MAX_BATCH_ITEMS = 2000;
/** Values below this index belong to the Handle face (admins, keys) and survive an SNMS update. */
export const SNMS_VALUE_FLOOR = 1000;

export const MSG = {
  SUCCESS: 'success',
  EXISTS: '标识已存在',
  NOT_FOUND: '标识不存在',
  DELETE_NOT_FOUND: '没有找到标识',
  FORBIDDEN: '无权操作该前缀 / no permission for this prefix',
  NO_TEMPLATE: '模板不存在 / template not found',
  TOO_MANY: `单次最多${MAX_BATCH_ITEMS}条 / at most ${MAX_BATCH_ITEMS} items per batch`,
  EMPTY: '请求不能为空 / the batch is empty',
  NOT_ARRAY: '请求体必须是JSON数组 / the body must be a JSON array',
} as const;

/**
 * Per call: who writes. A `principal`'s prefixes (userScope) are checked before anything is validated (so a
 * refusal is reported first) and again inside the write's transaction (a suspension committing meanwhile wins);
 * `allowedPrefixKeys` is a fixed restriction (the import command's --prefix). Others are refused per item.
 */
export interface BatchOptions {
  principal?: Principal;
  allowedPrefixKeys?: (prefixKey: string) => boolean;
}

export type ItemOutcome = 'created' | 'unchanged' | 'updated' | 'deleted' | 'exists' | 'not-found' | 'forbidden' | 'invalid';

/** One item's result with its outcome (for `idnode import` summaries); `msg` is what the SNMS face reports. */
export interface ItemResult {
  handle: string;
  outcome: ItemOutcome;
  msg: string;
}

export interface SnmsDetail {
  prefix: string;
  handle: string;
  /** the TEMPLATE value (index 1001); "" when the identifier was not registered over a template */
  templateVersion: string;
  /** string values by index, including TEMPLATE at 1001 */
  value: SnmsValueItem[];
}

export interface RegisterItem {
  handle: string;
  templateVersion: string;
  value: unknown;
}

const isOk = (o: ItemOutcome) => o === 'created' || o === 'unchanged' || o === 'updated' || o === 'deleted';

function batchList(raw: unknown): unknown[] {
  if (!Array.isArray(raw)) throw new RegistryError('invalid', MSG.NOT_ARRAY);
  if (raw.length === 0) throw new RegistryError('invalid', MSG.EMPTY);
  if (raw.length > MAX_BATCH_ITEMS) throw new RegistryError('invalid', MSG.TOO_MANY);
  return raw;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parses a handle for an item; a failure is the item's message. */
function parseItemHandle(ctx: RegistryContext, raw: unknown, allowed: PrefixScope): HandleId | ItemResult {
  if (typeof raw !== 'string' || raw.length === 0) {
    return { handle: typeof raw === 'string' ? raw : '', outcome: 'invalid', msg: '缺少必要的请求参数: handle' };
  }
  let id: HandleId;
  try {
    id = parseHandle(raw, ctx.policy);
  } catch (e) {
    if (e instanceof HandleError) return { handle: raw, outcome: 'invalid', msg: `标识格式错误 / invalid handle: ${e.message}` };
    throw e;
  }
  if (!allowed(id.prefixKey)) return { handle: raw, outcome: 'forbidden', msg: MSG.FORBIDDEN };
  return id;
}

function refOf(id: HandleId): HandleRef {
  return { handle: id.handle, key: id.key, prefixKey: id.prefixKey };
}


/** Checked SNMS values → handle values (types spelled as the template does) plus TEMPLATE, by index. */
function toHandleValues(template: TemplateRecord, values: readonly SnmsValueItem[], nowSec: number): HandleValue[] {
  const typeOf = new Map(template.items.map((it) => [it.idIndex, it.idType]));
  const out = values.map((v) => stringValue(v.index, typeOf.get(v.index) ?? v.type, v.data.value, nowSec));
  out.push(stringValue(TEMPLATE_VALUE_INDEX, TEMPLATE_VALUE_TYPE, template.version, nowSec));
  return out.sort((a, b) => a.index - b.index);
}

/** Update: the Handle face's values below 1000 stay; template-area values are replaced; unchanged ones keep their timestamp. */
function composeUpdate(current: HandleValue[], given: HandleValue[]): HandleValue[] {
  const byIndex = new Map(current.map((v) => [v.index, v]));
  const kept = current.filter((v) => v.index < SNMS_VALUE_FLOOR);
  const next = given.map((v) => {
    const cur = byIndex.get(v.index);
    return cur !== undefined && sameValues([cur], [v]) ? cur : v;
  });
  return [...kept, ...next].sort((a, b) => a.index - b.index);
}

/** The prefixes a batch may write under, read in `db` (the store, or the write's transaction). */
async function scopeOf(ctx: RegistryContext, db: Parameters<typeof userScope>[1], opts: BatchOptions): Promise<PrefixScope> {
  const fixed = opts.allowedPrefixKeys ?? (() => true);
  if (opts.principal === undefined) return fixed;
  const users = await userScope(ctx, db, opts.principal, 'write');
  return (k) => fixed(k) && users(k);
}

/**
 * Create or update a batch (≤ 2000, bare array of `{handle, templateVersion, value}`), per item; see the top of
 * this file. RegistryError('invalid') when the batch itself is malformed (not an array, empty, too long).
 */
export async function registerBatch(
  ctx: RegistryContext,
  raw: unknown,
  mode: 'create' | 'update',
  actor: Actor,
  opts: BatchOptions = {},
): Promise<ItemResult[]> {
  const list = batchList(raw);
  const results: ItemResult[] = new Array(list.length);
  const parsed: { i: number; id: HandleId; version: string; value: unknown }[] = [];
  const allowed = await scopeOf(ctx, ctx.store.db, opts);
  list.forEach((x, i) => {
    if (!isObject(x)) {
      results[i] = { handle: '', outcome: 'invalid', msg: '标识数据必须是对象 / each item must be an object' };
      return;
    }
    const id = parseItemHandle(ctx, x.handle, allowed);
    if (!('key' in id)) {
      results[i] = id;
      return;
    }
    const version = x.templateVersion;
    if (typeof version !== 'string' || version.length === 0) {
      results[i] = { handle: id.handle, outcome: 'invalid', msg: '缺少必要的请求参数: templateVersion' };
      return;
    }
    if (charLength(version) > MAX_VERSION_CHARS) {
      results[i] = { handle: id.handle, outcome: 'invalid', msg: `templateVersion 长度不能超过${MAX_VERSION_CHARS} / templateVersion is too long` };
      return;
    }
    parsed.push({ i, id, version, value: x.value });
  });

  const templates = await loadTemplates(ctx, parsed.map((p) => ({ prefixKey: p.id.prefixKey, version: p.version })));
  const nowSec = Math.floor(ctx.now().getTime() / 1000);
  const ready: { i: number; item: BulkItem }[] = [];
  for (const p of parsed) {
    const template = templates.get(templateKey(p.id.prefixKey, p.version));
    if (template === undefined) {
      results[p.i] = { handle: p.id.handle, outcome: 'invalid', msg: MSG.NO_TEMPLATE };
      continue;
    }
    let values: SnmsValueItem[];
    try {
      values = parseSnmsValues(p.value);
    } catch (e) {
      if (!(e instanceof RegistryError)) throw e;
      results[p.i] = { handle: p.id.handle, outcome: 'invalid', msg: e.message };
      continue;
    }
    const problem = validateValues(template, values);
    if (problem !== null) {
      results[p.i] = { handle: p.id.handle, outcome: 'invalid', msg: problem };
      continue;
    }
    ready.push({ i: p.i, item: { ref: refOf(p.id), values: toHandleValues(template, values, nowSec) } });
  }

  if (ready.length > 0) {
    await handleTransaction(ctx, actor, async (tx) => {
      // the authoritative check: in the write's transaction, so a suspension committed meanwhile is seen
      const scope = opts.principal === undefined ? allowed : await scopeOf(ctx, tx.db, opts);
      const writable = ready.filter((r) => {
        if (scope(r.item.ref.prefixKey)) return true;
        results[r.i] = { handle: r.item.ref.handle, outcome: 'forbidden', msg: MSG.FORBIDDEN };
        return false;
      });
      const items = writable.map((r) => r.item);
      const outcomes =
        mode === 'create'
          ? await tx.createMany(items, 'identifier.create', sameValues)
          : await tx.updateMany(items, 'identifier.update', sameValues, composeUpdate);
      outcomes.forEach((o, j) => {
        const r = writable[j]!;
        const msg = o === 'exists' ? MSG.EXISTS : o === 'not-found' ? MSG.NOT_FOUND : MSG.SUCCESS;
        results[r.i] = { handle: r.item.ref.handle, outcome: o, msg };
      });
    });
  }
  return results;
}

/** Delete a batch (≤ 2000, bare array of handle strings), per item. */
export async function deleteBatch(ctx: RegistryContext, raw: unknown, actor: Actor, opts: BatchOptions = {}): Promise<ItemResult[]> {
  const list = batchList(raw);
  const results: ItemResult[] = new Array(list.length);
  const ready: { i: number; ref: HandleRef }[] = [];
  const allowed = await scopeOf(ctx, ctx.store.db, opts);
  list.forEach((x, i) => {
    const id = parseItemHandle(ctx, x, allowed);
    if ('key' in id) ready.push({ i, ref: refOf(id) });
    else results[i] = id;
  });
  if (ready.length > 0) {
    await handleTransaction(ctx, actor, async (tx) => {
      const scope = opts.principal === undefined ? allowed : await scopeOf(ctx, tx.db, opts);
      const writable = ready.filter((r) => {
        if (scope(r.ref.prefixKey)) return true;
        results[r.i] = { handle: r.ref.handle, outcome: 'forbidden', msg: MSG.FORBIDDEN };
        return false;
      });
      const outcomes = await tx.deleteMany(
        writable.map((r) => r.ref),
        'identifier.delete',
      );
      outcomes.forEach((o, j) => {
        const r = writable[j]!;
        results[r.i] = { handle: r.ref.handle, outcome: o, msg: o === 'deleted' ? MSG.SUCCESS : MSG.NOT_FOUND };
      });
    });
  }
  return results;
}

/** POST /identityv2/data/batchCreate: `[{handle, msg}]`, msg "success" for created and unchanged (idempotent retry). */
export async function batchCreate(ctx: RegistryContext, items: unknown, actor: Actor, opts: BatchOptions = {}): Promise<{ handle: string; msg: string }[]> {
  return (await registerBatch(ctx, items, 'create', actor, opts)).map((r) => ({ handle: r.handle, msg: r.msg }));
}

/** PUT /identityv2/data/batchUpdate: `[{handle, msg}]`. */
export async function batchUpdate(ctx: RegistryContext, items: unknown, actor: Actor, opts: BatchOptions = {}): Promise<{ handle: string; msg: string }[]> {
  return (await registerBatch(ctx, items, 'update', actor, opts)).map((r) => ({ handle: r.handle, msg: r.msg }));
}

/** DELETE /identityv2/data/batchDelete: `[{handle, code: 1 | -2, msg}]`. */
export async function batchDelete(
  ctx: RegistryContext,
  handles: unknown,
  actor: Actor,
  opts: BatchOptions = {},
): Promise<{ handle: string; code: 1 | -2; msg: string }[]> {
  return (await deleteBatch(ctx, handles, actor, opts)).map((r) => ({ handle: r.handle, code: isOk(r.outcome) ? 1 : -2, msg: r.msg }));
}

/** The RegistryError a failed single item becomes (the SNMS face reports it as status -2, or -3 when forbidden). */
function itemError(r: ItemResult, notFoundMsg: string): RegistryError {
  switch (r.outcome) {
    case 'exists':
      return new RegistryError('conflict', r.msg);
    case 'not-found':
      return new RegistryError('not-found', notFoundMsg);
    case 'forbidden':
      return new RegistryError('forbidden', r.msg);
    default:
      return new RegistryError('invalid', r.msg);
  }
}

/** POST / PUT /identityv2/data: a batch of one; throws RegistryError with the item's message when it fails. */
export async function registerOne(
  ctx: RegistryContext,
  item: RegisterItem,
  mode: 'create' | 'update',
  actor: Actor,
  opts: BatchOptions = {},
): Promise<'created' | 'unchanged' | 'updated'> {
  const [r] = await registerBatch(ctx, [item], mode, actor, opts);
  if (r === undefined) throw new Error('registerBatch returned no result');
  if (!isOk(r.outcome)) throw itemError(r, MSG.NOT_FOUND);
  return r.outcome as 'created' | 'unchanged' | 'updated';
}

/** DELETE /identityv2/data: a batch of one; RegistryError('not-found', '没有找到标识') when absent. */
export async function deleteOne(ctx: RegistryContext, handle: string, actor: Actor, opts: BatchOptions = {}): Promise<void> {
  const [r] = await deleteBatch(ctx, [handle], actor, opts);
  if (r === undefined) throw new Error('deleteBatch returned no result');
  if (!isOk(r.outcome)) throw itemError(r, MSG.DELETE_NOT_FOUND);
}

/** GET /identityv2/data/detail: the identifier's string values by index (TEMPLATE included), or null when absent. */
export async function detail(ctx: RegistryContext, handle: string): Promise<SnmsDetail | null> {
  let id: HandleId;
  try {
    id = parseHandle(handle, ctx.policy);
  } catch (e) {
    if (e instanceof HandleError) throw new RegistryError('invalid', `标识格式错误 / invalid handle: ${e.message}`);
    throw e;
  }
  const rec = await ctx.store.getHandle(id.key);
  if (rec === null) return null;
  const value: SnmsValueItem[] = [];
  let templateVersion = '';
  for (const v of [...rec.values].sort((a, b) => a.index - b.index)) {
    if (v.data.format !== 'string') continue;
    if (v.index === TEMPLATE_VALUE_INDEX && v.type.toUpperCase() === TEMPLATE_VALUE_TYPE) templateVersion = v.data.value;
    value.push({ index: v.index, type: v.type, data: { format: 'string', value: v.data.value } });
  }
  const slash = rec.handle.indexOf('/');
  return { prefix: rec.handle.slice(0, slash), handle: rec.handle, templateVersion, value };
}
