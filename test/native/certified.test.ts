// Certified native answers over real TCP and UDP: signed with the server key the site publishes, checked with node:crypto (the key file: test/slow/server-key-file.test.ts).
import { type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { decodeResolutionResponse } from '../../handle/wire/body.js';
import { decodeCredential, verifyMessage } from '../../handle/wire/credential.js';
import { OC, OPFLAG } from '../../handle/wire/message.js';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { signatureHolds, siteKey } from '../helpers/signatures.js';
import { requestBytes, tcpConnect, tcpRequest, udpRequest, type Answer } from '../helpers/native-client.js';

const P = NODE_PREFIX;

describe('certified answers', () => {
  let s: TestServer;
  let port = 0;
  let key: KeyObject;
  let keyBytes: Buffer;

  beforeAll(async () => {
    s = await startTestServer('pglite', {}, undefined, { native: true });
    port = s.native!.tcpPort;
    expect((await s.send('PUT', `/api/handles/${P}/CERT-1`, [{ index: 1, type: 'URL', data: 'https://example.com/cert-1' }], admin())).status).toBe(200);
    ({ key, bytes: keyBytes } = await siteKey(port));
  });

  afterAll(async () => {
    await s?.close();
  });

  it('the site publishes an RSA server key (2048 bits) in its HS_PUBKEY form, and /api/site shows it as Handle.Net JSON does', async () => {
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(keyBytes.subarray(4, 15).toString()).toBe('RSA_PUB_KEY');
    const site = (await s.get('/api/site')).json;
    const jwk = key.export({ format: 'jwk' });
    expect(site.site.servers[0].publicKey).toEqual({ format: 'key', value: { kty: 'RSA', n: jwk.n, e: jwk.e } });
  });

  for (const transport of ['tcp', 'udp'] as const) {
    it(`a certified resolution over ${transport.toUpperCase()} is signed (HS_SIGNED, SHA-256) with that key; one changed byte and it does not verify`, async () => {
      const ask = transport === 'tcp' ? tcpRequest : udpRequest;
      const a = await ask(port, { handle: `${P}/cert-1`, opFlags: OPFLAG.CERT });
      expect(a.message.header.responseCode).toBe(RC.SUCCESS);
      expect(a.message.header.opFlags & OPFLAG.CERT).not.toBe(0);
      expect(a.message.header.opFlags & OPFLAG.AUTH).not.toBe(0);
      expect(decodeResolutionResponse(a.message.body, false).values[0]!.data).toEqual({ format: 'string', value: 'https://example.com/cert-1' });
      const cred = decodeCredential(a.message.credential);
      expect(cred).toMatchObject({ version: 0, flags: 0, signer: '', sessionCounter: 0, type: 'HS_SIGNED', hashAlg: 'SHA-256' });
      expect(cred.signature.length).toBe(256);
      expect(signatureHolds(a, key)).toBe(true);
      // a byte of the body (the last value byte), of the header (expiration), the request id: each breaks it
      expect(signatureHolds(a, key, (b) => void (b[b.length - 1]! ^= 0x01))).toBe(false);
      expect(signatureHolds(a, key, (b) => void (b[16 + 16]! ^= 0x01))).toBe(false);
      expect(signatureHolds(a, key, (b) => void (b[11]! ^= 0x01))).toBe(false);
    });
  }

  it('every certified request gets its own signature (none is served from the memo of earlier answers); uncertified ones stay unsigned', async () => {
    const c = await tcpConnect(port);
    try {
      const answers: Answer[] = [];
      for (const flags of [0, 0, OPFLAG.CERT, OPFLAG.CERT, 0, OPFLAG.CERT | OPFLAG.RETURN_DIGEST]) {
        const r = requestBytes({ handle: `${P}/CERT-1`, opFlags: flags });
        c.socket.write(r.bytes);
        const a = await c.next();
        expect(a.envelope.requestId).toBe(r.requestId);
        answers.push(a);
      }
      expect(answers.map((a) => a.message.credential.length > 0)).toEqual([false, false, true, true, false, true]);
      for (const a of answers.filter((x) => x.message.credential.length > 0)) expect(signatureHolds(a, key)).toBe(true);
      expect(answers[5]!.message.header.opFlags & OPFLAG.RETURN_DIGEST).not.toBe(0);
    } finally {
      c.socket.destroy();
    }
  });

  it('site info, errors and older protocol versions are signed as Handle.Net signs them (2.6 and 2.5: SHA1)', async () => {
    const site = await tcpRequest(port, { opCode: OC.GET_SITE_INFO, body: Buffer.alloc(0), opFlags: OPFLAG.CERT });
    expect(signatureHolds(site, key)).toBe(true);
    const missing = await udpRequest(port, { handle: `${P}/no-such-handle`, opFlags: OPFLAG.CERT });
    expect(missing.message.header.responseCode).toBe(RC.HANDLE_NOT_FOUND);
    expect(signatureHolds(missing, key)).toBe(true);
    for (const [minor, alg] of [
      [11, 'SHA-256'],
      [7, 'SHA-256'],
      [6, 'SHA1'],
      [5, 'SHA1'],
    ] as const) {
      const a = await tcpRequest(port, { handle: `${P}/cert-1`, opFlags: OPFLAG.CERT, version: { major: 2, minor } });
      expect(a.envelope.minor).toBe(minor);
      expect(decodeCredential(a.message.credential).hashAlg).toBe(alg);
      const e = a.envelope;
      const ctx = { major: e.major, minor: e.minor, suggestedMajor: e.suggestedMajor, suggestedMinor: e.suggestedMinor, sessionId: e.sessionId, requestId: e.requestId };
      expect(verifyMessage(key, ctx, a.message.digestInput, a.message.credential)).toBe(true);
      const body = Buffer.from(a.message.digestInput);
      body[body.length - 1]! ^= 0x01;
      expect(verifyMessage(key, ctx, body, a.message.credential)).toBe(false);
    }
  });

  it('the HS_SITE of a homed prefix record carries the key, and 0.NA/<node prefix> has it as HS_PUBKEY', async () => {
    const a = await tcpRequest(port, { handle: `0.NA/${P}` });
    const values = decodeResolutionResponse(a.message.body, false).values;
    const site = values.find((v) => v.type === 'HS_SITE')!;
    expect(site.data.format).toBe('site');
    const jwk = key.export({ format: 'jwk' });
    expect((site.data.value as { servers: { publicKey: unknown }[] }).servers[0]!.publicKey).toEqual({ format: 'key', value: { kty: 'RSA', n: jwk.n, e: jwk.e } });
    const pub = values.find((v) => v.type === 'HS_PUBKEY')!;
    expect(pub.index).toBe(301);
    expect(pub.data).toEqual({ format: 'key', value: { kty: 'RSA', n: jwk.n, e: jwk.e } });
    // the admin's secret key stays where it is, and private
    expect(values.some((v) => v.index === 300)).toBe(false);
    const http = (await s.get(`/api/handles/0.NA/${P}?type=HS_PUBKEY`)).json;
    expect(http.values).toEqual([expect.objectContaining({ index: 301, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: jwk.n, e: jwk.e } } })]);
  });
});

