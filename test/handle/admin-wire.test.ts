// The native administration codec (handle/wire/admin.ts) and challenge-response proofs (handle/challenge-auth.ts): layouts byte by byte, bounds, MACs and signatures.
import { createHash, createHmac, generateKeyPairSync, pbkdf2Sync, randomBytes, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { challengeInput, PBKDF2_LIMITS, publicKeyFromData, signPublicKeyAnswer, signSecretKeyAnswer, verifyPublicKeyAnswer, verifySecretKeyAnswer } from '../../handle/challenge-auth.js';
import {
  decodeChallenge,
  decodeChallengeAnswer,
  decodeCreateHandleResponse,
  decodeDeleteHandleRequest,
  decodePublicKeyAnswer,
  decodeRemoveValueRequest,
  decodeSecretKeyAnswer,
  decodeValuesRequest,
  encodeChallenge,
  encodeChallengeAnswer,
  encodeCreateHandleResponse,
  encodeDeleteHandleRequest,
  encodeGenericResponse,
  encodePublicKeyAnswer,
  encodeRemoveValueRequest,
  encodeSecretKeyAnswer,
  encodeValuesRequest,
  MAC_ALG,
  MAX_ADMIN_ITEMS,
} from '../../handle/wire/admin.js';
import { decodePublicKey, publicKeyBytesFromJson } from '../../handle/wire/keys.js';
import type { KeyData } from '../../handle/types.js';
import { ascii, expectWireError, hex } from './wire/fixtures.js';
import { val } from '../helpers/values.js';

const DIGEST = Buffer.concat([Buffer.of(3), createHash('sha256').update('the request').digest()]);
const NONCE = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('administration request bodies', () => {
  it('CREATE/ADD/MODIFY: handle string, u32 value count, values — round trip, byte layout', () => {
    const values = [val(1, 'URL', 'https://e.example/'), val(2, 'EMAIL', 'a@e.example')];
    const body = encodeValuesRequest({ handle: '88.1/X', values });
    expect(hex(body.subarray(0, 14))).toBe(hex(Uint8Array.from([0, 0, 0, 6, ...ascii('88.1/X'), 0, 0, 0, 2])));
    expect(decodeValuesRequest(body)).toEqual({ handle: '88.1/X', values });
    expect(decodeValuesRequest(encodeValuesRequest({ handle: '88.1/E', values: [] }))).toEqual({ handle: '88.1/E', values: [] });
  });

  it('DELETE: the handle only; REMOVE: handle and an int array of indexes', () => {
    expect(hex(encodeDeleteHandleRequest('88.1/X'))).toBe(hex(Uint8Array.from([0, 0, 0, 6, ...ascii('88.1/X')])));
    expect(decodeDeleteHandleRequest(encodeDeleteHandleRequest('88.1/ü'))).toEqual({ handle: '88.1/ü' });
    const rm = encodeRemoveValueRequest({ handle: '88.1/X', indexes: [2, 300] });
    expect(hex(rm)).toBe(hex(Uint8Array.from([0, 0, 0, 6, ...ascii('88.1/X'), 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 1, 0x2c])));
    expect(decodeRemoveValueRequest(rm)).toEqual({ handle: '88.1/X', indexes: [2, 300] });
  });

  it('rejects absurd counts and lengths before allocating anything, and trailing bytes', () => {
    const head = Buffer.from([0, 0, 0, 6, ...ascii('88.1/X')]);
    // 4 billion values announced in a 14-byte body
    expectWireError(() => decodeValuesRequest(Buffer.concat([head, Buffer.from([0xff, 0xff, 0xff, 0xff])])));
    expectWireError(() => decodeRemoveValueRequest(Buffer.concat([head, Buffer.from([0xff, 0xff, 0xff, 0xff])])));
    // more than MAX_ADMIN_ITEMS indexes, even when the bytes are there
    const many = Buffer.alloc(4 + 4 * (MAX_ADMIN_ITEMS + 1));
    many.writeUInt32BE(MAX_ADMIN_ITEMS + 1, 0);
    expectWireError(() => decodeRemoveValueRequest(Buffer.concat([head, many])));
    // a handle length past the end
    expectWireError(() => decodeDeleteHandleRequest(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x41])));
    expectWireError(() => decodeDeleteHandleRequest(Buffer.concat([head, Buffer.of(0)])));
    expectWireError(() => decodeValuesRequest(Buffer.alloc(0)));
    // invalid UTF-8 in the handle
    expectWireError(() => decodeDeleteHandleRequest(Buffer.from([0, 0, 0, 2, 0xc3, 0x28])));
  });
});

