// First start and later starts: the node admin handle `0.NA/<NODE_PREFIX>` (HS_ADMIN and a hashed HS_SECKEY at 300),
// created once, its secret rotated when ADMIN_SECRET changes — through the one handle write path.
import { adminValue, ALL_ADMIN_PERMISSIONS } from '../handle/admin.js';
import { HandleError, RC } from '../handle/codes.js';
import { parseHandle, prefixRecordHandle } from '../handle/identifier.js';
import { addValues } from '../handle/ops.js';
import { INDEX, TYPE } from '../handle/types.js';
import { secretKeyValue } from '../handle/value.js';
import type { RegistryContext } from './context.js';
import { handleTransaction } from './handles.js';
import { generateSecret, hashSecret, verifySecret } from './secrets.js';

/** What bootstrap did: the secret is returned (to print once) only when it was generated here. */
export type AdminBootstrap =
  | { outcome: 'created'; secret: string; generated: boolean }
  | { outcome: 'rotated' | 'unchanged'; secret: string }
  | { outcome: 'kept' };

/**
 * Creates the node admin handle with `given` (or a generated secret) when it does not exist; when it does and
 * `given` no longer matches its HS_SECKEY, rotates the secret. Several instances starting at once agree: the
 * decision is taken on the locked row, and a start that found no row but lost the insert to another instance's
 * (HandleError 101) decides again on the row that instance committed.
 */
export async function ensureNodeAdmin(ctx: RegistryContext, given: string | undefined): Promise<AdminBootstrap> {
  const id = parseHandle(prefixRecordHandle(ctx.nodePrefix), ctx.policy);
  const ref = { handle: id.handle, key: id.key, prefixKey: id.prefixKey };
  const nowSec = Math.floor(ctx.now().getTime() / 1000);
  const secret = given ?? generateSecret();
  // scrypt outside the transaction: no row is locked while hashing
  const hash = await hashSecret(secret);
  const decide = () =>
    handleTransaction(ctx, { id: 'system' }, async (tx): Promise<AdminBootstrap> => {
      const current = await tx.lock(id.key);
      if (current === null) {
        await tx.write(ref, 'handle.create', null, [adminValue(id.handle, INDEX.SECKEY, ALL_ADMIN_PERMISSIONS, INDEX.ADMIN, nowSec), secretKeyValue(hash, nowSec)]);
        await tx.keepSecretCopy(id.key, INDEX.SECKEY, secret, hash);
        return { outcome: 'created', secret, generated: given === undefined };
      }
      if (given === undefined) return { outcome: 'kept' };
      const seckey = current.values.find((v) => v.index === INDEX.SECKEY && v.type.toUpperCase() === TYPE.SECKEY);
      if (seckey?.data.format === 'string' && (await verifySecret(seckey.data.value, given))) {
        // a node from before the sealed copies gets one for its admin here (registry/secret-copies.ts)
        await tx.keepSecretCopy(id.key, INDEX.SECKEY, given, seckey.data.value);
        return { outcome: 'unchanged', secret: given };
      }
      await tx.write(ref, 'values.add', current, addValues(current.values, [secretKeyValue(hash, nowSec)], true));
      await tx.keepSecretCopy(id.key, INDEX.SECKEY, given, hash);
      return { outcome: 'rotated', secret: given };
    });
  try {
    return await decide();
  } catch (err) {
    // No row to lock yet, and another instance's insert committed first: its row exists now.
    if (err instanceof HandleError && err.code === RC.HANDLE_ALREADY_EXISTS) return decide();
    throw err;
  }
}
