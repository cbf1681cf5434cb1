// Authorization matrix: every actor × every write face (Handle REST, SNMS, templates, operator); a refused write leaves the store as it was, a permitted one takes effect.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import { parseHandle } from '../../handle/identifier.js';
import { issueToken, TOKEN_LIFETIME_SECONDS, verifyToken } from '../../registry/users/tokens.js';
import { admin, startTestServer, type Reply, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, redisNamespace, tempPostgres } from '../helpers/services.js';
import { application, bearer, item, login, okData, onboard, operatorLogin, templateBody, values, type Onboarded } from '../helpers/snms.js';

type Target = 'A' | 'B' | 'S';
type ActorName =
  | 'node-admin-basic'
  | 'operator-user'
  | 'reviewer-user'
  | 'ent-A-token'
  | 'ent-A-credential'
  | 'pending-ent-user'
  | 'rejected-ent-user'
  | 'suspended-ent-token'
  | 'suspended-ent-credential'
  | 'expired-operator-token'
  | 'forged-payload-token'
  | 'forged-signature-token'
  | 'anonymous';

const ACTORS: { name: ActorName; targets: Target[] }[] = [
  { name: 'node-admin-basic', targets: ['A', 'B'] },
  { name: 'operator-user', targets: ['A', 'B'] },
  { name: 'reviewer-user', targets: ['A', 'B'] },
  { name: 'ent-A-token', targets: ['A', 'B'] },
  { name: 'ent-A-credential', targets: ['A', 'B'] },
  { name: 'pending-ent-user', targets: ['A', 'B'] },
  { name: 'rejected-ent-user', targets: ['A', 'B'] },
  { name: 'suspended-ent-token', targets: ['S', 'B'] },
  { name: 'suspended-ent-credential', targets: ['S', 'B'] },
  { name: 'expired-operator-token', targets: ['A', 'B'] },
  { name: 'forged-payload-token', targets: ['A', 'B'] },
  { name: 'forged-signature-token', targets: ['A', 'B'] },
  { name: 'anonymous', targets: ['A', 'B'] },
];

const PREFIX_FACES = [
  'rest-put-new',
  'rest-put-replace-value',
  'rest-delete-handle',
  'rest-delete-value',
  'snms-create',
  'snms-update',
  'snms-delete',
  'snms-batch-create',
  'snms-batch-update',
  'snms-batch-delete',
  'snms-template-create',
] as const;
const OPERATOR_FACES = [
  'op-approve',
  'op-reject',
  'op-suspend',
  'op-enable',
  'op-create-user',
  'op-rotate-secret',
  'op-user-disable',
  'op-user-enable',
  'op-user-password',
  'op-user-role',
] as const;
type Face = (typeof PREFIX_FACES)[number] | (typeof OPERATOR_FACES)[number];

/** What each actor may do: the expected outcome, written from the design (not from what the code does). */
function permitted(actor: ActorName, face: Face, target: Target | null): boolean {
  const rest = face.startsWith('rest-');
  const snms = face.startsWith('snms-');
  switch (actor) {
    case 'node-admin-basic':
      // the node admin's Handle credential works on the Handle face; SNMS and operator faces take Bearer tokens only
      return rest;
    case 'operator-user':
      return true; // everything under the node's prefix, every operator action
    case 'reviewer-user':
      return face === 'op-approve' || face === 'op-reject';
    case 'ent-A-token':
      return (rest || snms) && target === 'A';
    case 'ent-A-credential':
      return rest && target === 'A';
    default:
      return false;
  }
}

interface Case {
  n: number;
  actor: ActorName;
  face: Face;
  target: Target | null;
  allowed: boolean;
}

const CASES: Case[] = [];
for (const a of ACTORS) {
  for (const face of PREFIX_FACES) for (const t of a.targets) CASES.push({ n: CASES.length, actor: a.name, face, target: t, allowed: permitted(a.name, face, t) });
  for (const face of OPERATOR_FACES) CASES.push({ n: CASES.length, actor: a.name, face, target: null, allowed: permitted(a.name, face, null) });
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o), 'utf8').toString('base64url');

