// Tests for handle/wire/credential.ts (HS_SIGNED credential sections) and the RSA public-key record of handle/wire/keys.ts.
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WireError } from '../../handle/wire/bytes.js';
import {
  decodeCredential,
  encodeCredential,
  signatureHashFor,
  signedPrefix,
  signMessage,
  verifyMessage,
  withCredential,
  type SigningContext,
} from '../../handle/wire/credential.js';
import { decodePublicKey, publicKeyBytesFromJson } from '../../handle/wire/keys.js';
import { decodeMessage, encodeMessage } from '../../handle/wire/message.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const message = encodeMessage(
  { opCode: 1, responseCode: 1, opFlags: 0xc0000000, siteInfoSerial: 1, recursionCount: 0, expiration: 1_700_000_000 },
  Buffer.from('00000010383832e3332303932342f41424300000000', 'hex'),
);
const headerAndBody = message.subarray(0, message.length - 4);
const ctx = (major: number, minor: number): SigningContext => ({ major, minor, suggestedMajor: 2, suggestedMinor: 11, sessionId: 0x01020304, requestId: 0x0a0b0c0d });

describe('what a signature covers (AbstractMessage.signMessage)', () => {
  it('from 2.8: version, suggested version, session id, request id, session counter', () => {
    expect(signedPrefix(ctx(2, 11)).toString('hex')).toBe('020b020b' + '01020304' + '0a0b0c0d' + '00000000');
    expect(signedPrefix({ ...ctx(2, 10), sessionCounter: 7 }).toString('hex')).toBe('020a020b' + '01020304' + '0a0b0c0d' + '00000007');
  });

  it('2.7: no suggested version', () => {
    expect(signedPrefix(ctx(2, 7)).toString('hex')).toBe('0207' + '01020304' + '0a0b0c0d' + '00000000');
  });

  it("2.6: Handle.Net's overlapping writes (offset = writeInt(...) assigns 4 each time)", () => {
    // session id at 2, request id over it at 4, the counter over that at 4; the last 6 bytes stay zero
    expect(signedPrefix({ ...ctx(2, 6), sessionCounter: 0x11223344 }).toString('hex')).toBe('0206' + '0102' + '11223344' + '000000000000');
  });

  it('before 2.6: nothing (header and body only)', () => {
    expect(signedPrefix(ctx(2, 5)).length).toBe(0);
    expect(signedPrefix(ctx(2, 1)).length).toBe(0);
  });

  it('hash: SHA-256 from 2.7 for RSA, from 2.11 for DSA; SHA1 before', () => {
    expect(signatureHashFor(2, 11, 'rsa').id).toBe('SHA-256');
    expect(signatureHashFor(2, 10, 'rsa').id).toBe('SHA-256');
    expect(signatureHashFor(2, 7, 'rsa').id).toBe('SHA-256');
    expect(signatureHashFor(2, 6, 'rsa').id).toBe('SHA1');
    expect(signatureHashFor(2, 10, 'dsa').id).toBe('SHA1');
    expect(signatureHashFor(2, 11, 'dsa').id).toBe('SHA-256');
  });
});

describe('HS_SIGNED credential section', () => {
  it('is laid out as Handle.Net writes it', () => {
    const sig = Buffer.alloc(256, 0xab);
    const c = encodeCredential({ hashAlg: 'SHA-256', signature: sig });
    const expected =
      '00' + // version
      '00' + // reserved
      '0000' + // flags
      '00000000' + // signer handle: empty
      '00000000' + // signer index slot: session counter
      '00000009' + Buffer.from('HS_SIGNED').toString('hex') +
      (4 + 7 + 4 + 256).toString(16).padStart(8, '0') + // section length
      '00000007' + Buffer.from('SHA-256').toString('hex') +
      '00000100' + sig.toString('hex');
    expect(c.toString('hex')).toBe(expected);
    const { signature, ...rest } = decodeCredential(c);
    expect(rest).toEqual({ version: 0, flags: 0, signer: '', sessionCounter: 0, type: 'HS_SIGNED', hashAlg: 'SHA-256' });
    expect(Buffer.from(signature).equals(sig)).toBe(true);
  });

  it('goes after the body as a u32 length + bytes, which decodeMessage hands back', () => {
    const c = encodeCredential({ hashAlg: 'SHA1', signature: Buffer.from([1, 2, 3]) });
    const m = decodeMessage(withCredential(message, c));
    expect(Buffer.from(m.credential).equals(c)).toBe(true);
    expect(Buffer.from(m.digestInput).equals(headerAndBody)).toBe(true);
    expect(() => withCredential(withCredential(message, c), c)).toThrow(RangeError);
  });

  it('malformed sections are WireErrors', () => {
    const c = encodeCredential({ hashAlg: 'SHA-256', signature: Buffer.alloc(8) });
    for (const bad of [c.subarray(0, 3), c.subarray(0, c.length - 1), Buffer.concat([c, Buffer.of(0)])]) {
      expect(() => decodeCredential(bad)).toThrow(WireError);
    }
    const wrongSection = Buffer.from(c);
    wrongSection.writeUInt32BE(3, 4 + 4 + 4 + 4 + 9); // section length shorter than its contents
    expect(() => decodeCredential(wrongSection)).toThrow(WireError);
    const mac = Buffer.from(c.toString('hex').replace(Buffer.from('HS_SIGNED').toString('hex'), Buffer.from('HS_MAC\0\0\0').toString('hex')), 'hex');
    expect(() => verifyMessage(rsa.publicKey, ctx(2, 11), headerAndBody, mac)).toThrow(WireError);
  });
});

