// Tests for handle/wire/body.ts: resolution request and response bodies, the error body and request digests, against hand-built bytes.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { valueFromJson } from '../../../handle/json.js';
import type { HandleValue, Permissions } from '../../../handle/types.js';
import { decodeMessage } from '../../../handle/wire/message.js';
import {
  decodeErrorBody,
  decodeResolutionRequest,
  decodeResolutionResponse,
  DIGEST,
  digestAlgFor,
  encodeErrorBody,
  encodeResolutionRequest,
  encodeResolutionResponse,
  requestDigest,
} from '../../../handle/wire/body.js';
import { decodeHandleValue, encodeHandleValue } from '../../../handle/wire/values.js';
import { valueOf } from '../../helpers/values.js';
import { ascii, ENVELOPE_NEW, expectWireError, HANDLE, hex, NOW, REQUEST_BODY, REQUEST_MESSAGE, RESPONSE_BODY, RSA_KEY_JSON, URL_DATA, URL_VALUE } from './fixtures.js';

describe('resolution request', () => {
  it('decodes the hand-built body and encodes it back', () => {
    const r = decodeResolutionRequest(Uint8Array.from(REQUEST_BODY));
    expect(r).toEqual({ handle: HANDLE, indexes: [1], types: ['URL'] });
    expect(Array.from(encodeResolutionRequest(r))).toEqual(REQUEST_BODY);
  });

  it('round-trips empty lists, many entries and non-ASCII text', () => {
    for (const r of [
      { handle: '', indexes: [], types: [] },
      { handle: '20.500.12345/ä東', indexes: [1, 100, 0xffffffff], types: ['URL', 'HS_ADMIN', 'ÉMAIL'] },
    ]) {
      expect(decodeResolutionRequest(encodeResolutionRequest(r))).toEqual(r);
    }
  });

  it('rejects invalid UTF-8, impossible counts, truncation and trailing bytes', () => {
    expectWireError(() => decodeResolutionRequest(Uint8Array.from([0, 0, 0, 2, 0xc3, 0x28, 0, 0, 0, 0, 0, 0, 0, 0]))); // handle "\xc3("
    expectWireError(() => decodeResolutionRequest(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xff]))); // type 0xff
    expectWireError(() => decodeResolutionRequest(Uint8Array.from([0, 0, 0, 0, 0x40, 0, 0, 0]))); // 2^30 indexes in 0 bytes
    expectWireError(() => decodeResolutionRequest(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]))); // 4G types
    expectWireError(() => decodeResolutionRequest(Uint8Array.from([0, 0, 0, 9, 0x41]))); // handle runs past the end
    for (let n = 0; n < REQUEST_BODY.length; n++) expectWireError(() => decodeResolutionRequest(Uint8Array.from(REQUEST_BODY.slice(0, n))));
    expectWireError(() => decodeResolutionRequest(Uint8Array.from([...REQUEST_BODY, 0])));
  });
});

describe('request digest', () => {
  const request = decodeMessage(REQUEST_MESSAGE);
  // The digests of REQUEST_MESSAGE's 24-byte header and 39-byte body (its first 63 bytes, without the credential),
  // worked out apart from this code (Python hashlib), each after its Handle.Net hash code (MD5 1, SHA-1 2, SHA-256 3).
  const MD5 = '01' + '071c28e0bc964672a90de6c4d8a59e07';
  const SHA1 = '02' + '68fbc004a09378912c1ece7c0703ff4b6c13f576';
  const SHA256 = '03' + 'ea4a459414de7d0ca57d35abafbe0bcc7a87c9f1d6cb8f77a9f8c0ad8c09da91';

  it('is the algorithm byte + the digest of header and body as received', () => {
    expect(hex(requestDigest(DIGEST.MD5, request))).toBe(MD5);
    expect(hex(requestDigest(DIGEST.SHA1, request))).toBe(SHA1);
    expect(hex(requestDigest(DIGEST.SHA256, request))).toBe(SHA256);
  });

  it('covers neither the envelope nor the credential', () => {
    const signed = decodeMessage(Buffer.concat([REQUEST_MESSAGE.subarray(0, REQUEST_MESSAGE.length - 4), Buffer.from([0, 0, 0, 2, 1, 2])]));
    expect(hex(requestDigest(DIGEST.SHA256, signed))).toBe(SHA256);
    // SHA-256 over ENVELOPE_NEW + header + body, which it must not be
    expect(hex(requestDigest(DIGEST.SHA256, request))).not.toBe('03' + '4f9fd34921ac1aac28cdd9ec10a362ca2ae638cf665601cf944184b11672cbea');
  });

  it('picks the digest algorithm by the response version (AbstractResponse.takeDigestOfRequest)', () => {
    expect(digestAlgFor(2, 0)).toBe(DIGEST.MD5);
    expect(digestAlgFor(5, 0)).toBe(DIGEST.MD5);
    expect(digestAlgFor(2, 1)).toBe(DIGEST.SHA1);
    expect(digestAlgFor(2, 6)).toBe(DIGEST.SHA1);
    expect(digestAlgFor(2, 7)).toBe(DIGEST.SHA256);
    expect(digestAlgFor(2, 10)).toBe(DIGEST.SHA256);
    expect(digestAlgFor(2, 11)).toBe(DIGEST.SHA256);
    expect(digestAlgFor(3, 0)).toBe(DIGEST.SHA256);
  });
});

