// Users and credentials on PGlite and PostgreSQL: plain and v1 logins, date skew, failed-login limits, tokens, audit without secrets.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CASE_POLICY } from '../../handle/identifier.js';
import { RegistryError, type RegistryContext, type RegistryEvents } from '../../registry/context.js';
import type { Store } from '../../registry/store.js';
import { createUser, ensureOperator, getUser, setPassword, setUserDisabled } from '../../registry/users/accounts.js';
import { keys } from '../../registry/users/keys.js';
import { delayFor, LoginThrottle, MemoryThrottleStore, throttleFor, ThrottledError } from '../../registry/users/limiter.js';
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

const newThrottle = () => new LoginThrottle(new MemoryThrottleStore());
const WRONG = '用户名/密码错误！ / wrong username or password';
const LOCKED = /^登录失败次数过多，请 \d+ 秒后再试 \/ too many failed logins: retry in \d+ s$/;

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

  const plainLogin = (username: string, password: string, limiter = newThrottle(), address = '192.0.2.1') =>
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
    const r = await login(ctx, { username: name, password: doc, mode: 'v1', address: '' }, newThrottle());
    expect(r.principal.username).toBe(name);
    // upper-case hex is the same digest
    await login(ctx, { username: name, password: doc.toUpperCase(), mode: 'v1', address: '' }, newThrottle());
    // and the plain password works on /identity/token
    await plainLogin(name, '123456');
    // the plain password is not accepted on v1
    expect((await rejection(login(ctx, { username: name, password: '123456', mode: 'v1', address: '' }, newThrottle()))).message).toBe(WRONG);
    clock = new Date('2024-03-10T04:00:00Z');
  });

  it('v1 accepts today, yesterday and tomorrow in Asia/Shanghai, and nothing further', async () => {
    const name = uname('midnight');
    await createUser(ctx, { username: name, password: { plain: 'midnight-pw' }, role: 'reviewer', enterpriseId: null }, system);
    const tryDay = async (day: string) => {
      try {
        await login(ctx, { username: name, password: v1('midnight-pw', day), mode: 'v1', address: '' }, newThrottle());
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

  it('throttles one account from one address with growing delays, checked before the password; the owner elsewhere is not held back', async () => {
    const name = uname('carol');
    await createUser(ctx, { username: name, password: { plain: 'carol-secret' }, role: 'reviewer', enterpriseId: null }, system);
    const throttle = newThrottle();
    const start = clock;
    const at = (ms: number) => (clock = new Date(start.getTime() + ms));
    const attacker = '203.0.113.9';
    // four failures, a success from there (clears that address's count), five more failures: the fifth makes it wait
    for (let i = 0; i < 4; i++) expect((await rejection(plainLogin(name, 'nope-nope', throttle, attacker))).kind).toBe('invalid');
    await plainLogin(name, 'carol-secret', throttle, attacker);
    for (let i = 0; i < 5; i++) expect((await rejection(plainLogin(name.toUpperCase(), 'nope-nope', throttle, attacker))).kind).toBe('invalid');
    // held back, the right password included (nothing is learnt while waiting), saying when to retry
    const held = await rejection(plainLogin(name, 'carol-secret', throttle, attacker));
    expect(held.kind).toBe('locked');
    expect(held.message).toMatch(LOCKED);
    expect(held.message).toContain('retry in 1 s');
    // the owner, from another address, logs in at once: a guesser cannot lock the account
    await plainLogin(name, 'carol-secret', throttle, '198.51.100.7');
    // the wait doubles with each further failure: 1 s after the 5th, 2 s after the 6th, 4 s after the 7th
    at(1000);
    expect((await rejection(plainLogin(name, 'nope-nope', throttle, attacker))).kind).toBe('invalid');
    at(2999);
    expect((await rejection(plainLogin(name, 'nope-nope', throttle, attacker))).message).toContain('retry in 1 s');
    at(3000);
    expect((await rejection(plainLogin(name, 'nope-nope', throttle, attacker))).kind).toBe('invalid');
    at(3001);
    expect((await rejection(plainLogin(name, 'carol-secret', throttle, attacker))).message).toContain('retry in 4 s');
    // after the wait the right password works from there too, and clears the count
    at(7000);
    await plainLogin(name, 'carol-secret', throttle, attacker);
    expect((await rejection(plainLogin(name, 'nope-nope', throttle, attacker))).kind).toBe('invalid');
    // unknown accounts are throttled just the same (no hint that they do not exist)
    const ghost = uname('ghost');
    for (let i = 0; i < 5; i++) expect((await rejection(plainLogin(ghost, 'whatever!', throttle, attacker))).kind).toBe('invalid');
    expect((await rejection(plainLogin(ghost, 'whatever!', throttle, attacker))).kind).toBe('locked');
    clock = start;
  });

  it('throttles an address after 20 failures across accounts; the accounts themselves are fine from elsewhere', async () => {
    const throttle = newThrottle();
    const name = uname('erin');
    await createUser(ctx, { username: name, password: { plain: 'erin-secret' }, role: 'reviewer', enterpriseId: null }, system);
    for (let i = 0; i < 20; i++) {
      expect((await rejection(login(ctx, { username: `spray${i}`, password: `guess-${i}`, mode: 'v1', address: '198.51.100.66' }, throttle))).kind).toBe('invalid');
    }
    const locked = await rejection(plainLogin(name, 'erin-secret', throttle, '198.51.100.66'));
    expect(locked.kind).toBe('locked');
    await plainLogin(name, 'erin-secret', throttle, '198.51.100.67');
    const start = clock;
    clock = new Date(start.getTime() + 1000);
    await plainLogin(name, 'erin-secret', throttle, '198.51.100.66');
    clock = start;
  });

  it('the default throttle belongs to the store, and the context can bring its own', async () => {
    expect(throttleFor(ctx.store)).toBe(throttleFor(ctx.store));
    const name = uname('frank');
    await createUser(ctx, { username: name, password: { plain: 'frank-secret' }, role: 'reviewer', enterpriseId: null }, system);
    for (let i = 0; i < 5; i++) await rejection(login(ctx, { username: name, password: 'bad-bad-bad', mode: 'plain', address: '' }));
    expect((await rejection(login(ctx, { username: name, password: 'frank-secret', mode: 'plain', address: '' }))).kind).toBe('locked');
    const own = newThrottle();
    await login({ ...ctx, loginThrottle: own }, { username: name, password: 'frank-secret', mode: 'plain', address: '' });
  });

  it('logs every failed login and every throttling with the account and address, never the password', async () => {
    const lines: string[] = [];
    const throttle = new LoginThrottle(new MemoryThrottleStore(), {}, (m) => lines.push(m));
    const name = uname('gina');
    for (let i = 0; i < 5; i++) await rejection(plainLogin(name, 'Secret-Guess-1', throttle, '192.0.2.77'));
    expect(lines.filter((l) => l.startsWith('failed login: user') && l.includes(JSON.stringify(name)) && l.includes('192.0.2.77'))).toHaveLength(5);
    expect(lines.filter((l) => l.startsWith('login throttled:'))).toHaveLength(1);
    expect(lines.join('\n')).not.toContain('Secret-Guess-1');
  });
});

describe('LoginThrottle', () => {
  const waitOf = async (t: LoginThrottle, account: string, address: string, nowMs: number) => {
    try {
      await t.check('s', account, address, nowMs);
      return 0;
    } catch (e) {
      expect(e).toBeInstanceOf(ThrottledError);
      return (e as ThrottledError).retryAfterMs;
    }
  };

  it('delays grow from the limit, doubling, up to the cap', () => {
    expect([4, 5, 6, 7, 20, 200].map((n) => delayFor(n, 5, 1000, 60_000))).toEqual([0, 1000, 2000, 4000, 60_000, 60_000]);
  });

  it('forgets a key windowMs after its latest failure; the memory store keeps at most maxKeys keys', async () => {
    const t = new LoginThrottle(new MemoryThrottleStore(), { perPair: 1, windowMs: 10_000 });
    await t.failed('s', 'a', '192.0.2.1', 0);
    expect(await waitOf(t, 'a', '192.0.2.1', 500)).toBe(500);
    expect(await waitOf(t, 'a', '192.0.2.1', 1000)).toBe(0);
    const small = new MemoryThrottleStore(2);
    await small.hit(['x'], 0, 1000);
    await small.hit(['y'], 1, 1000);
    await small.hit(['z'], 2, 1000);
    expect((await small.read(['x', 'y', 'z'], 3)).map((c) => c?.count ?? 0)).toEqual([0, 1, 1]);
    expect(await small.read(['z'], 1002)).toEqual([null]);
  });

  it('the per-account brake slows a spread attack but never holds back an address the account logged in from', async () => {
    const t = new LoginThrottle(new MemoryThrottleStore(), { perAccount: 10, accountMaxDelayMs: 5000 });
    await t.succeeded('s', 'boss', '192.0.2.1', 0);
    for (let i = 0; i < 12; i++) await t.failed('s', 'boss', `198.51.100.${i}`, 100);
    // a new address waits (capped), the known-good one does not; other accounts are untouched
    expect(await waitOf(t, 'boss', '203.0.113.1', 200)).toBe(3900);
    expect(await waitOf(t, 'boss', '192.0.2.1', 200)).toBe(0);
    expect(await waitOf(t, 'other', '203.0.113.1', 200)).toBe(0);
    // an unknown address ('') is never counted on its own
    const u = new LoginThrottle(new MemoryThrottleStore(), { perAddress: 1 });
    await u.failed('s', 'a', '', 0);
    expect(await waitOf(u, 'b', '', 1)).toBe(0);
  });
});
