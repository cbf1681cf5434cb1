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
  /** the public values as Handle JSON, written with `values` (003); NULL when written without it */
  public_json: ColumnType<string | null, string | null | undefined, string | null>;
  version: Int8;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AuditLogTable {
  id: ColumnType<string | number, never, never>;
  at: ColumnType<Date, Date | string | undefined, never>;
  actor: string;
  address: string | null;
  action: string;
  handle: string | null;
  handle_key: string | null;
  /** `handle`, `enterprise`, `prefix`, `template`, `user` (002) */
  entity: ColumnType<string, string | undefined, never>;
  entity_id: string | null;
  enterprise_id: Int8<number | string | null, never> | null;
  /** handle rows: the value lists; other entities: the row as JSON */
  before: ColumnType<unknown, string | null, never>;
  after: ColumnType<unknown, string | null, never>;
}

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

/** SNMS prefix status codes, used for enterprises and their prefixes alike. */
export const STATUS = { DISABLED: 0, ENABLED: 1, PENDING_DELETION: 2, REJECTED: 3, PENDING_REVIEW: 4, UNDER_REVIEW: 5 } as const;
export type Status = (typeof STATUS)[keyof typeof STATUS];

export interface EnterprisesTable {
  id: ColumnType<string | number, never, never>;
  name: string;
  credit_code: string;
  town: string;
  industry: string;
  address: string;
  contact_name: string;
  contact_phone: string;
  contact_email: string | null;
  status: ColumnType<number, number | undefined, number>;
  reason: string | null;
  reviewed_by: string | null;
  approved_at: Date | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  /** the handle credential `{prefix, secret}` sealed under the password key until its one-time reveal (006); NULL: none */
  handle_secret_enc: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PrefixesTable {
  prefix_key: string;
  prefix: string;
  enterprise_id: Int8<number | string | null, number | string | null> | null;
  status: number;
  /** where its identifiers are served: null here, else the enterprise's own node (registry/prefix-hosting.ts) */
  hosting: Jsonb<SelfHostedNode | null> | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** An enterprise's own node serving its prefix (SNMS's entPrefixConfig): an IP address and its ports. */
export interface SelfHostedNode {
  address: string;
  tcpPort: number;
  udpPort: number;
  /** the node's HTTP port (listed in its HS_SITE), or null */
  httpPort: number | null;
}

export type Role = 'operator' | 'reviewer' | 'enterprise';

export interface UsersTable {
  id: ColumnType<string | number, never, never>;
  username: string;
  username_key: string;
  password_hash: string;
  password_sha256_enc: string;
  role: Role;
  enterprise_id: Int8<number | string | null, number | string | null> | null;
  disabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  /** tokens issued before this instant are refused (set by a password reset or a disable, 006); NULL: none */
  tokens_valid_after: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** One field of a template: registered values at `idIndex` must have type `idType`. */
export interface TemplateItem {
  name: string;
  idType: string;
  idIndex: number;
  required: boolean;
  /** 1 enabled, 0 disabled (items are disabled, never deleted) */
  state: number;
  metadata: { type: string; minLength?: number; maxLength?: number };
}

export interface TemplatesTable {
  prefix_key: string;
  version: string;
  prefix: string;
  industry: string;
  /** SNMS metadata object type: 1 active identification carrier, 2 other */
  type: ColumnType<number, number | undefined, number>;
  description: string | null;
  items: Jsonb<TemplateItem[]>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface NodeKeysTable {
  name: string;
  value: string;
  created_at: CreatedAt;
}

/** One row (id 1): the epoch shared-cache entries are named by, and the Redis server it was checked against (004). */
export interface CacheEpochTable {
  id: number;
  epoch: Int8<number | string, number | string>;
  redis_run_id: string | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** An HS_SECKEY written in plain text, sealed under the password key for native challenge-response (008). */
export interface SecretKeyCopiesTable {
  handle_key: string;
  idx: number;
  /** `<key id>:<iv>.<tag>.<ciphertext>` of {"k", "i", "s", "h"} (registry/secret-copies.ts) */
  sealed: string;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface Database {
  handles: HandlesTable;
  audit_log: AuditLogTable;
  enterprises: EnterprisesTable;
  prefixes: PrefixesTable;
  users: UsersTable;
  templates: TemplatesTable;
  node_keys: NodeKeysTable;
  cache_epoch: CacheEpochTable;
  secret_key_copies: SecretKeyCopiesTable;
}
