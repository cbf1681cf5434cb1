// The one authorization decision (registry/access.ts) on PGlite and PostgreSQL: user scopes, suspension, HS_ADMIN credentials, node admin.
import { describe, expect, it } from 'vitest';
import type { AdminOp } from '../../handle/admin.js';
import { HandleError, RC } from '../../handle/codes.js';
import { parseHandle, type HandleId } from '../../handle/identifier.js';
import type { HandleValue } from '../../handle/types.js';
import {
  actorId,
  authorize,
  isHomed,
  isNodeAdmin,
  mayReadRestricted,
  suspendedPrefix,
  userScope,
  type Requester,
  type ValuesReader,
} from '../../registry/access.js';
import type { Principal } from '../../registry/context.js';
import { STATUS } from '../../registry/db.js';
import { mutateHandle } from '../../registry/handles.js';
import type { Store } from '../../registry/store.js';
import { backends, testContext, useStore } from '../helpers/registry-backends.js';
import { adminVal } from '../helpers/values.js';

// Permission strings, read right to left: add_handle, delete_handle, add/delete derived prefix, modify, remove, add
// value, modify/remove/add admin, read value, list handles.
const ENTERPRISE = '111111110011';
const ONLY_READ = '010000000000';
const ONLY_ADD_HANDLE = '000000000001';

const cred = (handle: string, index = 300): Requester => ({ kind: 'credential', handle, key: parseHandle(handle, { caseSensitiveSuffix: false }).key, index });
const user = (role: Principal['role'], enterpriseId: number | null = null): Requester => ({
  kind: 'user',
  principal: { userId: 7, username: `${role}-${enterpriseId ?? 'x'}`, role, enterpriseId },
});

/** The Handle code `authorize` throws, or 'ok'. */
async function decision(p: Promise<void>): Promise<number | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof HandleError) return e.code;
    throw e;
  }
}

