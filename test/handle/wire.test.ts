// Tests for handle/wire.ts: hand-built RFC 3652 / Handle.Net byte fixtures, round trips of every codec, UDP fragments and reassembly, and a seeded fuzz loop.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../handle/codes.js';
import { valueFromJson } from '../../handle/json.js';
import type { HandleValue, Permissions } from '../../handle/types.js';
import {
  dataBytes,
  decodeEnvelope,
  decodeErrorBody,
  decodeHandleValue,
  decodeMessage,
  decodeResolutionRequest,
  decodeResolutionResponse,
  decodeSiteInfo,
  DIGEST,
  digestAlgFor,
  encodeEnvelope,
  encodeErrorBody,
  encodeHandleValue,
  encodeMessage,
  encodeResolutionRequest,
  encodeResolutionResponse,
  encodeSiteInfo,
  ENVELOPE_SIZE,
  formatServerAddress,
  fragmentForUdp,
  HEADER_SIZE,
  MAX_MESSAGE_LENGTH,
  OC,
  OPFLAG,
  parseServerAddress,
  PROTOCOL_VERSION,
  requestDigest,
  responseVersion,
  siteInfoFromJson,
  siteInfoToJson,
  UDP_FRAGMENT_PAYLOAD,
  UDP_PACKET_MAX,
  UdpReassembler,
  valueDataFromWire,
  versionAtLeast,
  WireError,
  type Envelope,
  type SiteInfo,
} from '../../handle/wire.js';
import { seededRandom } from '../../bench/lib.js';

const NOW = 1704164645; // 2024-01-02T03:04:05Z = 0x65937d25

/** Character codes of an ASCII string (its length is written out separately in each fixture). */
function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function expectWireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    expect((e as Error).message.length).toBeGreaterThan(0);
    return e as WireError;
  }
  throw new Error('expected a WireError, nothing was thrown');
}

function value(partial: Partial<HandleValue> & Pick<HandleValue, 'index' | 'type' | 'data'>): HandleValue {
  return {
    ttlType: 'relative',
    ttl: 86400,
    timestamp: NOW,
    permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
    references: [],
    ...partial,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Fixtures, built by hand from RFC 3652 §2.2 and Handle.Net's Encoder.

/** ≥ 2.5 layout: a CNRI-style request, version 2.10 suggesting 2.11 for the answer. */
const ENVELOPE_NEW = Uint8Array.from([
  0x02, // MajorVersion 2
  0x0a, // MinorVersion 10
  0x02, // byte 2: CP 0, EC 0, TC 0 (0x80/0x40/0x20), suggested major 2 in the low 2 bits
  0x0b, // byte 3: suggested minor 11
  0x00, 0x00, 0x00, 0x00, // SessionId 0
  0x12, 0x34, 0x56, 0x78, // RequestId 0x12345678
  0x00, 0x00, 0x00, 0x00, // SequenceNumber 0
  0x00, 0x00, 0x00, 0x40, // MessageLength 64
]);

/** 2.1–2.4 layout: bytes 2–3 are RFC 3652's MessageFlag only (here TC set), no suggested version. */
const ENVELOPE_OLD = Uint8Array.from([
  0x02, // MajorVersion 2
  0x03, // MinorVersion 3
  0x20, // MessageFlag high byte: TC (truncated) 0x20; CP 0x80 and EC 0x40 clear
  0x00, // MessageFlag low byte: reserved
  0x00, 0x00, 0x00, 0x07, // SessionId 7
  0x00, 0x00, 0x00, 0x01, // RequestId 1
  0x00, 0x00, 0x00, 0x02, // SequenceNumber 2 (third fragment)
  0x00, 0x00, 0x03, 0xe8, // MessageLength 1000 (the whole message)
]);

const HANDLE = '20.500.12345/abc'; // 16 bytes

/** Resolution request body (RFC 3652 §3.1): handle, one index, one type. */
const REQUEST_BODY = [
  0x00, 0x00, 0x00, 0x10, ...ascii(HANDLE), // Handle: length 16 + "20.500.12345/abc"
  0x00, 0x00, 0x00, 0x01, // IndexList: 1 index
  0x00, 0x00, 0x00, 0x01, //   index 1
  0x00, 0x00, 0x00, 0x01, // TypeList: 1 type
  0x00, 0x00, 0x00, 0x03, ...ascii('URL'), //   length 3 + "URL"
];

/** A whole resolution request message (after the envelope): header, body, empty credential. */
const REQUEST_MESSAGE = Uint8Array.from([
  0x00, 0x00, 0x00, 0x01, // opCode 1 = resolution
  0x00, 0x00, 0x00, 0x00, // responseCode 0 = request
  0x11, 0x80, 0x00, 0x00, // opFlags: RECURSIVE 0x10000000 | PUBLIC_ONLY 0x01000000 | RETURN_DIGEST 0x00800000
  0xff, 0xff, // siteInfoSerial 0xffff (Handle.Net's default -1)
  0x00, // recursionCount 0
  0x00, // reserved
  0x65, 0x93, 0x7d, 0x25, // expiration 1704164645
  0x00, 0x00, 0x00, 0x27, // bodyLength 39
  ...REQUEST_BODY,
  0x00, 0x00, 0x00, 0x00, // credential: length 0 (unsigned message)
]);

const URL_DATA = 'https://a.example'; // 17 bytes

/** One handle value (RFC 3651 §3 / Encoder.encodeHandleValue). */
const URL_VALUE = [
  0x00, 0x00, 0x00, 0x01, // index 1
  0x65, 0x93, 0x7d, 0x25, // timestamp 1704164645
  0x00, // ttlType 0 = relative
  0x00, 0x01, 0x51, 0x80, // ttl 86400
  0x0e, // permissions: ADMIN_READ 0x08 | ADMIN_WRITE 0x04 | PUBLIC_READ 0x02
  0x00, 0x00, 0x00, 0x03, ...ascii('URL'), // type: length 3 + "URL"
  0x00, 0x00, 0x00, 0x11, ...ascii(URL_DATA), // data: length 17 + "https://a.example"
  0x00, 0x00, 0x00, 0x00, // references: 0
];

/** Resolution response body without a digest: handle, value count, values. */
const RESPONSE_BODY = Uint8Array.from([
  0x00, 0x00, 0x00, 0x10, ...ascii(HANDLE), // handle: length 16 + "20.500.12345/abc"
  0x00, 0x00, 0x00, 0x01, // 1 value
  ...URL_VALUE,
]);

/** HS_SITE record (Encoder.encodeSiteInfoRecord): one server on 127.0.0.1 with a TCP and an HTTP interface. */
const SITE_RECORD = Uint8Array.from([
  0x00, 0x01, // DataFormatVersion 1
  0x02, // protocol major 2
  0x0a, // protocol minor 10
  0x00, 0x01, // SerialNumber 1
  0x80, // flags: PRIMARY_SITE 0x80 (MULTI_PRIMARY 0x40 clear)
  0x00, // HashOption 0 (by prefix)
  0x00, 0x00, 0x00, 0x00, // HashFilter: empty byte array
  0x00, 0x00, 0x00, 0x01, // 1 attribute
  0x00, 0x00, 0x00, 0x04, ...ascii('desc'), //   name: length 4 + "desc"
  0x00, 0x00, 0x00, 0x04, ...ascii('test'), //   value: length 4 + "test"
  0x00, 0x00, 0x00, 0x01, // 1 server
  0x00, 0x00, 0x00, 0x01, //   ServerId 1
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1, //   Address: 127.0.0.1 as Handle.Net stores IPv4 (12 zero bytes + 4)
  0x00, 0x00, 0x00, 0x00, //   PublicKeyRecord: empty
  0x00, 0x00, 0x00, 0x02, //   2 interfaces
  0x02, //     type ST_QUERY 2
  0x01, //     protocol SP_HDL_TCP 1
  0x00, 0x00, 0x0a, 0x51, //     port 2641
  0x03, //     type ST_ADMIN_AND_QUERY 3
  0x02, //     protocol SP_HDL_HTTP 2
  0x00, 0x00, 0x1f, 0x40, //     port 8000
]);

const SITE: SiteInfo = {
  dataVersion: 1,
  protocolMajor: 2,
  protocolMinor: 10,
  serialNumber: 1,
  primary: true,
  multiPrimary: false,
  hashOption: 0,
  hashFilter: new Uint8Array(0),
  attributes: [{ name: 'desc', value: 'test' }],
  servers: [
    {
      serverId: 1,
      address: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1]),
      publicKey: new Uint8Array(0),
      interfaces: [
        { type: 'query', protocol: 'tcp', port: 2641 },
        { type: 'both', protocol: 'http', port: 8000 },
      ],
    },
  ],
};