describe('challenge, challenge answer and responses', () => {
  it('the challenge (RC 402 body): digest section, then the nonce; before 2.1 nonce then MD5, each a byte array', () => {
    const body = encodeChallenge(NONCE, DIGEST);
    expect(hex(body)).toBe(hex(Buffer.concat([DIGEST, Buffer.from([0, 0, 0, 16]), NONCE])));
    const c = decodeChallenge(body);
    expect([hex(c.digest), hex(c.nonce)]).toEqual([hex(DIGEST), hex(NONCE)]);
    const md5 = createHash('md5').update('r').digest();
    expect(hex(encodeChallenge(NONCE, null, md5))).toBe(hex(Buffer.concat([Buffer.from([0, 0, 0, 16]), NONCE, Buffer.from([0, 0, 0, 16]), md5])));
    expect(() => encodeChallenge(NONCE, Buffer.of(3, 1, 2))).toThrow(RangeError);
  });

  it('the answer (OC 200 body): auth type, user id handle, user id index, signed response', () => {
    const a = { authType: 'HS_SECKEY', userIdHandle: '0.NA/88.1', userIdIndex: 300, signedResponse: Uint8Array.of(0x12, 1, 2, 3) };
    const body = encodeChallengeAnswer(a);
    expect(hex(body)).toBe(
      hex(Uint8Array.from([0, 0, 0, 9, ...ascii('HS_SECKEY'), 0, 0, 0, 9, ...ascii('0.NA/88.1'), 0, 0, 1, 0x2c, 0, 0, 0, 4, 0x12, 1, 2, 3])),
    );
    const d = decodeChallengeAnswer(body);
    expect({ ...d, signedResponse: hex(d.signedResponse) }).toEqual({ ...a, signedResponse: '12010203' });
    expectWireError(() => decodeChallengeAnswer(Buffer.concat([body, Buffer.of(0)])));
    expectWireError(() => decodeChallengeAnswer(encodeChallengeAnswer({ ...a, signedResponse: new Uint8Array(5000) })));
  });

  it('GenericResponse is the digest section or nothing; CreateHandleResponse adds the handle', () => {
    expect(encodeGenericResponse(null).length).toBe(0);
    expect(hex(encodeGenericResponse(DIGEST))).toBe(hex(DIGEST));
    const c = encodeCreateHandleResponse('88.1/NEW', DIGEST);
    expect(hex(c)).toBe(hex(Buffer.concat([DIGEST, Buffer.from([0, 0, 0, 8, ...ascii('88.1/NEW')])])));
    const r = decodeCreateHandleResponse(c, true);
    expect([hex(r.digest!), r.handle]).toEqual([hex(DIGEST), '88.1/NEW']);
    expect(decodeCreateHandleResponse(Buffer.alloc(0), false)).toEqual({ digest: null, handle: null });
  });
});

describe('HS_SECKEY answers (Util.doMac)', () => {
  const input = challengeInput(NONCE, DIGEST);
  it('the proven bytes are nonce ‖ the digest without its algorithm byte', () => {
    expect(hex(input)).toBe(hex(Buffer.concat([NONCE, DIGEST.subarray(1)])));
  });

  it('PBKDF2-HMAC-SHA1 (from 2.7): salt, iterations, key bits, HMAC-SHA1 keyed by the derived key', async () => {
    const salt = Buffer.alloc(16, 7);
    const key = pbkdf2Sync('s3cret', salt, 10_000, 20, 'sha1');
    const mac = createHmac('sha1', key).update(input).digest();
    const signed = encodeSecretKeyAnswer({ alg: MAC_ALG.PBKDF2_HMAC_SHA1, mac, pbkdf2: { salt, iterations: 10_000, keyLengthBits: 160 } });
    expect(hex(signed.subarray(0, 5))).toBe('2200000010');
    const p = decodeSecretKeyAnswer(signed).pbkdf2!;
    expect([hex(p.salt), p.iterations, p.keyLengthBits]).toEqual([hex(salt), 10_000, 160]);
    expect(await verifySecretKeyAnswer(signed, 's3cret', NONCE, DIGEST)).toBe(true);
    expect(await verifySecretKeyAnswer(signed, 's3cret!', NONCE, DIGEST)).toBe(false);
    expect(await verifySecretKeyAnswer(signed, 's3cret', randomBytes(16), DIGEST)).toBe(false);
    // a cost the client chooses is bounded
    const costly = encodeSecretKeyAnswer({ alg: MAC_ALG.PBKDF2_HMAC_SHA1, mac, pbkdf2: { salt, iterations: PBKDF2_LIMITS.maxIterations + 1, keyLengthBits: 160 } });
    expect(await verifySecretKeyAnswer(costly, 's3cret', NONCE, DIGEST)).toBe(false);
  });

  it('SHA1 (2.1–2.6: SHA1(secret ‖ input ‖ secret)), HMAC-SHA1/256; MD5 and garbage refused', async () => {
    const sha1 = createHash('sha1').update('k').update(input).update('k').digest();
    expect(await verifySecretKeyAnswer(Buffer.concat([Buffer.of(MAC_ALG.SHA1), sha1]), 'k', NONCE, DIGEST)).toBe(true);
    for (const alg of [MAC_ALG.SHA1, MAC_ALG.SHA256, MAC_ALG.HMAC_SHA1, MAC_ALG.HMAC_SHA256, MAC_ALG.PBKDF2_HMAC_SHA1]) {
      const signed = await signSecretKeyAnswer('k', NONCE, DIGEST, alg);
      expect(await verifySecretKeyAnswer(signed, 'k', NONCE, DIGEST), `alg ${alg}`).toBe(true);
      expect(await verifySecretKeyAnswer(signed, 'K', NONCE, DIGEST), `alg ${alg}`).toBe(false);
    }
    const md5 = createHash('md5').update('k').update(input).update('k').digest();
    expect(await verifySecretKeyAnswer(Buffer.concat([Buffer.of(MAC_ALG.MD5), md5]), 'k', NONCE, DIGEST)).toBe(false);
    expect(await verifySecretKeyAnswer(Buffer.of(0x77, 1, 2), 'k', NONCE, DIGEST)).toBe(false);
    expect(await verifySecretKeyAnswer(Buffer.of(0x22, 0xff), 'k', NONCE, DIGEST)).toBe(false);
    expect(await verifySecretKeyAnswer(Buffer.alloc(0), 'k', NONCE, DIGEST)).toBe(false);
  });
});

