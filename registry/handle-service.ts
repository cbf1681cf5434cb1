// Handle writes: Handle.Net write semantics over the Store, then a change event so every cache drops the handle.
import type { HandleId } from '../handle/identifier.js';
import { addValues, createValues, deleteHandle, removeValues, sameValues } from '../handle/ops.js';
import type { HandleValue } from '../handle/types.js';
import type { Actor, HandleRecord, Mutation, Store } from './store.js';

/** Told the canonical keys of handles that changed, after the change is committed. */
export type ChangeListener = (keys: string[]) => Promise<void>;

export interface WriteOutcome {
  record: HandleRecord | null;
  /** false when the write left the handle exactly as it was (an idempotent retry) */
  changed: boolean;
}

export class HandleService {
  constructor(
    private readonly store: Store,
    private readonly onChange: ChangeListener,
  ) {}

  /** PUT without `index`: create the handle, or replace all its values when `overwrite`. */
  create(id: HandleId, values: HandleValue[], overwrite: boolean, actor: Actor): Promise<WriteOutcome> {
    return this.write(id, 'handle.create', actor, (cur) => keepIfSame(cur, createValues(cur?.values ?? null, values, overwrite)));
  }

  /** PUT with `index`: add values, replacing same-index values when `overwrite`. */
  addValues(id: HandleId, values: HandleValue[], overwrite: boolean, actor: Actor): Promise<WriteOutcome> {
    return this.write(id, 'values.add', actor, (cur) => keepIfSame(cur, addValues(cur?.values ?? null, values, overwrite)));
  }

  /** DELETE with `index`. */
  removeValues(id: HandleId, indexes: number[], actor: Actor): Promise<WriteOutcome> {
    return this.write(id, 'values.remove', actor, (cur) => removeValues(cur?.values ?? null, indexes));
  }

  /** DELETE without `index`. */
  delete(id: HandleId, actor: Actor): Promise<WriteOutcome> {
    return this.write(id, 'handle.delete', actor, (cur) => deleteHandle(cur?.values ?? null));
  }

  private async write(id: HandleId, action: string, actor: Actor, fn: Mutation): Promise<WriteOutcome> {
    const { before, after } = await this.store.mutate(
      { handle: id.handle, key: id.key, prefixKey: id.prefixKey },
      action,
      actor,
      fn,
    );
    const changed = before?.version !== after?.version || (before === null) !== (after === null);
    if (changed) await this.onChange([id.key]);
    return { record: after, changed };
  }
}

/** A write whose values equal the current ones (timestamps aside) keeps the current list, so nothing is written. */
function keepIfSame(cur: HandleRecord | null, next: HandleValue[]): HandleValue[] {
  return cur !== null && sameValues(cur.values, next) ? cur.values : next;
}
