// Native administration over real sockets: create, add, modify, remove, delete with challenge-response by HS_SECKEY and HS_PUBKEY, under the HTTP face's authorization, write path and audit.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { decodeChallenge, decodeCreateHandleResponse, encodeChallengeAnswer, encodeDeleteHandleRequest, encodeRemoveValueRequest, encodeValuesRequest } from '../../handle/wire/admin.js';
import { signSecretKeyAnswer } from '../../handle/challenge-auth.js';
import { decodeErrorBody, decodeResolutionResponse } from '../../handle/wire/body.js';
import { publicKeyBytesFromJson } from '../../handle/wire/keys.js';
import { OC, OPFLAG } from '../../handle/wire/message.js';
import type { HandleValue } from '../../handle/types.js';
import { hashSecret } from '../../registry/secrets.js';
import { admin, basic, NODE_PREFIX, startTestServer, type Backend, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, tempPostgres } from '../helpers/services.js';
import {
  requestBytes,
  sessionRequestBytes,
  tcpAdmin,
  tcpConnect,
  tcpRequest,
  udpAdmin,
  type AdminAuth,
  type Answer,
} from '../helpers/native-client.js';
import { val } from '../helpers/values.js';

const P = NODE_PREFIX;
const A = `${P}.5`; // the prefix the admins below administer
const B = `${P}.6`; // a prefix they do not
const backends: Backend[] = ['pglite', ...(hasPostgres && hasRedis ? (['postgres+redis'] as const) : [])];

const SECRET = 'native-admin-secret';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = rsa.publicKey.export({ format: 'jwk' });
const jwk2 = rsa2.publicKey.export({ format: 'jwk' });

const SEC: AdminAuth = { kind: 'seckey', handle: `${P}/ADMIN-SEC`, index: 300, secret: SECRET };
const PUB: AdminAuth = { kind: 'pubkey', handle: `${P}/ADMIN-PUB`, index: 300, privateKey: rsa.privateKey };

function codeOf(a: Answer): number {
  return a.message.header.responseCode;
}

function errorText(a: Answer): string {
  return decodeErrorBody(a.message.body, (a.message.header.opFlags & OPFLAG.RETURN_DIGEST) !== 0).message;
}

const create = (handle: string, values: HandleValue[], opFlags = 0) => ({ opCode: OC.CREATE_HANDLE, opFlags, body: encodeValuesRequest({ handle, values }) });
const add = (handle: string, values: HandleValue[]) => ({ opCode: OC.ADD_VALUE, body: encodeValuesRequest({ handle, values }) });
const modify = (handle: string, values: HandleValue[]) => ({ opCode: OC.MODIFY_VALUE, body: encodeValuesRequest({ handle, values }) });
const remove = (handle: string, indexes: number[]) => ({ opCode: OC.REMOVE_VALUE, body: encodeRemoveValueRequest({ handle, indexes }) });
const del = (handle: string) => ({ opCode: OC.DELETE_HANDLE, body: encodeDeleteHandleRequest(handle) });

