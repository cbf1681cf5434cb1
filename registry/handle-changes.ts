// Handle.Net write semantics (create, add, remove, delete) as registry operations: the requester is authorized and
// the change decided inside the write's own transaction, against the locked current record.
import type { AdminOp } from '../handle/admin.js';
import type { HandleId } from '../handle/identifier.js';
import { addValues, createValues, deleteHandle, modifyValues, removeValues, sameValues } from '../handle/ops.js';
import type { HandleValue } from '../handle/types.js';
import { authorize, type Requester } from './access.js';
import type { RegistryContext } from './context.js';
import { handleTransaction } from './handles.js';
import type { Actor, HandleRecord } from './store.js';

/**
 * One Handle.Net write: PUT without index (create or replace), PUT with index (add), DELETE with and without index;
 * and the native face's MODIFY_VALUE (replace values that exist).
 */
export type HandleChange =
  | { op: 'create'; values: HandleValue[]; overwrite: boolean }
  | { op: 'add'; values: HandleValue[]; overwrite: boolean }
  | { op: 'modify'; values: HandleValue[] }
  | { op: 'remove'; indexes: number[] }
  | { op: 'delete' };

export interface ChangeOutcome {
  record: HandleRecord | null;
  /** false when the write left the handle exactly as it was (an idempotent retry) */
  changed: boolean;
  /** whether the handle existed before (a create that replaced one) */
  existed: boolean;
}

const ACTION: Readonly<Record<HandleChange['op'], string>> = {
  create: 'handle.create',
  add: 'values.add',
  modify: 'values.modify',
  remove: 'values.remove',
  delete: 'handle.delete',
};

/** The HS_ADMIN permission a change needs, given whether the handle exists now. */
function permissionFor(change: HandleChange, exists: boolean): AdminOp {
  switch (change.op) {
    case 'create':
      return exists ? 'modifyValue' : 'addHandle';
    case 'add':
      return 'addValue';
    case 'modify':
      return 'modifyValue';
    case 'remove':
      return 'removeValue';
    case 'delete':
      return 'deleteHandle';
  }
}

/** The new value list (null: delete), or a HandleError as Handle.Net answers it. */
function apply(change: HandleChange, current: HandleRecord | null): HandleValue[] | null {
  const cur = current?.values ?? null;
  switch (change.op) {
    case 'create':
      return keepIfSame(current, createValues(cur, change.values, change.overwrite));
    case 'add':
      return keepIfSame(current, addValues(cur, change.values, change.overwrite));
    case 'modify':
      return keepIfSame(current, modifyValues(cur, change.values));
    case 'remove':
      return removeValues(cur, change.indexes);
    case 'delete':
      return deleteHandle(cur);
  }
}

/** A write whose values equal the current ones (timestamps aside) keeps the current list, so nothing is written. */
function keepIfSame(cur: HandleRecord | null, next: HandleValue[]): HandleValue[] {
  return cur !== null && sameValues(cur.values, next) ? cur.values : next;
}

/**
 * Applies one Handle.Net write to `id` for `who`, in one transaction: the row is locked, the requester authorized
 * against it (create-versus-modify decided here, not before), the values changed with their audit row; every cache
 * follows after commit. Throws HandleError as the Handle face answers it.
 */
export function changeHandle(ctx: RegistryContext, id: HandleId, change: HandleChange, who: Requester, actor: Actor): Promise<ChangeOutcome> {
  return handleTransaction(ctx, actor, async (tx) => {
    const current = await tx.lock(id.key);
    await authorize(ctx, tx.db, who, id, permissionFor(change, current !== null), {
      onPrefixRecord: change.op === 'create' && current === null,
      current: current?.values ?? null,
      read: async (key) => (await tx.read(key))?.values ?? null,
    });
    const { before, after } = await tx.write({ handle: id.handle, key: id.key, prefixKey: id.prefixKey }, ACTION[change.op], current, apply(change, current));
    const changed = before?.version !== after?.version || (before === null) !== (after === null);
    return { record: after, changed, existed: current !== null };
  });
}
