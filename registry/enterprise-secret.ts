// An enterprise's handle credential (HS_SECKEY at 300 of 0.NA/<prefix>): sealing it for its one-time reveal, rotating it, revealing it once.
import { parseHandle, prefixRecordHandle } from '../handle/identifier.js';
import { addValues } from '../handle/ops.js';
import { INDEX } from '../handle/types.js';
import { secretKeyValue } from '../handle/value.js';
import { writeAudit } from './audit.js';
import { RegistryError, type Principal, type RegistryContext } from './context.js';
import { STATUS } from './db.js';
import { handleTransaction } from './handles.js';
import { generateSecret, hashSecret } from './secrets.js';
import type { Actor } from './store.js';
import { digestVault } from './users/keys.js';
import { enterpriseAudit, lockEnterpriseRow } from './enterprise-rows.js';


/** The credential an enterprise administers its prefix with: `300:0.NA/<prefix>` and its secret (plain, once). */
export interface HandleCredential {
  prefix: string;
  handleAdmin: string;
  handleSecret: string;
}

export const ALREADY_SHOWN = '已查看过，请联系运营人员重置 / already shown once: ask the node operator to rotate it';
const NOTHING_KEPT =
  '本节点未保存可查看的凭据，请联系运营人员重置 / this node keeps no credential to show (no password key): ask the node operator to rotate it and pass it on';
const NOT_APPROVED = '企业尚未获批，没有前缀凭据 / the enterprise has no approved prefix yet, so no handle credential';

/** `300:0.NA/<prefix>`: the Handle identity of an enterprise's credential. */
export function handleAdminOf(prefix: string): string {
  return `${INDEX.SECKEY}:${prefixRecordHandle(prefix)}`;
}

/**
 * The credential sealed under the node's password key (kept outside the database) for enterprises.handle_secret_enc;
 * null when the node keeps no such key (SNMS_V1_LOGIN=off): then nothing is stored and the reveal sends the user to
 * the operator.
 */
export function sealHandleSecret(ctx: RegistryContext, prefix: string, secret: string): string | null {
  const vault = digestVault(ctx);
  return vault === null ? null : vault.encrypt(JSON.stringify({ prefix, secret }));
}

function openHandleSecret(ctx: RegistryContext, sealed: string): { prefix: string; secret: string } | null {
  const opened = digestVault(ctx)?.decrypt(sealed) ?? null;
  if (opened === null) return null;
  try {
    const o = JSON.parse(opened) as { prefix?: unknown; secret?: unknown };
    return typeof o.prefix === 'string' && typeof o.secret === 'string' ? { prefix: o.prefix, secret: o.secret } : null;
  } catch {
    return null;
  }
}

/**
 * A new secret for an approved enterprise's prefix (status 1, or 0 while suspended: a leaked credential is replaced
 * before the enterprise is enabled again): HS_SECKEY at 300 of `0.NA/<prefix>` replaced through the one write path
 * (hashed, audited redacted, caches told after commit, so the old secret stops working at once), sealed for the
 * enterprise's one-time reveal, and returned in plain text. Other statuses → RegistryError('conflict').
 */
export async function rotateHandleSecret(ctx: RegistryContext, enterpriseId: number, actor: Actor): Promise<HandleCredential> {
  const handleSecret = generateSecret();
  // scrypt outside the transaction: no row is locked while hashing
  const hash = await hashSecret(handleSecret);
  const nowSec = Math.floor(ctx.now().getTime() / 1000);
  return handleTransaction(ctx, actor, async (tx) => {
    const before = await lockEnterpriseRow(tx.db, enterpriseId);
    if (before.status !== STATUS.ENABLED && before.status !== STATUS.DISABLED) {
      throw new RegistryError(
        'conflict',
        `只有已批准（启用或停用）的企业可以重置凭据 / only an approved enterprise (status 1, or 0 while suspended) has a credential to rotate: enterprise ${enterpriseId} has status ${before.status}`,
      );
    }
    const p = await tx.db.selectFrom('prefixes').select('prefix').where('enterprise_id', '=', enterpriseId).orderBy('created_at').orderBy('prefix_key').executeTakeFirst();
    if (p === undefined) throw new RegistryError('conflict', `企业 ${enterpriseId} 没有前缀 / enterprise ${enterpriseId} has no delegated prefix`);
    const record = parseHandle(prefixRecordHandle(p.prefix), ctx.policy);
    await tx.mutate({ handle: record.handle, key: record.key, prefixKey: record.prefixKey }, 'values.add', (cur) => {
      if (cur === null) throw new RegistryError('conflict', `前缀记录不存在 / the prefix record ${record.handle} is missing`);
      return addValues(cur.values, [secretKeyValue(hash, nowSec)], true);
    });
    await tx.keepSecretCopy(record.key, INDEX.SECKEY, handleSecret, hash);
    const after = await tx.db
      .updateTable('enterprises')
      .set({ handle_secret_enc: sealHandleSecret(ctx, p.prefix, handleSecret), updated_at: ctx.now() })
      .where('id', '=', enterpriseId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(tx.db, enterpriseAudit(actor, 'enterprise.rotate-secret', before, after));
    return { prefix: p.prefix, handleAdmin: handleAdminOf(p.prefix), handleSecret };
  });
}

/**
 * The enterprise's handle credential made at approval or by the last rotation, shown once to a user of that
 * enterprise and cleared in the same transaction (audited `enterprise.reveal-secret`). Already shown, or never kept
 * → RegistryError('conflict') saying to ask the operator for a rotation.
 */
export async function revealHandleSecret(ctx: RegistryContext, account: Principal, actor: Actor): Promise<HandleCredential> {
  if (account.role !== 'enterprise' || account.enterpriseId === null) {
    throw new RegistryError('forbidden', '只有企业账号可以查看本企业的凭据 / only an enterprise\'s own accounts see its handle credential');
  }
  const enterpriseId = account.enterpriseId;
  const result = await ctx.store.db.transaction().execute(async (trx) => {
    const before = await lockEnterpriseRow(trx, enterpriseId);
    if (before.handle_secret_enc === null) {
      const kept = await trx.selectFrom('prefixes').select('prefix').where('enterprise_id', '=', enterpriseId).executeTakeFirst();
      return { error: kept === undefined ? NOT_APPROVED : digestVault(ctx) === null ? NOTHING_KEPT : ALREADY_SHOWN };
    }
    const opened = openHandleSecret(ctx, before.handle_secret_enc);
    const after = await trx
      .updateTable('enterprises')
      .set({ handle_secret_enc: null })
      .where('id', '=', enterpriseId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, enterpriseAudit(actor, opened === null ? 'enterprise.drop-secret' : 'enterprise.reveal-secret', before, after));
    // sealed under a key this node no longer holds: dropped, and the user sent to the operator
    return opened === null ? { error: NOTHING_KEPT } : { credential: { prefix: opened.prefix, handleAdmin: handleAdminOf(opened.prefix), handleSecret: opened.secret } };
  });
  if ('error' in result) throw new RegistryError('conflict', result.error as string);
  return result.credential;
}
