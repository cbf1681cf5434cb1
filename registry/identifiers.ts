// Identifier registration over templates: single and batch create/update/delete and detail, one code path. Results
// are face-neutral (an outcome per item, and what was wrong with an invalid one); the faces word them.
//
// Batch semantics — PER ITEM: every item is checked and reported on its own (bad handle, prefix not allowed,
// template missing, values breaking the template → that item's outcome, nothing written for it), and all the valid
// items are written together in ONE database transaction. If the database itself fails, the whole call fails and
// nothing of it is written. A single create/update/delete is a batch of one, so it behaves exactly the same.
//
// Create of an identifier that already exists with the same handle text and the same values (timestamps aside)
// succeeds without writing anything ('unchanged': a client retrying after a timeout is safe); with different values
// the item is 'exists'.
//
// Update REPLACES the identifier's template-area values (index ≥ 1000) with those given plus the TEMPLATE value
// (1001); values given that equal the current ones keep their timestamps. Values below 1000 (the Handle face's:
// HS_ADMIN, HS_SECKEY, HS_PUBKEY, URL …) are outside the template area and are kept, so an update never strips a
// handle's administrators.
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
/** Values below this index belong to the Handle face (admins, keys) and survive an update of the template area. */
export const SNMS_VALUE_FLOOR = 1000;

/** Failures of a whole batch (RegistryError 'invalid'): not a list, empty, too long. */
const BATCH_NOT_ARRAY = '请求体必须是JSON数组 / the body must be a JSON array';
const BATCH_EMPTY = '请求不能为空 / the batch is empty';
const BATCH_TOO_LONG = `单次最多${MAX_BATCH_ITEMS}条 / at most ${MAX_BATCH_ITEMS} items per batch`;

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

/**
 * What was wrong with an invalid item. `values` carries template-rules' own message (the template's rules are the
 * domain's, and so is their wording); the others are for each face to word.
 */
export type ItemProblem =
  | { kind: 'not-an-object' }
  | { kind: 'missing-handle' }
  | { kind: 'bad-handle'; message: string }
  | { kind: 'missing-template-version' }
  | { kind: 'template-version-too-long'; max: number }
  | { kind: 'no-template'; templateVersion: string }
  | { kind: 'values'; message: string };

/** One item's result: its handle as given ('' when there was none), its outcome, and the problem of an invalid one. */
export type ItemResult =
  | { handle: string; outcome: Exclude<ItemOutcome, 'invalid'> }
  | { handle: string; outcome: 'invalid'; problem: ItemProblem };

/** An identifier as registered: its handle and prefix (as first registered), template version and values by index. */
export interface IdentifierDetail {
  handle: string;
  prefix: string;
  /** the TEMPLATE value (index 1001); null when the identifier was not registered over a template */
  templateVersion: string | null;
  values: HandleValue[];
}

export interface RegisterItem {
  handle: string;
  templateVersion: string;
  value: unknown;
}

/** Whether an outcome is a success (the item is as asked now). */
export function succeeded(o: ItemOutcome): o is 'created' | 'unchanged' | 'updated' | 'deleted' {
  return o === 'created' || o === 'unchanged' || o === 'updated' || o === 'deleted';
}

function batchList(raw: unknown): unknown[] {
  if (!Array.isArray(raw)) throw new RegistryError('invalid', BATCH_NOT_ARRAY);
  if (raw.length === 0) throw new RegistryError('invalid', BATCH_EMPTY);
  if (raw.length > MAX_BATCH_ITEMS) throw new RegistryError('invalid', BATCH_TOO_LONG);
  return raw;
}

