// Native sessions over real sockets: Diffie-Hellman setup by this test's own client, the certified answer checked, administration inside a session (one challenge, then none), MACs, replays, terminate, refusals, and the session map's limits.
import { createDiffieHellmanGroup, createHmac, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { encodeDeleteHandleRequest, encodeValuesRequest } from '../../handle/wire/admin.js';
import { decodeErrorBody, requestDigest, type DigestAlg } from '../../handle/wire/body.js';
import { decodeCredential, withCredential } from '../../handle/wire/credential.js';
import { decodeEnvelope, ENVELOPE_SIZE } from '../../handle/wire/envelope.js';
import { decodePublicKey } from '../../handle/wire/keys.js';
import { decodeMessage, encodeMessage, frameMessage, OC, OPFLAG } from '../../handle/wire/message.js';
import {
  aesKeyFromDhSecret,
  decodeDhPublicKey,
  decodeSessionSetupResponse,
  encodeDhPublicKey,
  encodeSessionSetupRequest,
  KEY_EXCHANGE,
  macCredential,
} from '../../handle/wire/session.js';
import { decodeSiteInfo } from '../../handle/wire/site.js';
import { NativeSessions, SESSION_ID_MIN } from '../../src/faces/native/sessions.js';
import { admin, ADMIN_SECRET, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { requestBytes, sessionRequestBytes, signChallenge, tcpConnect, tcpRequest, udpExchange, type AdminAuth, type Answer } from '../helpers/native-client.js';
import { val } from '../helpers/values.js';
import { signedPrefix } from '../helpers/signatures.js';

const P = NODE_PREFIX;
const V = { major: 2, minor: 11 };
const NODE_ADMIN: AdminAuth = { kind: 'seckey', handle: `0.NA/${P}`, index: 300, secret: ADMIN_SECRET };
const OTHER: AdminAuth = { kind: 'seckey', handle: `${P}/SESS-ADMIN`, index: 300, secret: 'other-admin-secret' };

interface Session {
  id: number;
  key: Buffer;
  counter: number;
}

const codeOf = (a: Answer) => a.message.header.responseCode;
const textOf = (a: Answer) => decodeErrorBody(a.message.body, (a.message.header.opFlags & OPFLAG.RETURN_DIGEST) !== 0).message;

/** The session setup request this test's client sends: DH in the 1024-bit MODP group, certified, asking for a digest. */
function setupRequest(o: { identity?: AdminAuth; timeout?: number; mode?: number; publicKey?: Buffer } = {}) {
  const dh = createDiffieHellmanGroup('modp2');
  dh.generateKeys();
  const publicKey = o.publicKey ?? encodeDhPublicKey({ y: dh.getPublicKey(), p: dh.getPrime(), g: dh.getGenerator() });
  const body = encodeSessionSetupRequest({
    keyExchangeMode: o.mode ?? KEY_EXCHANGE.DH,
    timeout: o.timeout ?? 600,
    identityHandle: o.identity?.handle ?? '',
    identityIndex: o.identity?.index ?? -1,
    publicKey,
  });
  return { dh, req: requestBytes({ opCode: OC.SESSION_SETUP, opFlags: OPFLAG.CERT | OPFLAG.RETURN_DIGEST, body, version: V }) };
}

/** Checks a setup answer as Handle.Net's client does (signature, digest) and derives the session key. */
function acceptSetup(a: Answer, dh: ReturnType<typeof createDiffieHellmanGroup>, requestMessage: Buffer, serverKey: KeyObject): Session {
  expect(codeOf(a)).toBe(RC.SUCCESS);
  expect(a.message.header.opCode).toBe(OC.SESSION_SETUP);
  expect(a.message.header.opFlags & OPFLAG.CERT).not.toBe(0);
  expect(a.envelope.sessionId).toBeGreaterThanOrEqual(SESSION_ID_MIN);
  const cred = decodeCredential(a.message.credential);
  expect(cred.type).toBe('HS_SIGNED');
  expect(verify('sha256', Buffer.concat([signedPrefix(a, cred.sessionCounter), a.message.digestInput]), serverKey, cred.signature)).toBe(true);
  // the request digest section opens the body
  const digest = Buffer.from(requestDigest(a.message.body[0] as DigestAlg, decodeMessage(requestMessage)));
  expect(Buffer.from(a.message.body.subarray(0, digest.length))).toEqual(digest);
  const r = decodeSessionSetupResponse(a.message.body, digest.length);
  expect(r.keyExchangeMode).toBe(KEY_EXCHANGE.DH);
  const data = Buffer.from(r.data);
  expect(data.readUInt32BE(0)).toBe(3); // AES
  const theirs = decodeDhPublicKey(data.subarray(4));
  expect(theirs.p).toEqual(dh.getPrime());
  return { id: a.envelope.sessionId, key: aesKeyFromDhSecret(dh.computeSecret(theirs.y), dh.getPrime().length), counter: 0 };
}

/** A request in session `s`, MAC'd with its key and the next counter (or `counter`), as HandleResolver signs them. */
function inSession(s: Session, o: { opCode: number; body: Uint8Array; opFlags?: number; counter?: number; key?: Buffer }) {
  const requestId = 1 + Math.floor(Math.random() * 0x7ffffffe);
  const counter = o.counter ?? ++s.counter;
  const env = { ...V, suggestedMajor: 2, suggestedMinor: 11, compressed: false, encrypted: false, truncated: false, sessionId: s.id, requestId, sequenceNumber: 0 };
  const plain = encodeMessage({ opCode: o.opCode, responseCode: 0, opFlags: (o.opFlags ?? 0) >>> 0, siteInfoSerial: 0, recursionCount: 0, expiration: Math.floor(Date.now() / 1000) + 600 }, o.body);
  const cred = macCredential(o.key ?? s.key, { ...env, sessionCounter: counter }, plain.subarray(0, plain.length - 4));
  const message = withCredential(plain, cred);
  return { bytes: frameMessage(env, message), message, requestId };
}

async function exchange(port: number, bytes: Buffer): Promise<Answer> {
  const r = await tcpConnect(port);
  try {
    r.socket.write(bytes);
    return await r.next();
  } finally {
    r.socket.destroy();
  }
}

const create = (handle: string) => ({ opCode: OC.CREATE_HANDLE, body: encodeValuesRequest({ handle, values: [val(1, 'URL', 'https://s.example/1')] }) });
const add = (handle: string, index: number) => ({ opCode: OC.ADD_VALUE, body: encodeValuesRequest({ handle, values: [val(index, 'URL', `https://s.example/${index}`)] }) });

describe('native sessions', () => {
  let s: TestServer;
  let port = 0;
  let serverKey: KeyObject;

  async function setup(o: Parameters<typeof setupRequest>[0] = {}): Promise<Session> {
    const { dh, req } = setupRequest(o);
    return acceptSetup(await exchange(port, req.bytes), dh, req.message, serverKey);
  }

  /** An administration request in `sess`, and the challenge answer when challenged (on a new connection). */
  async function administer(sess: Session, req: { opCode: number; body: Uint8Array }, auth: AdminAuth): Promise<{ first: Answer; result: Answer }> {
    const r = inSession(sess, req);
    const first = await exchange(port, r.bytes);
    if (codeOf(first) !== RC.AUTHENTICATION_NEEDED) return { first, result: first };
    const answer = sessionRequestBytes({ opCode: OC.CHALLENGE_RESPONSE, body: await signChallenge(auth, first, r.message), sessionId: first.envelope.sessionId, version: V });
    return { first, result: await exchange(port, answer.bytes) };
  }

  beforeAll(async () => {
    s = await startTestServer('pglite', {}, undefined, { native: true });
    port = s.native!.tcpPort;
    const site = await tcpRequest(port, { opCode: OC.GET_SITE_INFO, body: Buffer.alloc(0) });
    serverKey = createPublicKey({ key: decodePublicKey(Buffer.from(decodeSiteInfo(site.message.body).servers[0]!.publicKey)) as never, format: 'jwk' });
    // a second admin of the prefix
    expect((await s.send('PUT', `/api/handles/${P}/SESS-ADMIN`, [{ index: 300, type: 'HS_SECKEY', data: 'other-admin-secret', permissions: '1100' }], admin())).status).toBe(200);
    const hsAdmin = { index: 190, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: `${P}/SESS-ADMIN`, index: 300, permissions: '011111111111' } } };
    expect((await s.send('PUT', `/api/handles/0.NA/${P}?index=various`, [hsAdmin], admin())).status).toBe(200);
  });

  afterAll(async () => {
    await s?.close();
  });

  it('DH setup, then administration: one challenge under the session id, later requests run without one', async () => {
    const sess = await setup({ identity: NODE_ADMIN });
    const H = `${P}/SESS-1`;
    const c = await administer(sess, create(H), NODE_ADMIN);
    expect(codeOf(c.first)).toBe(RC.AUTHENTICATION_NEEDED);
    expect(c.first.envelope.sessionId).toBe(sess.id);
    expect(codeOf(c.result)).toBe(RC.SUCCESS);
    expect(c.result.envelope.sessionId).toBe(sess.id);
    expect((await s.get(`/api/handles/${H}`)).status).toBe(200);

    // the same session: no challenge
    const a = await administer(sess, add(H, 2), NODE_ADMIN);
    expect(codeOf(a.first)).toBe(RC.SUCCESS);
    expect(a.first.message.header.opCode).toBe(OC.ADD_VALUE);
    const del = await administer(sess, { opCode: OC.DELETE_HANDLE, body: encodeDeleteHandleRequest(H) }, NODE_ADMIN);
    expect(codeOf(del.first)).toBe(RC.SUCCESS);
    expect((await s.get(`/api/handles/${H}`)).status).toBe(404);
    const audit = await s.node.store.listAudit({ handleKey: H.toUpperCase() });
    expect(audit.map((e) => e.actor)).toEqual([`300:0.NA/${P}`, `300:0.NA/${P}`, `300:0.NA/${P}`]);
  });

  it('a certified request in a session gets an HS_MAC answer by the session key', async () => {
    const sess = await setup({ identity: NODE_ADMIN });
    const H = `${P}/SESS-MAC`;
    expect(codeOf((await administer(sess, create(H), NODE_ADMIN)).result)).toBe(RC.SUCCESS);
    const r = inSession(sess, { ...add(H, 3), opFlags: OPFLAG.CERT });
    const a = await exchange(port, r.bytes);
    expect(codeOf(a)).toBe(RC.SUCCESS);
    expect(a.message.header.opFlags & OPFLAG.CERT).not.toBe(0);
    const cred = decodeCredential(a.message.credential);
    expect(cred.type).toBe('HS_MAC');
    expect(cred.hashAlg).toBe('HMAC-SHA256');
    const mac = createHmac('sha256', sess.key).update(signedPrefix(a, cred.sessionCounter)).update(a.message.digestInput).digest();
    expect(Buffer.from(cred.signature)).toEqual(mac);
  });

  it('outside a session, the answers to a certified administration request are signed with the server key', async () => {
    const r = requestBytes({ ...create(`${P}/SESS-CERT`), opFlags: OPFLAG.CERT, version: V });
    const a = await exchange(port, r.bytes);
    expect(codeOf(a)).toBe(RC.AUTHENTICATION_NEEDED);
    expect(a.envelope.sessionId).toBeLessThan(SESSION_ID_MIN);
    const cred = decodeCredential(a.message.credential);
    expect(cred.type).toBe('HS_SIGNED');
    expect(verify('sha256', Buffer.concat([signedPrefix(a, cred.sessionCounter), a.message.digestInput]), serverKey, cred.signature)).toBe(true);
  });

  it('MACs: a wrong key answers 502, a reused counter 505, neither runs the request', async () => {
    const sess = await setup({ identity: NODE_ADMIN });
    const H = `${P}/SESS-REPLAY`;
    expect(codeOf((await administer(sess, create(H), NODE_ADMIN)).result)).toBe(RC.SUCCESS);
    const bad = await exchange(port, inSession(sess, { ...add(H, 4), key: Buffer.alloc(32, 1) }).bytes);
    expect(codeOf(bad)).toBe(502);
    // no MAC at all
    const bare = sessionRequestBytes({ ...add(H, 4), sessionId: sess.id, version: V });
    expect(codeOf(await exchange(port, bare.bytes))).toBe(502);
    const once = inSession(sess, add(H, 5));
    expect(codeOf(await exchange(port, once.bytes))).toBe(RC.SUCCESS);
    const again = await exchange(port, once.bytes);
    expect(codeOf(again)).toBe(505);
    expect(textOf(again)).toMatch(/used before/);
    const values = (await s.get(`/api/handles/${H}`)).json.values as { index: number }[];
    expect(values.map((v) => v.index)).toEqual([1, 5]);
  });

  it('an answer by another identity than the session was set up for runs once, but does not authenticate the session', async () => {
    const sess = await setup({ identity: NODE_ADMIN });
    const H = `${P}/SESS-OTHER`;
    const c = await administer(sess, create(H), OTHER);
    expect(codeOf(c.first)).toBe(RC.AUTHENTICATION_NEEDED);
    expect(codeOf(c.result)).toBe(RC.SUCCESS);
    const next = await administer(sess, add(H, 2), OTHER);
    expect(codeOf(next.first)).toBe(RC.AUTHENTICATION_NEEDED);
    expect(codeOf(next.result)).toBe(RC.SUCCESS);
    // and a failed answer does not either
    const sess2 = await setup({ identity: NODE_ADMIN });
    const wrong = await administer(sess2, add(H, 3), { ...NODE_ADMIN, secret: 'not-the-secret' });
    expect(codeOf(wrong.result)).toBe(RC.AUTHENTICATION_FAILED);
    expect(codeOf((await administer(sess2, add(H, 3), NODE_ADMIN)).first)).toBe(RC.AUTHENTICATION_NEEDED);
  });

  it('terminate ends the session; its id then counts as no session (a fresh challenge id); unknown ids answer 500', async () => {
    const sess = await setup({ identity: NODE_ADMIN });
    const H = `${P}/SESS-END`;
    expect(codeOf((await administer(sess, create(H), NODE_ADMIN)).result)).toBe(RC.SUCCESS);
    const end = await exchange(port, inSession(sess, { opCode: OC.SESSION_TERMINATE, body: Buffer.alloc(0) }).bytes);
    expect(codeOf(end)).toBe(RC.SUCCESS);
    const after = await exchange(port, inSession(sess, add(H, 2)).bytes);
    expect(codeOf(after)).toBe(RC.AUTHENTICATION_NEEDED);
    expect(after.envelope.sessionId).toBeLessThan(SESSION_ID_MIN);
    const again = await exchange(port, inSession(sess, { opCode: OC.SESSION_TERMINATE, body: Buffer.alloc(0) }).bytes);
    expect(codeOf(again)).toBe(500);
  });

  it('setup over UDP: the fragmented, signed answer carries the new session id', async () => {
    const { dh, req } = setupRequest({ identity: NODE_ADMIN });
    const a = await udpExchange(port, [req.bytes], req.requestId);
    expect(a.datagrams).toBeGreaterThan(1);
    const sess = acceptSetup(a, dh, req.message, serverKey);
    expect(sess.key.length).toBe(32);
  });

  it('session setups, certified or not, draw on the signing budget (NATIVE_SIGN_RATE): beyond it they answer busy (RC 3)', async () => {
    const tight = await startTestServer('pglite', { NATIVE_SIGN_RATE: '1' }, undefined, { native: true });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const { req } = setupRequest();
        // the same setup without the certify flag: no signature, but the Diffie-Hellman work all the same
        const plain = sessionRequestBytes({ opCode: OC.SESSION_SETUP, opFlags: OPFLAG.RETURN_DIGEST, body: decodeMessage(req.message).body, sessionId: 0, version: V });
        codes.push(codeOf(await exchange(tight.native!.tcpPort, plain.bytes)));
      }
      expect(codes).toContain(RC.SUCCESS);
      expect(codes).toContain(RC.SERVER_TOO_BUSY);
    } finally {
      await tight.close();
    }
  });

  it('refusals: other key exchange modes, bad DH keys, key exchange requests (501); undecodable or encrypted messages (4); the node stays up', async () => {
    const cipher = setupRequest({ mode: KEY_EXCHANGE.CIPHER_SERVER });
    const a = await exchange(port, cipher.req.bytes);
    expect(codeOf(a)).toBe(501);
    expect(textOf(a)).toMatch(/only Diffie-Hellman/);
    const small = createDiffieHellmanGroup('modp1');
    small.generateKeys();
    const weak = setupRequest({ publicKey: encodeDhPublicKey({ y: small.getPublicKey(), p: small.getPrime(), g: small.getGenerator() }) });
    expect(codeOf(await exchange(port, weak.req.bytes))).toBe(501);
    const g = createDiffieHellmanGroup('modp2');
    const y1 = setupRequest({ publicKey: encodeDhPublicKey({ y: Buffer.of(1), p: g.getPrime(), g: g.getGenerator() }) });
    expect(codeOf(await exchange(port, y1.req.bytes))).toBe(501);
    const notDh = setupRequest({ publicKey: Buffer.from('0000000a52534120505542204b4559', 'hex') });
    expect(codeOf(await exchange(port, notDh.req.bytes))).toBe(501);
    const old = requestBytes({ opCode: OC.SESSION_SETUP, opFlags: OPFLAG.CERT, body: setupRequest().req.message.subarray(24, -4), version: { major: 2, minor: 6 } });
    expect(codeOf(await exchange(port, old.bytes))).toBe(501);
    const xk = requestBytes({ opCode: OC.SESSION_EXCHANGEKEY, body: Buffer.from('00000001ff', 'hex'), version: V });
    expect(codeOf(await exchange(port, xk.bytes))).toBe(501);
    const garbage = requestBytes({ opCode: OC.SESSION_SETUP, body: Buffer.from('0004ff', 'hex'), version: V });
    expect(codeOf(await exchange(port, garbage.bytes))).toBe(RC.PROTOCOL_ERROR);
    const enc = Buffer.from(requestBytes({ opCode: OC.RESOLUTION, handle: `${P}/X`, version: V }).bytes);
    enc[2] = enc[2]! | 0x40;
    expect(codeOf(await exchange(port, enc))).toBe(RC.PROTOCOL_ERROR);
    expect(codeOf(await tcpRequest(port, { opCode: OC.GET_SITE_INFO, body: Buffer.alloc(0) }))).toBe(RC.SUCCESS);
  });
});

