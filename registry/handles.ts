// The one write path for handles. Every change to a handle row — Handle REST, SNMS single and batch, import, the
// 0.NA records written at approval — and every change of a prefix's visibility (suspension) runs here: the row, its
// serialised public answer and the audit entry in one transaction, create-versus-modify decided inside it (rows
// locked, no check-then-act), and the change announced to every cache only after commit.
import { sql, type Transaction } from 'kysely';
import { HandleError, RC } from '../handle/codes.js';
import { publicValuesJson } from '../handle/json.js';
import type { HandleValue } from '../handle/types.js';
import { hasSecret, jsonb, redactSecrets, writeAudit } from './audit.js';
import type { DigestVault, RegistryContext } from './context.js';
import type { Database } from './db.js';
import { copyActions, keepSecretCopies, type CopyActions, type PlainSecrets } from './secret-copies.js';
import { sealSecrets } from './secret-values.js';
import { toRecord } from './sql-store.js';
import { TextArrayBuilder } from './text-array.js';
import { digestVault } from './users/keys.js';
import type {
  Actor,
  BulkItem,
  CreateManyResult,
  DeleteManyResult,
  HandleRecord,
  HandleRef,
  Mutation,
  SameValues,
  Store,
  UpdateManyResult,
  WriteResult,
} from './store.js';

export { redactSecrets } from './audit.js';

/** JSON with object keys sorted (JSONB reorders keys), dropping what JSON.stringify drops: equal iff same JSONB. */
export function canonicalJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) sorted[k] = o[k];
    return sorted;
  });
}

/** Code-unit order, the same on every run (the lock order of bulk writes). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function alreadyExists(ref: HandleRef): HandleError {
  return new HandleError(RC.HANDLE_ALREADY_EXISTS, `handle already exists: ${ref.handle}`);
}

const COLUMNS = ['handle', 'prefix_key', 'values', 'version', 'created_at', 'updated_at'] as const;

/**
 * Handle writes inside one transaction (see handleTransaction). `db` is the transaction, for the registry modules
 * that change their own tables in the same unit of work (enterprises at approval and suspension).
 */
export class HandleTx {
  /** handles changed so far (announced after commit) */
  readonly changedKeys = new Set<string>();
  /** prefixes whose visibility changed (every cache re-reads the suspensions after commit) */
  readonly changedPrefixes = new Set<string>();

  constructor(
    readonly db: Transaction<Database>,
    readonly actor: Actor,
    /** seals the plain HS_SECKEY copies (registry/secret-copies.ts); null: none are kept */
    readonly vault: DigestVault | null = null,
    /** the store's kind: how bulk writes pass their text arrays (text-array.ts) */
    readonly kind: Store['kind'] = 'pglite',
  ) {}

  /** The handle's row, locked until the transaction ends (null when absent: a create then races on the key). */
  async lock(key: string): Promise<HandleRecord | null> {
    const row = await this.db.selectFrom('handles').select(COLUMNS).where('key', '=', key).forUpdate().executeTakeFirst();
    return row ? toRecord(key, row) : null;
  }

  /** Reads another handle's row in this transaction (e.g. a prefix record's HS_ADMIN), locked for share. */
  async read(key: string): Promise<HandleRecord | null> {
    const row = await this.db.selectFrom('handles').select(COLUMNS).where('key', '=', key).forShare().executeTakeFirst();
    return row ? toRecord(key, row) : null;
  }

  /**
   * Read-modify-write of one handle: `fn` decides from the locked current record (null when absent) — new values,
   * null to delete, or a HandleError to abort with nothing written. The same values write nothing. A create that
   * collides with an existing key (a concurrent create, a case variant) fails with HandleError(101).
   */
  async mutate(ref: HandleRef, action: string, fn: Mutation): Promise<WriteResult> {
    const before = await this.lock(ref.key);
    return this.write(ref, action, before, fn(before));
  }

