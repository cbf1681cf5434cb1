// The keys of the SNMS v1 digests live outside the database: a dump cannot decrypt them, legacy keys move out, rotation keeps logins.
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotatePasswordKeyCommand } from '../../src/cli/rotate-password-key.js';
import { loadConfig } from '../../src/config.js';
import { openNode, type Node } from '../../src/node.js';
import { createUser } from '../../registry/users/accounts.js';
import { LoginThrottle, MemoryThrottleStore } from '../../registry/users/limiter.js';
import { sealDigest, legacyDigestKey } from '../../registry/users/keys.js';
import { issueToken, login, shanghaiDate, verifyToken } from '../../registry/users/tokens.js';
import { openMemoryStore } from '../helpers/pglite-template.js';
import { hasPostgres, tempPostgres } from '../helpers/services.js';
import type { Store } from '../../registry/store.js';
import { createHash, randomBytes } from 'node:crypto';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const v1 = (password: string) => sha(sha(password) + shanghaiDate(new Date()));
const system = { id: 'system' };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'idnode-keys-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(env: Record<string, string>) {
  return loadConfig({ NODE_PREFIX: '88.320924', ADMIN_SECRET: 'admin-secret-for-tests', DATA_DIR: ':memory:', NATIVE_PORT: '0', ...env });
}

