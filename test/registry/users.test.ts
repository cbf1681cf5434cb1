// Users and credentials on PGlite and PostgreSQL: plain and v1 logins, date skew, failed-login limits, tokens, audit without secrets.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CASE_POLICY } from '../../handle/identifier.js';
import { RegistryError, type RegistryContext, type RegistryEvents } from '../../registry/context.js';
import type { Store } from '../../registry/store.js';
import { createUser, ensureOperator, getUser, setPassword, setUserDisabled } from '../../registry/users/accounts.js';
import { keys } from '../../registry/users/keys.js';
import { limiterFor, LoginLimiter } from '../../registry/users/limiter.js';
import { issueToken, login, shanghaiDate, TOKEN_LIFETIME_SECONDS, verifyToken } from '../../registry/users/tokens.js';
import { storeBackends, type Opened } from '../helpers/registry-backends.js';
import { openMemoryStore } from '../helpers/pglite-template.js';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const v1 = (password: string, day: string) => sha(sha(password) + day);

const backends = storeBackends;

const noEvents: RegistryEvents = { changed: async () => {} };

async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  }
  throw new Error('expected a RegistryError, the call succeeded');
}

const WRONG = '用户名/密码错误！ / wrong username or password';
const LOCKED = '登录失败次数过多，请稍后再试 / too many failed logins, try again later';