/** The same site in Handle.Net's JSON (GsonUtility.SiteInfoGsonTypeAdapter). */
const SITE_JSON = {
  version: 1,
  protocolVersion: '2.10',
  serialNumber: 1,
  primarySite: true,
  multiPrimary: false,
  hashOption: 0,
  attributes: [{ name: 'desc', value: 'test' }],
  servers: [
    {
      serverId: 1,
      address: '127.0.0.1',
      publicKey: { format: 'base64', value: '' },
      interfaces: [
        { query: true, admin: false, protocol: 'TCP', port: 2641 },
        { query: true, admin: true, protocol: 'HTTP', port: 8000 },
      ],
    },
  ],
};

/** An RSA public key record (Util.getBytesFromPublicKey) for n = 0xc501, e = 65537. */
const RSA_KEY_RECORD = Uint8Array.from([
  0x00, 0x00, 0x00, 0x0b, ...ascii('RSA_PUB_KEY'), // key type: length 11 + "RSA_PUB_KEY"
  0x00, 0x00, // flags (reserved)
  0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x01, // e: length 3 + 65537
  0x00, 0x00, 0x00, 0x03, 0x00, 0xc5, 0x01, // n: length 3 + 0x00c501 (BigInteger.toByteArray adds 0x00: top bit set)
]);
const RSA_KEY_JSON = { kty: 'RSA', n: 'xQE', e: 'AQAB' };

// ---------------------------------------------------------------------------------------------------------------------

describe('envelope', () => {
  it('decodes and re-encodes the ≥ 2.5 layout (suggested version in bytes 2–3)', () => {
    const env = decodeEnvelope(ENVELOPE_NEW);
    expect(env).toEqual({
      major: 2,
      minor: 10,
      suggestedMajor: 2,
      suggestedMinor: 11,
      compressed: false,
      encrypted: false,
      truncated: false,
      sessionId: 0,
      requestId: 0x12345678,
      sequenceNumber: 0,
      messageLength: 64,
    });
    expect(hex(encodeEnvelope(env))).toBe(hex(ENVELOPE_NEW));
  });

  it('decodes and re-encodes the 2.1–2.4 layout (MessageFlag only: suggested 0.0 = none)', () => {
    const env = decodeEnvelope(ENVELOPE_OLD);
    expect(env).toEqual({
      major: 2,
      minor: 3,
      suggestedMajor: 0,
      suggestedMinor: 0,
      compressed: false,
      encrypted: false,
      truncated: true,
      sessionId: 7,
      requestId: 1,
      sequenceNumber: 2,
      messageLength: 1000,
    });
    expect(hex(encodeEnvelope(env))).toBe(hex(ENVELOPE_OLD));
  });

  it('reads the CP, EC and TC flags next to the suggested major', () => {
    const b = Uint8Array.from(ENVELOPE_NEW);
    b[2] = 0x80 | 0x40 | 0x20 | 0x03; // CP, EC, TC, suggested major 3
    const env = decodeEnvelope(b);
    expect([env.compressed, env.encrypted, env.truncated, env.suggestedMajor, env.suggestedMinor]).toEqual([true, true, true, 3, 11]);
    expect(hex(encodeEnvelope(env))).toBe(hex(b));
  });

  it('ignores byte 3 when no suggested major is set, and the reserved bits 0x1c of byte 2', () => {
    const b = Uint8Array.from(ENVELOPE_OLD);
    b[2] = 0x20 | 0x1c; // TC + reserved bits
    b[3] = 0x55; // reserved in the old layout
    const env = decodeEnvelope(b);
    expect([env.truncated, env.suggestedMajor, env.suggestedMinor]).toEqual([true, 0, 0]);
    // encoding an envelope without a suggestion writes the old layout exactly
    expect(Array.from(encodeEnvelope(env).subarray(2, 4))).toEqual([0x20, 0x00]);
  });

  it('reads only the first 20 bytes of a longer datagram', () => {
    const d = Buffer.concat([ENVELOPE_NEW, Buffer.alloc(64, 0xaa)]);
    expect(decodeEnvelope(d).messageLength).toBe(64);
  });

  it('rejects short envelopes and message lengths over Handle.Net’s limit', () => {
    expectWireError(() => decodeEnvelope(new Uint8Array(0)));
    expectWireError(() => decodeEnvelope(ENVELOPE_NEW.subarray(0, 19)));
    const b = Buffer.from(ENVELOPE_NEW);
    b.writeUInt32BE(MAX_MESSAGE_LENGTH, 16);
    expect(decodeEnvelope(b).messageLength).toBe(MAX_MESSAGE_LENGTH);
    b.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 16);
    expectWireError(() => decodeEnvelope(b));
    b.writeUInt32BE(0xffffffff, 16); // negative in Java
    expectWireError(() => decodeEnvelope(b));
  });

  it('refuses to encode fields that do not fit', () => {
    const env = decodeEnvelope(ENVELOPE_NEW);
    expect(() => encodeEnvelope({ ...env, suggestedMajor: 4 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...env, major: 256 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...env, requestId: -1 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...env, messageLength: 2 ** 32 })).toThrow(RangeError);
  });

  it('encodes unsigned 32-bit ids in full', () => {
    const env: Envelope = { ...decodeEnvelope(ENVELOPE_NEW), sessionId: 0xffffffff, requestId: 0x80000001 };
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });
});

