// Node admin bootstrap (registry/bootstrap.ts) on PGlite and PostgreSQL: created once, concurrent starts agree, rotation.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { HandleValue } from '../../handle/types.js';
import { ensureNodeAdmin, type AdminBootstrap } from '../../registry/bootstrap.js';
import { hashSecret, verifySecret } from '../../registry/secrets.js';
import type { Store } from '../../registry/store.js';
import { backends, postgresBackend, testContext, useStore } from '../helpers/registry-backends.js';
import { hasPostgres } from '../helpers/services.js';

const NOW = new Date('2024-02-03T04:05:06Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);

describe.each(backends)('node admin bootstrap: $name', (backend) => {
  let store: Store;
  let seq = 0;
  useStore(backend, (s) => {
    store = s;
  });

  /** A context for a node prefix of its own, so every test starts without an admin handle. */
  function node() {
    seq += 1;
    const prefix = `88.${7000 + seq}`;
    const ctx = { ...testContext(store, () => NOW), nodePrefix: prefix, nodePrefixKey: prefix };
    const key = `0.NA/${prefix}`;
    return {
      ctx,
      key,
      record: () => store.getHandle(key),
      audit: () => store.listAudit({ handleKey: key, limit: 100 }),
      secretHash: async () => {
        const v = (await store.getHandle(key))?.values.find((x) => x.type === 'HS_SECKEY');
        return v?.data.value as string;
      },
    };
  }

  it('creates 0.NA/<NODE_PREFIX> once, with HS_ADMIN and a hashed HS_SECKEY at 300; the same secret again changes nothing', async () => {
    const n = node();
    expect(await ensureNodeAdmin(n.ctx, 'first-secret-0123456789')).toEqual({ outcome: 'created', secret: 'first-secret-0123456789', generated: false });
    const rec = await n.record();
    expect(rec).toMatchObject({ handle: n.key, prefixKey: '0.NA', version: 1 });
    expect(rec!.values.map((v) => [v.index, v.type])).toEqual([
      [100, 'HS_ADMIN'],
      [300, 'HS_SECKEY'],
    ]);
    expect(rec!.values[0]).toEqual({
      index: 100,
      type: 'HS_ADMIN',
      data: { format: 'admin', value: { handle: n.key, index: 300, permissions: '111111111111' } },
      ttlType: 'relative',
      ttl: 86400,
      timestamp: NOW_SEC,
      permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
      references: [],
    } satisfies HandleValue);
    const seckey = rec!.values[1]!;
    expect(seckey.permissions).toEqual({ adminRead: true, adminWrite: true, publicRead: false, publicWrite: false });
    const hash = await n.secretHash();
    expect(hash).toMatch(/^scrypt\$/);
    expect(await verifySecret(hash, 'first-secret-0123456789')).toBe(true);
    expect(await verifySecret(hash, 'other')).toBe(false);
    expect(n.ctx.changes).toEqual([{ keys: [n.key], prefixKeys: [] }]);
    const [created] = await n.audit();
    expect(created).toMatchObject({ actor: 'system', action: 'handle.create', before: null });
    expect(JSON.stringify(created)).not.toContain('scrypt$');

    expect(await ensureNodeAdmin(n.ctx, 'first-secret-0123456789')).toEqual({ outcome: 'unchanged', secret: 'first-secret-0123456789' });
    expect(await ensureNodeAdmin(n.ctx, undefined)).toEqual({ outcome: 'kept' });
    expect((await n.record())?.version).toBe(1);
    expect(await n.secretHash()).toBe(hash);
    expect(await n.audit()).toHaveLength(1);
    expect(n.ctx.changes).toHaveLength(1);
  });

  it('generates a secret when none is given, and returns it once', async () => {
    const n = node();
    const r = (await ensureNodeAdmin(n.ctx, undefined)) as Extract<AdminBootstrap, { outcome: 'created' }>;
    expect(r.outcome).toBe('created');
    expect(r.generated).toBe(true);
    expect(r.secret.length).toBeGreaterThanOrEqual(20);
    expect(await verifySecret(await n.secretHash(), r.secret)).toBe(true);
    expect(await ensureNodeAdmin(n.ctx, undefined)).toEqual({ outcome: 'kept' });
  });

  it('rotates the secret when ADMIN_SECRET changes, keeping the HS_ADMIN value', async () => {
    const n = node();
    await ensureNodeAdmin(n.ctx, 'old-secret-0123456789');
    const adminBefore = (await n.record())!.values[0];
    expect(await ensureNodeAdmin(n.ctx, 'new-secret-9876543210')).toEqual({ outcome: 'rotated', secret: 'new-secret-9876543210' });
    const rec = await n.record();
    expect(rec?.version).toBe(2);
    expect(rec?.values[0]).toEqual(adminBefore);
    expect(rec?.values.filter((v) => v.type === 'HS_SECKEY')).toHaveLength(1);
    const hash = await n.secretHash();
    expect(await verifySecret(hash, 'new-secret-9876543210')).toBe(true);
    expect(await verifySecret(hash, 'old-secret-0123456789')).toBe(false);
    const [rotated] = await n.audit();
    expect(rotated).toMatchObject({ actor: 'system', action: 'values.add' });
    expect(JSON.stringify(await n.audit())).not.toContain('scrypt$');
    expect(n.ctx.changes).toEqual([
      { keys: [n.key], prefixKeys: [] },
      { keys: [n.key], prefixKeys: [] },
    ]);
    expect(await ensureNodeAdmin(n.ctx, 'new-secret-9876543210')).toEqual({ outcome: 'unchanged', secret: 'new-secret-9876543210' });
    expect((await n.record())?.version).toBe(2);
  });

  it('several instances starting at once agree: one creates, the others find it', async () => {
    const n = node();
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => ensureNodeAdmin(n.ctx, 'shared-secret-0123456789')));
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['created', 'unchanged', 'unchanged', 'unchanged']);
    expect((await n.record())?.version).toBe(1);
    expect(await n.audit()).toHaveLength(1);
    // and several starting at once with a new secret: one rotates, the others find it rotated
    const again = await Promise.all(Array.from({ length: 3 }, () => ensureNodeAdmin(n.ctx, 'rotated-secret-0123456789')));
    expect(again.map((o) => o.outcome).sort()).toEqual(['rotated', 'unchanged', 'unchanged']);
    expect((await n.record())?.version).toBe(2);
    expect(await verifySecret(await n.secretHash(), 'rotated-secret-0123456789')).toBe(true);
  });
});

