// Tests for handle/wire/message.ts: a hand-built resolution request message, opFlags, the credential section, limits.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, HEADER_SIZE, OC, OPFLAG } from '../../../handle/wire/message.js';
import { expectWireError, hex, NOW, REQUEST_BODY, REQUEST_MESSAGE } from './fixtures.js';

describe('header and message', () => {
  it('decodes a hand-built resolution request and encodes it back byte for byte', () => {
    const m = decodeMessage(REQUEST_MESSAGE);
    expect(m.header).toEqual({
      opCode: OC.RESOLUTION,
      responseCode: 0,
      opFlags: (OPFLAG.RECURSIVE | OPFLAG.PUBLIC_ONLY | OPFLAG.RETURN_DIGEST) >>> 0,
      siteInfoSerial: 0xffff,
      recursionCount: 0,
      expiration: NOW,
      bodyLength: 39,
    });
    expect(Array.from(m.body)).toEqual(REQUEST_BODY);
    expect(m.credential.length).toBe(0);
    expect(hex(m.digestInput)).toBe(hex(REQUEST_MESSAGE.subarray(0, HEADER_SIZE + 39)));
    const { bodyLength: _bodyLength, ...header } = m.header;
    expect(hex(encodeMessage(header, m.body))).toBe(hex(REQUEST_MESSAGE));
  });

  it('keeps opFlags unsigned (AUTH is the top bit)', () => {
    const all = Object.values(OPFLAG).reduce((a, b) => (a | b) >>> 0, 0);
    const m = decodeMessage(encodeMessage({ opCode: 1, responseCode: 0, opFlags: all, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, new Uint8Array(0)));
    expect(m.header.opFlags).toBe(0xfff00000);
    expect(m.header.opFlags & OPFLAG.AUTH).not.toBe(0);
  });

  it('reads a credential section, and a message that ends right after its body', () => {
    const withCred = Buffer.concat([REQUEST_MESSAGE.subarray(0, REQUEST_MESSAGE.length - 4), Buffer.from([0, 0, 0, 3, 0xa, 0xb, 0xc])]);
    const m = decodeMessage(withCred);
    expect(Array.from(m.credential)).toEqual([0xa, 0xb, 0xc]);
    expect(hex(m.digestInput)).toBe(hex(decodeMessage(REQUEST_MESSAGE).digestInput)); // the credential is not digested
    const bare = decodeMessage(REQUEST_MESSAGE.subarray(0, REQUEST_MESSAGE.length - 4));
    expect(bare.credential.length).toBe(0);
    expect(Array.from(bare.body)).toEqual(REQUEST_BODY);
  });

  it('rejects truncated and overlong messages', () => {
    expectWireError(() => decodeMessage(REQUEST_MESSAGE.subarray(0, 23))); // shorter than the header
    expectWireError(() => decodeMessage(REQUEST_MESSAGE.subarray(0, 40))); // body runs past the end
    expectWireError(() => decodeMessage(REQUEST_MESSAGE.subarray(0, REQUEST_MESSAGE.length - 2))); // half a credential length
    expectWireError(() => decodeMessage(Buffer.concat([REQUEST_MESSAGE, Buffer.from([0])]))); // a byte after the credential
    const lying = Buffer.from(REQUEST_MESSAGE);
    lying.writeUInt32BE(0xffffffff, 20); // bodyLength 4 GiB
    expectWireError(() => decodeMessage(lying));
    const badCred = Buffer.from(REQUEST_MESSAGE);
    badCred.writeUInt32BE(9, REQUEST_MESSAGE.length - 4); // credential of 9 bytes that are not there
    expectWireError(() => decodeMessage(badCred));
  });

  it('refuses to encode header fields that do not fit', () => {
    const h = { opCode: 1, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 };
    expect(() => encodeMessage({ ...h, siteInfoSerial: 0x10000 }, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeMessage({ ...h, recursionCount: 256 }, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeMessage({ ...h, opFlags: -1 }, new Uint8Array(0))).toThrow(RangeError);
  });
});