  /**
   * Writes `next` over the locked `before` (from lock()): new values, or null to delete. The same values write
   * nothing.
   */
  async write(ref: HandleRef, action: string, before: HandleRecord | null, given: HandleValue[] | null): Promise<WriteResult> {
    let after: HandleRecord | null;
    const plain: PlainSecrets = new Map();
    const next = given === null ? null : await sealSecrets(given, before?.values ?? null, plain);
    const copies = copyActions(before?.values ?? null, next, plain);
    if (next === null) {
      if (before === null) return { before: null, after: null };
      // the row's sealed secret copies go with it (ON DELETE CASCADE)
      await this.db.deleteFrom('handles').where('key', '=', ref.key).execute();
      after = null;
    } else if (before !== null) {
      if (canonicalJson(next) === canonicalJson(before.values)) {
        // the same secret given again in plain text: nothing to write, but its sealed copy is (re)made
        await keepSecretCopies(this.db, this.vault, ref.key, copies);
        return { before, after: before };
      }
      const updated = await this.db
        .updateTable('handles')
        .set({ values: jsonb(next), public_json: publicValuesJson(next), version: sql<string>`version + 1`, updated_at: sql<Date>`now()` })
        .where('key', '=', ref.key)
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
      after = toRecord(ref.key, updated);
    } else {
      const inserted = await this.db
        .insertInto('handles')
        .values({ key: ref.key, handle: ref.handle, prefix_key: ref.prefixKey, values: jsonb(next), public_json: publicValuesJson(next), version: 1 })
        .onConflict((oc) => oc.column('key').doNothing())
        .returning(COLUMNS)
        .executeTakeFirst();
      // A concurrent create of the same key (or a case variant of it) committed first.
      if (!inserted) throw alreadyExists(ref);
      after = toRecord(ref.key, inserted);
    }
    await keepSecretCopies(this.db, this.vault, ref.key, copies);
    await writeAudit(this.db, {
      actor: this.actor,
      action,
      entity: 'handle',
      handle: ref.handle,
      handleKey: ref.key,
      enterpriseId: null,
      before: before === null ? null : before.values,
      after: after === null ? null : after.values,
    });
    this.changedKeys.add(ref.key);
    return { before, after };
  }