describe.each(backends)('access: $name', (backend) => {
  let store: Store;
  let ctx: ReturnType<typeof testContext>;
  let enabledId: number;
  let suspendedId: number;
  const read: ValuesReader = async (key) => (await store.getHandle(key))?.values ?? null;
  const id = (h: string): HandleId => parseHandle(h, ctx.policy);
  /** authorize(op on handle) for `who`, reading values from the store. */
  const may = (who: Requester, op: AdminOp, handle: string, onPrefixRecord = false) =>
    decision(authorize(ctx, store.db, who, id(handle), op, { onPrefixRecord, read }));
  const seed = (handle: string, values: HandleValue[]) => {
    const h = id(handle);
    return mutateHandle(ctx, { handle: h.handle, key: h.key, prefixKey: h.prefixKey }, 'seed', { id: 'test' }, () => values);
  };

  useStore(backend, async (s) => {
    store = s;
    ctx = testContext(s);
    const enterprise = async (name: string, prefix: string, status: number) => {
      const row = await store.db
        .insertInto('enterprises')
        .values({ name, credit_code: `CC-${name}`, town: '合德镇', industry: 'C3441', address: 'x', contact_name: 'x', contact_phone: '1', status })
        .returning('id')
        .executeTakeFirstOrThrow();
      await store.db.insertInto('prefixes').values({ prefix, prefix_key: prefix, enterprise_id: Number(row.id), status }).execute();
      return Number(row.id);
    };
    enabledId = await enterprise('enabled', '88.320924.1', STATUS.ENABLED);
    suspendedId = await enterprise('suspended', '88.320924.2', STATUS.DISABLED);
    // prefix records as approval writes them, plus a read-only admin and an admin at any index (0)
    await seed('0.NA/88.320924.1', [
      adminVal(100, '0.NA/88.320924.1', 300, ENTERPRISE),
      adminVal(101, '88.320924.1/reader', 300, ONLY_READ),
      adminVal(102, '88.320924.1/creator', 300, ONLY_ADD_HANDLE),
      adminVal(103, '88.320924.1/any-index', 0, ENTERPRISE),
    ]);
    await seed('0.NA/88.320924.2', [adminVal(100, '0.NA/88.320924.2', 300, ENTERPRISE)]);
    // a handle naming its own administrator
    await seed('88.320924.1/owned', [adminVal(100, '88.320924.1/owner', 300, '000000010000')]);
  });

  it('user scopes: operators the whole node, reviewers read only, enterprises their enabled prefixes and those derived', async () => {
    const scope = async (who: Requester, access: 'read' | 'write') => {
      if (who.kind !== 'user') throw new Error('a user');
      const s = await userScope(ctx, store.db, who.principal, access);
      return ['88.320924', '88.320924.1', '88.320924.1.7', '88.320924.10', '88.320924.2', '88.320924.2.3', '99.1', '88.3209241'].filter(s);
    };
    expect(await scope(user('operator'), 'write')).toEqual(['88.320924', '88.320924.1', '88.320924.1.7', '88.320924.10', '88.320924.2', '88.320924.2.3']);
    expect(await scope(user('operator'), 'read')).toEqual(['88.320924', '88.320924.1', '88.320924.1.7', '88.320924.10', '88.320924.2', '88.320924.2.3']);
    expect(await scope(user('reviewer'), 'read')).toEqual(['88.320924', '88.320924.1', '88.320924.1.7', '88.320924.10', '88.320924.2', '88.320924.2.3']);
    expect(await scope(user('reviewer'), 'write')).toEqual([]);
    expect(await scope(user('enterprise', enabledId), 'write')).toEqual(['88.320924.1', '88.320924.1.7']);
    expect(await scope(user('enterprise', enabledId), 'read')).toEqual(['88.320924.1', '88.320924.1.7']);
    // a suspended enterprise can neither read nor write, not even what is derived from its prefix
    expect(await scope(user('enterprise', suspendedId), 'read')).toEqual([]);
    expect(await scope(user('enterprise', suspendedId), 'write')).toEqual([]);
    expect(await scope(user('enterprise', null), 'read')).toEqual([]);
  });

  it('users through authorize: the scope decides, 401 outside it, 301 outside the node', async () => {
    expect(await may(user('operator'), 'addHandle', '88.320924.2/x', true)).toBe('ok');
    expect(await may(user('operator'), 'deleteHandle', '0.NA/88.320924.1')).toBe('ok');
    expect(await may(user('operator'), 'readValue', '99.1/x')).toBe(RC.SERVER_NOT_RESP);
    expect(await may(user('reviewer'), 'readValue', '88.320924.1/x')).toBe('ok');
    expect(await may(user('reviewer'), 'modifyValue', '88.320924.1/x')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(user('enterprise', enabledId), 'addHandle', '88.320924.1.7/x', true)).toBe('ok');
    // its own prefix record counts as under its prefix
    expect(await may(user('enterprise', enabledId), 'modifyValue', '0.NA/88.320924.1')).toBe('ok');
    expect(await may(user('enterprise', enabledId), 'readValue', '88.320924.10/x')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(user('enterprise', enabledId), 'readValue', '0.NA/88.320924.2')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    for (const op of ['readValue', 'addHandle', 'modifyValue', 'deleteHandle'] as const) {
      expect(await may(user('enterprise', suspendedId), op, '88.320924.2/x', op === 'addHandle'), op).toBe(RC.INSUFFICIENT_PERMISSIONS);
    }
  });

  it('credentials named by HS_ADMIN on the prefix record: create with the permission, 401 without it, 400 for a stranger', async () => {
    expect(await may(cred('0.NA/88.320924.1'), 'addHandle', '88.320924.1/new', true)).toBe('ok');
    expect(await may(cred('88.320924.1/creator'), 'addHandle', '88.320924.1/new', true)).toBe('ok');
    expect(await may(cred('88.320924.1/reader'), 'addHandle', '88.320924.1/new', true)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(cred('88.320924.1/reader'), 'readValue', '88.320924.1/new')).toBe('ok');
    expect(await may(cred('88.320924.1/creator'), 'modifyValue', '88.320924.1/new')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(cred('88.320924.1/stranger'), 'addHandle', '88.320924.1/new', true)).toBe(RC.INVALID_ADMIN);
    // the key is compared case-insensitively (canonical keys); the index must match unless the admin names index 0
    expect(await may(cred('0.na/88.320924.1'), 'addHandle', '88.320924.1/new', true)).toBe('ok');
    expect(await may(cred('0.NA/88.320924.1', 301), 'addHandle', '88.320924.1/new', true)).toBe(RC.INVALID_ADMIN);
    expect(await may(cred('88.320924.1/any-index', 42), 'addHandle', '88.320924.1/new', true)).toBe('ok');
    // the ENTERPRISE permissions leave out derived prefixes
    expect(await may(cred('0.NA/88.320924.1'), 'addDerivedPrefix', '0.NA/88.320924.1')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    // an admin of another prefix is a stranger here
    expect(await may(cred('0.NA/88.320924.2'), 'addHandle', '88.320924.1/new', true)).toBe(RC.INVALID_ADMIN);
  });

  it('a handle\'s own HS_ADMIN counts for that handle, not for creating others; the locked row (current) wins over a read', async () => {
    expect(await may(cred('88.320924.1/owner'), 'modifyValue', '88.320924.1/owned')).toBe('ok');
    expect(await may(cred('88.320924.1/owner'), 'deleteHandle', '88.320924.1/owned')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(cred('88.320924.1/owner'), 'addHandle', '88.320924.1/other', true)).toBe(RC.INVALID_ADMIN);
    // the prefix's admins administer every handle under it
    expect(await may(cred('0.NA/88.320924.1'), 'deleteHandle', '88.320924.1/owned')).toBe('ok');
    // with the current values given (a write's locked row), those decide, not what a read would find
    const target = id('88.320924.1/owned');
    const withCurrent = (current: HandleValue[] | null) =>
      decision(authorize(ctx, store.db, cred('88.320924.1/owner'), target, 'modifyValue', { onPrefixRecord: false, read, current }));
    expect(await withCurrent([])).toBe(RC.INVALID_ADMIN);
    expect(await withCurrent(null)).toBe(RC.INVALID_ADMIN);
    expect(await withCurrent([adminVal(100, '88.320924.1/owner', 300, '000000010000')])).toBe('ok');
  });

  it('a suspended prefix refuses its credentials (401), for the prefix and everything derived from it', async () => {
    expect(await may(cred('0.NA/88.320924.2'), 'addHandle', '88.320924.2/new', true)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(cred('0.NA/88.320924.2'), 'readValue', '88.320924.2/x')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(cred('0.NA/88.320924.2'), 'modifyValue', '0.NA/88.320924.2')).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await may(cred('0.NA/88.320924.2'), 'addHandle', '88.320924.2.3/new', true)).toBe(RC.INSUFFICIENT_PERMISSIONS);
    expect(await suspendedPrefix(store.db, '88.320924.2.3')).toBe('88.320924.2');
    expect(await suspendedPrefix(store.db, '88.320924.2')).toBe('88.320924.2');
    expect(await suspendedPrefix(store.db, '88.320924.1.7')).toBeNull();
    expect(await suspendedPrefix(store.db, '88.320924.20')).toBeNull();
  });

  it('the node admin 300:0.NA/<NODE_PREFIX> may do anything under the node prefix and nothing outside it (301)', async () => {
    const node = cred('0.NA/88.320924');
    expect(isNodeAdmin(ctx, node)).toBe(true);
    expect(isNodeAdmin(ctx, cred('0.NA/88.320924', 301))).toBe(false);
    expect(isNodeAdmin(ctx, cred('0.NA/88.320924.1'))).toBe(false);
    expect(isNodeAdmin(ctx, { kind: 'system' })).toBe(true);
    expect(isNodeAdmin(ctx, user('operator'))).toBe(true);
    expect(isNodeAdmin(ctx, user('reviewer'))).toBe(false);
    for (const [op, handle] of [
      ['addHandle', '88.320924/new'],
      ['deleteHandle', '88.320924.1/owned'],
      ['addDerivedPrefix', '0.NA/88.320924.1'],
      ['modifyValue', '0.NA/88.320924'],
      ['addHandle', '88.320924.2/x'], // suspended prefixes too
      ['listHandles', '0.NA/88.320924.9'],
    ] as const) {
      expect(await may(node, op, handle, op === 'addHandle'), `${op} ${handle}`).toBe('ok');
    }
    for (const handle of ['99.1/x', '0.NA/99.1', '88.3209241/x', '88.32092/x', '0.NA/88.32092']) {
      expect(await may(node, 'readValue', handle), handle).toBe(RC.SERVER_NOT_RESP);
      expect(await may({ kind: 'system' }, 'addHandle', handle, true), handle).toBe(RC.SERVER_NOT_RESP);
    }
  });

  it('isHomed, actorId and mayReadRestricted', async () => {
    expect(['88.320924/a', '88.320924.5/a', '0.NA/88.320924', '0.NA/88.320924.5', '99.1/a', '0.NA/99.1', '0.NA/88.3209241'].filter((h) => isHomed(ctx, id(h)))).toEqual([
      '88.320924/a',
      '88.320924.5/a',
      '0.NA/88.320924',
      '0.NA/88.320924.5',
    ]);
    expect(actorId(user('operator'))).toBe('user:operator-x');
    expect(actorId(cred('0.NA/88.320924.1'))).toBe('300:0.NA/88.320924.1');
    expect(actorId({ kind: 'system' })).toBe('system');
    const owned = id('88.320924.1/owned');
    expect(await mayReadRestricted(ctx, null, owned, read)).toBe(false);
    expect(await mayReadRestricted(ctx, cred('88.320924.1/reader'), owned, read)).toBe(true);
    expect(await mayReadRestricted(ctx, cred('88.320924.1/owner'), owned, read)).toBe(false); // no read permission
    expect(await mayReadRestricted(ctx, cred('88.320924.1/stranger'), owned, read)).toBe(false);
    expect(await mayReadRestricted(ctx, user('enterprise', suspendedId), id('88.320924.2/x'), read)).toBe(false);
    // node reviewers and operators administer the node, not the handle: no restricted values (finding 9)
    expect(await mayReadRestricted(ctx, user('reviewer'), owned, read)).toBe(false);
    expect(await mayReadRestricted(ctx, user('operator'), owned, read)).toBe(false);
    expect(await mayReadRestricted(ctx, cred('0.NA/88.320924'), id('99.1/x'), read)).toBe(false);
  });
});
