// The native administration's pending challenges (src/faces/native/admin.ts) are bounded: per client, overall, in bytes and in time.
import { describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { DEFAULT_CASE_POLICY } from '../../handle/identifier.js';
import { encodeChallengeAnswer, encodeDeleteHandleRequest, encodeValuesRequest } from '../../handle/wire/admin.js';
import { decodeMessage, OC } from '../../handle/wire/message.js';
import type { RegistryContext } from '../../registry/context.js';
import { LoginThrottle, MemoryThrottleStore } from '../../registry/users/limiter.js';
import type { Resolver } from '../../resolver/types.js';
import { NativeAdmin, type NativeAdminDeps } from '../../src/faces/native/admin.js';
import { requestBytes } from '../helpers/native-client.js';
import { val } from '../helpers/values.js';

const V = { major: 2, minor: 11 };
const registry = { nodePrefix: '88.320924', nodePrefixKey: '88.320924', policy: DEFAULT_CASE_POLICY } as unknown as RegistryContext;

function admin(o: Partial<NativeAdminDeps> = {}) {
  let now = 1_000_000;
  const a = new NativeAdmin({ registry, resolver: {} as Resolver, policy: DEFAULT_CASE_POLICY, throttle: new LoginThrottle(new MemoryThrottleStore()), nowMs: () => now, ...o });
  return { a, tick: (ms: number) => void (now += ms) };
}

const del = (h: string) => decodeMessage(requestBytes({ opCode: OC.DELETE_HANDLE, body: encodeDeleteHandleRequest(h) }).message);
const answer = () =>
  decodeMessage(
    requestBytes({
      opCode: OC.CHALLENGE_RESPONSE,
      body: encodeChallengeAnswer({ authType: 'HS_SECKEY', userIdHandle: '88.320924/A', userIdIndex: 300, signedResponse: Buffer.of(0x12, 0) }),
    }).message,
  );

describe('pending challenges', () => {
  it('one client keeps at most maxPendingPerClient (its oldest gives way); all clients at most maxPending (then RC 3)', async () => {
    const { a } = admin({ maxPendingPerClient: 2, maxPending: 3 });
    const x = { address: '192.0.2.1' };
    const s1 = (await a.answer(del('88.320924/1'), 0, V, x, null)).sessionId;
    await a.answer(del('88.320924/2'), 0, V, x, null);
    await a.answer(del('88.320924/3'), 0, V, x, null);
    expect(a.pendingCount).toBe(2);
    // the first one was dropped: its answer finds nothing
    expect((await a.answer(answer(), s1, V, x, null)).responseCode).toBe(RC.AUTHEN_TIMEOUT);
    expect((await a.answer(del('88.320924/4'), 0, V, { address: '192.0.2.2' }, null)).responseCode).toBe(RC.AUTHENTICATION_NEEDED);
    const full = await a.answer(del('88.320924/5'), 0, V, { address: '192.0.2.3' }, null);
    expect(full.responseCode).toBe(RC.SERVER_TOO_BUSY);
    expect(a.pendingCount).toBe(3);
  });

  it('holds at most maxPendingBytes of requests', async () => {
    const { a } = admin({ maxPendingBytes: 4096 });
    const big = decodeMessage(requestBytes({ opCode: OC.CREATE_HANDLE, body: encodeValuesRequest({ handle: '88.320924/B', values: [val(1, 'DESC', 'x'.repeat(3000))] }) }).message);
    expect((await a.answer(big, 0, V, { address: '192.0.2.1' }, null)).responseCode).toBe(RC.AUTHENTICATION_NEEDED);
    expect((await a.answer(big, 0, V, { address: '192.0.2.2' }, null)).responseCode).toBe(RC.SERVER_TOO_BUSY);
  });

  it('a challenge expires after challengeTtlMs, and is gone from memory', async () => {
    const { a, tick } = admin({ challengeTtlMs: 1000 });
    const x = { address: '192.0.2.1' };
    const s = (await a.answer(del('88.320924/1'), 0, V, x, null)).sessionId;
    tick(1001);
    expect((await a.answer(answer(), s, V, x, null)).responseCode).toBe(RC.AUTHEN_TIMEOUT);
    expect(a.pendingCount).toBe(0);
  });

  it('checks the request before challenging: not homed 301, bad handle 102, empty add 202', async () => {
    const { a } = admin();
    const x = { address: '192.0.2.1' };
    expect((await a.answer(del('20.500/x'), 0, V, x, null)).responseCode).toBe(RC.SERVER_NOT_RESP);
    expect((await a.answer(del('nothing'), 0, V, x, null)).responseCode).toBe(RC.INVALID_HANDLE);
    const empty = decodeMessage(requestBytes({ opCode: OC.ADD_VALUE, body: encodeValuesRequest({ handle: '88.320924/E', values: [] }) }).message);
    expect((await a.answer(empty, 0, V, x, null)).responseCode).toBe(RC.INVALID_VALUE);
    expect(a.pendingCount).toBe(0);
  });
});
