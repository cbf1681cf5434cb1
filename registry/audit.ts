// Writing audit rows: every change to a handle, enterprise, prefix, template or credential, inside its transaction.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './db.js';
import type { Actor } from './store.js';

export type AuditEntity = 'handle' | 'enterprise' | 'prefix' | 'template' | 'user';

export interface AuditRow {
  actor: Actor;
  action: string;
  entity: AuditEntity;
  /** handle rows: the handle text and key */
  handle?: string | null;
  handleKey?: string | null;
  /** other entities: their id (enterprise id, prefix, `prefix/version`, username) */
  entityId?: string | null;
  enterpriseId?: number | null;
  before: unknown;
  after: unknown;
}

/** JSONB parameter: a JSON string with an explicit cast (`pg` would send a JS array as a Postgres array). */
export function jsonb(x: unknown) {
  return sql<string>`${JSON.stringify(x)}::jsonb`;
}

function toInsert(r: AuditRow) {
  return {
    actor: r.actor.id,
    address: r.actor.address ?? null,
    action: r.action,
    entity: r.entity,
    handle: r.handle ?? null,
    handle_key: r.handleKey ?? null,
    entity_id: r.entityId ?? null,
    enterprise_id: r.enterpriseId ?? null,
    before: r.before === null || r.before === undefined ? null : jsonb(r.before),
    after: r.after === null || r.after === undefined ? null : jsonb(r.after),
  };
}

/** Inserts audit rows (one statement) in the caller's transaction. */
export async function writeAudit(db: Kysely<Database> | Transaction<Database>, rows: AuditRow | AuditRow[]): Promise<void> {
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length === 0) return;
  await db.insertInto('audit_log').values(list.map(toInsert)).execute();
}