describe('resolution response', () => {
  const urlValue = valueOf({ timestamp: NOW, index: 1, type: 'URL', data: { format: 'string', value: URL_DATA } });

  it('decodes the hand-built body and encodes it back', () => {
    const r = decodeResolutionResponse(RESPONSE_BODY, false);
    expect(r).toEqual({ digest: null, handle: HANDLE, values: [urlValue] });
    expect(hex(encodeResolutionResponse(HANDLE, [urlValue], null))).toBe(hex(RESPONSE_BODY));
    expect(Array.from(encodeHandleValue(urlValue))).toEqual(URL_VALUE);
    expect(decodeHandleValue(Uint8Array.from(URL_VALUE))).toEqual(urlValue);
  });

  it('puts the digest section first when there is one', () => {
    const digest = requestDigest(DIGEST.SHA256, decodeMessage(REQUEST_MESSAGE));
    const fixture = Buffer.concat([
      Buffer.from([0x03]), // DigestAlgorithmIdentifier 3 = SHA-256
      Buffer.from('ea4a459414de7d0ca57d35abafbe0bcc7a87c9f1d6cb8f77a9f8c0ad8c09da91', 'hex'), // the 32 digest bytes (see 'request digest')
      RESPONSE_BODY, // then the body as without a digest
    ]);
    expect(hex(encodeResolutionResponse(HANDLE, [urlValue], digest))).toBe(hex(fixture));
    const r = decodeResolutionResponse(fixture, true);
    expect(hex(r.digest!)).toBe(hex(digest));
    expect(r.values).toEqual([urlValue]);
    for (const alg of [DIGEST.MD5, DIGEST.SHA1]) {
      const d = requestDigest(alg, decodeMessage(REQUEST_MESSAGE));
      const back = decodeResolutionResponse(encodeResolutionResponse(HANDLE, [urlValue], d), true);
      expect(hex(back.digest!)).toBe(hex(d));
    }
  });

  it('reads Handle.Net’s pre-2.1 digest format (code 0: a length-prefixed MD5) and rejects unknown algorithms', () => {
    const md5 = createHash('md5').update('x').digest();
    const old = Buffer.concat([Buffer.from([0, 0, 0, 16]), md5, RESPONSE_BODY]);
    expect(hex(decodeResolutionResponse(old, true).digest!)).toBe(hex(Buffer.concat([Buffer.from([0, 0, 0, 16]), md5])));
    expectWireError(() => decodeResolutionResponse(Buffer.concat([Buffer.from([4]), RESPONSE_BODY]), true));
    expectWireError(() => decodeResolutionResponse(Buffer.from([3, 1, 2]), true)); // digest cut short
  });

  it('refuses a digest that is not a digest section', () => {
    const raw = createHash('sha256').update('x').digest();
    expect(() => encodeResolutionResponse(HANDLE, [], raw)).toThrow(RangeError);
    expect(() => encodeErrorBody('x', Buffer.from([2, 1, 2, 3]))).toThrow(RangeError);
  });

  it('round-trips every value format the JSON codec stores', () => {
    const site = {
      version: 1,
      protocolVersion: '2.10',
      serialNumber: 3,
      primarySite: true,
      multiPrimary: false,
      attributes: [{ name: 'desc', value: 'node' }],
      servers: [
        {
          serverId: 1,
          address: '10.0.0.5',
          publicKey: { format: 'key', value: RSA_KEY_JSON },
          interfaces: [{ query: true, admin: false, protocol: 'UDP', port: 2641 }],
        },
      ],
    };
    const inputs = [
      { index: 1, type: 'URL', data: { format: 'string', value: 'https://example.org/ä' } },
      { index: 2, type: 'BLOB', data: { format: 'base64', value: '/wABAgM=' } },
      { index: 3, type: 'BLOB', data: { format: 'hex', value: '00ff10' } },
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/20.500.12345', index: 200, permissions: '011111110011' } } },
      { index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '20.500.12345/a', index: 300 }, { handle: '20.500.12345/b', index: 301 }] } },
      { index: 4, type: 'HS_SITE', data: { format: 'site', value: site } },
      { index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: RSA_KEY_JSON } },
      { index: 301, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'DSA', y: 'BQ', p: 'Cw', q: 'Aw', g: 'Ag' } } },
    ];
    const values = inputs.map((i) => valueFromJson(i, NOW));
    const body = encodeResolutionResponse(HANDLE, values, null);
    const back = decodeResolutionResponse(body, false);
    expect(back.handle).toBe(HANDLE);
    expect(back.values).toEqual(values);
    // re-encoding what was decoded gives the same bytes
    expect(hex(encodeResolutionResponse(back.handle, back.values, null))).toBe(hex(body));
  });

  it('round-trips references, absolute TTLs, timestamps and every permission combination', () => {
    const values: HandleValue[] = [];
    for (let p = 0; p < 16; p++) {
      const permissions: Permissions = { adminRead: (p & 8) !== 0, adminWrite: (p & 4) !== 0, publicRead: (p & 2) !== 0, publicWrite: (p & 1) !== 0 };
      values.push(valueOf({ timestamp: NOW, index: 10 + p, type: 'EMAIL', data: { format: 'string', value: `x${p}@example.org` }, permissions }));
    }
    values.push(
      valueOf({
        index: 2147483647,
        type: 'URL',
        data: { format: 'string', value: '' },
        ttlType: 'absolute',
        ttl: 2147483647,
        timestamp: 0,
        references: [
          { handle: '20.500.12345/ref', index: 1 },
          { handle: '0.NA/20.500.12345', index: 0xffffffff },
        ],
      }),
    );
    expect(decodeResolutionResponse(encodeResolutionResponse(HANDLE, values, null), false).values).toEqual(values);
  });

  it('rejects unknown TTL types, bad UTF-8 in types, impossible counts, truncation and trailing bytes', () => {
    const badTtl = Uint8Array.from(URL_VALUE);
    badTtl[8] = 2;
    expectWireError(() => decodeHandleValue(badTtl));
    const badType = Uint8Array.from(URL_VALUE);
    badType[18] = 0xff; // inside "URL"
    expectWireError(() => decodeHandleValue(badType));
    const manyRefs = Uint8Array.from(URL_VALUE);
    manyRefs.set([0x10, 0, 0, 0], URL_VALUE.length - 4);
    expectWireError(() => decodeHandleValue(manyRefs));
    const manyValues = Buffer.from(RESPONSE_BODY);
    manyValues.writeUInt32BE(0x7fffffff, 20);
    expectWireError(() => decodeResolutionResponse(manyValues, false));
    for (let n = 0; n < RESPONSE_BODY.length; n++) expectWireError(() => decodeResolutionResponse(RESPONSE_BODY.subarray(0, n), false));
    expectWireError(() => decodeResolutionResponse(Buffer.concat([RESPONSE_BODY, Buffer.from([0])]), false));
  });
});