/** Minimal DER reader: the INTEGERs (unsigned) of a DSA SubjectPublicKeyInfo, p q g then y. */
function dsaNumbers(spki: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const walk = (b: Buffer): void => {
    let at = 0;
    while (at < b.length) {
      const tag = b[at]!;
      let len = b[at + 1]!;
      let head = 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + b[at + 2 + i]!;
        head += n;
      }
      const content = b.subarray(at + head, at + head + len);
      if (tag === 0x30) walk(content);
      else if (tag === 0x03) walk(content.subarray(1));
      else if (tag === 0x02) out.push(content[0] === 0 ? content.subarray(1) : content);
      at += head + len;
    }
  };
  walk(spki);
  return out;
}

function keyDataOf(pub: KeyObject): KeyData {
  if (pub.asymmetricKeyType === 'rsa') {
    const j = pub.export({ format: 'jwk' });
    return { kty: 'RSA', n: j.n, e: j.e };
  }
  const [p, q, g, y] = dsaNumbers(pub.export({ format: 'der', type: 'spki' }) as Buffer);
  const u = (b: Buffer | undefined) => b!.toString('base64url');
  return { kty: 'DSA', p: u(p), q: u(q), g: u(g), y: u(y) };
}

describe('HS_PUBKEY answers (PublicKeyAuthenticationInfo)', () => {
  it('RSA and DSA keys from their HS_PUBKEY form; SHA-256 and SHA1 signatures verify, others do not', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    for (const pair of [rsa, dsa]) {
      // through the record Handle.Net stores (Util.getBytesFromPublicKey) and back
      const data = decodePublicKey(publicKeyBytesFromJson(keyDataOf(pair.publicKey))!);
      const key = publicKeyFromData(data)!;
      expect(key).not.toBeNull();
      for (const hash of ['sha256', 'sha1'] as const) {
        const signed = signPublicKeyAnswer(pair.privateKey, NONCE, DIGEST, hash);
        expect(verifyPublicKeyAnswer(signed, key, NONCE, DIGEST), `${pair.publicKey.asymmetricKeyType} ${hash}`).toBe(true);
        expect(verifyPublicKeyAnswer(signed, key, randomBytes(16), DIGEST)).toBe(false);
      }
    }
    const signed = signPublicKeyAnswer(rsa.privateKey, NONCE, DIGEST);
    expect(hex(signed.subarray(0, 11))).toBe(hex(Uint8Array.from([0, 0, 0, 7, ...ascii('SHA-256')])));
    expect(decodePublicKeyAnswer(signed).signature.length).toBe(256);
    const other = publicKeyFromData(keyDataOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey))!;
    expect(verifyPublicKeyAnswer(signed, other, NONCE, DIGEST)).toBe(false);
    // the hash id as one Common.HASH_CODE byte; MD5 refused; garbage is false, not a throw
    const sig = decodePublicKeyAnswer(signed).signature;
    const rsaKey = publicKeyFromData(keyDataOf(rsa.publicKey))!;
    expect(verifyPublicKeyAnswer(Buffer.concat([Buffer.from([0, 0, 0, 1, 3, 0, 0, 1, 0]), sig]), rsaKey, NONCE, DIGEST)).toBe(true);
    expect(verifyPublicKeyAnswer(encodePublicKeyAnswer('MD5', sig), rsaKey, NONCE, DIGEST)).toBe(false);
    expect(verifyPublicKeyAnswer(Buffer.of(1, 2, 3), rsaKey, NONCE, DIGEST)).toBe(false);
    expect(publicKeyFromData({ kty: 'RSA', n: '', e: 'AQAB' })).toBeNull();
    expect(publicKeyFromData({ kty: 'EC' })).toBeNull();
  });
});
