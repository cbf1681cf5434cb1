// The one Store implementation over SQL (kysely), shared by PostgreSQL and PGlite: same queries, same migrations.
import { Migrator, sql, type Kysely } from 'kysely';
import { HandleError, RC } from '../handle/codes.js';
import type { HandleValue } from '../handle/types.js';
import type { Database } from './db.js';
import { valuesToJson } from '../handle/json.js';
import { isPublicReadable } from '../handle/value.js';
import { jsonb, writeAudit } from './audit.js';
import { migrationProvider } from './migrations/index.js';
import type {
  Actor,
  AuditEntry,
  AuditQuery,
  BulkItem,
  CreateManyResult,
  DeleteManyResult,
  HandleRecord,
  HandleRef,
  ListQuery,
  ResolvedHandle,
  Mutation,
  SameValues,
  Store,
  UpdateManyResult,
  WriteResult,
} from './store.js';

/** The hot-path lookup; each backend runs it directly (a named prepared statement on `pg`), bypassing kysely. */
/**
 * The resolution read: only what a resolver needs, as text — the values unparsed (parsed only if a filter asks)
 * and the public answer pre-serialised at write time.
 */
export const RESOLVE_HANDLE_SQL = 'select handle, values::text as values_text, public_json from handles where key = $1';
/** The resolution read of many keys at once (`$1` a text array). */
export const RESOLVE_HANDLES_SQL = 'select key, handle, values::text as values_text, public_json from handles where key = any($1::text[])';

/** What a resolution read returns. */
export interface ResolveRow {
  handle: string;
  values_text: string;
  public_json: string | null;
}

/** The public answer of a value list, as the resolver serves it (stored with the values on every write). */
export function publicJsonOf(values: readonly HandleValue[]): string {
  return valuesToJson(values.filter(isPublicReadable));
}

export const GET_HANDLE_SQL =
  'select handle, prefix_key, values, version, created_at, updated_at from handles where key = $1';

/** A `handles` row as the fast path returns it (`version` is a string from `pg`, a number from PGlite). */
export interface HandleRow {
  handle: string;
  prefix_key: string;
  values: HandleValue[];
  version: string | number | bigint;
  created_at: Date;
  updated_at: Date;
}

export interface SqlStoreOptions {
  kind: Store['kind'];
  db: Kysely<Database>;
  /** Runs GET_HANDLE_SQL with `[key]`; resolves with the row or undefined. */
  getHandleRow: (key: string) => Promise<HandleRow | undefined>;
  /** Runs RESOLVE_HANDLE_SQL with `[key]`. */
  resolveRow: (key: string) => Promise<ResolveRow | undefined>;
  /** Runs RESOLVE_HANDLES_SQL with `[keys]`: the rows found, in any order. */
  resolveRows: (keys: readonly string[]) => Promise<(ResolveRow & { key: string })[]>;
  /** Called by close() after kysely is destroyed (e.g. close PGlite). */
  onClose?: () => Promise<void>;
}

/** Session advisory lock key serialising migrate() across processes ('idnm'). */
const MIGRATION_LOCK_KEY = 0x69646e6d;
const AUDIT_DEFAULT_LIMIT = 100;
const AUDIT_MAX_LIMIT = 1000;

const PG_UNIQUE_VIOLATION = '23505';

export class SqlStore implements Store {
  readonly kind: Store['kind'];
  readonly #db: Kysely<Database>;
  readonly #getHandleRow: SqlStoreOptions['getHandleRow'];
  readonly #resolveRow: SqlStoreOptions['resolveRow'];
  readonly #resolveRows: SqlStoreOptions['resolveRows'];
  readonly #onClose: SqlStoreOptions['onClose'];
  #closing: Promise<void> | null = null;

  constructor(opts: SqlStoreOptions) {
    this.kind = opts.kind;
    this.#db = opts.db;
    this.#getHandleRow = opts.getHandleRow;
    this.#resolveRow = opts.resolveRow;
    this.#resolveRows = opts.resolveRows;
    this.#onClose = opts.onClose;
  }

  /** The kysely instance, for registry modules that add their own tables in later migrations. */
  get db(): Kysely<Database> {
    return this.#db;
  }

