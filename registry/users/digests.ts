// The stored SNMS v1 digests at start and at key rotation: the legacy in-database key moved out, rows re-encrypted
// under the newest key, digests dropped when the v1 login is off, and rows whose key is not at hand counted.
import { sql } from 'kysely';
import type { DigestVault, RegistryContext } from '../context.js';
import { digestKeyId, ensureTokenKey, LEGACY_MASTER_NAME, legacyDigestKey, openDigest } from './keys.js';

export interface DigestReport {
  /** rows moved from the legacy in-database key to the vault's newest key */
  migrated: number;
  /** whether the legacy master key was deleted from the database now */
  legacyKeyDeleted: boolean;
  /** digests dropped because the v1 login is off */
  cleared: number;
  /** rows whose digest names a key the vault does not have, by key id ('legacy': no id, and no legacy key left) */
  missing: Record<string, number>;
}

/**
 * The start-up step. With the v1 login off (`vault` null) every stored digest is dropped. Otherwise rows still under
 * the legacy master key (node_keys 'master', from before the key file) are re-encrypted under the vault's newest key
 * and the master key is deleted — after the token key derived from it is saved, so issued tokens stay valid. Then
 * counts the rows the vault cannot decrypt (the caller refuses to start, or warns).
 */
export async function prepareDigests(ctx: RegistryContext, vault: DigestVault | null): Promise<DigestReport> {
  await ensureTokenKey(ctx);
  const report: DigestReport = { migrated: 0, legacyKeyDeleted: false, cleared: 0, missing: {} };
  const db = ctx.store.db;
  await db.transaction().execute(async (trx) => {
    const master = await trx.selectFrom('node_keys').select('value').where('name', '=', LEGACY_MASTER_NAME).forUpdate().executeTakeFirst();
    if (master === undefined) return;
    if (vault !== null) {
      const legacy = legacyDigestKey(Buffer.from(master.value, 'base64'));
      const rows = await trx.selectFrom('users').select(['id', 'password_sha256_enc']).where('password_sha256_enc', 'not like', '%:%').where('password_sha256_enc', '<>', '').forUpdate().execute();
      for (const r of rows) {
        const digest = openDigest(legacy, r.password_sha256_enc);
        // a row the legacy key cannot open is unusable anyway: it is dropped (its user logs in with the password)
        await trx.updateTable('users').set({ password_sha256_enc: digest === null ? '' : vault.encrypt(digest) }).where('id', '=', r.id).execute();
        report.migrated += 1;
      }
    }
    await trx.deleteFrom('node_keys').where('name', '=', LEGACY_MASTER_NAME).execute();
    report.legacyKeyDeleted = true;
  });
  if (vault === null) {
    const cleared = await db.updateTable('users').set({ password_sha256_enc: '' }).where('password_sha256_enc', '<>', '').executeTakeFirst();
    report.cleared = Number(cleared.numUpdatedRows);
    return report;
  }
  report.missing = await missingKeys(ctx, vault);
  return report;
}

/** Stored digests whose key the vault does not have, counted by key id. */
export async function missingKeys(ctx: RegistryContext, vault: DigestVault): Promise<Record<string, number>> {
  const rows = await sql<{ kid: string; n: string | number }>`
    select case when position(':' in password_sha256_enc) > 0 then split_part(password_sha256_enc, ':', 1) else 'legacy' end as kid,
           count(*) as n
    from users where password_sha256_enc <> '' group by 1`.execute(ctx.store.db);
  const have = new Set(vault.keyIds());
  const missing: Record<string, number> = {};
  for (const r of rows.rows) if (!have.has(r.kid)) missing[r.kid] = Number(r.n);
  return missing;
}

/**
 * Re-encrypts every stored digest under the vault's newest key (key rotation), in batches of `batch` rows; returns
 * how many rows changed and how many could not be decrypted (left as they are).
 */
export async function reencryptDigests(ctx: RegistryContext, vault: DigestVault, batch = 500): Promise<{ reencrypted: number; undecryptable: number }> {
  const ids = vault.keyIds();
  const newest = ids[ids.length - 1]!;
  let reencrypted = 0;
  let undecryptable = 0;
  let after = 0;
  for (;;) {
    const done = await ctx.store.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('users')
        .select(['id', 'password_sha256_enc'])
        .where('id', '>', after)
        .where('password_sha256_enc', '<>', '')
        .orderBy('id')
        .limit(batch)
        .forUpdate()
        .execute();
      for (const r of rows) {
        after = Number(r.id);
        if (digestKeyId(r.password_sha256_enc) === newest) continue;
        const digest = vault.decrypt(r.password_sha256_enc);
        if (digest === null) {
          undecryptable += 1;
          continue;
        }
        await trx.updateTable('users').set({ password_sha256_enc: vault.encrypt(digest) }).where('id', '=', r.id).execute();
        reencrypted += 1;
      }
      return rows.length < batch;
    });
    if (done) return { reencrypted, undecryptable };
  }
}

/**
 * The key ids stored rows use (to know which old keys a rotation may drop): the v1 digests', and those of the handle
 * credentials waiting for their one-time reveal (enterprises.handle_secret_enc, sealed under the same keys).
 */
export async function keyIdsInUse(ctx: RegistryContext): Promise<Set<string>> {
  const rows = await sql<{ kid: string }>`
    select distinct split_part(password_sha256_enc, ':', 1) as kid from users where position(':' in password_sha256_enc) > 0
    union
    select distinct split_part(handle_secret_enc, ':', 1) as kid from enterprises where position(':' in handle_secret_enc) > 0`.execute(ctx.store.db);
  return new Set(rows.rows.map((r) => r.kid));
}