describe('signing and verifying', () => {
  for (const [major, minor, hash] of [
    [2, 11, 'sha256'],
    [2, 10, 'sha256'],
    [2, 7, 'sha256'],
    [2, 6, 'sha1'],
    [2, 5, 'sha1'],
  ] as const) {
    it(`${major}.${minor}: an RSA signature node:crypto verifies over the bytes Handle.Net signs, and no other`, () => {
      const c = ctx(major, minor);
      const cred = decodeCredential(signMessage(rsa.privateKey, c, headerAndBody));
      expect(cred.hashAlg).toBe(hash === 'sha256' ? 'SHA-256' : 'SHA1');
      expect(cred.signature.length).toBe(256);
      const signed = Buffer.concat([signedPrefix(c), headerAndBody]);
      expect(verify(hash, signed, rsa.publicKey, cred.signature)).toBe(true);
      const credential = signMessage(rsa.privateKey, c, headerAndBody);
      expect(verifyMessage(rsa.publicKey, c, headerAndBody, credential)).toBe(true);
      // one byte of the body, the request id, another key: no longer verifies
      const tampered = Buffer.from(headerAndBody);
      tampered[tampered.length - 1]! ^= 1;
      expect(verifyMessage(rsa.publicKey, c, tampered, credential)).toBe(false);
      if (major === 2 && minor >= 7) expect(verifyMessage(rsa.publicKey, { ...c, requestId: c.requestId + 1 }, headerAndBody, credential)).toBe(false);
      expect(verifyMessage(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, c, headerAndBody, credential)).toBe(false);
    });
  }

  it('DSA keys sign too (DER signatures, as Java makes them)', () => {
    const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    for (const c of [ctx(2, 10), ctx(2, 11)]) {
      const credential = signMessage(dsa.privateKey, c, headerAndBody);
      expect(decodeCredential(credential).hashAlg).toBe(c.minor === 11 ? 'SHA-256' : 'SHA1');
      expect(verifyMessage(dsa.publicKey, c, headerAndBody, credential)).toBe(true);
    }
  });

  it('an empty credential section does not verify', () => {
    expect(verifyMessage(rsa.publicKey, ctx(2, 11), headerAndBody, new Uint8Array(0))).toBe(false);
  });
});

describe('RSA public-key record (Util.getBytesFromPublicKey)', () => {
  it("node:crypto's JWK → RSA_PUB_KEY record → the same key back", () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    const bytes = publicKeyBytesFromJson({ kty: 'RSA', n: jwk.n, e: jwk.e })!;
    // "RSA_PUB_KEY", flags 0, e = 65537 (3 bytes), n with a leading 0 (Java BigInteger: the top bit is set)
    expect(bytes.subarray(0, 4 + 11 + 2 + 4 + 3 + 4 + 1).toString('hex')).toBe(
      '0000000b' + Buffer.from('RSA_PUB_KEY').toString('hex') + '0000' + '00000003' + '010001' + '00000101' + '00',
    );
    const back = createPublicKey({ key: decodePublicKey(bytes) as never, format: 'jwk' });
    expect(back.equals(rsa.publicKey)).toBe(true);
  });
});