  /**
   * Bulk create, set-based (a fixed number of statements whatever the batch size), one audit row per created
   * handle. Per item, in order: 'created'; 'unchanged' when the key already holds the same handle text with `same`
   * values (an idempotent retry: nothing written); 'exists' otherwise (a different record, or a case variant). A
   * key repeated inside the batch is judged against the record its first occurrence left.
   */
  async createMany(given: readonly BulkItem[], action: string, same: SameValues): Promise<CreateManyResult[]> {
    if (given.length === 0) return [];
    const items: BulkItem[] = new Array(given.length);
    const plains: (PlainSecrets | null)[] = new Array(given.length);
    for (let i = 0; i < given.length; i++) {
      const it = given[i]!;
      // only a list holding an HS_SECKEY has anything to seal (the common bulk item has none: no await, no copy)
      if (!hasSecret(it.values)) {
        items[i] = it;
        plains[i] = null;
        continue;
      }
      const plain: PlainSecrets = new Map();
      items[i] = { ...it, values: await sealSecrets(it.values, null, plain) };
      plains[i] = plain;
    }
    // The first occurrence of each key is the one inserted; rows go in key order so concurrent batches lock alike.
    const first = new Map<string, number>();
    items.forEach((it, i) => {
      if (!first.has(it.ref.key)) first.set(it.ref.key, i);
    });
    const order = [...first.values()].sort((a, b) => cmp(items[a]!.ref.key, items[b]!.ref.key));
    const n = order.length;
    const keys = new Array<string>(n);
    const col = () => new TextArrayBuilder(this.kind, n);
    const [k, h, p, v, j] = [col(), col(), col(), col(), col()];
    /** the values as audited, only for lists holding a secret to redact (else the audit row takes the row's values) */
    let audited: TextArrayBuilder | null = null;
    for (let r = 0; r < n; r++) {
      const it = items[order[r]!]!;
      keys[r] = it.ref.key;
      k.push(it.ref.key);
      h.push(it.ref.handle);
      p.push(it.ref.prefixKey);
      v.push(JSON.stringify(it.values));
      j.push(publicValuesJson(it.values));
      if (plains[order[r]!] !== null && audited === null) {
        audited = col();
        for (let e = 0; e < r; e++) audited.push(null);
      }
      audited?.push(plains[order[r]!] !== null ? JSON.stringify(redactSecrets(it.values)) : null);
    }
    // One statement inserts what is new and writes its audit rows from what was inserted. The columns travel as text
    // arrays (binary on `pg`: no literal to escape or parse, see text-array.ts) and each value list is parsed into
    // JSONB once, by the insert; the audit row takes the parsed list from RETURNING. A fixed statement whatever the
    // batch size: nothing to plan per row (a multi-row VALUES spent a seventh of the database's time planning).
    const columns = sql`${k.param()}::text[], ${h.param()}::text[], ${p.param()}::text[], ${v.param()}::text[], ${j.param()}::text[]`;
    const inserted =
      audited === null
        ? await sql<{ handle_key: string }>`
            with ins as (
              insert into handles (key, handle, prefix_key, values, public_json, version)
              select t.k, t.h, t.p, t.v::jsonb, t.j, 1 from unnest(${columns}) as t(k, h, p, v, j)
              on conflict (key) do nothing
              returning key, handle, values
            )
            insert into audit_log (actor, address, action, entity, handle, handle_key, before, after)
            select ${this.actor.id}, ${this.actor.address ?? null}::text, ${action}, 'handle', ins.handle, ins.key, null, ins.values
            from ins
            returning handle_key`.execute(this.db)
        : await sql<{ handle_key: string }>`
            with t as (
              select * from unnest(${columns}, ${audited.param()}::text[]) as t(k, h, p, v, j, a)
            ), ins as (
              insert into handles (key, handle, prefix_key, values, public_json, version)
              select t.k, t.h, t.p, t.v::jsonb, t.j, 1 from t
              on conflict (key) do nothing
              returning key, handle, values
            )
            insert into audit_log (actor, address, action, entity, handle, handle_key, before, after)
            select ${this.actor.id}, ${this.actor.address ?? null}::text, ${action}, 'handle', ins.handle, ins.key, null, coalesce(t.a::jsonb, ins.values)
            from ins join t on t.k = ins.key
            returning handle_key`.execute(this.db);
    const created = new Set(inserted.rows.map((r) => r.handle_key));

    const current = new Map<string, { handle: string; values: HandleValue[] }>();
    if (created.size < items.length) {
      const rest = keys.filter((k) => !created.has(k));
      if (rest.length > 0) {
        const found = await sql<{ key: string; handle: string; values: HandleValue[] }>`
          select key, handle, values from handles where key = any(${rest}::text[])`.execute(this.db);
        for (const r of found.rows) current.set(r.key, { handle: r.handle, values: r.values });
      }
    }
    for (const k of created) this.changedKeys.add(k);
    for (const [k, i] of first) {
      if (created.has(k) && plains[i] !== null && plains[i]!.size > 0) await keepSecretCopies(this.db, this.vault, k, copyActions(null, items[i]!.values, plains[i]!));
    }
    return items.map((it, i): CreateManyResult => {
      if (first.get(it.ref.key) === i && created.has(it.ref.key)) {
        current.set(it.ref.key, { handle: it.ref.handle, values: it.values });
        return 'created';
      }
      const cur = current.get(it.ref.key);
      return cur !== undefined && cur.handle === it.ref.handle && same(cur.values, it.values) ? 'unchanged' : 'exists';
    });
  }

