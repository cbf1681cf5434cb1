// Secret hashing under the node's one scrypt policy: stored parameters never choose the cost, scrypt work is bounded, plain HS_SECKEY hashed at write.
import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HandleError } from '../../handle/codes.js';
import type { HandleValue } from '../../handle/types.js';
import { sealSecrets } from '../../registry/secret-values.js';
import { hashSecret, isPolicyHash, SecretsBusyError, verifySecret } from '../../registry/secrets.js';

/** A scrypt hash of `secret` in the stored format, with parameters of the caller's choosing. */
function hashWith(secret: string, N: number, r: number, p: number, saltBytes = 16): string {
  const salt = randomBytes(saltBytes);
  const key = scryptSync(secret, salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const seckey = (value: string, index = 300): HandleValue => ({
  index,
  type: 'HS_SECKEY',
  data: { format: 'string', value },
  ttl: 86400,
  timestamp: '2024-01-01T00:00:00Z',
  permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false },
} as unknown as HandleValue);

describe('secrets', () => {
  it('a stored hash claiming N=2^20 fails like a wrong secret at the node\'s own cost (bound: < 750 ms, the stored cost was ~4.5 s and 1 GiB)', async () => {
    const stored = `scrypt$${1 << 20}$8$1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;
    const t0 = performance.now();
    expect(await verifySecret(stored, 'any-guess')).toBe(false);
    expect(performance.now() - t0).toBeLessThan(750);
  });

  it('a hash with other parameters never verifies, even for its right secret; the node\'s own does', async () => {
    for (const h of [hashWith('right', 1024, 8, 1), hashWith('right', 16384, 8, 2), hashWith('right', 16384, 8, 1, 8)]) {
      expect(isPolicyHash(h)).toBe(false);
      expect(await verifySecret(h, 'right')).toBe(false);
    }
    const own = await hashSecret('right');
    expect(isPolicyHash(own)).toBe(true);
    expect(await verifySecret(own, 'right')).toBe(true);
    expect(await verifySecret(own, 'wrong')).toBe(false);
    // plain (legacy) values keep verifying, compared in constant time whatever the lengths
    expect(await verifySecret('legacy-plain', 'legacy-plain')).toBe(true);
    expect(await verifySecret('legacy-plain', 'legacy-plai')).toBe(false);
  });

  it('bounds concurrent scrypt work: beyond the queue a check is answered busy at once instead of stalling the others', async () => {
    const own = await hashSecret('right');
    const t0 = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        verifySecret(own, i === 0 ? 'right' : 'wrong').then(
          (ok) => ({ ok, busy: false, ms: performance.now() - t0 }),
          (e) => {
            expect(e).toBeInstanceOf(SecretsBusyError);
            return { ok: false, busy: true, ms: performance.now() - t0 };
          },
        ),
      ),
    );
    const busy = outcomes.filter((o) => o.busy);
    expect(outcomes[0]).toMatchObject({ ok: true, busy: false });
    expect(busy.length).toBeGreaterThanOrEqual(20);
    expect(outcomes.length - busy.length).toBeLessThanOrEqual(18);
    // refused without waiting for any scrypt run: every busy answer came before the first check finished
    const firstDone = Math.min(...outcomes.filter((o) => !o.busy).map((o) => o.ms));
    for (const b of busy) expect(b.ms).toBeLessThan(firstDone);
  });

  it('seals HS_SECKEY values at write: plain hashed, a retry of the same plain keeps the stored hash, foreign hashes refused', async () => {
    const [hashed] = await sealSecrets([seckey('user-pw')], null);
    expect(isPolicyHash(hashed!.data.value as string)).toBe(true);
    expect(await verifySecret(hashed!.data.value as string, 'user-pw')).toBe(true);
    // the same plain secret again: the stored hash stays (nothing to write)
    const [again] = await sealSecrets([seckey('user-pw')], [hashed!]);
    expect(again!.data.value).toBe(hashed!.data.value);
    // a new plain secret: a new hash
    const [other] = await sealSecrets([seckey('other-pw')], [hashed!]);
    expect(await verifySecret(other!.data.value as string, 'other-pw')).toBe(true);
    // a hash at the node's policy is stored as given; one at other parameters is refused (202) with what to do
    const own = await hashSecret('given');
    expect((await sealSecrets([seckey(own)], null))[0]!.data.value).toBe(own);
    const err = await sealSecrets([seckey(`scrypt$${1 << 20}$8$1$AAAA$AAAA`)], null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandleError);
    expect((err as HandleError).code).toBe(202);
    expect((err as HandleError).message).toMatch(/Send the plain secret instead/);
    // a value stored before (plain or foreign) and carried over unchanged is left alone
    const legacy = seckey('legacy-plain', 301);
    expect(await sealSecrets([legacy], [legacy])).toEqual([legacy]);
  });
});