describe.each(backends)('native administration on %s', (backend) => {
  let s: TestServer;
  let port = 0;
  let db: { url: string; drop: () => Promise<void> } | undefined;

  /** the handle's values over HTTP (404 → null) and over native (RC 100 → null), which must agree */
  async function resolved(handle: string): Promise<{ index: number; type: string; data: string }[] | null> {
    const h = await s.get(`/api/handles/${handle}`);
    const n = await tcpRequest(port, { handle });
    if (h.status === 404) {
      expect(codeOf(n)).toBe(RC.HANDLE_NOT_FOUND);
      return null;
    }
    expect(h.status).toBe(200);
    const viaHttp = (h.json.values as any[]).map((v) => ({ index: v.index, type: v.type, data: String(v.data.value) }));
    expect(codeOf(n)).toBe(RC.SUCCESS);
    const viaNative = decodeResolutionResponse(n.message.body, false).values.map((v) => ({ index: v.index, type: v.type, data: String(v.data.value) }));
    expect(viaNative).toEqual(viaHttp);
    return viaHttp;
  }

  beforeAll(async () => {
    if (backend === 'postgres+redis') db = await tempPostgres();
    s = await startTestServer(backend, {}, db ? { databaseUrl: db.url, namespace: `t-${Math.random()}:` } : undefined, { native: true });
    port = s.native!.tcpPort;
    const put = async (handle: string, body: unknown) => expect((await s.send('PUT', `/api/handles/${handle}`, body, admin())).status).toBe(200);
    // the admins: a secret key (plain, hashed and sealed by the write path), an RSA key in Handle's JSON form, and one in its binary record form
    await put(`${P}/ADMIN-SEC`, [{ index: 300, type: 'HS_SECKEY', data: SECRET, permissions: '1100' }]);
    await put(`${P}/ADMIN-PUB`, [{ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: jwk.n, e: jwk.e } } }]);
    const binary = publicKeyBytesFromJson({ kty: 'RSA', n: jwk2.n, e: jwk2.e })!;
    await put(`${P}/ADMIN-PUB2`, [{ index: 301, type: 'HS_PUBKEY', data: { format: 'base64', value: binary.toString('base64') } }]);
    // a secret stored as a hash (as before this node kept sealed copies): nothing can check a MAC with it
    await put(`${P}/ADMIN-OLD`, [{ index: 300, type: 'HS_SECKEY', data: await hashSecret('old-secret'), permissions: '1100' }]);
    const adminOf = (handle: string, index: number, valueIndex: number) => ({
      index: valueIndex,
      type: 'HS_ADMIN',
      data: { format: 'admin', value: { handle, index, permissions: '011111111111' } },
    });
    await put(`0.NA/${A}`, [adminOf(`${P}/ADMIN-SEC`, 300, 100), adminOf(`${P}/ADMIN-PUB`, 300, 101), adminOf(`${P}/ADMIN-PUB2`, 301, 102), adminOf(`${P}/ADMIN-OLD`, 300, 103)]);
    await put(`0.NA/${B}`, [adminOf(`0.NA/${P}`, 300, 100)]);
  });

  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  it('HS_SECKEY: create, add, modify, remove, delete — each challenged, each visible at once over HTTP and native, each audited with the admin', async () => {
    const H = `${A}/SEC-1`;
    // create: a 402 challenge (digest + nonce, a session id), then the answer on a new connection
    const c = await tcpAdmin(port, create(H, [val(1, 'URL', 'https://one.example/')]), SEC);
    expect(codeOf(c.challenge)).toBe(RC.AUTHENTICATION_NEEDED);
    expect(c.challenge.message.header.opCode).toBe(OC.CREATE_HANDLE);
    expect(c.challenge.message.header.opFlags & OPFLAG.RETURN_DIGEST).not.toBe(0);
    expect(c.challenge.envelope.sessionId).toBeGreaterThan(0);
    expect(decodeChallenge(c.challenge.message.body).nonce.length).toBe(16);
    expect(codeOf(c.result)).toBe(RC.SUCCESS);
    expect(c.result.message.header.opCode).toBe(OC.CREATE_HANDLE);
    expect(decodeCreateHandleResponse(c.result.message.body, false).handle).toBe(H);
    expect(await resolved(H)).toEqual([{ index: 1, type: 'URL', data: 'https://one.example/' }]);

    // add (and again: 201), modify (and a missing index: 200), remove
    expect(codeOf((await tcpAdmin(port, add(H, [val(2, 'EMAIL', 'ops@one.example')]), SEC)).result)).toBe(RC.SUCCESS);
    expect((await resolved(H))!.map((v) => v.index)).toEqual([1, 2]);
    expect(codeOf((await tcpAdmin(port, add(H, [val(2, 'EMAIL', 'x@one.example')]), SEC)).result)).toBe(RC.VALUE_ALREADY_EXISTS);
    expect(codeOf((await tcpAdmin(port, modify(H, [val(1, 'URL', 'https://two.example/')]), SEC, { sameConnection: true })).result)).toBe(RC.SUCCESS);
    expect((await resolved(H))![0]).toEqual({ index: 1, type: 'URL', data: 'https://two.example/' });
    expect(codeOf((await tcpAdmin(port, modify(H, [val(9, 'URL', 'https://nine.example/')]), SEC)).result)).toBe(RC.VALUES_NOT_FOUND);
    expect(codeOf((await tcpAdmin(port, remove(H, [2]), SEC)).result)).toBe(RC.SUCCESS);
    expect((await resolved(H))!.map((v) => v.index)).toEqual([1]);

    // create over an existing handle: 101, unless OVERWRITE
    expect(codeOf((await tcpAdmin(port, create(H, [val(5, 'URL', 'https://five.example/')]), SEC)).result)).toBe(RC.HANDLE_ALREADY_EXISTS);
    expect(codeOf((await tcpAdmin(port, create(H, [val(5, 'URL', 'https://five.example/')], OPFLAG.OVERWRITE), SEC)).result)).toBe(RC.SUCCESS);
    expect((await resolved(H))!.map((v) => v.index)).toEqual([5]);

    // delete, and again: 100
    expect(codeOf((await tcpAdmin(port, del(H), SEC)).result)).toBe(RC.SUCCESS);
    expect(await resolved(H)).toBeNull();
    expect(codeOf((await tcpAdmin(port, del(H), SEC)).result)).toBe(RC.HANDLE_NOT_FOUND);

    const audit = await s.node.store.listAudit({ handleKey: H.toUpperCase() });
    expect(audit.map((e) => [e.action, e.actor]).reverse()).toEqual([
      ['handle.create', `300:${P}/ADMIN-SEC`],
      ['values.add', `300:${P}/ADMIN-SEC`],
      ['values.modify', `300:${P}/ADMIN-SEC`],
      ['values.remove', `300:${P}/ADMIN-SEC`],
      ['handle.create', `300:${P}/ADMIN-SEC`],
      ['handle.delete', `300:${P}/ADMIN-SEC`],
    ]);
    expect(audit.every((e) => e.address === '127.0.0.1')).toBe(true);
  });

  it('HS_SECKEY: a wrong secret is 403 and writes nothing; the older MAC forms (SHA1, HMAC) work too', async () => {
    const r = await tcpAdmin(port, create(`${A}/SEC-WRONG`, [val(1, 'URL', 'https://x.example/')]), { ...SEC, secret: 'not-the-secret' });
    expect(codeOf(r.result)).toBe(RC.AUTHENTICATION_FAILED);
    expect(r.result.message.header.opCode).toBe(OC.CREATE_HANDLE);
    expect(await resolved(`${A}/SEC-WRONG`)).toBeNull();
    // an admin index holding no secret
    expect(codeOf((await tcpAdmin(port, create(`${A}/SEC-WRONG`, []), { ...SEC, index: 301 })).result)).toBe(RC.AUTHENTICATION_FAILED);
    for (const alg of [2, 0x12, 0x13]) {
      const H = `${A}/SEC-ALG-${alg}`;
      expect(codeOf((await tcpAdmin(port, create(H, [val(1, 'URL', 'https://alg.example/')]), { ...SEC, alg })).result), `alg ${alg}`).toBe(RC.SUCCESS);
    }
    // the answer as index 0: any HS_SECKEY of the handle (the audit names the index that verified)
    expect(codeOf((await tcpAdmin(port, del(`${A}/SEC-ALG-2`), { ...SEC, index: 0 })).result)).toBe(RC.SUCCESS);
    expect((await s.node.store.listAudit({ handleKey: `${A}/SEC-ALG-2`.toUpperCase() }))[0]!.actor).toBe(`300:${P}/ADMIN-SEC`);
  });

  it('authorization is the HTTP face\'s: an admin not named under a prefix gets 400, a handle not homed here 301 (before any challenge), a bad handle 102', async () => {
    expect(codeOf((await tcpAdmin(port, create(`${B}/NOT-MINE`, [val(1, 'URL', 'https://x.example/')]), SEC)).result)).toBe(RC.INVALID_ADMIN);
    expect(codeOf((await tcpAdmin(port, create(`${B}/NOT-MINE`, [val(1, 'URL', 'https://x.example/')]), PUB)).result)).toBe(RC.INVALID_ADMIN);
    expect(await resolved(`${B}/NOT-MINE`)).toBeNull();
    // the node admin's own record: no HS_ADMIN names ADMIN-SEC there
    expect(codeOf((await tcpAdmin(port, del(`0.NA/${P}`), SEC)).result)).toBe(RC.INVALID_ADMIN);
    const away = await tcpAdmin(port, create('20.500/elsewhere', []), SEC);
    expect(codeOf(away.challenge)).toBe(RC.SERVER_NOT_RESP);
    expect(codeOf((await tcpAdmin(port, del('no-slash'), SEC)).challenge)).toBe(RC.INVALID_HANDLE);
    // an invalid value (index 0, type empty): 202
    const bad = { ...val(1, 'URL', 'x'), index: 0 };
    expect(codeOf((await tcpAdmin(port, create(`${A}/BAD`, [bad]), SEC)).challenge)).toBe(RC.INVALID_VALUE);
  });

  it('the node admin (ADMIN_SECRET, sealed at start) administers natively too', async () => {
    const node: AdminAuth = { kind: 'seckey', handle: `0.NA/${P}`, index: 300, secret: 'admin-secret-for-tests' };
    expect(codeOf((await tcpAdmin(port, create(`${B}/BY-NODE-ADMIN`, [val(1, 'URL', 'https://n.example/')]), node)).result)).toBe(RC.SUCCESS);
    expect(await resolved(`${B}/BY-NODE-ADMIN`)).toHaveLength(1);
  });

  it('a secret stored before the sealed copies answers 403 saying to set it again; set again over HTTP, it works', async () => {
    const OLD: AdminAuth = { kind: 'seckey', handle: `${P}/ADMIN-OLD`, index: 300, secret: 'old-secret' };
    const r = await tcpAdmin(port, create(`${A}/OLD-1`, []), OLD);
    expect(codeOf(r.result)).toBe(RC.AUTHENTICATION_FAILED);
    expect(errorText(r.result)).toMatch(/set the secret again/);
    expect(
      (await s.send('PUT', `/api/handles/${P}/ADMIN-OLD?index=300`, [{ index: 300, type: 'HS_SECKEY', data: 'old-secret', permissions: '1100' }], admin())).status,
    ).toBe(200);
    expect(codeOf((await tcpAdmin(port, create(`${A}/OLD-1`, []), OLD)).result)).toBe(RC.SUCCESS);
    // a new secret replaces the copy: the old one stops working at once
    expect(
      (await s.send('PUT', `/api/handles/${P}/ADMIN-OLD?index=300`, [{ index: 300, type: 'HS_SECKEY', data: 'new-secret', permissions: '1100' }], admin())).status,
    ).toBe(200);
    expect(codeOf((await tcpAdmin(port, del(`${A}/OLD-1`), OLD)).result)).toBe(RC.AUTHENTICATION_FAILED);
    expect(codeOf((await tcpAdmin(port, del(`${A}/OLD-1`), { ...OLD, secret: 'new-secret' })).result)).toBe(RC.SUCCESS);
    // Basic auth over HTTP takes the same new secret
    expect((await s.get(`/api/handles/${P}/ADMIN-OLD`, basic(`300:${P}/ADMIN-OLD`, 'new-secret'))).status).toBe(200);
  });

  it('HS_PUBKEY: RSA keys in the JSON and in the binary form sign the challenge (SHA-256 and SHA1); a wrong key is 403', async () => {
    const H = `${A}/PUB-1`;
    const c = await tcpAdmin(port, create(H, [val(1, 'URL', 'https://pub.example/')]), PUB);
    expect(codeOf(c.result)).toBe(RC.SUCCESS);
    expect(codeOf((await tcpAdmin(port, add(H, [val(2, 'URL', 'https://pub2.example/')]), { ...PUB, hash: 'sha1' })).result)).toBe(RC.SUCCESS);
    const PUB2: AdminAuth = { kind: 'pubkey', handle: `${P}/ADMIN-PUB2`, index: 301, privateKey: rsa2.privateKey };
    expect(codeOf((await tcpAdmin(port, modify(H, [val(2, 'URL', 'https://pub3.example/')]), PUB2)).result)).toBe(RC.SUCCESS);
    expect(await resolved(H)).toEqual([
      { index: 1, type: 'URL', data: 'https://pub.example/' },
      { index: 2, type: 'URL', data: 'https://pub3.example/' },
    ]);
    // the other admin's key, or an index without a key: 403
    expect(codeOf((await tcpAdmin(port, del(H), { ...PUB, privateKey: rsa2.privateKey })).result)).toBe(RC.AUTHENTICATION_FAILED);
    expect(codeOf((await tcpAdmin(port, del(H), { ...PUB, index: 302 })).result)).toBe(RC.AUTHENTICATION_FAILED);
    expect(codeOf((await tcpAdmin(port, del(H), PUB)).result)).toBe(RC.SUCCESS);
    expect(await resolved(H)).toBeNull();
    const audit = await s.node.store.listAudit({ handleKey: H.toUpperCase() });
    expect(audit.map((e) => e.actor).reverse()).toEqual([`300:${P}/ADMIN-PUB`, `300:${P}/ADMIN-PUB`, `301:${P}/ADMIN-PUB2`, `300:${P}/ADMIN-PUB`]);
  });

  it('mints a suffix when asked (the handle created comes back), over UDP as well as TCP', async () => {
    const m = await tcpAdmin(port, create(`${A}/M-`, [val(1, 'URL', 'https://mint.example/')], OPFLAG.MINT), SEC);
    expect(codeOf(m.result)).toBe(RC.SUCCESS);
    const minted = decodeCreateHandleResponse(m.result.message.body, false).handle!;
    expect(minted).toMatch(new RegExp(`^${A.replace(/\./g, '\\.')}/M-[0-9a-f-]{36}$`));
    expect(await resolved(minted)).toHaveLength(1);
    const u = await udpAdmin(port, add(minted, [val(2, 'EMAIL', 'udp@mint.example')]), PUB);
    expect(codeOf(u.challenge)).toBe(RC.AUTHENTICATION_NEEDED);
    expect(codeOf(u.result)).toBe(RC.SUCCESS);
    expect((await resolved(minted))!.map((v) => v.index)).toEqual([1, 2]);
  });

  it('a challenge answers once, only from the address it was sent to, with digests where asked', async () => {
    const first = requestBytes({ ...create(`${A}/ONCE`, [val(1, 'URL', 'https://once.example/')]), opFlags: OPFLAG.RETURN_DIGEST });
    const r = await tcpConnect(port);
    r.socket.write(first.bytes);
    const challenge = await r.next();
    r.socket.destroy();
    expect(codeOf(challenge)).toBe(RC.AUTHENTICATION_NEEDED);
    const { nonce, digest } = decodeChallenge(challenge.message.body);
    const body = encodeChallengeAnswer({ authType: 'HS_SECKEY', userIdHandle: SEC.handle, userIdIndex: 300, signedResponse: await signSecretKeyAnswer(SECRET, nonce, digest) });
    const answer = () => sessionRequestBytes({ opCode: OC.CHALLENGE_RESPONSE, opFlags: OPFLAG.RETURN_DIGEST, body, sessionId: challenge.envelope.sessionId });
    // from another address (127.0.0.2): no pending challenge there
    const elsewhere = await tcpConnect(port, '127.0.0.2');
    elsewhere.socket.write(answer().bytes);
    expect(codeOf(await elsewhere.next())).toBe(RC.AUTHEN_TIMEOUT);
    elsewhere.socket.destroy();
    // from the same address: done, with the digest of the answer it responds to
    const ok = await tcpConnect(port);
    const a = answer();
    ok.socket.write(a.bytes);
    const result = await ok.next();
    expect(codeOf(result)).toBe(RC.SUCCESS);
    expect(result.envelope.requestId).toBe(a.requestId);
    expect(result.message.header.opFlags & OPFLAG.RETURN_DIGEST).not.toBe(0);
    // the same answer again: the challenge is used up
    ok.socket.write(answer().bytes);
    expect(codeOf(await ok.next())).toBe(RC.AUTHEN_TIMEOUT);
    ok.socket.destroy();
    // an unknown auth type: 404; a body that does not decode: 4
    const d = requestBytes(del(`${A}/ONCE`));
    const c2 = await tcpConnect(port);
    c2.socket.write(d.bytes);
    const ch2 = await c2.next();
    const foreign = encodeChallengeAnswer({ authType: 'HS_FOO', userIdHandle: SEC.handle, userIdIndex: 300, signedResponse: Buffer.of(1) });
    c2.socket.write(sessionRequestBytes({ opCode: OC.CHALLENGE_RESPONSE, body: foreign, sessionId: ch2.envelope.sessionId }).bytes);
    expect(codeOf(await c2.next())).toBe(RC.INVALID_CREDENTIAL);
    c2.socket.destroy();
    expect(codeOf((await tcpAdmin(port, del(`${A}/ONCE`), SEC)).result)).toBe(RC.SUCCESS);
    const g = await tcpRequest(port, { opCode: OC.CHALLENGE_RESPONSE, body: Buffer.from([0, 0, 0, 9, 1]) });
    expect(codeOf(g)).toBe(RC.PROTOCOL_ERROR);
  });
});
