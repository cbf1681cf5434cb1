// HS_SECKEY values at the write path: a plain secret is hashed before it is stored, a hash outside the node's policy refused.
import { HandleError, RC } from '../handle/codes.js';
import { TYPE, type HandleValue } from '../handle/types.js';
import type { PlainSecrets } from './secret-copies.js';
import { hashSecret, isHashedSecret, isPolicyHash, SCRYPT_POLICY, verifySecret } from './secrets.js';

function isSecretKey(v: HandleValue): boolean {
  return v.type.toUpperCase() === TYPE.SECKEY && v.data.format === 'string';
}

/**
 * `next` as it may be stored: every string HS_SECKEY value that is new (not already stored identically in `before`)
 * is hashed at the node's scrypt policy. A plain secret that the value already stored at its index verifies keeps the
 * stored hash (an idempotent retry writes nothing new); a value already in the node's hash format is kept only at
 * exactly the node's parameters, anything else `scrypt$…` is refused (HandleError 202), so no stored value can choose
 * what a login costs. Values stored before this rule (plain, or other parameters) are left as they are when carried
 * over unchanged. Returns `next` itself when it holds nothing to hash. `plain`, when given, receives index → secret of
 * every value given in plain text (the write path keeps those sealed: registry/secret-copies.ts).
 */
export async function sealSecrets(next: HandleValue[], before: readonly HandleValue[] | null, plain?: PlainSecrets): Promise<HandleValue[]> {
  if (!next.some(isSecretKey)) return next;
  const out: HandleValue[] = [];
  for (const v of next) {
    if (!isSecretKey(v)) {
      out.push(v);
      continue;
    }
    const given = v.data.value as string;
    const stored = before?.find((b) => b.index === v.index && isSecretKey(b));
    const storedValue = stored?.data.value as string | undefined;
    if (storedValue === given) out.push(v);
    else if (isHashedSecret(given)) {
      if (!isPolicyHash(given)) {
        const { N, r, p } = SCRYPT_POLICY;
        throw new HandleError(
          RC.INVALID_VALUE,
          `HS_SECKEY at index ${v.index} is a scrypt hash this node does not accept: a hash must be scrypt$${N}$${r}$${p}$<16-byte salt, base64>$<32-byte key, base64>. Send the plain secret instead: the node hashes it.`,
        );
      }
      out.push(v);
    } else if (storedValue !== undefined && isPolicyHash(storedValue) && (await verifySecret(storedValue, given, 'unbounded'))) {
      out.push({ ...v, data: { format: 'string', value: storedValue } });
      plain?.set(v.index, given);
    } else {
      out.push({ ...v, data: { format: 'string', value: await hashSecret(given) } });
      plain?.set(v.index, given);
    }
  }
  return out;
}
