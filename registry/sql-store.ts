// The one Store implementation over SQL (kysely), shared by PostgreSQL and PGlite: same queries, same migrations.
import { Migrator, sql, type Kysely } from 'kysely';
import type { HandleValue } from '../handle/types.js';
import type { Database } from './db.js';
import { migrationProvider } from './migrations/index.js';
import type { AuditEntry, AuditQuery, HandleRecord, ListQuery, ResolvedHandle, Store } from './store.js';

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
      .orderBy('id', 'desc')
      .limit(auditLimit(q.limit));
    if (q.handleKey !== undefined) query = query.where('handle_key', '=', q.handleKey);
    if (q.actor !== undefined) query = query.where('actor', '=', q.actor);
    if (q.enterpriseId !== undefined) {
      const enterpriseId = q.enterpriseId;
      // The enterprise's own rows, and the changes to identifiers under its prefixes and the prefixes derived from
      // them, and to its prefix records (handle rows carry no enterprise id).
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
                    // and the prefix records of those prefixes (0.NA/<prefix>)
                    e2(sql<string>`audit_log.handle_key`, '=', sql<string>`'0.NA/' || p.prefix_key`),
                  ]),
                ),
            ),
          ]),
        ]),
      );
    }
    if (q.entity !== undefined) query = query.where('entity', '=', q.entity);
    if (q.action !== undefined) query = query.where('action', '=', q.action);
    if (q.actionPrefix !== undefined) query = query.where('action', 'like', `${q.actionPrefix.replace(/[\\%_]/g, '\\$&')}%`);
    if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
    if (q.entityId !== undefined) query = query.where('entity_id', '=', q.entityId);
    // an enterprise's own rows carry its id too: the (enterprise_id, at) index finds them, where entity and entity_id
    // alone would walk the whole log newest first (an applicant reading its history, GET /snms/api/v3/ent/mine)
    if (q.entity === 'enterprise' && q.entityId !== undefined && /^[1-9]\d{0,15}$/.test(q.entityId)) query = query.where('enterprise_id', '=', Number(q.entityId));
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

/** A `handles` row as a HandleRecord (`version` is a string from `pg`, a number from PGlite). */
export function toRecord(key: string, row: HandleRow): HandleRecord {
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


function auditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_DEFAULT_LIMIT;
  return Math.min(AUDIT_MAX_LIMIT, Math.max(1, Math.floor(limit)));
}