  /**
   * Bulk replace of the values (rows locked): 'not-found', 'unchanged' (`same` as the current: nothing written) or
   * 'updated' (version bumped, one audit row with before/after). Items apply in order, so a key repeated in the
   * batch ends with its last values. `compose(current, given)` builds the new list (default: the given list).
   */
  async updateMany(
    items: readonly BulkItem[],
    action: string,
    same: SameValues,
    compose: (current: HandleValue[], given: HandleValue[]) => HandleValue[] = (_c, g) => g,
  ): Promise<UpdateManyResult[]> {
    if (items.length === 0) return [];
    const keys = [...new Set(items.map((it) => it.ref.key))].sort(cmp);
    const locked = await sql<{ key: string; handle: string; values: HandleValue[] }>`
      select key, handle, values from handles where key = any(${keys}::text[]) order by key for update`.execute(this.db);
    const state = new Map<string, { handle: string; values: HandleValue[]; changes: number }>();
    for (const r of locked.rows) state.set(r.key, { handle: r.handle, values: r.values, changes: 0 });

    const audit: { h: string; k: string; b: HandleValue[] | null; a: HandleValue[] | null }[] = [];
    const results: UpdateManyResult[] = [];
    /** per key, what its sealed secret copies become (a later item of the same key overrides an earlier one) */
    const copies = new Map<string, CopyActions>();
    for (const it of items) {
      const cur = state.get(it.ref.key);
      if (cur === undefined) {
        results.push('not-found');
        continue;
      }
      const plain: PlainSecrets = new Map();
      const next = await sealSecrets(compose(cur.values, it.values), cur.values, plain);
      const actions = copyActions(cur.values, next, plain);
      if (actions.size > 0) {
        const all = copies.get(it.ref.key) ?? new Map();
        for (const [i, a] of actions) all.set(i, a);
        copies.set(it.ref.key, all);
      }
      if (same(cur.values, next)) {
        results.push('unchanged');
        continue;
      }
      audit.push({ h: cur.handle, k: it.ref.key, b: redactSecrets(cur.values), a: redactSecrets(next) });
      cur.values = next;
      cur.changes += 1;
      results.push('updated');
    }

    const changed = [...state.entries()].filter(([, s]) => s.changes > 0);
    if (changed.length > 0) {
      const rows = changed.map(([k, s]) => ({ k, v: s.values, j: publicValuesJson(s.values), n: s.changes }));
      await sql`
        update handles set values = u.v, public_json = u.j, version = handles.version + u.n, updated_at = now()
        from jsonb_to_recordset(${jsonb(rows)}) as u(k text, v jsonb, j text, n int4)
        where handles.key = u.k`.execute(this.db);
      // JSON null becomes SQL NULL in jsonb_to_recordset, as a missing before/after should.
      await sql`
        insert into audit_log (actor, address, action, entity, handle, handle_key, before, after)
        select ${this.actor.id}, ${this.actor.address ?? null}::text, ${action}, 'handle', t.h, t.k, t.b, t.a
        from jsonb_to_recordset(${jsonb(audit)}) as t(h text, k text, b jsonb, a jsonb)`.execute(this.db);
      for (const [k] of changed) this.changedKeys.add(k);
    }
    for (const [k, actions] of copies) await keepSecretCopies(this.db, this.vault, k, actions);
    return results;
  }

