// Handle.Net write semantics on a record's value list (null = handle absent): create, add, remove, delete, compare.
import { HandleError, RC } from './codes.js';
import type { HandleValue } from './types.js';

function byIndex(a: HandleValue, b: HandleValue): number {
  return a.index - b.index;
}

function assertDistinctIndexes(values: readonly HandleValue[]): void {
  const seen = new Set<number>();
  for (const v of values) {
    if (seen.has(v.index)) throw new HandleError(RC.INVALID_VALUE, `Duplicate value index ${v.index}`);
    seen.add(v.index);
  }
}

/**
 * PUT without `index`: an absent handle gets `values` (an empty list is allowed); a present one is refused unless
 * `overwrite`, in which case all its values are replaced. The given order is kept.
 */
export function createValues(current: HandleValue[] | null, values: HandleValue[], overwrite: boolean): HandleValue[] {
  assertDistinctIndexes(values);
  if (current !== null && !overwrite) throw new HandleError(RC.HANDLE_ALREADY_EXISTS, 'Handle already exists');
  return values.slice();
}

/**
 * PUT with `index`: adds values to a present handle; a value whose index is already present is refused unless
 * `overwrite`, in which case it is replaced. The result is sorted by index.
 */
export function addValues(current: HandleValue[] | null, values: HandleValue[], overwrite: boolean): HandleValue[] {
  if (current === null) throw new HandleError(RC.HANDLE_NOT_FOUND, 'Handle not found');
  assertDistinctIndexes(values);
  const incoming = new Map<number, HandleValue>();
  for (const v of values) incoming.set(v.index, v);
  if (!overwrite) {
    const clash = current.filter((v) => incoming.has(v.index)).map((v) => v.index);
    if (clash.length > 0) {
      throw new HandleError(RC.VALUE_ALREADY_EXISTS, `Value already exists at index ${clash.join(', ')}`);
    }
  }
  const out = current.filter((v) => !incoming.has(v.index));
  out.push(...values);
  return out.sort(byIndex);
}

/**
 * Handle.Net's MODIFY_VALUE (native): replaces values at indexes that exist; refused (200) when any of the given
 * indexes holds no value. The result is sorted by index.
 */
export function modifyValues(current: HandleValue[] | null, values: HandleValue[]): HandleValue[] {
  if (current === null) throw new HandleError(RC.HANDLE_NOT_FOUND, 'Handle not found');
  assertDistinctIndexes(values);
  const present = new Set(current.map((v) => v.index));
  const missing = values.filter((v) => !present.has(v.index)).map((v) => v.index);
  if (missing.length > 0) throw new HandleError(RC.VALUES_NOT_FOUND, `No value at index ${missing.join(', ')} to modify`);
  return addValues(current, values, true);
}

/** DELETE with `index`: removes the listed indexes that exist; refused when none of them does. */
export function removeValues(current: HandleValue[] | null, indexes: number[]): HandleValue[] {
  if (current === null) throw new HandleError(RC.HANDLE_NOT_FOUND, 'Handle not found');
  const drop = new Set(indexes);
  const out = current.filter((v) => !drop.has(v.index));
  if (out.length === current.length) {
    throw new HandleError(RC.VALUES_NOT_FOUND, `No value at index ${indexes.length > 0 ? indexes.join(', ') : '(none given)'}`);
  }
  return out;
}

/** DELETE without `index`: the handle goes away (null); refused when it is absent. */
export function deleteHandle(current: HandleValue[] | null): null {
  if (current === null) throw new HandleError(RC.HANDLE_NOT_FOUND, 'Handle not found');
  return null;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!Object.prototype.hasOwnProperty.call(bo, k) || !deepEqual(ao[k], bo[k])) return false;
  return true;
}

function sameValue(a: HandleValue, b: HandleValue): boolean {
  return (
    a.index === b.index &&
    a.type === b.type &&
    a.ttlType === b.ttlType &&
    a.ttl === b.ttl &&
    a.permissions.adminRead === b.permissions.adminRead &&
    a.permissions.adminWrite === b.permissions.adminWrite &&
    a.permissions.publicRead === b.permissions.publicRead &&
    a.permissions.publicWrite === b.permissions.publicWrite &&
    deepEqual(a.data, b.data) &&
    deepEqual(a.references, b.references)
  );
}

/**
 * Whether two value lists hold the same values (matched by index, so order does not matter), timestamps ignored:
 * a retried write that changes nothing else is recognised as a no-op.
 */
export function sameValues(a: readonly HandleValue[], b: readonly HandleValue[]): boolean {
  if (a.length !== b.length) return false;
  const byIdx = new Map<number, HandleValue>();
  for (const v of b) byIdx.set(v.index, v);
  if (byIdx.size !== b.length) return false;
  for (const v of a) {
    const w = byIdx.get(v.index);
    if (w === undefined || !sameValue(v, w)) return false;
    byIdx.delete(v.index);
  }
  return true;
}