describe('the session map', () => {
  const client = (address: string) => ({ address });
  function setupMessage(timeout: number) {
    const { req } = setupRequest({ identity: NODE_ADMIN, timeout });
    return { env: decodeEnvelope(req.bytes.subarray(0, ENVELOPE_SIZE)), msg: decodeMessage(req.message) };
  }

  it('caps sessions per client (its oldest gives way) and in all (then RC 3)', () => {
    const m = new NativeSessions({ maxSessions: 3, maxPerClient: 2 });
    const open = (address: string) => {
      const { env, msg } = setupMessage(600);
      return m.answer(env, msg, V, client(address), null);
    };
    const a1 = open('10.0.0.1');
    const a2 = open('10.0.0.1');
    const a3 = open('10.0.0.1');
    expect([a1, a2, a3].map((a) => a.responseCode)).toEqual([1, 1, 1]);
    expect(m.get(a1.sessionId)).toBeUndefined();
    expect(m.get(a2.sessionId)).toBeDefined();
    expect(m.size).toBe(2);
    expect(open('10.0.0.2').responseCode).toBe(1);
    expect(open('10.0.0.3').responseCode).toBe(RC.SERVER_TOO_BUSY);
  });

  it('refuses reused counters, also the forgotten ones below the window', () => {
    const m = new NativeSessions();
    const { env, msg } = setupMessage(600);
    const id = m.answer(env, msg, V, client('a'), null).sessionId;
    const live = m.get(id)!;
    const sess: Session = { id, key: live.key, counter: 0 };
    const check = (counter: number) => {
      const r = inSession(sess, { ...add(`${P}/X`, 1), counter });
      return m.check(live, decodeEnvelope(r.bytes.subarray(0, ENVELOPE_SIZE)), decodeMessage(r.message));
    };
    for (let c = 1; c <= 200; c++) expect(check(c).ok).toBe(true);
    expect(check(200)).toMatchObject({ ok: false, responseCode: 505 });
    expect(check(1)).toMatchObject({ ok: false, responseCode: 505 });
    expect(check(150)).toMatchObject({ ok: false, responseCode: 505 });
    expect(check(1000).ok).toBe(true);
    expect(check(201).ok).toBe(true);
    const forged = inSession(sess, { ...add(`${P}/X`, 1), key: Buffer.alloc(32) });
    expect(m.check(live, decodeEnvelope(forged.bytes.subarray(0, ENVELOPE_SIZE)), decodeMessage(forged.message))).toMatchObject({ ok: false, responseCode: 502 });
  });

  it('expires a session after its idle time (the request timeout, capped) and after its lifetime', () => {
    let now = 1_000_000;
    const m = new NativeSessions({ maxIdleMs: 60_000, maxLifetimeMs: 300_000, nowMs: () => now });
    const short = setupMessage(10);
    const s1 = m.answer(short.env, short.msg, V, client('a'), null).sessionId;
    const long = setupMessage(86_400);
    const s2 = m.answer(long.env, long.msg, V, client('a'), null).sessionId;
    now += 11_000;
    expect(m.get(s1)).toBeUndefined();
    expect(m.get(s2)).toBeDefined();
    now += 50_000; // 61 s idle: over the 60 s cap
    expect(m.get(s2)).toBeUndefined();
    const busy = setupMessage(86_400);
    const s3 = m.answer(busy.env, busy.msg, V, client('a'), null).sessionId;
    for (let i = 0; i < 5; i++) {
      now += 50_000;
      m.get(s3)!.expiresMs = now + 60_000; // kept busy
    }
    now += 50_001; // 300 s and 1 ms after setup, 50 s idle
    expect(m.get(s3)).toBeUndefined();
  });
});
