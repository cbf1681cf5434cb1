// The Store interface: the node's source of truth — its database, the handle reads every resolution needs, the audit log.
import type { Kysely } from 'kysely';
import type { HandleValue } from '../handle/types.js';
import type { Database } from './db.js';

/** One handle record: one row, values as JSONB, so a resolution is one key lookup. */
export interface HandleRecord {
  /** the handle as first registered (original case kept) */
  handle: string;
  /** canonical lookup key (see handle/identifier.ts) */
  key: string;
  /** canonical prefix key */
  prefixKey: string;
  values: HandleValue[];
  /** bumped on every change; starts at 1 */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Who did a write: an identity such as `300:0.NA/88.320924`, `system`, or `cli`, and from where. */
export interface Actor {
  id: string;
  address?: string | undefined;
}

/** The handle a write is about, already parsed and normalised. */
export interface HandleRef {
  handle: string;
  key: string;
  prefixKey: string;
}

/**
 * Decides the new values from the current record (null when absent): return the new value list to create or
 * replace, `null` to delete the record, or throw a HandleError to abort with nothing written.
 */
export type Mutation = (current: HandleRecord | null) => HandleValue[] | null;

export interface WriteResult {
  before: HandleRecord | null;
  after: HandleRecord | null;
}

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  address: string | null;
  action: string;
  /** `handle`, `enterprise`, `prefix`, `template`, `user` */
  entity: string;
  /** the handle for handle rows; the entity's id otherwise */
  handle: string | null;
  entityId: string | null;
  enterpriseId: number | null;
  /** handle rows: value lists; other entities: the row as JSON; null when absent */
  before: unknown;
  after: unknown;
}

export interface AuditQuery {
  handleKey?: string;
  actor?: string;
  enterpriseId?: number;
  entity?: string;
  entityId?: string;
  /** the action exactly (e.g. `user.role`) */
  action?: string;
  /** actions starting with this (e.g. `enterprise.`) */
  actionPrefix?: string;
  since?: Date;
  until?: Date;
  /** entries with a smaller id only: the next page back, given the last id of the page before */
  beforeId?: number;
  limit?: number;
}

export interface ListQuery {
  /** 0-based page; with pageSize */
  page?: number;
  pageSize?: number;
}

/** One handle of a bulk write and its new values. */
export interface BulkItem {
  ref: HandleRef;
  values: HandleValue[];
}

/** Whether two value lists are the same record (e.g. handle/ops.ts sameValues: timestamps ignored). */
export type SameValues = (a: HandleValue[], b: HandleValue[]) => boolean;

export type CreateManyResult = 'created' | 'unchanged' | 'exists';
export type UpdateManyResult = 'updated' | 'unchanged' | 'not-found';
export type DeleteManyResult = 'deleted' | 'not-found';

/** A handle as a resolution reads it: values as JSON text, and the public answer serialised at write time. */
export interface ResolvedHandle {
  handle: string;
  valuesJson: string;
  publicJson: string | null;
}

export interface Store {
  readonly kind: 'postgres' | 'pglite';
  /**
   * The typed database, for the registry modules (handle writes go through registry/handles.ts only). Nothing
   * outside registry/ touches it.
   */
  readonly db: Kysely<Database>;
  /** Apply the frozen migrations (idempotent). */
  migrate(): Promise<void>;
  /** One indexed key lookup. */
  getHandle(key: string): Promise<HandleRecord | null>;
  /**
   * The same lookup as the resolver needs it on every cache miss: the handle, its values as JSON text (parsed only
   * when needed) and the public answer serialised at write time (null for rows written without it).
   */
  resolveHandle(key: string): Promise<ResolvedHandle | null>;
  /** `resolveHandle` for many keys in one query (the resolver batches its cache misses): answers in key order. */
  resolveHandles(keys: readonly string[]): Promise<(ResolvedHandle | null)[]>;
  /** Handles whose prefix key equals `prefixKey`, ordered by key. */
  listHandles(prefixKey: string, q?: ListQuery): Promise<{ total: number; handles: string[] }>;
  /** Audit entries, newest first (by id: the order they were written), at most `limit` (default 100, at most 1000). */
  listAudit(q: AuditQuery): Promise<AuditEntry[]>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