const invalid = (handle: string, problem: ItemProblem): ItemResult => ({ handle, outcome: 'invalid', problem });

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parses a handle for an item; a failure is the item's result. */
function parseItemHandle(ctx: RegistryContext, raw: unknown, allowed: PrefixScope): HandleId | ItemResult {
  if (typeof raw !== 'string' || raw.length === 0) return invalid(typeof raw === 'string' ? raw : '', { kind: 'missing-handle' });
  let id: HandleId;
  try {
    id = parseHandle(raw, ctx.policy);
  } catch (e) {
    if (e instanceof HandleError) return invalid(raw, { kind: 'bad-handle', message: e.message });
    throw e;
  }
  if (!allowed(id.prefixKey)) return { handle: raw, outcome: 'forbidden' };
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
      results[i] = invalid('', { kind: 'not-an-object' });
      return;
    }
    const id = parseItemHandle(ctx, x.handle, allowed);
    if (!('key' in id)) {
      results[i] = id;
      return;
    }
    const version = x.templateVersion;
    if (typeof version !== 'string' || version.length === 0) {
      results[i] = invalid(id.handle, { kind: 'missing-template-version' });
      return;
    }
    if (charLength(version) > MAX_VERSION_CHARS) {
      results[i] = invalid(id.handle, { kind: 'template-version-too-long', max: MAX_VERSION_CHARS });
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
      results[p.i] = invalid(p.id.handle, { kind: 'no-template', templateVersion: p.version });
      continue;
    }
    let values: SnmsValueItem[];
    try {
      values = parseSnmsValues(p.value);
    } catch (e) {
      if (!(e instanceof RegistryError)) throw e;
      results[p.i] = invalid(p.id.handle, { kind: 'values', message: e.message });
      continue;
    }
    const problem = validateValues(template, values);
    if (problem !== null) {
      results[p.i] = invalid(p.id.handle, { kind: 'values', message: problem });
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
        results[r.i] = { handle: r.item.ref.handle, outcome: 'forbidden' };
        return false;
      });
      const items = writable.map((r) => r.item);
      const outcomes =
        mode === 'create'
          ? await tx.createMany(items, 'identifier.create', sameValues)
          : await tx.updateMany(items, 'identifier.update', sameValues, composeUpdate);
      outcomes.forEach((o, j) => {
        results[writable[j]!.i] = { handle: writable[j]!.item.ref.handle, outcome: o };
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
        results[r.i] = { handle: r.ref.handle, outcome: 'forbidden' };
        return false;
      });
      const outcomes = await tx.deleteMany(
        writable.map((r) => r.ref),
        'identifier.delete',
      );
      outcomes.forEach((o, j) => {
        results[writable[j]!.i] = { handle: writable[j]!.ref.handle, outcome: o };
      });
    });
  }
  return results;
}

/** One create or update: a batch of one, with that item's result. */
export async function registerOne(
  ctx: RegistryContext,
  item: RegisterItem,
  mode: 'create' | 'update',
  actor: Actor,
  opts: BatchOptions = {},
): Promise<ItemResult> {
  const [r] = await registerBatch(ctx, [item], mode, actor, opts);
  if (r === undefined) throw new Error('registerBatch returned no result');
  return r;
}

/** One delete: a batch of one, with that item's result. */
export async function deleteOne(ctx: RegistryContext, handle: string, actor: Actor, opts: BatchOptions = {}): Promise<ItemResult> {
  const [r] = await deleteBatch(ctx, [handle], actor, opts);
  if (r === undefined) throw new Error('deleteBatch returned no result');
  return r;
}

/** An identifier as registered, or null when there is none. */
export async function identifierDetail(ctx: RegistryContext, id: HandleId): Promise<IdentifierDetail | null> {
  const rec = await ctx.store.getHandle(id.key);
  if (rec === null) return null;
  const values = [...rec.values].sort((a, b) => a.index - b.index);
  const template = values.find((v) => v.index === TEMPLATE_VALUE_INDEX && v.type.toUpperCase() === TEMPLATE_VALUE_TYPE && v.data.format === 'string');
  return {
    handle: rec.handle,
    prefix: rec.handle.slice(0, rec.handle.indexOf('/')),
    templateVersion: template?.data.format === 'string' ? template.data.value : null,
    values,
  };
}