describe('the signing budget', () => {
  it('answers certified requests beyond NATIVE_SIGN_RATE busy (RC 3, unsigned), uncertified ones as ever, and refills', async () => {
    const s = await startTestServer('pglite', { NATIVE_SIGN_RATE: '3' }, undefined, { native: true });
    try {
      const port = s.native!.tcpPort;
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push((await udpRequest(port, { handle: `0.NA/${NODE_PREFIX}`, opFlags: OPFLAG.CERT })).message.header.responseCode);
      expect(codes.filter((c) => c === RC.SUCCESS).length).toBeGreaterThanOrEqual(3);
      expect(codes).toContain(RC.SERVER_TOO_BUSY);
      const busy = await udpRequest(port, { handle: `0.NA/${NODE_PREFIX}`, opFlags: OPFLAG.CERT });
      if (busy.message.header.responseCode === RC.SERVER_TOO_BUSY) expect(busy.message.credential.length).toBe(0);
      expect((await udpRequest(port, { handle: `0.NA/${NODE_PREFIX}` })).message.header.responseCode).toBe(RC.SUCCESS);
      await new Promise((r) => setTimeout(r, 1100));
      const again = await udpRequest(port, { handle: `0.NA/${NODE_PREFIX}`, opFlags: OPFLAG.CERT });
      expect(again.message.header.responseCode).toBe(RC.SUCCESS);
      expect(again.message.credential.length).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });
});