/** Every text of every table, as a dump would have it. */
async function dump(store: Store): Promise<string[]> {
  const tables = await sql<{ t: string }>`select tablename as t from pg_tables where schemaname = 'public'`.execute(store.db);
  const texts: string[] = [];
  for (const { t } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(t)}`.execute(store.db);
    for (const r of rows.rows) for (const v of Object.values(r)) texts.push(typeof v === 'string' ? v : JSON.stringify(v));
  }
  return texts;
}

/** Tries every 32-byte value of the dump as the AES key of a stored digest, directly and as the old master key. */
function decryptsWithDump(stored: string, texts: string[]): boolean {
  const body = stored.includes(':') ? stored.slice(stored.indexOf(':') + 1) : stored;
  const [iv, tag, ct] = body.split('.');
  const candidates = texts.map((t) => Buffer.from(t, 'base64')).filter((b) => b.length === 32);
  for (const c of candidates) {
    for (const key of [c, Buffer.from(hkdfSync('sha256', c, 'idnode', 'idnode password-sha256 encryption v1', 32))]) {
      try {
        const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv!, 'base64'));
        d.setAuthTag(Buffer.from(tag!, 'base64'));
        Buffer.concat([d.update(Buffer.from(ct!, 'base64')), d.final()]);
        return true;
      } catch {
        // not this one
      }
    }
  }
  return false;
}

describe('password key file', () => {
  it('a database dump (every table) does not decrypt the v1 digest; the key file is 0600 and v1 logins work', async () => {
    const keyFile = join(dir, 'dump', 'password-key');
    const node = await openNode(config({ PASSWORD_KEY_FILE: keyFile }), undefined, await openMemoryStore());
    try {
      await createUser(node.registry, { username: 'dumped', password: { plain: 'dumped-password' }, role: 'reviewer', enterpriseId: null }, system);
      const row = await node.store.db.selectFrom('users').selectAll().where('username_key', '=', 'dumped').executeTakeFirstOrThrow();
      expect(row.password_sha256_enc).toMatch(/^[0-9a-z]+:/);
      expect(decryptsWithDump(row.password_sha256_enc, await dump(node.store))).toBe(false);
      // with the key file it does decrypt: the test's decryption works
      const fileKeys = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ')[1]!);
      expect(decryptsWithDump(row.password_sha256_enc, fileKeys)).toBe(true);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      await login(node.registry, { username: 'dumped', password: v1('dumped-password'), mode: 'v1', address: '' }, new LoginThrottle(new MemoryThrottleStore()));
    } finally {
      await node.close();
    }
  });

  it('moves a legacy in-database key out: rows re-encrypted, the master key deleted, v1 logins and issued tokens still work', async () => {
    const store = await openMemoryStore();
    await store.migrate();
    // the database as the code before the key file left it
    const master = randomBytes(32);
    await store.db.insertInto('node_keys').values({ name: 'master', value: master.toString('base64') }).execute();
    await store.db
      .insertInto('users')
      .values({ username: 'legacy', username_key: 'legacy', password_hash: 'scrypt$x', password_sha256_enc: sealDigest(legacyDigestKey(master), sha('legacy-password')), role: 'reviewer' })
      .execute();
    const id = Number((await store.db.selectFrom('users').select('id').where('username_key', '=', 'legacy').executeTakeFirstOrThrow()).id);
    const tokenKey = Buffer.from(hkdfSync('sha256', master, 'idnode', 'idnode token signing v1', 32));
    const { createHmac } = await import('node:crypto');
    const body = Buffer.from(JSON.stringify({ sub: id, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
    const oldToken = `${body}.${createHmac('sha256', tokenKey).update(body).digest('base64url')}`;

    const node = await openNode(config({ PASSWORD_KEY_FILE: join(dir, 'legacy', 'password-key') }), undefined, store);
    try {
      expect(await store.db.selectFrom('node_keys').select('name').where('name', '=', 'master').execute()).toEqual([]);
      const row = await store.db.selectFrom('users').selectAll().where('username_key', '=', 'legacy').executeTakeFirstOrThrow();
      expect(row.password_sha256_enc).toMatch(/^[0-9a-z]+:/);
      expect(decryptsWithDump(row.password_sha256_enc, await dump(store))).toBe(false);
      await login(node.registry, { username: 'legacy', password: v1('legacy-password'), mode: 'v1', address: '' }, new LoginThrottle(new MemoryThrottleStore()));
      expect((await verifyToken(node.registry, oldToken)).username).toBe('legacy');
    } finally {
      await node.close();
    }
  });

  it('refuses to start when stored digests name a key the key file does not hold, saying what to do', async () => {
    const store = await openMemoryStore();
    const first = await openNode(config({ PASSWORD_KEY_FILE: join(dir, 'a', 'password-key') }), undefined, store);
    await createUser(first.registry, { username: 'someone', password: { plain: 'someone-password' }, role: 'reviewer', enterpriseId: null }, system);
    await first.resolver.close();
    const again = await openMemoryStore();
    // the same rows, another (new) key file
    const rows = await store.db.selectFrom('users').selectAll().execute();
    await store.close();
    await again.migrate();
    for (const r of rows) {
      await again.db
        .insertInto('users')
        .values({ username: r.username, username_key: r.username_key, password_hash: r.password_hash, password_sha256_enc: r.password_sha256_enc, role: r.role })
        .onConflict((oc) => oc.column('username_key').doNothing())
        .execute();
    }
    const err = await openNode(config({ PASSWORD_KEY_FILE: join(dir, 'b', 'password-key') }), undefined, again).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/users have SNMS v1 digests under key\(s\) [0-9a-z]+, which .*b\/password-key does not hold.*same key file.*SNMS_V1_LOGIN=off/s);
  });

  it('SNMS_V1_LOGIN=off drops every stored digest and keeps none for new users; v1 logins are refused, plain ones work', async () => {
    const store = await openMemoryStore();
    const on = await openNode(config({ PASSWORD_KEY_FILE: join(dir, 'off', 'password-key') }), undefined, store);
    await createUser(on.registry, { username: 'before-off', password: { plain: 'before-off-pw' }, role: 'reviewer', enterpriseId: null }, system);
    await on.resolver.close();
    const off = await openNode(config({ SNMS_V1_LOGIN: 'off' }), undefined, store);
    try {
      await createUser(off.registry, { username: 'after-off', password: { plain: 'after-off-pw' }, role: 'reviewer', enterpriseId: null }, system);
      const digests = (await store.db.selectFrom('users').select('password_sha256_enc').execute()).map((r) => r.password_sha256_enc);
      expect(digests.length).toBeGreaterThanOrEqual(3);
      expect(new Set(digests)).toEqual(new Set(['']));
      const refused = await login(off.registry, { username: 'before-off', password: v1('before-off-pw'), mode: 'v1', address: '' }, new LoginThrottle(new MemoryThrottleStore())).catch((e: Error) => e);
      expect(refused).toMatchObject({ kind: 'forbidden', message: expect.stringMatching(/v1 login .* is disabled .*SNMS_V1_LOGIN=off.*\/identity\/token/) });
      await login(off.registry, { username: 'after-off', password: 'after-off-pw', mode: 'plain', address: '' }, new LoginThrottle(new MemoryThrottleStore()));
    } finally {
      await off.close();
    }
  });

  describe.skipIf(!hasPostgres)('idnode rotate-password-key (PostgreSQL)', () => {
    it('re-encrypts every digest under a new key and drops the old one; v1 logins and tokens keep working, also on a node already running', async () => {
      const db = await tempPostgres();
      const keyFile = join(dir, 'rotate', 'password-key');
      const cfg = config({ DATABASE_URL: db.url, PASSWORD_KEY_FILE: keyFile, DB_POOL_SIZE: '2' });
      let running: Node | undefined;
      try {
        running = await openNode(cfg);
        for (const u of ['rot-a', 'rot-b']) {
          await createUser(running.registry, { username: u, password: { plain: `${u}-password` }, role: 'reviewer', enterpriseId: null }, system);
        }
        const oldIds = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ')[0]);
        const id = Number((await running.store.db.selectFrom('users').select('id').where('username_key', '=', 'rot-a').executeTakeFirstOrThrow()).id);
        const { token } = await issueToken(running.registry, id);

        expect(await rotatePasswordKeyCommand([])(cfg)).toBe(0);

        const newIds = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ')[0]);
        expect(newIds).toHaveLength(1);
        expect(oldIds).not.toContain(newIds[0]);
        const stored = (await running.store.db.selectFrom('users').select('password_sha256_enc').execute()).map((r) => r.password_sha256_enc.split(':')[0]);
        expect(new Set(stored)).toEqual(new Set(newIds));
        expect(statSync(keyFile).mode & 0o777).toBe(0o600);
        // the node that was running meanwhile reads the file again when it meets the new key
        await login(running.registry, { username: 'rot-a', password: v1('rot-a-password'), mode: 'v1', address: '' }, new LoginThrottle(new MemoryThrottleStore()));
        expect((await verifyToken(running.registry, token)).username).toBe('rot-a');
        await running.close();
        running = await openNode(cfg);
        await login(running.registry, { username: 'rot-b', password: v1('rot-b-password'), mode: 'v1', address: '' }, new LoginThrottle(new MemoryThrottleStore()));
        await login(running.registry, { username: 'rot-b', password: 'rot-b-password', mode: 'plain', address: '' }, new LoginThrottle(new MemoryThrottleStore()));
        expect((await verifyToken(running.registry, token)).username).toBe('rot-a');
      } finally {
        await running?.close();
        await db.drop();
      }
    });
  });
});