  /** Bulk delete in one statement with its audit rows; a key repeated in the batch is 'not-found' the second time. */
  async deleteMany(refs: readonly HandleRef[], action: string): Promise<DeleteManyResult[]> {
    if (refs.length === 0) return [];
    const keys = [...new Set(refs.map((r) => r.key))].sort(cmp);
    // Lock in key order first, so concurrent bulk writes over the same keys queue instead of deadlocking; the values
    // come along so that those holding a secret are audited redacted (`r`: only those rows travel back).
    const locked = await sql<{ key: string; values: HandleValue[] }>`
      select key, values from handles where key = any(${keys}::text[]) order by key for update`.execute(this.db);
    const redacted = locked.rows.filter((r) => hasSecret(r.values)).map((r) => ({ k: r.key, b: redactSecrets(r.values) }));
    const deleted = await sql<{ handle_key: string }>`
      with d as (delete from handles where key = any(${keys}::text[]) returning key, handle, values),
      r as (select * from jsonb_to_recordset(${jsonb(redacted)}) as r(k text, b jsonb))
      insert into audit_log (actor, address, action, entity, handle, handle_key, before, after)
      select ${this.actor.id}, ${this.actor.address ?? null}::text, ${action}, 'handle', d.handle, d.key, coalesce(r.b, d.values), null
      from d left join r on r.k = d.key
      returning handle_key`.execute(this.db);
    const gone = new Set(deleted.rows.map((r) => r.handle_key));
    for (const k of gone) this.changedKeys.add(k);
    return refs.map((r): DeleteManyResult => (gone.delete(r.key) ? 'deleted' : 'not-found'));
  }

  /**
   * Keeps `secret` sealed as the plain text of the HS_SECKEY at `index` of `key`, stored as `hash` — for writers that
   * hash a secret themselves before writing it (bootstrap, enterprise approval, rotation), after their write.
   */
  async keepSecretCopy(key: string, index: number, secret: string, hash: string): Promise<void> {
    await keepSecretCopies(this.db, this.vault, key, new Map([[index, { hash, secret }]]));
  }

  /** A prefix's visibility changed in this transaction (its enterprise suspended or enabled again). */
  prefixChanged(prefixKey: string): void {
    this.changedPrefixes.add(prefixKey);
  }
}

/**
 * Runs `fn` as one transaction of handle writes by `actor`; after it commits, every cache is told what changed
 * (and the call returns only once they all have). A failure rolls everything back and announces nothing.
 */
export async function handleTransaction<T>(ctx: RegistryContext, actor: Actor, fn: (tx: HandleTx) => Promise<T>): Promise<T> {
  let tx: HandleTx | null = null;
  const result = await ctx.store.db.transaction().execute(async (trx) => {
    tx = new HandleTx(trx, actor, digestVault(ctx), ctx.store.kind);
    return fn(tx);
  });
  const done = tx as HandleTx | null;
  if (done !== null && (done.changedKeys.size > 0 || done.changedPrefixes.size > 0)) {
    await ctx.events.changed({ keys: [...done.changedKeys], prefixKeys: [...done.changedPrefixes] });
  }
  return result;
}

/** One read-modify-write of one handle as its own transaction (see HandleTx.mutate). */
export function mutateHandle(ctx: RegistryContext, ref: HandleRef, action: string, actor: Actor, fn: Mutation): Promise<WriteResult> {
  return handleTransaction(ctx, actor, (tx) => tx.mutate(ref, action, fn));
}

/** A bulk create as its own transaction (see HandleTx.createMany). */
export function createHandles(ctx: RegistryContext, items: readonly BulkItem[], actor: Actor, action: string, same: SameValues): Promise<CreateManyResult[]> {
  return handleTransaction(ctx, actor, (tx) => tx.createMany(items, action, same));
}

/** A bulk update as its own transaction (see HandleTx.updateMany). */
export function updateHandles(
  ctx: RegistryContext,
  items: readonly BulkItem[],
  actor: Actor,
  action: string,
  same: SameValues,
  compose?: (current: HandleValue[], given: HandleValue[]) => HandleValue[],
): Promise<UpdateManyResult[]> {
  return handleTransaction(ctx, actor, (tx) => tx.updateMany(items, action, same, compose));
}

/** A bulk delete as its own transaction (see HandleTx.deleteMany). */
export function deleteHandles(ctx: RegistryContext, refs: readonly HandleRef[], actor: Actor, action: string): Promise<DeleteManyResult[]> {
  return handleTransaction(ctx, actor, (tx) => tx.deleteMany(refs, action));
}