describe('protocol versions', () => {
  it('compares versions as AbstractMessage.hasEqualOrGreaterVersion does, 5.x quirk included', () => {
    expect(versionAtLeast(2, 10, 2, 7)).toBe(true);
    expect(versionAtLeast(2, 6, 2, 7)).toBe(false);
    expect(versionAtLeast(3, 0, 2, 11)).toBe(true);
    expect(versionAtLeast(1, 99, 2, 0)).toBe(false);
    expect(versionAtLeast(5, 0, 2, 1)).toBe(false); // very old clients said 5.0
    expect(versionAtLeast(5, 3, 5, 2)).toBe(true);
    expect(versionAtLeast(2, 0, 5, 0)).toBe(true);
  });

  it('answers in the suggested version, else the request’s own, capped at 2.11', () => {
    const v = (major: number, minor: number, suggestedMajor: number, suggestedMinor: number) =>
      responseVersion({ major, minor, suggestedMajor, suggestedMinor });
    expect(PROTOCOL_VERSION).toEqual({ major: 2, minor: 11 });
    expect(v(2, 10, 2, 10)).toEqual({ major: 2, minor: 10 }); // ID-SDK
    expect(v(2, 3, 2, 11)).toEqual({ major: 2, minor: 11 }); // CNRI client: compatibility 2.3, suggests 2.11
    expect(v(2, 10, 2, 5)).toEqual({ major: 2, minor: 5 }); // the suggestion wins even when lower
    expect(v(2, 4, 0, 0)).toEqual({ major: 2, minor: 4 }); // old layout: no suggestion
    expect(v(2, 12, 2, 12)).toEqual({ major: 2, minor: 11 }); // capped
    expect(v(3, 0, 3, 0)).toEqual({ major: 2, minor: 11 });
    expect(v(5, 0, 0, 0)).toEqual({ major: 5, minor: 0 }); // not ≥ 2.11 by the 5.x rule
    expect(responseVersion(decodeEnvelope(ENVELOPE_NEW))).toEqual({ major: 2, minor: 11 });
    expect(responseVersion(decodeEnvelope(ENVELOPE_OLD))).toEqual({ major: 2, minor: 3 });
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
  const headerAndBody = REQUEST_MESSAGE.subarray(0, HEADER_SIZE + 39);

  it('is the algorithm byte + the digest of header and body as received', () => {
    const cases = [
      [DIGEST.MD5, 'md5', 16],
      [DIGEST.SHA1, 'sha1', 20],
      [DIGEST.SHA256, 'sha256', 32],
    ] as const;
    for (const [alg, name, len] of cases) {
      const d = requestDigest(alg, request);
      expect(d.length).toBe(1 + len);
      expect(d[0]).toBe(alg);
      expect(hex(d.subarray(1))).toBe(createHash(name).update(headerAndBody).digest('hex'));
    }
  });

  it('covers neither the envelope nor the credential', () => {
    const signed = decodeMessage(Buffer.concat([REQUEST_MESSAGE.subarray(0, REQUEST_MESSAGE.length - 4), Buffer.from([0, 0, 0, 2, 1, 2])]));
    expect(hex(requestDigest(DIGEST.SHA256, signed))).toBe(hex(requestDigest(DIGEST.SHA256, request)));
    const withEnvelope = createHash('sha256').update(Buffer.concat([ENVELOPE_NEW, headerAndBody])).digest('hex');
    expect(hex(requestDigest(DIGEST.SHA256, request).subarray(1))).not.toBe(withEnvelope);
  });
});

describe('resolution response', () => {
  const urlValue = value({ index: 1, type: 'URL', data: { format: 'string', value: URL_DATA } });

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
      Buffer.from(digest.subarray(1)), // 32 digest bytes
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
      values.push(value({ index: 10 + p, type: 'EMAIL', data: { format: 'string', value: `x${p}@example.org` }, permissions }));
    }
    values.push(
      value({
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

  it('writes TTL type and permissions as Handle.Net does', () => {
    const v = value({ index: 7, type: 'T', data: { format: 'string', value: '' }, ttlType: 'absolute', ttl: 0x01020304, permissions: { adminRead: false, adminWrite: true, publicRead: false, publicWrite: true } });
    const b = encodeHandleValue(v);
    expect(b[8]).toBe(1); // ttlType 1 = absolute
    expect(b.readUInt32BE(9)).toBe(0x01020304); // ttl
    expect(b[13]).toBe(0x05); // ADMIN_WRITE 0x04 | PUBLIC_WRITE 0x01
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

describe('value data on the wire', () => {
  it('encodes HS_ADMIN as u16 permission bits (the 12-character string read as binary), handle, index', () => {
    const v = value({ index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/20.500.12345', index: 200, permissions: '010000000001' } } });
    expect(Array.from(dataBytes(v))).toEqual([
      0x04, 0x01, // permissions: READ_VALUE 0x0400 | ADD_HANDLE 0x0001 (AdminRecord bit i = character 11 − i)
      0x00, 0x00, 0x00, 0x11, ...ascii('0.NA/20.500.12345'), // admin handle: length 17
      0x00, 0x00, 0x00, 0xc8, // admin index 200
    ]);
    const all = value({ index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: 'a/b', index: 1, permissions: '111111111111' } } });
    expect(Array.from(dataBytes(all).subarray(0, 2))).toEqual([0x0f, 0xff]);
  });

  it('decodes HS_ADMIN with Handle.Net ≤ 7.3’s two extra bytes, and ignores permission bits above 11', () => {
    const legacy = Uint8Array.from([0xff, 0xff, 0, 0, 0, 3, ...ascii('a/b'), 0, 0, 0, 1, 0, 0]);
    expect(valueDataFromWire('HS_ADMIN', legacy)).toEqual({ format: 'admin', value: { handle: 'a/b', index: 1, permissions: '111111111111' } });
  });

  it('encodes HS_VLIST as a count + (handle, index) pairs', () => {
    const v = value({ index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '20.500.12345/a', index: 300 }] } });
    expect(Array.from(dataBytes(v))).toEqual([
      0x00, 0x00, 0x00, 0x01, // 1 reference
      0x00, 0x00, 0x00, 0x0e, ...ascii('20.500.12345/a'), // handle: length 14
      0x00, 0x00, 0x01, 0x2c, // index 300
    ]);
  });

  it('encodes string and base64 data as their bytes', () => {
    expect(hex(dataBytes(value({ index: 1, type: 'URL', data: { format: 'string', value: 'ä' } })))).toBe('c3a4');
    expect(hex(dataBytes(value({ index: 1, type: 'B', data: { format: 'base64', value: '/wAB' } })))).toBe('ff0001');
  });

  it('encodes an RSA key as Handle.Net’s public-key record and decodes it back to the same JSON', () => {
    const v = value({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: RSA_KEY_JSON } });
    expect(hex(dataBytes(v))).toBe(hex(RSA_KEY_RECORD));
    expect(valueDataFromWire('HS_PUBKEY', RSA_KEY_RECORD)).toEqual({ format: 'key', value: RSA_KEY_JSON });
    // padded or standard-alphabet base64 and leading zeros in the JSON make the same record
    const padded = value({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'rsa', n: 'AMUB', e: 'AQAB' } } });
    expect(hex(dataBytes(padded))).toBe(hex(RSA_KEY_RECORD));
  });

  it('orders DSA numbers q, p, g, y in the record and y, p, q, g in the JSON', () => {
    const dsa = { kty: 'DSA', y: 'BQ', p: 'Cw', q: 'Aw', g: 'Ag' };
    const b = dataBytes(value({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: dsa } }));
    expect(Array.from(b)).toEqual([
      0, 0, 0, 11, ...ascii('DSA_PUB_KEY'), // key type
      0, 0, // flags
      0, 0, 0, 1, 3, // q = 3
      0, 0, 0, 1, 11, // p = 11
      0, 0, 0, 1, 2, // g = 2
      0, 0, 0, 1, 5, // y = 5
    ]);
    const back = valueDataFromWire('HS_PUBKEY', b);
    expect(back).toEqual({ format: 'key', value: dsa });
    expect(Object.keys(back.value as object)).toEqual(['kty', 'y', 'p', 'q', 'g']);
  });

  it('sends a key or site JSON it cannot convert as its JSON text', () => {
    const key = { kty: 'RSA', n: '', e: 'AQAB' };
    expect(dataBytes(value({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: key } })).toString()).toBe(JSON.stringify(key));
    const site = { servers: [{ serverId: 1, address: 'handle.example.org', interfaces: [] }] };
    expect(dataBytes(value({ index: 1, type: 'HS_SITE', data: { format: 'site', value: site } })).toString()).toBe(JSON.stringify(site));
  });

  it('decodes by type as Handle.Net’s JSON shows values: case-insensitive, subtypes included', () => {
    const admin = dataBytes(value({ index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: 'a/b', index: 1, permissions: '000000000001' } } }));
    expect(valueDataFromWire('hs_admin', admin).format).toBe('admin');
    expect(valueDataFromWire('HS_ADMIN.X', admin).format).toBe('admin');
    expect(valueDataFromWire('HS_ADMINX', admin).format).toBe('base64'); // not a subtype: plain bytes
    expect(valueDataFromWire('URL', admin).format).toBe('base64');
    for (const t of ['HS_SITE', 'HS_SITE.6', 'HS_SITE.PREFIX', 'HS_NA_DELEGATE']) expect(valueDataFromWire(t, SITE_RECORD)).toEqual({ format: 'site', value: SITE_JSON });
  });

  it('falls back to string or base64 when the bytes are not what the type says', () => {
    expect(valueDataFromWire('HS_ADMIN', Buffer.from('not an admin record'))).toEqual({ format: 'string', value: 'not an admin record' });
    expect(valueDataFromWire('HS_VLIST', new Uint8Array(0))).toEqual({ format: 'string', value: '' });
    expect(valueDataFromWire('HS_SITE', Uint8Array.from([0, 1, 2]))).toEqual({ format: 'base64', value: 'AAEC' });
    const dh = Uint8Array.from([0, 0, 0, 10, ...ascii('DH_PUB_KEY'), 0, 0, 0, 0, 0, 1, 7]);
    expect(valueDataFromWire('HS_PUBKEY', dh).format).toBe('base64');
    expect(valueDataFromWire('HS_VLIST', Uint8Array.from([0, 0, 0, 0, 9]))).toEqual({ format: 'base64', value: 'AAAAAAk=' }); // trailing byte
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

describe('site info (binary)', () => {
  it('decodes the hand-built record and encodes it back byte for byte', () => {
    expect(decodeSiteInfo(SITE_RECORD)).toEqual(SITE);
    expect(hex(encodeSiteInfo(SITE))).toBe(hex(SITE_RECORD));
  });

  it('round-trips flags, hash filter, several servers, IPv6 and a public key', () => {
    const s: SiteInfo = {
      ...SITE,
      serialNumber: 0xffff,
      primary: false,
      multiPrimary: true,
      hashOption: 2,
      hashFilter: Uint8Array.from([1, 2, 3]),
      attributes: [],
      servers: [
        { ...SITE.servers[0]!, publicKey: RSA_KEY_RECORD },
        { serverId: 0xffffffff, address: parseServerAddress('2001:db8::1')!, publicKey: new Uint8Array(0), interfaces: [{ type: 'out-of-service', protocol: 'https', port: 443 }, { type: 'admin', protocol: 'udp', port: 0 }] },
      ],
    };
    const b = encodeSiteInfo(s);
    expect(b[6]).toBe(0x40); // MULTI_PRIMARY only
    expect(decodeSiteInfo(b)).toEqual(s);
  });

  it('right-aligns a 4-byte address as Handle.Net does', () => {
    const b = encodeSiteInfo({ ...SITE, servers: [{ ...SITE.servers[0]!, address: Uint8Array.from([127, 0, 0, 1]) }] });
    expect(hex(b)).toBe(hex(SITE_RECORD));
  });

  it('rejects unknown interface types and protocols, truncation and trailing bytes', () => {
    const typeAt = SITE_RECORD.length - 12; // first interface's type byte
    const badType = Uint8Array.from(SITE_RECORD);
    badType[typeAt] = 4;
    expectWireError(() => decodeSiteInfo(badType));
    const badProtocol = Uint8Array.from(SITE_RECORD);
    badProtocol[typeAt + 1] = 4;
    expectWireError(() => decodeSiteInfo(badProtocol));
    for (let n = 0; n < SITE_RECORD.length; n++) expectWireError(() => decodeSiteInfo(SITE_RECORD.subarray(0, n)));
    expectWireError(() => decodeSiteInfo(Buffer.concat([SITE_RECORD, Buffer.from([0])])));
    const badAttr = Uint8Array.from(SITE_RECORD);
    badAttr[20] = 0xfe; // inside "desc"
    expectWireError(() => decodeSiteInfo(badAttr));
  });

  it('refuses to encode what does not fit', () => {
    expect(() => encodeSiteInfo({ ...SITE, serialNumber: 0x10000 })).toThrow(RangeError);
    expect(() => encodeSiteInfo({ ...SITE, servers: [{ ...SITE.servers[0]!, address: new Uint8Array(17) }] })).toThrow(RangeError);
  });
});

describe('site info (JSON)', () => {
  it('shows a site in Handle.Net’s Gson shape', () => {
    expect(siteInfoToJson(SITE)).toEqual(SITE_JSON);
    expect(Object.keys(siteInfoToJson(SITE))).toEqual(['version', 'protocolVersion', 'serialNumber', 'primarySite', 'multiPrimary', 'hashOption', 'attributes', 'servers']);
  });

  it('leaves out hashOption 2 and shows a hash filter and a public key', () => {
    const json = siteInfoToJson({ ...SITE, hashOption: 2, hashFilter: Buffer.from('abc'), servers: [{ ...SITE.servers[0]!, publicKey: RSA_KEY_RECORD }] });
    expect(json.hashOption).toBeUndefined();
    expect(json.hashFilter).toBe('abc');
    expect((json.servers as { publicKey: unknown }[])[0]!.publicKey).toEqual({ format: 'key', value: RSA_KEY_JSON });
  });

  it('reads its own JSON back', () => {
    expect(siteInfoFromJson(SITE_JSON)).toEqual(SITE);
    const withKey = siteInfoToJson({ ...SITE, servers: [{ ...SITE.servers[0]!, publicKey: RSA_KEY_RECORD }] });
    expect(hex(siteInfoFromJson(withKey).servers[0]!.publicKey)).toBe(hex(RSA_KEY_RECORD));
  });

  it('takes Handle.Net’s defaults for absent fields', () => {
    expect(siteInfoFromJson({})).toEqual({
      dataVersion: 1,
      protocolMajor: 2,
      protocolMinor: 11,
      serialNumber: 0,
      primary: false,
      multiPrimary: false,
      hashOption: 2,
      hashFilter: new Uint8Array(0),
      attributes: [],
      servers: [],
    });
  });

  it('accepts the forms Gson accepts: legacy capitalised keys, serverList, attribute maps, strings for numbers', () => {
    const legacy = {
      Version: '1',
      ProtocolVersion: '2.5',
      SerialNumber: '7',
      PrimarySite: 'TRUE',
      MultiPrimary: false,
      ServerList: [
        {
          ServerId: 2,
          Address: '192.0.2.1',
          PublicKey: '0102ff',
          InterfaceList: [{ Query: true, Admin: true, Protocol: 'TCP', Port: '2641' }],
        },
      ],
      Attributes: { desc: 'legacy', alt_addr: ['198.51.100.1', '198.51.100.2'] },
    };
    const s = siteInfoFromJson(legacy);
    expect([s.protocolMajor, s.protocolMinor, s.serialNumber, s.primary]).toEqual([2, 5, 7, true]);
    expect(s.attributes).toEqual([
      { name: 'desc', value: 'legacy' },
      { name: 'alt_addr', value: '198.51.100.1' },
      { name: 'alt_addr', value: '198.51.100.2' },
    ]);
    expect(s.servers[0]).toEqual({
      serverId: 2,
      address: parseServerAddress('192.0.2.1'),
      publicKey: Uint8Array.from([1, 2, 0xff]), // legacy: a hex string
      interfaces: [{ type: 'both', protocol: 'tcp', port: 2641 }],
    });
  });

  it('reads public keys given as string, base64, hex or key data, and interface protocols by number', () => {
    const server = (publicKey: unknown) => siteInfoFromJson({ servers: [{ serverId: 1, address: '::1', publicKey, interfaces: [{ query: true, admin: false, protocol: 3, port: 443 }] }] }).servers[0]!;
    expect(Buffer.from(server('abc').publicKey).toString()).toBe('abc');
    expect(hex(server({ format: 'base64', value: 'AQI=' }).publicKey)).toBe('0102');
    expect(hex(server({ format: 'hex', value: '0a0B' }).publicKey)).toBe('0a0b');
    expect(hex(server({ format: 'string', value: 'k' }).publicKey)).toBe('6b');
    expect(hex(server({ format: 'key', value: RSA_KEY_JSON }).publicKey)).toBe(hex(RSA_KEY_RECORD));
    expect(server(null).publicKey.length).toBe(0);
    expect(server(null).interfaces).toEqual([{ type: 'query', protocol: 'https', port: 443 }]);
  });

  it('rejects what Handle.Net could not read, with RC 202', () => {
    const bad: unknown[] = [
      { servers: {} },
      { servers: [{ address: '10.0.0.1' }] }, // no serverId
      { servers: [{ serverId: 1, address: 'handle.example.org' }] }, // host names are not resolved here
      { servers: [{ serverId: 1, address: '10.0.0.256' }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', publicKey: { format: 'key', value: { kty: 'EC' } } }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', publicKey: { format: 'vlist', value: [] } }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', publicKey: { format: 'hex', value: 'abc' } }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: true, protocol: 'FTP', port: 21 }] }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: 1, protocol: 'TCP', port: 21 }] }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: true, protocol: 'TCP', port: -1 }] }] },
      { protocolVersion: 'two' },
      { serialNumber: 70000 },
      { attributes: [{ name: 'x' }] },
      { attributes: 'x' },
    ];
    for (const b of bad) {
      try {
        siteInfoFromJson(b as Record<string, unknown>);
        throw new Error(`accepted ${JSON.stringify(b)}`);
      } catch (e) {
        expect(e).toBeInstanceOf(HandleError);
        expect((e as HandleError).code).toBe(RC.INVALID_VALUE);
      }
    }
  });
});

describe('server addresses', () => {
  it('stores IPv4 as 12 zero bytes + 4, IPv4-mapped IPv6 too (Java makes it an Inet4Address)', () => {
    const v4 = '00000000000000000000000001020304';
    expect(hex(parseServerAddress('1.2.3.4')!)).toBe(v4);
    expect(hex(parseServerAddress('::ffff:1.2.3.4')!)).toBe(v4);
    expect(hex(parseServerAddress('::FFFF:102:304')!)).toBe(v4);
    expect(hex(parseServerAddress('[2001:db8::1]')!)).toBe('20010db8000000000000000000000001');
    expect(hex(parseServerAddress('fe80::1%eth0')!)).toBe('fe800000000000000000000000000001');
    expect(hex(parseServerAddress('1:2:3:4:5:6:7:8')!)).toBe('00010002000300040005000600070008');
  });

  it('returns null for what is not an address literal', () => {
    for (const s of ['', 'localhost', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '12345::', ':::', '1:2:3:4:5:6:7::8']) {
      expect(parseServerAddress(s)).toBeNull();
    }
  });

  it('formats as ServerInfo.getAddressString / Util.rfcIpRepr do, quirks included', () => {
    const f = (s: string) => formatServerAddress(parseServerAddress(s)!);
    expect(f('127.0.0.1')).toBe('127.0.0.1');
    expect(f('2001:db8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(f('2001:0db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first of two equal runs
    expect(f('fe80:0:0:1:0:0:0:1')).toBe('fe80:0:0:1::1'); // the longest run
    expect(f('1:0:2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7'); // a single zero is not shortened
    expect(f('1::')).toBe('1:0:0:0:0:0:0:0'); // a run reaching the end is never chosen
    expect(f('::1')).toBe('0.0.0.1'); // first 12 bytes zero: shown as IPv4
    expect(formatServerAddress(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]))).toBe('::ffff:102:304');
    expect(formatServerAddress(Uint8Array.from([10, 0, 0, 1]))).toBe('10.0.0.1');
  });
});

describe('UDP fragments', () => {
  const base = { major: 2, minor: 10, suggestedMajor: 2, suggestedMinor: 11, compressed: false, encrypted: false, sessionId: 5, requestId: 0xabcdef };
  const message = Buffer.from(Array.from({ length: 1200 }, (_, i) => i % 251));

  it('sends a message that fits as one datagram, not truncated', () => {
    const small = message.subarray(0, 100);
    const [d, ...rest] = fragmentForUdp(base, small);
    expect(rest).toEqual([]);
    expect(d!.length).toBe(ENVELOPE_SIZE + 100);
    expect(decodeEnvelope(d!)).toEqual({ ...base, truncated: false, sequenceNumber: 0, messageLength: 100 });
    expect(hex(d!.subarray(ENVELOPE_SIZE))).toBe(hex(small));
  });

  it('splits into ≤ 512-byte datagrams with the same request id, sequence numbers 0…n−1 and the whole length', () => {
    const ds = fragmentForUdp(base, message);
    expect(ds.map((d) => d.length)).toEqual([UDP_PACKET_MAX, UDP_PACKET_MAX, ENVELOPE_SIZE + 1200 - 2 * UDP_FRAGMENT_PAYLOAD]);
    ds.forEach((d, i) => {
      expect(decodeEnvelope(d)).toEqual({ ...base, truncated: true, sequenceNumber: i, messageLength: 1200 });
      expect(hex(d.subarray(ENVELOPE_SIZE))).toBe(hex(message.subarray(i * UDP_FRAGMENT_PAYLOAD, (i + 1) * UDP_FRAGMENT_PAYLOAD)));
    });
    expect(Array.from(ds[1]!.subarray(0, ENVELOPE_SIZE))).toEqual([
      0x02, 0x0a, // version 2.10
      0x22, 0x0b, // TC 0x20 | suggested major 2, suggested minor 11
      0x00, 0x00, 0x00, 0x05, // SessionId 5
      0x00, 0xab, 0xcd, 0xef, // RequestId
      0x00, 0x00, 0x00, 0x01, // SequenceNumber 1
      0x00, 0x00, 0x04, 0xb0, // MessageLength 1200: the whole message, in every fragment
    ]);
  });

  it('handles exact multiples of 492 and the empty message', () => {
    expect(fragmentForUdp(base, message.subarray(0, 492)).length).toBe(1);
    expect(fragmentForUdp(base, message.subarray(0, 984)).map((d) => d.length)).toEqual([512, 512]);
    const empty = fragmentForUdp(base, new Uint8Array(0));
    expect(empty.length).toBe(1);
    expect(decodeEnvelope(empty[0]!).messageLength).toBe(0);
  });
});

describe('UdpReassembler', () => {
  const base = { major: 2, minor: 10, suggestedMajor: 2, suggestedMinor: 10, compressed: false, encrypted: false, sessionId: 0, requestId: 77 };
  const message = Buffer.from(Array.from({ length: 1300 }, (_, i) => (i * 7) % 256));
  const frags = fragmentForUdp(base, message);
  const offer = (r: UdpReassembler, d: Buffer, now = 0, sender = '192.0.2.1') => r.offer(sender, decodeEnvelope(d), d.subarray(ENVELOPE_SIZE), now);

  it('puts fragments together in order', () => {
    const r = new UdpReassembler();
    expect(offer(r, frags[0]!).status).toBe('pending');
    expect(offer(r, frags[1]!).status).toBe('pending');
    expect(r.size).toBe(1);
    expect(r.bufferedBytes).toBe(1300);
    const done = offer(r, frags[2]!);
    expect(done.status).toBe('complete');
    if (done.status !== 'complete') return;
    expect(hex(done.message)).toBe(hex(message));
    expect(done.envelope).toEqual({ ...base, truncated: true, sequenceNumber: 0, messageLength: 1300 });
    expect([r.size, r.bufferedBytes]).toEqual([0, 0]);
  });

  it('puts fragments together out of order, ignoring duplicates', () => {
    const r = new UdpReassembler();
    expect(offer(r, frags[2]!).status).toBe('pending');
    expect(offer(r, frags[2]!).status).toBe('duplicate');
    expect(offer(r, frags[0]!).status).toBe('pending');
    expect(offer(r, frags[0]!).status).toBe('duplicate');
    const done = offer(r, frags[1]!);
    expect(done.status === 'complete' && hex(done.message)).toBe(hex(message));
  });

  it('gives the message through add, null until it is whole', () => {
    const r = new UdpReassembler();
    const add = (d: Buffer) => r.add('h', decodeEnvelope(d), d.subarray(ENVELOPE_SIZE), 0);
    expect(add(frags[1]!)).toBeNull();
    expect(add(frags[0]!)).toBeNull();
    expect(hex(add(frags[2]!)!)).toBe(hex(message));
    const whole = fragmentForUdp(base, message.subarray(0, 50))[0]!;
    expect(hex(add(whole)!)).toBe(hex(message.subarray(0, 50))); // a whole message comes straight back
  });

  it('keeps messages apart by sender and by request id', () => {
    const r = new UdpReassembler();
    const other = fragmentForUdp({ ...base, requestId: 78 }, message);
    expect(offer(r, frags[0]!, 0, 'a').status).toBe('pending');
    expect(offer(r, frags[0]!, 0, 'b').status).toBe('pending');
    expect(offer(r, other[0]!, 0, 'a').status).toBe('pending');
    expect(r.size).toBe(3);
    offer(r, frags[1]!, 0, 'a');
    expect(offer(r, frags[2]!, 0, 'a').status).toBe('complete');
    expect(offer(r, frags[2]!, 0, 'b').status).toBe('pending');
    expect(r.size).toBe(2);
  });

  it('decodes the reassembled message', () => {
    const m = Buffer.from(encodeMessage({ opCode: OC.RESOLUTION, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: NOW }, encodeResolutionRequest({ handle: HANDLE, indexes: [], types: Array.from({ length: 80 }, (_, i) => `TYPE_${i}`) })));
    expect(m.length).toBeGreaterThan(UDP_FRAGMENT_PAYLOAD);
    const r = new UdpReassembler();
    let got: Buffer | null = null;
    for (const d of fragmentForUdp(base, m).reverse()) got = r.add('h', decodeEnvelope(d), d.subarray(ENVELOPE_SIZE), 0) ?? got;
    expect(decodeResolutionRequest(decodeMessage(got!).body).types.length).toBe(80);
  });

  it('rejects malformed fragments without throwing', () => {
    const r = new UdpReassembler();
    const env = decodeEnvelope(frags[0]!);
    expect(r.offer('h', { ...env, sequenceNumber: 3 }, frags[0]!.subarray(ENVELOPE_SIZE), 0).status).toBe('invalid'); // beyond 3 fragments
    expect(r.offer('h', env, frags[0]!.subarray(ENVELOPE_SIZE, 100), 0).status).toBe('invalid'); // short non-last fragment
    expect(r.offer('h', { ...env, sequenceNumber: 2 }, frags[0]!.subarray(ENVELOPE_SIZE), 0).status).toBe('invalid'); // last fragment too long
    expect(r.offer('h', { ...env, truncated: false, messageLength: 10 }, Buffer.alloc(12), 0).status).toBe('invalid'); // single datagram, wrong length
    expect(r.offer('h', env, frags[0]!.subarray(ENVELOPE_SIZE), 0).status).toBe('pending');
    expect(r.offer('h', { ...decodeEnvelope(frags[1]!), messageLength: 1400 }, frags[1]!.subarray(ENVELOPE_SIZE), 0).status).toBe('invalid'); // length changed
    expect(r.size).toBe(1);
  });

  it('bounds the messages in progress, the bytes buffered and each message', () => {
    const r = new UdpReassembler({ maxMessages: 2, maxBytes: 3000, maxMessageBytes: 1300 });
    const firstOf = (requestId: number, m: Buffer = message) => fragmentForUdp({ ...base, requestId }, m)[0]!;
    expect(offer(r, firstOf(1)).status).toBe('pending');
    expect(offer(r, firstOf(2)).status).toBe('pending');
    expect(offer(r, firstOf(3))).toEqual({ status: 'dropped', reason: 'too-many-messages' });
    expect(offer(r, firstOf(4, Buffer.alloc(1301)))).toEqual({ status: 'dropped', reason: 'too-long' });
    const bytes = new UdpReassembler({ maxBytes: 2000 });
    expect(offer(bytes, firstOf(1)).status).toBe('pending');
    expect(offer(bytes, firstOf(2))).toEqual({ status: 'dropped', reason: 'too-many-bytes' });
    expect(bytes.bufferedBytes).toBe(1300);
    expect(() => new UdpReassembler({ ttlMs: 0 })).toThrow(RangeError);
  });

  it('drops a message its ttl after the first fragment, on offer and on expire', () => {
    const r = new UdpReassembler({ ttlMs: 5000 });
    expect(offer(r, frags[0]!, 1000).status).toBe('pending');
    expect(offer(r, frags[1]!, 5999).status).toBe('pending'); // still within 5 s of the first fragment
    expect(offer(r, frags[2]!, 6000).status).toBe('pending'); // expired first: this starts a new message
    expect(r.size).toBe(1);
    expect(r.expire(10999)).toBe(0);
    expect(r.expire(11000)).toBe(1);
    expect([r.size, r.bufferedBytes]).toEqual([0, 0]);
    // an expired slot is free again
    const full = new UdpReassembler({ maxMessages: 1, ttlMs: 100 });
    expect(offer(full, frags[0]!, 0).status).toBe('pending');
    expect(offer(full, fragmentForUdp({ ...base, requestId: 9 }, message)[0]!, 50).status).toBe('dropped');
    expect(offer(full, fragmentForUdp({ ...base, requestId: 9 }, message)[0]!, 100).status).toBe('pending');
  });
});

describe('decoders under random input', () => {
  const keyValue = encodeHandleValue(value({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: RSA_KEY_JSON } }));
  const siteValue = encodeHandleValue(value({ index: 1, type: 'HS_SITE', data: { format: 'site', value: SITE_JSON } }));
  const seeds: Uint8Array[] = [
    ENVELOPE_NEW,
    ENVELOPE_OLD,
    REQUEST_MESSAGE,
    Uint8Array.from(REQUEST_BODY),
    RESPONSE_BODY,
    SITE_RECORD,
    RSA_KEY_RECORD,
    keyValue,
    siteValue,
    encodeErrorBody('nope', requestDigest(DIGEST.SHA256, decodeMessage(REQUEST_MESSAGE))),
  ];

  function mutate(next: () => number, src: Uint8Array): Uint8Array {
    const b = Array.from(src);
    const edits = 1 + Math.floor(next() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * (b.length + 1));
      const kind = next();
      if (kind < 0.4 && b.length > 0) b[at % b.length] = Math.floor(next() * 256);
      else if (kind < 0.55) b.splice(at, 0, Math.floor(next() * 256));
      else if (kind < 0.7) b.splice(at, 1);
      else if (kind < 0.8) b.length = at; // truncate
      else if (kind < 0.9 && b.length >= 4) b.splice(at % (b.length - 3), 4, 0xff, 0xff, 0xff, Math.floor(next() * 256)); // a huge length
      else b.splice(at, 0, ...Array.from({ length: Math.floor(next() * 8) }, () => Math.floor(next() * 256)));
    }
    return Uint8Array.from(b);
  }

  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['decodeEnvelope', decodeEnvelope],
    ['decodeMessage', decodeMessage],
    ['decodeResolutionRequest', decodeResolutionRequest],
    ['decodeSiteInfo', decodeSiteInfo],
    ['decodeResolutionResponse', (b) => decodeResolutionResponse(b, false)],
    ['decodeResolutionResponse+digest', (b) => decodeResolutionResponse(b, true)],
    ['decodeErrorBody', (b) => decodeErrorBody(b, true)],
    ['decodeHandleValue', decodeHandleValue],
  ];

  it.each(decoders)('%s throws nothing but WireError', (_name, decode) => {
    const next = seededRandom(0x5eed1234);
    let accepted = 0;
    let rejected = 0;
    const attempt = (input: Uint8Array) => {
      try {
        decode(input);
        accepted++;
      } catch (e) {
        if (!(e instanceof WireError)) throw new Error(`${String(e)} for input ${hex(input)}`);
        rejected++;
      }
    };
    for (let i = 0; i < 1500; i++) {
      const len = Math.floor(next() * 96);
      attempt(Uint8Array.from({ length: len }, () => Math.floor(next() * 256)));
      attempt(mutate(next, seeds[i % seeds.length]!));
    }
    expect(accepted + rejected).toBe(3000);
    expect(rejected).toBeGreaterThan(0);
  });

  it('valueDataFromWire and UdpReassembler.offer never throw', () => {
    const next = seededRandom(42);
    const types = ['HS_ADMIN', 'HS_VLIST', 'HS_SITE', 'HS_PUBKEY', 'URL', 'hs_site.prefix'];
    const r = new UdpReassembler({ maxMessages: 8, ttlMs: 50 });
    for (let i = 0; i < 3000; i++) {
      const b = mutate(next, seeds[i % seeds.length]!);
      const shown = valueDataFromWire(types[i % types.length]!, b);
      expect(['string', 'base64', 'admin', 'vlist', 'site', 'key']).toContain(shown.format);
      const env: Envelope = {
        ...base(),
        sequenceNumber: Math.floor(next() * 4),
        messageLength: Math.floor(next() * 2000),
        requestId: Math.floor(next() * 4),
      };
      const payload = next() < 0.5 ? b : new Uint8Array(next() < 0.5 ? UDP_FRAGMENT_PAYLOAD : Math.floor(next() * 600));
      const out = r.offer(`s${Math.floor(next() * 3)}`, env, payload, i);
      expect(['complete', 'pending', 'duplicate', 'invalid', 'dropped']).toContain(out.status);
      expect(r.size).toBeLessThanOrEqual(8);
    }
    function base(): Envelope {
      return decodeEnvelope(ENVELOPE_NEW);
    }
  });
});
