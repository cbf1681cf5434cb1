// The one Store implementation over SQL (kysely), shared by PostgreSQL and PGlite: same queries, same migrations.
import { Migrator, sql, type Kysely } from 'kysely';
import { HandleError, RC } from '../handle/codes.js';
import type { HandleValue } from '../handle/types.js';
import type { Database } from './db.js';
import { jsonb, writeAudit } from './audit.js';
import { migrationProvider } from './migrations/index.js';
import type {
  Actor,
  AuditEntry,
  AuditQuery,
  HandleRecord,
  HandleRef,
  ListQuery,
  Mutation,
  Store,
  WriteResult,
} from './store.js';

/** The hot-path lookup; each backend runs it directly (a named prepared statement on `pg`), bypassing kysely. */
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
  readonly #onClose: SqlStoreOptions['onClose'];
  #closing: Promise<void> | null = null;

  constructor(opts: SqlStoreOptions) {
    this.kind = opts.kind;
    this.#db = opts.db;
    this.#getHandleRow = opts.getHandleRow;
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
            .values({ key: ref.key, handle: ref.handle, prefix_key: ref.prefixKey, values: jsonb(next), version: 1 })
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

  async listAudit(q: AuditQuery): Promise<AuditEntry[]> {
    let query = this.#db
      .selectFrom('audit_log')
      .select(['id', 'at', 'actor', 'address', 'action', 'entity', 'entity_id', 'enterprise_id', 'handle', 'before', 'after'])
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(auditLimit(q.limit));
    if (q.handleKey !== undefined) query = query.where('handle_key', '=', q.handleKey);
    if (q.actor !== undefined) query = query.where('actor', '=', q.actor);
    if (q.enterpriseId !== undefined) query = query.where('enterprise_id', '=', q.enterpriseId);
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
