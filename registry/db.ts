// The kysely Database interface: typed tables of the registry schema (migrations/ is the source of the DDL).
import type { ColumnType, Generated } from 'kysely';
import type { HandleValue } from '../handle/types.js';

/**
 * JSONB columns are written as `JSON.stringify(x)` with an explicit `::jsonb` cast (see sql-store.ts), so their insert
 * and update types are expressions or strings, never JS objects (`pg` would turn arrays into Postgres array literals).
 */
type Jsonb<T> = ColumnType<T, string, string>;

/**
 * bigint / bigserial: `pg` returns them as strings, PGlite as numbers; the store maps them with `Number()`.
 */
type Int8<Insert = number | string | bigint, Update = number | string | bigint> = ColumnType<string | number, Insert, Update>;

export interface HandlesTable {
  /** canonical lookup key */
  key: string;
  /** the handle as first registered (original case) */
  handle: string;
  prefix_key: string;
  values: Jsonb<HandleValue[]>;
  version: Int8;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AuditLogTable {
  id: Generated<Int8<never, never>>;
  at: ColumnType<Date, Date | string | undefined, never>;
  actor: string;
  address: string | null;
  action: string;
  handle: string;
  handle_key: string;
  before: ColumnType<HandleValue[] | null, string | null, never>;
  after: ColumnType<HandleValue[] | null, string | null, never>;
}

/** Later migrations (enterprises, prefixes, templates, …) add their tables here. */
export interface Database {
  handles: HandlesTable;
  audit_log: AuditLogTable;
}