  async migrate(): Promise<void> {
    // One connection for the whole run: a session advisory lock makes concurrent migrate() calls (several
    // processes starting at once) wait for each other, including kysely's own bookkeeping-table creation.
    await this.#db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`.execute(conn);
      try {
        const { error } = await new Migrator({ db: conn, provider: migrationProvider }).migrateToLatest();
        if (error) throw error instanceof Error ? error : new Error(`migration failed: ${String(error)}`);
      } finally {
        await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`.execute(conn);
      }
    });
  }

  async getHandle(key: string): Promise<HandleRecord | null> {
    const row = await this.#getHandleRow(key);
    return row ? toRecord(key, row) : null;
  }

  async resolveHandle(key: string): Promise<ResolvedHandle | null> {
    const row = await this.#resolveRow(key);
    return row === undefined ? null : { handle: row.handle, valuesJson: row.values_text, publicJson: row.public_json };
  }

  async resolveHandles(keys: readonly string[]): Promise<(ResolvedHandle | null)[]> {
    if (keys.length === 0) return [];
    const byKey = new Map<string, ResolvedHandle>();
    for (const row of await this.#resolveRows(keys)) byKey.set(row.key, { handle: row.handle, valuesJson: row.values_text, publicJson: row.public_json });
    return keys.map((k) => byKey.get(k) ?? null);
  }

  async mutate(ref: HandleRef, action: string, actor: Actor, fn: Mutation): Promise<WriteResult> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('handles')
          .select(['handle', 'prefix_key', 'values', 'version', 'created_at', 'updated_at'])
          .where('key', '=', ref.key)
          .forUpdate()
          .executeTakeFirst();
        const before = row ? toRecord(ref.key, row) : null;
        const next = fn(before);

        let after: HandleRecord | null;
        if (next === null) {
          if (before === null) return { before: null, after: null };
          await trx.deleteFrom('handles').where('key', '=', ref.key).execute();
          after = null;
        } else if (before !== null) {
          if (canonicalJson(next) === canonicalJson(before.values)) return { before, after: before };
          const updated = await trx
            .updateTable('handles')
            .set({
              values: jsonb(next),
              public_json: publicJsonOf(next),
              version: sql<string>`version + 1`,
              updated_at: sql<Date>`now()`,
            })
            .where('key', '=', ref.key)
            .returning(['handle', 'prefix_key', 'values', 'version', 'created_at', 'updated_at'])
            .executeTakeFirstOrThrow();
          after = toRecord(ref.key, updated);
        } else {
          const inserted = await trx
            .insertInto('handles')
            .values({ key: ref.key, handle: ref.handle, prefix_key: ref.prefixKey, values: jsonb(next), public_json: publicJsonOf(next), version: 1 })
            .onConflict((oc) => oc.column('key').doNothing())
            .returning(['handle', 'prefix_key', 'values', 'version', 'created_at', 'updated_at'])
            .executeTakeFirst();
          // A concurrent create of the same key (or a case variant of it) committed first.
          if (!inserted) throw alreadyExists(ref);
          after = toRecord(ref.key, inserted);
        }

        await writeAudit(trx, {
          actor,
          action,
          entity: 'handle',
          handle: ref.handle,
          handleKey: ref.key,
          before: before === null ? null : before.values,
          after: after === null ? null : after.values,
        });
        return { before, after };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(ref);
      throw err;
    }
  }

  async listHandles(prefixKey: string, q: ListQuery = {}): Promise<{ total: number; handles: string[] }> {
    let page = this.#db.selectFrom('handles').select('handle').where('prefix_key', '=', prefixKey).orderBy('key');
    if (q.pageSize !== undefined && q.pageSize > 0) {
      const size = Math.floor(q.pageSize);
      page = page.limit(size).offset(Math.max(0, Math.floor(q.page ?? 0)) * size);
    }
    const [count, rows] = await Promise.all([
      this.#db
        .selectFrom('handles')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('prefix_key', '=', prefixKey)
        .executeTakeFirstOrThrow(),
      page.execute(),
    ]);
    return { total: Number(count.n), handles: rows.map((r) => r.handle) };
  }

  // Bulk writes. The rows travel as ONE JSON parameter expanded by jsonb_to_recordset: the same text on `pg` and
  // PGlite, and about 3x faster than unnest() over text[]/jsonb[] arrays, whose array-literal escaping (client) and
  // parsing (server) dominate a 2000-row batch (bench/registration.ts measures both).

  async createMany(items: BulkItem[], actor: Actor, action: string, same: SameValues): Promise<CreateManyResult[]> {
    if (items.length === 0) return [];
    // The first occurrence of each key is the one inserted; rows go in key order so concurrent batches lock alike.
    const first = new Map<string, number>();
    items.forEach((it, i) => {
      if (!first.has(it.ref.key)) first.set(it.ref.key, i);
    });
    const order = [...first.values()].sort((a, b) => cmp(items[a]!.ref.key, items[b]!.ref.key));
    const keys = order.map((i) => items[i]!.ref.key);
    const rows = order.map((i) => {
      const it = items[i]!;
      return { k: it.ref.key, h: it.ref.handle, p: it.ref.prefixKey, v: it.values, j: publicJsonOf(it.values) };
    });
    return this.#db.transaction().execute(async (trx) => {
      // One statement: insert what is new, and write its audit rows from what was inserted (payload sent once).
      const inserted = await sql<{ handle_key: string }>`
        with ins as (
          insert into handles (key, handle, prefix_key, values, public_json, version)
          select t.k, t.h, t.p, t.v, t.j, 1 from jsonb_to_recordset(${jsonb(rows)}) as t(k text, h text, p text, v jsonb, j text)
          on conflict (key) do nothing
          returning key, handle, values
        )
        insert into audit_log (actor, address, action, entity, handle, handle_key, before, after)
        select ${actor.id}, ${actor.address ?? null}::text, ${action}, 'handle', handle, key, null, values from ins
        returning handle_key`.execute(trx);
      const created = new Set(inserted.rows.map((r) => r.handle_key));

      const current = new Map<string, { handle: string; values: HandleValue[] }>();
      if (created.size < items.length) {
        const rest = keys.filter((k) => !created.has(k));
        if (rest.length > 0) {
          const found = await sql<{ key: string; handle: string; values: HandleValue[] }>`
            select key, handle, values from handles where key = any(${rest}::text[])`.execute(trx);
          for (const r of found.rows) current.set(r.key, { handle: r.handle, values: r.values });
        }
      }
      return items.map((it, i): CreateManyResult => {
        if (first.get(it.ref.key) === i && created.has(it.ref.key)) {
          current.set(it.ref.key, { handle: it.ref.handle, values: it.values });
          return 'created';
        }
        const cur = current.get(it.ref.key);
        return cur !== undefined && cur.handle === it.ref.handle && same(cur.values, it.values) ? 'unchanged' : 'exists';
      });
    });
  }

  async updateMany(
    items: BulkItem[],
    actor: Actor,
    action: string,
    same: SameValues,
    compose: (current: HandleValue[], given: HandleValue[]) => HandleValue[] = (_c, g) => g,
  ): Promise<UpdateManyResult[]> {
    if (items.length === 0) return [];
    const keys = [...new Set(items.map((it) => it.ref.key))].sort(cmp);
    return this.#db.transaction().execute(async (trx) => {
      const rows = await sql<{ key: string; handle: string; values: HandleValue[] }>`
        select key, handle, values from handles where key = any(${keys}::text[]) order by key for update`.execute(trx);
      const state = new Map<string, { handle: string; values: HandleValue[]; changes: number }>();
      for (const r of rows.rows) state.set(r.key, { handle: r.handle, values: r.values, changes: 0 });

      const audit: HandleAuditRow[] = [];
      const results = items.map((it): UpdateManyResult => {
        const cur = state.get(it.ref.key);
        if (cur === undefined) return 'not-found';
        const next = compose(cur.values, it.values);
        if (same(cur.values, next)) return 'unchanged';
        audit.push({ handle: cur.handle, key: it.ref.key, before: cur.values, after: next });
        cur.values = next;
        cur.changes += 1;
        return 'updated';
      });

      const changed = [...state.entries()].filter(([, s]) => s.changes > 0);
      if (changed.length > 0) {
        const rows = changed.map(([k, s]) => ({ k, v: s.values, j: publicJsonOf(s.values), n: s.changes }));
        await sql`
          update handles set values = u.v, public_json = u.j, version = handles.version + u.n, updated_at = now()
          from jsonb_to_recordset(${jsonb(rows)}) as u(k text, v jsonb, j text, n int4)
          where handles.key = u.k`.execute(trx);
        await auditHandles(trx, actor, action, audit);
      }
      return results;
    });
  }

  async deleteMany(refs: HandleRef[], actor: Actor, action: string): Promise<DeleteManyResult[]> {
    if (refs.length === 0) return [];
    const keys = [...new Set(refs.map((r) => r.key))].sort(cmp);
    return this.#db.transaction().execute(async (trx) => {
      // Lock in key order first, so concurrent bulk writes over the same keys queue instead of deadlocking.
      await sql`select key from handles where key = any(${keys}::text[]) order by key for update`.execute(trx);
      const deleted = await sql<{ handle_key: string }>`
        with d as (delete from handles where key = any(${keys}::text[]) returning key, handle, values)
        insert into audit_log (actor, address, action, entity, handle, handle_key, before, after)
        select ${actor.id}, ${actor.address ?? null}::text, ${action}, 'handle', handle, key, values, null from d
        returning handle_key`.execute(trx);
      const gone = new Set(deleted.rows.map((r) => r.handle_key));
      return refs.map((r): DeleteManyResult => (gone.delete(r.key) ? 'deleted' : 'not-found'));
    });
  }

  async listAudit(q: AuditQuery): Promise<AuditEntry[]> {
    let query = this.#db
      .selectFrom('audit_log')
      .select(['id', 'at', 'actor', 'address', 'action', 'entity', 'entity_id', 'enterprise_id', 'handle', 'before', 'after'])
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(auditLimit(q.limit));
    if (q.handleKey !== undefined) query = query.where('handle_key', '=', q.handleKey);
    if (q.actor !== undefined) query = query.where('actor', '=', q.actor);
    if (q.enterpriseId !== undefined) {
      const enterpriseId = q.enterpriseId;
      // The enterprise's own rows, and the changes to identifiers under its prefixes and the prefixes derived from
      // them (handle rows carry no enterprise id).
      query = query.where((eb) =>
        eb.or([
          eb('enterprise_id', '=', enterpriseId),
          eb.and([
            eb('entity', '=', 'handle'),
            eb.exists(
              eb
                .selectFrom('prefixes as p')
                .select(sql`1`.as('one'))
                .where('p.enterprise_id', '=', enterpriseId)
                .where((e2) =>
                  e2.or([
                    e2(sql<string>`split_part(audit_log.handle_key, '/', 1)`, '=', e2.ref('p.prefix_key')),
                    e2(sql<string>`split_part(audit_log.handle_key, '/', 1)`, 'like', sql<string>`p.prefix_key || '.%'`),
                  ]),
                ),
            ),
          ]),
        ]),
      );
    }
    if (q.entity !== undefined) query = query.where('entity', '=', q.entity);
    if (q.entityId !== undefined) query = query.where('entity_id', '=', q.entityId);
    if (q.since !== undefined) query = query.where('at', '>=', q.since);
    if (q.until !== undefined) query = query.where('at', '<', q.until);
    const rows = await query.execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: r.at,
      actor: r.actor,
      address: r.address,
      action: r.action,
      entity: r.entity,
      handle: r.handle,
      entityId: r.entity_id,
      enterpriseId: r.enterprise_id === null ? null : Number(r.enterprise_id),
      before: r.before,
      after: r.after,
    }));
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#db.destroy();
      } finally {
        await this.#onClose?.();
      }
    })();
    return this.#closing;
  }
}

interface HandleAuditRow {
  handle: string;
  key: string;
  before: HandleValue[] | null;
  after: HandleValue[] | null;
}

/** Audit rows for many handle changes in one statement (one JSON parameter: no parameter-count limit). */
async function auditHandles(db: Kysely<Database>, actor: Actor, action: string, rows: HandleAuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  // JSON null becomes SQL NULL in jsonb_to_recordset, as a missing before/after should.
  const records = rows.map((r) => ({ h: r.handle, k: r.key, b: r.before, a: r.after }));
  await sql`
    insert into audit_log (actor, address, action, entity, handle, handle_key, before, after)
    select ${actor.id}, ${actor.address ?? null}::text, ${action}, 'handle', t.h, t.k, t.b, t.a
    from jsonb_to_recordset(${jsonb(records)}) as t(h text, k text, b jsonb, a jsonb)`.execute(db);
}

/** Code-unit order, the same on every run (the lock order of bulk writes). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toRecord(key: string, row: HandleRow): HandleRecord {
  return {
    handle: row.handle,
    key,
    prefixKey: row.prefix_key,
    values: row.values,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}


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

function auditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_DEFAULT_LIMIT;
  return Math.min(AUDIT_MAX_LIMIT, Math.max(1, Math.floor(limit)));
}

function alreadyExists(ref: HandleRef): HandleError {
  return new HandleError(RC.HANDLE_ALREADY_EXISTS, `handle already exists: ${ref.handle}`);
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === PG_UNIQUE_VIOLATION;
}
