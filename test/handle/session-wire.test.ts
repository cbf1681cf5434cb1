// Session wire formats: setup request and response bodies, DH_PUB_KEY keys, the AES session key from a DH secret, and HS_MAC credentials (checked against an HMAC written out here).
import { createDiffieHellmanGroup, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WireError } from '../../handle/wire/bytes.js';
import { decodeCredential } from '../../handle/wire/credential.js';
import {
  aesKeyFromDhSecret,
  decodeDhPublicKey,
  decodeSessionSetupRequest,
  decodeSessionSetupResponse,
  encodeDhPublicKey,
  encodeSessionSetupRequest,
  encodeSessionSetupResponse,
  KEY_EXCHANGE,
  macCredential,
  verifyMac,
} from '../../handle/wire/session.js';

describe('session setup bodies', () => {
  it('a setup request as Handle.Net writes it (mode u16, timeout, identity, key, 2 padding bytes) decodes', () => {
    const key = Buffer.from('key-bytes');
    const body = encodeSessionSetupRequest({ keyExchangeMode: KEY_EXCHANGE.DH, timeout: 86400, identityHandle: '0.NA/88.1', identityIndex: 300, publicKey: key });
    // written out: 00 04 | 00 01 51 80 | 00 00 00 09 "0.NA/88.1" | 00 00 01 2c | 00 00 00 09 "key-bytes" | 00 00
    const want = Buffer.concat([
      Buffer.from('0004000151800000000930', 'hex').subarray(0, 10),
      Buffer.from('0.NA/88.1'),
      Buffer.from('0000012c00000009', 'hex'),
      key,
      Buffer.from('0000', 'hex'),
    ]);
    expect(body).toEqual(want);
    const d = decodeSessionSetupRequest(body);
    expect({ ...d, publicKey: null }).toEqual({ keyExchangeMode: 4, timeout: 86400, identityHandle: '0.NA/88.1', identityIndex: 300, publicKey: null, exchangeKeyHandle: null, exchangeKeyIndex: 0 });
    expect(Buffer.from(d.publicKey!)).toEqual(key);
  });

  it('an anonymous request (no identity: index -1) and other modes decode; truncated ones are WireErrors', () => {
    const anon = decodeSessionSetupRequest(encodeSessionSetupRequest({ keyExchangeMode: KEY_EXCHANGE.CIPHER_SERVER, timeout: 0, identityHandle: '', identityIndex: -1 }));
    expect(anon.identityIndex).toBe(-1);
    expect(anon.publicKey).toBeNull();
    const body = encodeSessionSetupRequest({ keyExchangeMode: KEY_EXCHANGE.DH, timeout: 1, identityHandle: 'x/y', identityIndex: 1, publicKey: Buffer.alloc(100) });
    for (let n = 0; n < body.length - 2; n++) expect(() => decodeSessionSetupRequest(body.subarray(0, n))).toThrow(WireError);
  });

  it('a setup response: digest section, mode, data, padding', () => {
    const digest = Buffer.concat([Buffer.of(3), Buffer.alloc(32, 7)]);
    const body = encodeSessionSetupResponse(4, Buffer.from('data'), digest);
    expect(body.subarray(0, 33)).toEqual(digest);
    expect(body.subarray(33)).toEqual(Buffer.from('000400000004646174610000', 'hex'));
    const r = decodeSessionSetupResponse(body, 33);
    expect(r.keyExchangeMode).toBe(4);
    expect(Buffer.from(r.data)).toEqual(Buffer.from('data'));
  });
});

describe('DH keys and the session key', () => {
  it('DH_PUB_KEY: type, flags, y, p, g as Java BigIntegers (a leading 0 before a top bit); decoded unsigned', () => {
    const k = { y: Buffer.from('80ff', 'hex'), p: Buffer.from('00c1', 'hex'), g: Buffer.from('02', 'hex') };
    const bytes = encodeDhPublicKey(k);
    expect(bytes).toEqual(Buffer.from('0000000a' + Buffer.from('DH_PUB_KEY').toString('hex') + '0000' + '0000000300' + '80ff' + '0000000200c1' + '0000000102', 'hex'));
    expect(decodeDhPublicKey(bytes)).toEqual({ y: Buffer.from('80ff', 'hex'), p: Buffer.from('c1', 'hex'), g: Buffer.from('02', 'hex') });
    expect(() => decodeDhPublicKey(Buffer.from('00000006RSAKEY', 'latin1'))).toThrow(WireError);
  });

  it('both sides of a DH exchange reach the same 32-byte key; leading zero bytes are skipped as Handle.Net does', () => {
    const a = createDiffieHellmanGroup('modp2');
    const b = createDiffieHellmanGroup('modp2');
    a.generateKeys();
    b.generateKeys();
    const p = a.getPrime().length;
    const ka = aesKeyFromDhSecret(a.computeSecret(b.getPublicKey()), p);
    const kb = aesKeyFromDhSecret(b.computeSecret(a.getPublicKey()), p);
    expect(ka).toEqual(kb);
    expect(ka.length).toBe(32);
    // a secret with leading zeros: the key starts after them, padded or not
    const secret = Buffer.concat([Buffer.alloc(2), Buffer.alloc(126, 0x5a)]);
    expect(aesKeyFromDhSecret(secret, 128)).toEqual(Buffer.alloc(32, 0x5a));
    expect(aesKeyFromDhSecret(secret.subarray(2), 128)).toEqual(Buffer.alloc(32, 0x5a));
  });
});

describe('HS_MAC', () => {
  const key = Buffer.alloc(32, 9);
  const ctx = { major: 2, minor: 11, suggestedMajor: 2, suggestedMinor: 11, sessionId: 0x40000001, requestId: 77 };
  const headerAndBody = Buffer.from('header and body');

  it('is HMAC-SHA256 over versions, session id, request id, counter, header and body', () => {
    const cred = macCredential(key, { ...ctx, sessionCounter: 5 }, headerAndBody);
    const d = decodeCredential(cred);
    expect(d.type).toBe('HS_MAC');
    expect(d.hashAlg).toBe('HMAC-SHA256');
    expect(d.sessionCounter).toBe(5);
    const pre = Buffer.from('020b020b' + '40000001' + '0000004d' + '00000005', 'hex');
    expect(Buffer.from(d.signature)).toEqual(createHmac('sha256', key).update(pre).update(headerAndBody).digest());
    expect(verifyMac(key, ctx, headerAndBody, cred)).toBe(5);
  });

  it('does not verify with another key, request id, body, or below 2.7; garbage is null, never a throw', () => {
    const cred = macCredential(key, { ...ctx, sessionCounter: 1 }, headerAndBody);
    expect(verifyMac(Buffer.alloc(32, 8), ctx, headerAndBody, cred)).toBeNull();
    expect(verifyMac(key, { ...ctx, requestId: 78 }, headerAndBody, cred)).toBeNull();
    expect(verifyMac(key, ctx, Buffer.from('header and bodY'), cred)).toBeNull();
    expect(verifyMac(key, { ...ctx, minor: 6 }, headerAndBody, cred)).toBeNull();
    expect(verifyMac(key, ctx, headerAndBody, Buffer.alloc(0))).toBeNull();
    expect(verifyMac(key, ctx, headerAndBody, Buffer.from('garbage'))).toBeNull();
  });
});
