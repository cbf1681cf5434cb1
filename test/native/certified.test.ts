// Certified native answers over real TCP and UDP: signed with the server key the site publishes, checked with node:crypto; the server key file.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { decodeResolutionResponse } from '../../handle/wire/body.js';
import { decodeCredential, verifyMessage } from '../../handle/wire/credential.js';
import { decodePublicKey } from '../../handle/wire/keys.js';
import { OC, OPFLAG } from '../../handle/wire/message.js';
import { decodeSiteInfo } from '../../handle/wire/site.js';
import { StartupError } from '../../src/startup.js';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { requestBytes, tcpConnect, tcpRequest, udpRequest, type Answer } from '../helpers/native-client.js';

const P = NODE_PREFIX;
const HASH: Record<string, string> = { 'SHA-256': 'sha256', SHA1: 'sha1' };

/**
 * Checks an answer's signature the way Handle.Net's client does, written out here rather than taken from the codec:
 * version, suggested version, session id, request id and session counter, then the header and body as received.
 * `tamper` changes the signed bytes first (the check must then fail).
 */
function signatureHolds(a: Answer, key: KeyObject, tamper?: (signed: Buffer) => void): boolean {
  const cred = decodeCredential(a.message.credential);
  expect(cred.type).toBe('HS_SIGNED');
  const e = a.envelope;
  const pre = Buffer.alloc(16);
  pre[0] = e.major;
  pre[1] = e.minor;
  pre[2] = e.suggestedMajor === 0 ? e.major : e.suggestedMajor;
  pre[3] = e.suggestedMajor === 0 ? e.minor : e.suggestedMinor;
  pre.writeUInt32BE(e.sessionId, 4);
  pre.writeUInt32BE(e.requestId, 8);
  pre.writeUInt32BE(cred.sessionCounter, 12);
  const signed = Buffer.concat([pre, a.message.digestInput]);
  tamper?.(signed);
  return verify(HASH[cred.hashAlg]!, signed, key, cred.signature);
}

/** The server key as the node's GET_SITE_INFO answer gives it (servers[0].publicKey, Handle's RSA_PUB_KEY record). */
async function siteKey(port: number): Promise<{ key: KeyObject; bytes: Buffer }> {
  const a = await tcpRequest(port, { opCode: OC.GET_SITE_INFO, body: Buffer.alloc(0) });
  expect(a.message.header.responseCode).toBe(RC.SUCCESS);
  const bytes = Buffer.from(decodeSiteInfo(a.message.body).servers[0]!.publicKey);
  return { key: createPublicKey({ key: decodePublicKey(bytes) as never, format: 'jwk' }), bytes };
}

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

describe('the server key file', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'idnode-server-key-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is created 0600 (PEM PKCS#8) on first start and reused on the next', async () => {
    const file = join(dir, 'keys', 'server-key.pem');
    const first = await startTestServer('pglite', { SERVER_KEY_FILE: file }, undefined, { native: true });
    let firstKey: Buffer;
    try {
      firstKey = (await siteKey(first.native!.tcpPort)).bytes;
      expect(first.node.serverKey.created).toBe(true);
    } finally {
      await first.close();
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const pem = readFileSync(file, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const second = await startTestServer('pglite', { SERVER_KEY_FILE: file }, undefined, { native: true });
    try {
      expect(second.node.serverKey.created).toBe(false);
      const { key, bytes } = await siteKey(second.native!.tcpPort);
      expect(bytes.equals(firstKey)).toBe(true);
      const a = await tcpRequest(second.native!.tcpPort, { handle: `${P}/anything`, opFlags: OPFLAG.CERT });
      expect(signatureHolds(a, key)).toBe(true);
    } finally {
      await second.close();
    }
    expect(readFileSync(file, 'utf8')).toBe(pem);
  });

  it('defaults to <DATA_DIR>/server-key.pem', async () => {
    const { serverKeyFilePath } = await import('../../src/server-key.js');
    expect(serverKeyFilePath({ DATA_DIR: '/var/lib/idnode', SERVER_KEY_FILE: undefined })).toBe('/var/lib/idnode/server-key.pem');
    expect(serverKeyFilePath({ DATA_DIR: ':memory:', SERVER_KEY_FILE: undefined })).toBeNull();
    expect(serverKeyFilePath({ DATA_DIR: ':memory:', SERVER_KEY_FILE: '/k.pem' })).toBe('/k.pem');
  });

  it('several starts at once agree on one key (the file is linked into place, never overwritten)', async () => {
    const { openServerKey } = await import('../../src/server-key.js');
    const file = join(dir, 'race', 'server-key.pem');
    const keys = await Promise.all(Array.from({ length: 4 }, () => openServerKey({ DATA_DIR: ':memory:', SERVER_KEY_FILE: file })));
    expect(keys.filter((k) => k.created).length).toBe(1);
    for (const k of keys) expect(Buffer.from(k.publicKeyBytes).equals(Buffer.from(keys[0]!.publicKeyBytes))).toBe(true);
  });

  it('a malformed, unreadable or non-RSA key file stops the start with a StartupError naming SERVER_KEY_FILE', async () => {
    const { openServerKey } = await import('../../src/server-key.js');
    const { generateKeyPairSync } = await import('node:crypto');
    const open = (file: string) => openServerKey({ DATA_DIR: ':memory:', SERVER_KEY_FILE: file });
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    await expect(startTestServer('pglite', { SERVER_KEY_FILE: bad })).rejects.toThrow(StartupError);
    await expect(open(bad)).rejects.toThrow(/SERVER_KEY_FILE=.*bad\.pem is not an unencrypted PEM private key/);
    const ec = join(dir, 'ec.pem');
    writeFileSync(ec, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await expect(open(ec)).rejects.toThrow(/must be RSA/);
    const small = join(dir, 'small.pem');
    writeFileSync(small, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await expect(open(small)).rejects.toThrow(/1024-bit RSA key/);
    await expect(open(join(dir, 'bad.pem', 'inside-a-file.pem'))).rejects.toThrow(/cannot be read or created \(ENOTDIR\)/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.pem');
      writeFileSync(locked, readFileSync(join(dir, 'keys', 'server-key.pem')));
      chmodSync(locked, 0o000);
      await expect(open(locked)).rejects.toThrow(/cannot be read or created \(EACCES\)/);
    }
  });
});