describe('error body', () => {
  it('is the digest (when asked for) and the message as a string', () => {
    const fixture = Uint8Array.from([
      0x00, 0x00, 0x00, 0x10, ...ascii('Handle not found'), // message: length 16
    ]);
    expect(hex(encodeErrorBody('Handle not found', null))).toBe(hex(fixture));
    expect(decodeErrorBody(fixture, false)).toEqual({ digest: null, message: 'Handle not found' });
    const digest = requestDigest(DIGEST.SHA1, decodeMessage(REQUEST_MESSAGE));
    const withDigest = encodeErrorBody('Handle not found', digest);
    expect(hex(withDigest)).toBe(hex(Buffer.concat([digest, fixture]))); // 0x02 + 20 SHA-1 bytes, then the message
    const back = decodeErrorBody(withDigest, true);
    expect(back.message).toBe('Handle not found');
    expect(hex(back.digest!)).toBe(hex(digest));
  });

  it('round-trips an empty and a non-ASCII message and rejects bad ones', () => {
    expect(decodeErrorBody(encodeErrorBody('', null), false).message).toBe('');
    expect(decodeErrorBody(encodeErrorBody('标识不存在', null), false).message).toBe('标识不存在');
    expectWireError(() => decodeErrorBody(Uint8Array.from([0, 0, 0, 1, 0x80]), false));
    expectWireError(() => decodeErrorBody(Uint8Array.from([0, 0, 0, 5, 0x41]), false));
    expectWireError(() => decodeErrorBody(Uint8Array.from([0, 0, 0, 0, 0]), false));
    expectWireError(() => decodeErrorBody(new Uint8Array(0), true));
  });
});
