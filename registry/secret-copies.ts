// Sealed copies of HS_SECKEY secrets written in plain text (table secret_key_copies, 008): kept by the write path in the handle row's transaction, opened for native challenge-response.
import type { Kysely, Transaction } from 'kysely';
import type { HandleValue } from '../handle/types.js';
import { isSecretKey } from '../handle/value.js';
import type { DigestVault, RegistryContext } from './context.js';
import type { Database } from './db.js';
import { isHashedSecret } from './secrets.js';
import { digestVault } from './users/keys.js';

// Why: stored HS_SECKEY values are scrypt hashes (secret-values.ts), and a hash cannot check the MAC a Handle client
// answers a challenge with (SecretKeyAuthenticationInfo: a MAC over nonce‖request digest keyed by the secret). So
// each secret a write gives in plain text is also kept sealed under the node's password key (the key file, outside
// the database; the same vault as enterprises.handle_secret_enc), bound to its handle, index and the stored hash it
// belongs to. A copy whose hash no longer matches the stored value is ignored, so a write that went around this
// (a restore, a hand edit) can only make a login fail, never let an old secret in.

/** index → the plain secret of HS_SECKEY values a write gave in plain text (sealSecrets fills it). */
export type PlainSecrets = Map<number, string>;

/** What one write does to a handle's copies: index → the stored hash and plain secret to seal, or null to drop. */
export type CopyActions = Map<number, { hash: string; secret: string } | null>;

type Db = Kysely<Database> | Transaction<Database>;

/** index → stored text of the string HS_SECKEY values. */
function storedSecrets(values: readonly HandleValue[] | null): Map<number, string> {
  const out = new Map<number, string>();
  for (const v of values ?? []) if (isSecretKey(v) && v.data.format === 'string') out.set(v.index, v.data.value);
  return out;
}

/**
 * The copies a write from `before` to `next` (null: the handle deleted — its copies go with the row) leaves: a secret
 * given in plain text is sealed; a secret changed any other way (a hash given as such) loses its copy, as does a
 * secret removed; one carried over unchanged keeps its copy.
 */
export function copyActions(before: readonly HandleValue[] | null, next: readonly HandleValue[] | null, plain: PlainSecrets): CopyActions {
  const actions: CopyActions = new Map();
  if (next === null) return actions;
  const was = storedSecrets(before);
  const now = storedSecrets(next);
  for (const [i, stored] of now) {
    const secret = plain.get(i);
    if (secret !== undefined) actions.set(i, { hash: stored, secret });
    else if (was.get(i) !== stored) actions.set(i, null);
  }
  for (const i of was.keys()) if (!now.has(i)) actions.set(i, null);
  return actions;
}

interface Sealed {
  k: string;
  i: number;
  s: string;
  h: string;
}

/**
 * Applies `actions` to the copies of `key` (run in the write's transaction, after the handle row is written). With no
 * vault (no password key: SNMS_V1_LOGIN=off) nothing can be sealed, and every copy the write touches is dropped.
 */
export async function keepSecretCopies(db: Db, vault: DigestVault | null, key: string, actions: CopyActions): Promise<void> {
  if (actions.size === 0) return;
  const drop: number[] = [];
  const seal: { handle_key: string; idx: number; sealed: string }[] = [];
  for (const [idx, a] of actions) {
    if (a === null || vault === null) drop.push(idx);
    else seal.push({ handle_key: key, idx, sealed: vault.encrypt(JSON.stringify({ k: key, i: idx, s: a.secret, h: a.hash } satisfies Sealed)) });
  }
  if (drop.length > 0) await db.deleteFrom('secret_key_copies').where('handle_key', '=', key).where('idx', 'in', drop).execute();
  if (seal.length > 0) {
    await db
      .insertInto('secret_key_copies')
      .values(seal)
      .onConflict((oc) => oc.columns(['handle_key', 'idx']).doUpdateSet((eb) => ({ sealed: eb.ref('excluded.sealed'), updated_at: new Date() })))
      .execute();
  }
}

/** The secrets that can check a challenge answer as `index:key`, and how many HS_SECKEY values are stored there. */
export interface SecretKeys {
  /** string HS_SECKEY values stored at `index` (every index when 0) */
  stored: number;
  /** plain secrets of those that have one: a sealed copy matching the stored hash, or a value stored in plain text (before hashing) */
  secrets: { index: number; secret: string }[];
}

/**
 * The plain secrets of `key`'s HS_SECKEY values at `index` (0: all of them, in index order), read from the store as
 * it is now (never a cache: a rotated secret stops working at once). A sealed copy counts only when it opens under
 * the vault, names this handle and index, and belongs to the hash stored now.
 */
export async function secretKeysFor(ctx: RegistryContext, key: string, index: number): Promise<SecretKeys> {
  const db = ctx.store.db;
  const row = await db.selectFrom('handles').select('values').where('key', '=', key).executeTakeFirst();
  if (row === undefined) return { stored: 0, secrets: [] };
  const current = storedSecrets(row.values as unknown as HandleValue[]);
  if (index !== 0) for (const i of [...current.keys()]) if (i !== index) current.delete(i);
  if (current.size === 0) return { stored: 0, secrets: [] };
  const secrets: { index: number; secret: string }[] = [];
  const hashed: number[] = [];
  for (const [i, stored] of current) {
    if (isHashedSecret(stored)) hashed.push(i);
    else secrets.push({ index: i, secret: stored });
  }
  const vault = digestVault(ctx);
  if (hashed.length > 0 && vault !== null) {
    const rows = await db.selectFrom('secret_key_copies').select(['idx', 'sealed']).where('handle_key', '=', key).where('idx', 'in', hashed).execute();
    for (const r of rows) {
      const opened = vault.decrypt(r.sealed);
      if (opened === null) continue;
      let c: Partial<Sealed>;
      try {
        c = JSON.parse(opened) as Partial<Sealed>;
      } catch {
        continue;
      }
      if (c.k === key && c.i === r.idx && typeof c.s === 'string' && c.h === current.get(r.idx)) secrets.push({ index: r.idx, secret: c.s });
    }
  }
  secrets.sort((a, b) => a.index - b.index);
  return { stored: current.size, secrets };
}