describe.skipIf(!hasPostgres)('node admin bootstrap: another instance creating it meanwhile (postgres)', () => {
  let store: Store;
  let dbUrl: string;
  useStore(postgresBackend, (s, url) => {
    store = s;
    dbUrl = url;
  });

  it('a start that finds no admin handle, then loses the insert to one committed meanwhile, answers from that one', async () => {
    const ctx = testContext(store, () => NOW);
    const key = '0.NA/88.320924';
    const hash = await hashSecret('shared-secret-0123456789');
    const values: HandleValue[] = [
      {
        index: 100,
        type: 'HS_ADMIN',
        data: { format: 'admin', value: { handle: key, index: 300, permissions: '111111111111' } },
        ttlType: 'relative',
        ttl: 86400,
        timestamp: NOW_SEC,
        permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
        references: [],
      },
      {
        index: 300,
        type: 'HS_SECKEY',
        data: { format: 'string', value: hash },
        ttlType: 'relative',
        ttl: 86400,
        timestamp: NOW_SEC,
        permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false },
        references: [],
      },
    ];
    // the other instance: its insert is in, not yet committed
    const other = new pg.Client({ connectionString: dbUrl });
    await other.connect();
    try {
      await other.query('begin');
      await other.query("insert into handles(key, handle, prefix_key, values, version) values ($1, $1, '0.NA', $2::jsonb, 1)", [key, JSON.stringify(values)]);
      const pending = ensureNodeAdmin(ctx, 'shared-secret-0123456789');
      // this start's insert now waits on the other's row
      for (let i = 0; ; i++) {
        const { rows } = await other.query<{ n: string }>("select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
        if (Number(rows[0]!.n) > 0) break;
        if (i > 500) throw new Error('the bootstrap never waited on the other insert');
        await new Promise((r) => setTimeout(r, 10));
      }
      await other.query('commit');
      expect(await pending).toEqual({ outcome: 'unchanged', secret: 'shared-secret-0123456789' });
    } finally {
      await other.end();
    }
    expect((await store.getHandle(key))?.version).toBe(1);
    expect(ctx.changes).toEqual([]);
  });
});
