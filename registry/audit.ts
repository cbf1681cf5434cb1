// Writing audit rows: every change to a handle, enterprise, prefix, template or credential, inside its transaction.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { HandleValue } from '../handle/types.js';
import { isSecretKey } from '../handle/value.js';
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

/** What an audit row shows instead of a secret. */
export const REDACTED = '(redacted)';

/** Whether a value list holds a secret key the audit log must not carry. */
export function hasSecret(values: readonly HandleValue[]): boolean {
  return values.some(isSecretKey);
}

/**
 * Values as audited: HS_SECKEY data replaced (stored hashed or, as a client wrote it, plain: either way a credential
 * stays out of the log). Every audit row of a handle goes through here — writeAudit, and the set-based statements of
 * handles.ts that build their rows in SQL.
 */
export function redactSecrets(values: readonly HandleValue[] | null): HandleValue[] | null {
  if (values === null) return null;
  return values.map((v) => (isSecretKey(v) ? { ...v, data: { format: 'string', value: REDACTED } } : v));
}

/** Field names whose values never reach the audit log, in any entity's JSON (password, its hash or digest, secrets, keys, tokens). */
const SECRET_FIELD_RE = /pass(word)?|secret|seckey|token|digest|hash|_enc$|privkey|private_?key/i;

/** A row's JSON as audited: handle value lists redacted, secret-looking fields of other entities replaced. */
function redactForAudit(entity: AuditEntity, x: unknown): unknown {
  if (x === null || x === undefined) return x;
  if (entity === 'handle' && Array.isArray(x)) return redactSecrets(x as HandleValue[]);
  return redactFields(x);
}

function redactFields(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(redactFields);
  if (x === null || typeof x !== 'object' || x instanceof Date) return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) out[k] = SECRET_FIELD_RE.test(k) ? REDACTED : redactFields(v);
  return out;
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
    before: r.before === null || r.before === undefined ? null : jsonb(redactForAudit(r.entity, r.before)),
    after: r.after === null || r.after === undefined ? null : jsonb(redactForAudit(r.entity, r.after)),
  };
}

/** Inserts audit rows (one statement) in the caller's transaction, secrets redacted (redactForAudit). */
export async function writeAudit(db: Kysely<Database> | Transaction<Database>, rows: AuditRow | AuditRow[]): Promise<void> {
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length === 0) return;
  await db.insertInto('audit_log').values(list.map(toInsert)).execute();
}