describe.each(backends)('users on %s', (_name, open) => {
  let opened: Opened;
  let ctx: RegistryContext;
  let clock = new Date('2024-03-10T04:00:00Z');
  const system = { id: 'system' };
  let seq = 0;
  const uname = (base: string) => `${base}${++seq}`;

  beforeAll(async () => {
    opened = await open();
    await opened.store.migrate();
    ctx = { store: opened.store, nodePrefix: '88.320924', nodePrefixKey: '88.320924', policy: DEFAULT_CASE_POLICY, events: noEvents, now: () => clock };
  });
  afterAll(async () => {
    await opened?.cleanup();
  });

  const plainLogin = (username: string, password: string, limiter = new LoginLimiter(), address = '192.0.2.1') =>
    login(ctx, { username, password, mode: 'plain', address }, limiter);

  it('keeps one 32-byte token key, created on first use (the digest keys are never in the database)', async () => {
    const a = (await keys(ctx)).token;
    const b = (await keys(ctx)).token;
    expect(a).toHaveLength(32);
    expect(b.equals(a)).toBe(true);
    const rows = await opened.store.db.selectFrom('node_keys').selectAll().execute();
    expect(rows.map((r) => r.name)).toEqual(['token']);
    expect(Buffer.from(rows[0]!.value, 'base64').equals(a)).toBe(true);
  });

  it('creates users, refusing bad usernames, weak passwords and case-insensitive duplicates', async () => {
    const name = uname('Alice.W@');
    const { id } = await createUser(ctx, { username: name, password: { plain: 'correct horse' }, role: 'reviewer', enterpriseId: null }, system);
    expect(id).toBeGreaterThan(0);
    expect(await getUser(ctx, id)).toEqual({ userId: id, username: name, role: 'reviewer', enterpriseId: null, disabled: false });

    const dup = await rejection(createUser(ctx, { username: name.toUpperCase(), password: { plain: 'another one' }, role: 'operator', enterpriseId: null }, system));
    expect(dup.kind).toBe('conflict');

    const bad: [unknown, unknown, RegExp][] = [
      ['ab', { plain: 'long enough' }, /3-50/],
      ['has space', { plain: 'long enough' }, /3-50/],
      ['中文用户', { plain: 'long enough' }, /3-50/],
      ['x'.repeat(51), { plain: 'long enough' }, /3-50/],
      [uname('user'), { plain: 'short' }, /at least 8/],
      [uname('user'), { sha256: 'abc' }, /64 hex/],
      [uname('user'), { sha256: 'g'.repeat(64) }, /64 hex/],
    ];
    for (const [username, password, msg] of bad) {
      const e = await rejection(createUser(ctx, { username, password, role: 'operator', enterpriseId: null } as never, system));
      expect(e.kind).toBe('invalid');
      expect(e.message).toMatch(msg);
    }
    const roleless = await rejection(createUser(ctx, { username: uname('ent'), password: { plain: 'long enough' }, role: 'enterprise', enterpriseId: null }, system));
    expect(roleless.message).toMatch(/enterprise id/);
  });

  it('logs in with the plain password and issues a token for the principal', async () => {
    const name = uname('bob');
    const { id } = await createUser(ctx, { username: name, password: { plain: 'p@ssw0rd!' }, role: 'operator', enterpriseId: null }, system);
    const r = await plainLogin(name.toUpperCase(), 'p@ssw0rd!');
    expect(r.principal).toEqual({ userId: id, username: name, role: 'operator', enterpriseId: null });
    expect(r.expiresAt.getTime()).toBe(Math.floor(clock.getTime() / 1000) * 1000 + 24 * 3600_000);
    expect(r.token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(await verifyToken(ctx, r.token)).toEqual(r.principal);

    const wrong = await rejection(plainLogin(name, 'p@ssw0rd?'));
    expect(wrong.kind).toBe('invalid');
    expect(wrong.message).toBe(WRONG);
    // the same answer for a user that does not exist
    const unknown = await rejection(plainLogin(uname('nobody'), 'p@ssw0rd!'));
    expect(unknown.message).toBe(WRONG);
    // the v1 digest is not a plain password
    expect((await rejection(plainLogin(name, v1('p@ssw0rd!', shanghaiDate(clock))))).message).toBe(WRONG);
  });

  it('logs in with the SNMS v1 digest (the documented example value)', async () => {
    const name = uname('snms');
    // SNMS clients send sha256(password) when applying: "123456" is shorter than the plain minimum, but allowed this way
    await createUser(ctx, { username: name, password: { sha256: sha('123456').toUpperCase() }, role: 'reviewer', enterpriseId: null }, system);
    clock = new Date('2019-08-15T04:00:00Z');
    const doc = '58e2c92c46485fdbc35fdcd0814d6c0f000cad5aa156848ca5edaf29406b7661';
    expect(v1('123456', '2019-08-15')).toBe(doc);
    const r = await login(ctx, { username: name, password: doc, mode: 'v1', address: '' }, new LoginLimiter());
    expect(r.principal.username).toBe(name);
    // upper-case hex is the same digest
    await login(ctx, { username: name, password: doc.toUpperCase(), mode: 'v1', address: '' }, new LoginLimiter());
    // and the plain password works on /identity/token
    await plainLogin(name, '123456');
    // the plain password is not accepted on v1
    expect((await rejection(login(ctx, { username: name, password: '123456', mode: 'v1', address: '' }, new LoginLimiter()))).message).toBe(WRONG);
    clock = new Date('2024-03-10T04:00:00Z');
  });

  it('v1 accepts today, yesterday and tomorrow in Asia/Shanghai, and nothing further', async () => {
    const name = uname('midnight');
    await createUser(ctx, { username: name, password: { plain: 'midnight-pw' }, role: 'reviewer', enterpriseId: null }, system);
    const tryDay = async (day: string) => {
      try {
        await login(ctx, { username: name, password: v1('midnight-pw', day), mode: 'v1', address: '' }, new LoginLimiter());
        return true;
      } catch (e) {
        expect((e as RegistryError).message).toBe(WRONG);
        return false;
      }
    };
    // 23:59 on 10 March in Shanghai is 15:59 UTC
    clock = new Date('2024-03-10T15:59:00Z');
    expect(shanghaiDate(clock)).toBe('2024-03-10');
    expect(await tryDay('2024-03-10')).toBe(true);
    expect(await tryDay('2024-03-09')).toBe(true);
    expect(await tryDay('2024-03-11')).toBe(true);
    expect(await tryDay('2024-03-08')).toBe(false);
    expect(await tryDay('2024-03-12')).toBe(false);
    expect(await tryDay('2024/03/10')).toBe(false);
    // two minutes later it is 11 March in Shanghai (still 10 March in UTC)
    clock = new Date('2024-03-10T16:01:00Z');
    expect(shanghaiDate(clock)).toBe('2024-03-11');
    expect(await tryDay('2024-03-12')).toBe(true);
    expect(await tryDay('2024-03-09')).toBe(false);
    // across a month and a year end
    clock = new Date('2024-12-31T17:00:00Z'); // 1 January 2025, 01:00 in Shanghai
    expect(await tryDay('2025-01-01')).toBe(true);
    expect(await tryDay('2024-12-31')).toBe(true);
    expect(await tryDay('2025-01-02')).toBe(true);
    expect(await tryDay('2024-12-30')).toBe(false);
    clock = new Date('2024-03-10T04:00:00Z');
  });

  it('limits failures per account: 5 per 15 minutes, checked before the password; a success clears it', async () => {
    const name = uname('carol');
    await createUser(ctx, { username: name, password: { plain: 'carol-secret' }, role: 'reviewer', enterpriseId: null }, system);
    const limiter = new LoginLimiter();
    const start = clock;
    // four failures, a success, four more failures: never locked
    for (let i = 0; i < 4; i++) expect((await rejection(plainLogin(name, 'nope-nope', limiter))).kind).toBe('invalid');
    await plainLogin(name, 'carol-secret', limiter);
    for (let i = 0; i < 4; i++) expect((await rejection(plainLogin(name, 'nope-nope', limiter, `198.51.100.${i}`))).kind).toBe('invalid');
    // the fifth failure (any address, any case of the name) uses up the budget
    expect((await rejection(plainLogin(name.toUpperCase(), 'nope-nope', limiter, '203.0.113.9'))).kind).toBe('invalid');
    const locked = await rejection(plainLogin(name, 'carol-secret', limiter, '203.0.113.10'));
    expect(locked.kind).toBe('locked');
    expect(locked.message).toBe(LOCKED);
    // other accounts are not affected
    const other = uname('dave');
    await createUser(ctx, { username: other, password: { plain: 'dave-secret' }, role: 'reviewer', enterpriseId: null }, system);
    await plainLogin(other, 'dave-secret', limiter);
    // 14 minutes after the first failures of the second run, still locked; after the window, the password works again
    clock = new Date(start.getTime() + 14 * 60_000);
    expect((await rejection(plainLogin(name, 'carol-secret', limiter))).kind).toBe('locked');
    clock = new Date(start.getTime() + 15 * 60_000 + 1);
    await plainLogin(name, 'carol-secret', limiter);
    // unknown accounts are limited just the same (no hint that they do not exist)
    const ghost = uname('ghost');
    for (let i = 0; i < 5; i++) expect((await rejection(plainLogin(ghost, 'whatever!', limiter, `192.0.2.${100 + i}`))).kind).toBe('invalid');
    expect((await rejection(plainLogin(ghost, 'whatever!', limiter))).kind).toBe('locked');
    clock = start;
  });

  it('limits failures per address: 20 per 15 minutes across accounts', async () => {
    const limiter = new LoginLimiter();
    const name = uname('erin');
    await createUser(ctx, { username: name, password: { plain: 'erin-secret' }, role: 'reviewer', enterpriseId: null }, system);
    for (let i = 0; i < 20; i++) {
      expect((await rejection(login(ctx, { username: `spray${i}`, password: `guess-${i}`, mode: 'v1', address: '198.51.100.66' }, limiter))).kind).toBe('invalid');
    }
    const locked = await rejection(plainLogin(name, 'erin-secret', limiter, '198.51.100.66'));
    expect(locked.kind).toBe('locked');
    // the account itself is fine from elsewhere
    await plainLogin(name, 'erin-secret', limiter, '198.51.100.67');
    const start = clock;
    clock = new Date(start.getTime() + 15 * 60_000 + 1);
    await plainLogin(name, 'erin-secret', limiter, '198.51.100.66');
    clock = start;
  });

  it('the default limiter belongs to the store', async () => {
    expect(limiterFor(ctx.store)).toBe(limiterFor(ctx.store));
    const name = uname('frank');
    await createUser(ctx, { username: name, password: { plain: 'frank-secret' }, role: 'reviewer', enterpriseId: null }, system);
    for (let i = 0; i < 5; i++) await rejection(login(ctx, { username: name, password: 'bad-bad-bad', mode: 'plain', address: '' }));
    expect((await rejection(login(ctx, { username: name, password: 'frank-secret', mode: 'plain', address: '' }))).kind).toBe('locked');
  });

  it('tokens expire after 24 h and refuse tampering, other nodes and disabled users', async () => {
    const name = uname('grace');
    const { id } = await createUser(ctx, { username: name, password: { plain: 'grace-secret' }, role: 'operator', enterpriseId: null }, system);
    const start = clock;
    const { token } = await plainLogin(name, 'grace-secret');
    const bad = async (t: string) => {
      const e = await rejection(verifyToken(ctx, t));
      expect(e.kind).toBe('invalid');
      expect(e.message).toBe('token invalid or expired');
    };
    clock = new Date(start.getTime() + (TOKEN_LIFETIME_SECONDS - 1) * 1000);
    expect((await verifyToken(ctx, token)).userId).toBe(id);
    clock = new Date(start.getTime() + TOKEN_LIFETIME_SECONDS * 1000);
    await bad(token);
    clock = start;

    const [body, sig] = token.split('.') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    await bad(`${body}.${flip(sig, 3)}`);
    await bad(`${body}.${sig.slice(0, -2)}`);
    await bad(`${flip(body, 5)}.${sig}`);
    // a payload naming another user, or a later expiry, keeps the old signature: refused
    const forged = (p: object) => Buffer.from(JSON.stringify(p)).toString('base64url');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as { sub: number; iat: number; exp: number };
    expect(payload).toEqual({ sub: id, iat: Math.floor(start.getTime() / 1000), exp: Math.floor(start.getTime() / 1000) + TOKEN_LIFETIME_SECONDS });
    await bad(`${forged({ ...payload, sub: id + 1 })}.${sig}`);
    await bad(`${forged({ ...payload, exp: payload.exp + 3600 })}.${sig}`);
    for (const junk of ['', '.', 'abc', 'a.b.c', `${body}.${sig}.x`, `${body}.`, `Bearer ${token}`, 'x'.repeat(5000)]) await bad(junk);

    // a token from another node (another node key) is refused
    const other = await openMemoryStore();
    try {
      await other.migrate();
      const otherCtx = { ...ctx, store: other };
      await createUser(otherCtx, { username: name, password: { plain: 'grace-secret' }, role: 'operator', enterpriseId: null }, system);
      const foreign = await issueToken(otherCtx, id);
      await bad(foreign.token);
    } finally {
      await other.close();
    }

    // a disabled user: no login, no tokens; enabled again, the old token works again
    await setUserDisabled(ctx, id, true, { id: 'user:admin', address: '192.0.2.7' });
    await bad(token);
    expect((await rejection(plainLogin(name, 'grace-secret'))).message).toBe(WRONG);
    expect((await getUser(ctx, id)).disabled).toBe(true);
    await setUserDisabled(ctx, id, false, { id: 'user:admin' });
    expect((await verifyToken(ctx, token)).userId).toBe(id);
    // a token for a user that does not exist
    await bad((await issueToken(ctx, 999_999)).token);
    await expect(setUserDisabled(ctx, 999_999, true, system)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('setPassword replaces both the plain and the v1 credential', async () => {
    const name = uname('heidi');
    const { id } = await createUser(ctx, { username: name, password: { plain: 'old-password' }, role: 'reviewer', enterpriseId: null }, system);
    await setPassword(ctx, id, { plain: 'new-password' }, { id: 'user:admin' });
    expect((await rejection(plainLogin(name, 'old-password'))).kind).toBe('invalid');
    await plainLogin(name, 'new-password');
    const day = shanghaiDate(clock);
    expect((await rejection(login(ctx, { username: name, password: v1('old-password', day), mode: 'v1', address: '' }, new LoginLimiter()))).kind).toBe('invalid');
    await login(ctx, { username: name, password: v1('new-password', day), mode: 'v1', address: '' }, new LoginLimiter());
    await expect(setPassword(ctx, id, { plain: 'short' }, system)).rejects.toMatchObject({ kind: 'invalid' });
  });

  it('ensureOperator creates, keeps and resets the bootstrap operator', async () => {
    const name = uname('admin');
    await ensureOperator(ctx, name, 'first-secret-123');
    const first = await plainLogin(name, 'first-secret-123');
    expect(first.principal.role).toBe('operator');
    const auditCount = async () => (await opened.store.listAudit({ entity: 'user', entityId: name })).length;
    expect(await auditCount()).toBe(1);
    await ensureOperator(ctx, name, 'first-secret-123');
    expect(await auditCount()).toBe(1); // unchanged: nothing written
    await ensureOperator(ctx, name.toUpperCase(), 'second-secret-456');
    expect(await auditCount()).toBe(2);
    expect((await rejection(plainLogin(name, 'first-secret-123'))).kind).toBe('invalid');
    await plainLogin(name, 'second-secret-456');
    // concurrent starts agree
    const twin = uname('admin');
    await Promise.all([ensureOperator(ctx, twin, 'twin-secret-1'), ensureOperator(ctx, twin, 'twin-secret-1')]);
    await plainLogin(twin, 'twin-secret-1');
    // a non-operator of that name is not taken over
    const reviewer = uname('rev');
    await createUser(ctx, { username: reviewer, password: { plain: 'reviewer-pw' }, role: 'reviewer', enterpriseId: null }, system);
    expect((await rejection(ensureOperator(ctx, reviewer, 'takeover-secret'))).kind).toBe('conflict');
  });

  it('audits user changes with actor and before/after, never a secret', async () => {
    const name = uname('ivan');
    const sha256 = sha('ivan-first-pw');
    const { id } = await createUser(ctx, { username: name, password: { sha256 }, role: 'reviewer', enterpriseId: null }, { id: 'user:op', address: '192.0.2.5' });
    await setPassword(ctx, id, { plain: 'ivan-second-pw' }, { id: 'user:op' });
    await setUserDisabled(ctx, id, true, { id: 'user:op' });
    const audit = await opened.store.listAudit({ entity: 'user', entityId: name });
    expect(audit.map((a) => a.action)).toEqual(['user.disable', 'user.password', 'user.create']);
    for (const a of audit) expect(a.actor).toBe('user:op');
    expect(audit[2]!.address).toBe('192.0.2.5');
    expect(audit[2]!.before).toBeNull();
    expect(audit[2]!.after).toMatchObject({ id, username: name, role: 'reviewer', disabled: false });
    expect(audit[0]!.before).toMatchObject({ disabled: false });
    expect(audit[0]!.after).toMatchObject({ disabled: true });

    const row = await opened.store.db.selectFrom('users').selectAll().where('username_key', '=', name.toLowerCase()).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(row.password_sha256_enc.split('.')).toHaveLength(3);
    const everything = JSON.stringify(await opened.store.listAudit({ limit: 1000 }));
    for (const secret of [sha256, 'ivan-second-pw', sha('ivan-second-pw'), row.password_hash, row.password_sha256_enc, 'password_hash', 'password_sha256_enc', 'scrypt$']) {
      expect(everything).not.toContain(secret);
    }
    // the stored row holds neither the password nor its digest in the clear
    expect(JSON.stringify(row)).not.toContain(sha('ivan-second-pw'));
  });
});

describe('LoginLimiter bounds', () => {
  const locked = (l: LoginLimiter, account: string, address: string, nowMs: number) => {
    try {
      l.check(account, address, nowMs);
      return false;
    } catch (e) {
      expect((e as RegistryError).kind).toBe('locked');
      return true;
    }
  };

  it('remembers at most maxKeys accounts and addresses, dropping the one with the oldest failure first', () => {
    const l = new LoginLimiter({ perAccount: 1, perAddress: 1, maxKeys: 2 });
    l.failed('a', '192.0.2.1', 1000);
    l.failed('b', '192.0.2.2', 1001);
    // a check does not make a key more recent
    expect(locked(l, 'a', '', 1002)).toBe(true);
    expect(locked(l, 'x', '192.0.2.1', 1002)).toBe(true);
    l.failed('c', '192.0.2.3', 1003);
    expect(locked(l, 'a', '', 1004)).toBe(false);
    expect(locked(l, 'x', '192.0.2.1', 1004)).toBe(false);
    expect(locked(l, 'b', '', 1004)).toBe(true);
    expect(locked(l, 'c', '', 1004)).toBe(true);
    expect(locked(l, 'x', '192.0.2.2', 1004)).toBe(true);
    // another failure makes a key the most recent again
    l.failed('b', '192.0.2.2', 1005);
    l.failed('d', '192.0.2.4', 1006);
    expect(locked(l, 'c', '', 1007)).toBe(false);
    expect(locked(l, 'x', '192.0.2.3', 1007)).toBe(false);
    expect(locked(l, 'b', '', 1007)).toBe(true);
    expect(locked(l, 'd', '', 1007)).toBe(true);
  });

  it('counts failures in a sliding window and forgets an account on success', () => {
    const l = new LoginLimiter({ perAccount: 3, perAddress: 100, windowMs: 1000 });
    l.failed('a', '', 0);
    l.failed('a', '', 400);
    l.failed('a', '', 800);
    expect(locked(l, 'a', '', 999)).toBe(true);
    // the first failure leaves the window at 1000
    expect(locked(l, 'a', '', 1000)).toBe(false);
    l.failed('a', '', 1100);
    expect(locked(l, 'a', '', 1200)).toBe(true);
    l.succeeded('a');
    expect(locked(l, 'a', '', 1200)).toBe(false);
    // an empty address is never counted
    const m = new LoginLimiter({ perAccount: 100, perAddress: 1 });
    m.failed('a', '', 0);
    m.failed('b', '', 0);
    expect(locked(m, 'c', '', 1)).toBe(false);
  });
});
