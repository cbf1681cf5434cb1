// An enterprise row under a transaction: locked for update, and audited as JSON (shared by enterprises.ts and enterprise-secret.ts).
import type { Selectable, Transaction } from 'kysely';
import type { AuditRow } from './audit.js';
import { RegistryError } from './context.js';
import type { Database, EnterprisesTable } from './db.js';
import type { Actor } from './store.js';

export type EnterpriseRow = Selectable<EnterprisesTable>;

export function enterpriseNotFound(id: number): RegistryError {
  return new RegistryError('not-found', `企业不存在 / no enterprise with id ${String(id)}`);
}

/** The enterprise's row, locked until the transaction ends; unknown → RegistryError('not-found'). */
export async function lockEnterpriseRow(trx: Transaction<Database>, id: number): Promise<EnterpriseRow> {
  if (!Number.isSafeInteger(id) || id <= 0) throw enterpriseNotFound(id);
  const row = await trx.selectFrom('enterprises').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!row) throw enterpriseNotFound(id);
  return row;
}

/** An audit row of a change to an enterprise (the sealed credential is redacted by writeAudit: its column name says secret). */
export function enterpriseAudit(actor: Actor, action: string, before: EnterpriseRow | null, after: EnterpriseRow): AuditRow {
  return {
    actor,
    action,
    entity: 'enterprise',
    entityId: String(after.id),
    enterpriseId: Number(after.id),
    before: before === null ? null : { ...before, id: Number(before.id) },
    after: { ...after, id: Number(after.id) },
  };
}