describe.skipIf(!hasPostgres || !hasRedis)('authorization matrix: actor × write face (postgres+redis)', () => {
  let s: TestServer;
  let db: { url: string; drop: () => Promise<void> };
  let op: string;
  let A: Onboarded;
  let B: Onboarded;
  let S: Onboarded;
  const auth = new Map<ActorName, Record<string, string>>();
  const pendingApps = new Map<number, number>(); // case n → enterprise id (approve/reject targets)
  const tally = { permittedOk: 0, refusedOk: 0 };

  const prefixOf = (t: Target) => (t === 'A' ? A.prefix : t === 'B' ? B.prefix : S.prefix);
  const url = (v: string) => [{ index: 1, type: 'URL', data: v }];

  /** Everything a write could change, read straight from the database (audit and login bookkeeping excluded). */
  async function storeDigest(): Promise<string> {
    const r = await sql<{ d: string }>`
      select concat_ws('|',
        (select md5(coalesce(string_agg(key || ':' || "values"::text || ':' || version, ',' order by key), '')) from handles),
        (select md5(coalesce(string_agg(prefix_key || ':' || version || ':' || items::text, ',' order by prefix_key, version), '')) from templates),
        (select md5(coalesce(string_agg(id || ':' || username || ':' || role || ':' || coalesce(enterprise_id::text, '-') || ':' || disabled::text || ':' || password_hash, ',' order by id), '')) from users),
        (select md5(coalesce(string_agg(id || ':' || status || ':' || coalesce(reason, '-'), ',' order by id), '')) from enterprises),
        (select md5(coalesce(string_agg(prefix_key || ':' || status || ':' || coalesce(enterprise_id::text, '-'), ',' order by prefix_key), '')) from prefixes)
      ) as d`.execute(s.node.registry.store.db);
    return r.rows[0]!.d;
  }
  async function handleValues(h: string): Promise<any[] | null> {
    const key = parseHandle(h, s.node.registry.policy).key;
    const row = await s.node.registry.store.db.selectFrom('handles').select('values').where('key', '=', key).executeTakeFirst();
    return row ? (row.values as any[]) : null;
  }
  const valueAt = (vs: any[] | null, index: number) => vs?.find((v) => v.index === index)?.data?.value;
  async function enterpriseStatus(id: number): Promise<number> {
    const r = await s.node.registry.store.db.selectFrom('enterprises').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    return r.status;
  }
  async function templateExists(prefix: string, version: string): Promise<boolean> {
    const r = await s.node.registry.store.db
      .selectFrom('templates')
      .select('version')
      .where('prefix_key', '=', prefix.toLowerCase())
      .where('version', '=', version)
      .executeTakeFirst();
    return r !== undefined;
  }
  async function userExists(username: string): Promise<boolean> {
    return (await s.node.registry.store.db.selectFrom('users').select('id').where('username_key', '=', username.toLowerCase()).executeTakeFirst()) !== undefined;
  }

  const snmsVictims: string[] = [];
  const victims = new Map<number, number>(); // case n → user id (account faces)
  async function userRow(id: number) {
    return s.node.registry.store.db.selectFrom('users').select(['disabled', 'role', 'password_hash']).where('id', '=', id).executeTakeFirstOrThrow();
  }
  /** Prepares the victims a case writes to (as the operator, before any suspension); SNMS ones are collected for one batch. */
  async function prepare(c: Case): Promise<void> {
    const opAuth = bearer(op);
    if (c.target !== null) {
      const P = prefixOf(c.target);
      const n = c.n;
      const put = async (h: string) => expect((await s.send('PUT', `/api/handles/${h}`, url(`https://before.example.com/${n}`), opAuth)).status, h).toBe(200);
      const reg = async (h: string) => void snmsVictims.push(h);
      if (c.face === 'rest-put-replace-value' || c.face === 'rest-delete-handle' || c.face === 'rest-delete-value') await put(`${P}/R-${n}`);
      if (c.face === 'snms-update' || c.face === 'snms-delete') await reg(`${P}/S-${n}`);
      if (c.face === 'snms-batch-update' || c.face === 'snms-batch-delete') {
        await reg(`${P}/S-${n}-1`);
        await reg(`${P}/S-${n}-2`);
      }
    } else if (c.face === 'op-approve' || c.face === 'op-reject') {
      const applied = okData(await s.send('POST', '/snms/api/v3/ent/apply', application({ n: 500 + c.n, username: `app-${c.n}`, password: `App-pass-${c.n}x` })));
      pendingApps.set(c.n, applied.enterpriseId as number);
    } else if (c.face.startsWith('op-user-')) {
      // a reviewer account of its own per case (disabled already for the enable case)
      const id = okData(await s.send('POST', '/operator/users', { username: `victim-${c.n}`, password: `Victim-pass-${c.n}`, role: 'reviewer' }, opAuth)).id as number;
      victims.set(c.n, id);
      if (c.face === 'op-user-enable') okData(await s.send('POST', `/operator/users/${id}/disable`, undefined, opAuth));
    }
  }

  interface Outcome {
    reply: Reply;
    /** the face's own word for success (HTTP + responseCode, SNMS status, every batch item) */
    success: boolean;
    /** the write's effect, read from the store afterwards */
    applied: () => Promise<boolean>;
    /** puts things back after a permitted state change that later cases rely on */
    restore?: () => Promise<void>;
  }

  async function run(c: Case, who: Record<string, string>): Promise<Outcome> {
    const n = c.n;
    const snmsOk = (r: Reply) => r.status === 200 && r.json?.status === 1;
    const restOk = (r: Reply) => r.status >= 200 && r.status < 300 && r.json?.responseCode === 1;
    const batchOk = (r: Reply) => snmsOk(r) && Array.isArray(r.json.data) && r.json.data.length > 0 && r.json.data.every((x: any) => x.msg === 'success');
    if (c.target !== null) {
      const P = prefixOf(c.target);
      switch (c.face) {
        case 'rest-put-new': {
          const h = `${P}/NEW-${n}`;
          const reply = await s.send('PUT', `/api/handles/${h}`, url(`https://after.example.com/${n}`), who);
          return { reply, success: restOk(reply), applied: async () => valueAt(await handleValues(h), 1) === `https://after.example.com/${n}` };
        }
        case 'rest-put-replace-value': {
          const h = `${P}/R-${n}`;
          const reply = await s.send('PUT', `/api/handles/${h}?index=1`, url(`https://after.example.com/${n}`), who);
          return { reply, success: restOk(reply), applied: async () => valueAt(await handleValues(h), 1) === `https://after.example.com/${n}` };
        }
        case 'rest-delete-handle': {
          const h = `${P}/R-${n}`;
          const reply = await s.send('DELETE', `/api/handles/${h}`, undefined, who);
          return { reply, success: restOk(reply), applied: async () => (await handleValues(h)) === null };
        }
        case 'rest-delete-value': {
          const h = `${P}/R-${n}`;
          const reply = await s.send('DELETE', `/api/handles/${h}?index=1`, undefined, who);
          return { reply, success: restOk(reply), applied: async () => valueAt(await handleValues(h), 1) === undefined };
        }
        case 'snms-create': {
          const h = `${P}/NEW-${n}`;
          const reply = await s.send('POST', '/identityv2/data', item(h, 'v1', values('新')), who);
          return { reply, success: snmsOk(reply), applied: async () => valueAt(await handleValues(h), 2000) === '新' };
        }
        case 'snms-update': {
          const h = `${P}/S-${n}`;
          const reply = await s.send('PUT', '/identityv2/data', item(h, 'v1', values('后', 'M-后')), who);
          return { reply, success: snmsOk(reply), applied: async () => valueAt(await handleValues(h), 2000) === '后' };
        }
        case 'snms-delete': {
          const h = `${P}/S-${n}`;
          const reply = await s.send('DELETE', '/identityv2/data', { handle: h }, who);
          return { reply, success: snmsOk(reply), applied: async () => (await handleValues(h)) === null };
        }
        case 'snms-batch-create': {
          const hs = [`${P}/NEW-${n}-1`, `${P}/NEW-${n}-2`];
          const reply = await s.send('POST', '/identityv2/data/batchCreate', hs.map((h) => item(h, 'v1', values('批'))), who);
          return { reply, success: batchOk(reply), applied: async () => (await Promise.all(hs.map(handleValues))).every((v) => valueAt(v, 2000) === '批') };
        }
        case 'snms-batch-update': {
          const hs = [`${P}/S-${n}-1`, `${P}/S-${n}-2`];
          const reply = await s.send('PUT', '/identityv2/data/batchUpdate', hs.map((h) => item(h, 'v1', values('批改'))), who);
          return { reply, success: batchOk(reply), applied: async () => (await Promise.all(hs.map(handleValues))).every((v) => valueAt(v, 2000) === '批改') };
        }
        case 'snms-batch-delete': {
          const hs = [`${P}/S-${n}-1`, `${P}/S-${n}-2`];
          const reply = await s.send('DELETE', '/identityv2/data/batchDelete', hs, who);
          return { reply, success: batchOk(reply), applied: async () => (await Promise.all(hs.map(handleValues))).every((v) => v === null) };
        }
        case 'snms-template-create': {
          const version = `vx${n}`;
          const reply = await s.send('POST', '/snms/api/v5/template', templateBody(P, version), who);
          return { reply, success: snmsOk(reply), applied: () => templateExists(P, version) };
        }
        default:
          throw new Error(`no prefix face ${c.face}`);
      }
    }
    switch (c.face) {
      case 'op-approve': {
        const id = pendingApps.get(n)!;
        const reply = await s.send('POST', `/operator/enterprises/${id}/approve`, {}, who);
        return { reply, success: snmsOk(reply), applied: async () => (await enterpriseStatus(id)) === 1 };
      }
      case 'op-reject': {
        const id = pendingApps.get(n)!;
        const reply = await s.send('POST', `/operator/enterprises/${id}/reject`, { reason: '材料不全' }, who);
        return { reply, success: snmsOk(reply), applied: async () => (await enterpriseStatus(id)) === 3 };
      }
      case 'op-suspend': {
        const reply = await s.send('POST', `/operator/enterprises/${B.enterpriseId}/suspend`, { reason: '矩阵测试' }, who);
        return {
          reply,
          success: snmsOk(reply),
          applied: async () => (await enterpriseStatus(B.enterpriseId)) === 0,
          restore: async () => void okData(await s.send('POST', `/operator/enterprises/${B.enterpriseId}/enable`, undefined, bearer(op))),
        };
      }
      case 'op-enable': {
        const reply = await s.send('POST', `/operator/enterprises/${S.enterpriseId}/enable`, undefined, who);
        return {
          reply,
          success: snmsOk(reply),
          applied: async () => (await enterpriseStatus(S.enterpriseId)) === 1,
          restore: async () => void okData(await s.send('POST', `/operator/enterprises/${S.enterpriseId}/suspend`, { reason: '恢复停用' }, bearer(op))),
        };
      }
      case 'op-create-user': {
        const username = `matrix-user-${n}`;
        const reply = await s.send('POST', '/operator/users', { username, password: 'Matrix-pass-1', role: 'operator' }, who);
        return { reply, success: snmsOk(reply), applied: () => userExists(username) };
      }
      case 'op-rotate-secret': {
        const record = `0.NA/${B.prefix}`;
        const before = valueAt(await handleValues(record), 300);
        const reply = await s.send('POST', `/operator/enterprises/${B.enterpriseId}/rotate-secret`, undefined, who);
        return { reply, success: snmsOk(reply), applied: async () => valueAt(await handleValues(record), 300) !== before };
      }
      case 'op-user-disable':
      case 'op-user-enable': {
        const id = victims.get(n)!;
        const disable = c.face === 'op-user-disable';
        const reply = await s.send('POST', `/operator/users/${id}/${disable ? 'disable' : 'enable'}`, undefined, who);
        return { reply, success: snmsOk(reply), applied: async () => (await userRow(id)).disabled === disable };
      }
      case 'op-user-password': {
        const id = victims.get(n)!;
        const before = (await userRow(id)).password_hash;
        const reply = await s.send('POST', `/operator/users/${id}/password`, { password: `Reset-pass-${n}` }, who);
        return { reply, success: snmsOk(reply), applied: async () => (await userRow(id)).password_hash !== before };
      }
      case 'op-user-role': {
        const id = victims.get(n)!;
        const reply = await s.send('POST', `/operator/users/${id}/role`, { role: 'operator' }, who);
        return { reply, success: snmsOk(reply), applied: async () => (await userRow(id)).role === 'operator' };
      }
      default:
        throw new Error(`no operator face ${c.face}`);
    }
  }

  beforeAll(async () => {
    db = await tempPostgres();
    s = await startTestServer('postgres+redis', {}, { databaseUrl: db.url, namespace: redisNamespace() });
    op = await operatorLogin(s);
    A = await onboard(s, op, { n: 31, username: 'mx-ent-a', password: 'Mx-ent-a-2024' });
    B = await onboard(s, op, { n: 32, username: 'mx-ent-b', password: 'Mx-ent-b-2024' });
    S = await onboard(s, op, { n: 33, username: 'mx-ent-s', password: 'Mx-ent-s-2024' });
    for (const e of [A, B, S]) okData(await s.send('POST', '/snms/api/v5/template', templateBody(e.prefix, 'v1'), bearer(e.token)));
    for (const c of CASES) await prepare(c);
    for (let i = 0; i < snmsVictims.length; i += 500) {
      const chunk = snmsVictims.slice(i, i + 500);
      const res = okData(await s.send('POST', '/identityv2/data/batchCreate', chunk.map((h) => item(h, 'v1', values('前', 'M-前'))), bearer(op))) as any[];
      expect(res.filter((r) => r.msg !== 'success')).toEqual([]);
    }

    // users of the operator face
    okData(await s.send('POST', '/operator/users', { username: 'mx-operator', password: 'Mx-operator-1', role: 'operator' }, bearer(op)));
    okData(await s.send('POST', '/operator/users', { username: 'mx-reviewer', password: 'Mx-reviewer-1', role: 'reviewer' }, bearer(op)));
    const operatorToken = await login(s, 'mx-operator', 'Mx-operator-1');
    const reviewerToken = await login(s, 'mx-reviewer', 'Mx-reviewer-1');

    // a pending enterprise's user and a rejected one's: both can log in (their applications are theirs to follow)
    okData(await s.send('POST', '/snms/api/v3/ent/apply', application({ n: 34, username: 'mx-pending', password: 'Mx-pending-2024' })));
    const rej = okData(await s.send('POST', '/snms/api/v3/ent/apply', application({ n: 35, username: 'mx-rejected', password: 'Mx-rejected-2024' })));
    okData(await s.send('POST', `/operator/enterprises/${rej.enterpriseId}/reject`, { reason: '材料不全' }, bearer(op)));
    const pendingToken = await login(s, 'mx-pending', 'Mx-pending-2024');
    const rejectedLogin = await s.send('POST', '/identity/token', { username: 'mx-rejected', password: 'Mx-rejected-2024' });
    // a rejected enterprise's user may or may not still log in; if it cannot, what it holds is the token it had before
    const rejectedToken: string = rejectedLogin.json?.status === 1 ? rejectedLogin.json.data.token : pendingToken;

    // S is suspended after its victims were prepared; its token and credential were issued before
    okData(await s.send('POST', `/operator/enterprises/${S.enterpriseId}/suspend`, { reason: '矩阵测试停用' }, bearer(op)));

    // an expired token of an operator, signed with the node's own key (the registry's issueToken, clock set back)
    const ctx = s.node.registry;
    const operatorPrincipal = await verifyToken(ctx, operatorToken);
    const aPrincipal = await verifyToken(ctx, A.token);
    const expired = await issueToken(ctx, operatorPrincipal.userId, new Date(Date.now() - (TOKEN_LIFETIME_SECONDS + 120) * 1000));
    expect(expired.expiresAt.getTime()).toBeLessThan(Date.now());
    // forged: A's token with its payload changed to the operator's id (signature kept), and a fresh operator payload with a made-up signature
    const [aBody, aSig] = A.token.split('.') as [string, string];
    const aPayload = JSON.parse(Buffer.from(aBody, 'base64url').toString('utf8'));
    expect(aPayload.sub).toBe(aPrincipal.userId);
    const forgedPayload = `${b64({ ...aPayload, sub: operatorPrincipal.userId })}.${aSig}`;
    const now = Math.floor(Date.now() / 1000);
    const opBody = b64({ sub: operatorPrincipal.userId, iat: now, exp: now + 3600 });
    const forgedSignature = `${opBody}.${createHmac('sha256', randomBytes(32)).update(opBody).digest('base64url')}`;

    auth.set('node-admin-basic', admin());
    auth.set('operator-user', bearer(operatorToken));
    auth.set('reviewer-user', bearer(reviewerToken));
    auth.set('ent-A-token', bearer(A.token));
    auth.set('ent-A-credential', A.handleAuth);
    auth.set('pending-ent-user', bearer(pendingToken));
    auth.set('rejected-ent-user', bearer(rejectedToken));
    auth.set('suspended-ent-token', bearer(S.token));
    auth.set('suspended-ent-credential', S.handleAuth);
    auth.set('expired-operator-token', bearer(expired.token));
    auth.set('forged-payload-token', bearer(forgedPayload));
    auth.set('forged-signature-token', bearer(forgedSignature));
    auth.set('anonymous', {});
    // sanity: the credentials that should work do (else every "refused" below would prove nothing)
    expect((await s.get(`/api/handles?prefix=${A.prefix}`, A.handleAuth)).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await s?.close();
    await db?.drop();
    // eslint-disable-next-line no-console
    console.log(`authz matrix: ${CASES.length} cases — ${tally.permittedOk} permitted writes took effect, ${tally.refusedOk} cross-boundary writes refused with the store unchanged`);
  });

  it.each(CASES)('#$n $actor × $face on $target → allowed=$allowed', async (c) => {
    const before = await storeDigest();
    const o = await run(c, auth.get(c.actor)!);
    const where = `${c.actor} ${c.face} ${c.target ?? ''}: HTTP ${o.reply.status} ${o.reply.text.slice(0, 300)}`;
    // never a server error, whoever asks
    expect(o.reply.status, where).toBeLessThan(500);
    if (o.reply.json?.status !== undefined) expect(o.reply.json.status, where).not.toBe(-4);
    if (c.allowed) {
      expect(o.success, `permitted write refused — ${where}`).toBe(true);
      expect(await o.applied(), `permitted write has no effect in the store — ${where}`).toBe(true);
      expect(await storeDigest(), where).not.toBe(before);
      await o.restore?.();
      tally.permittedOk++;
    } else {
      expect(o.success, `cross-boundary write reported success — ${where}`).toBe(false);
      expect(await o.applied(), `cross-boundary write took effect — ${where}`).toBe(false);
      expect(await storeDigest(), `cross-boundary write changed the store — ${where}`).toBe(before);
      tally.refusedOk++;
    }
  });

  it('summary: every case ran, both ways', () => {
    expect(tally.permittedOk + tally.refusedOk).toBe(CASES.length);
    expect(tally.permittedOk).toBe(CASES.filter((c) => c.allowed).length);
    expect(tally.permittedOk).toBeGreaterThan(30);
    expect(tally.refusedOk).toBeGreaterThan(200);
  });
});
