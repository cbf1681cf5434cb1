// Byte fixtures and helpers shared by the wire codec tests (test/handle/wire/*.test.ts): hand-built from RFC 3652 and Handle.Net's Encoder.
import { expect } from 'vitest';
import { WireError } from '../../../handle/wire/bytes.js';
import type { SiteInfo } from '../../../handle/wire/site.js';

export const NOW = 1704164645; // 2024-01-02T03:04:05Z = 0x65937d25

/** Character codes of an ASCII string (its length is written out separately in each fixture). */
export function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function expectWireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    expect((e as Error).message.length).toBeGreaterThan(0);
    return e as WireError;
  }
  throw new Error('expected a WireError, nothing was thrown');
}

/** ≥ 2.5 layout: a CNRI-style request, version 2.10 suggesting 2.11 for the answer. */
export const ENVELOPE_NEW = Uint8Array.from([
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
export const ENVELOPE_OLD = Uint8Array.from([
  0x02, // MajorVersion 2
  0x03, // MinorVersion 3
  0x20, // MessageFlag high byte: TC (truncated) 0x20; CP 0x80 and EC 0x40 clear
  0x00, // MessageFlag low byte: reserved
  0x00, 0x00, 0x00, 0x07, // SessionId 7
  0x00, 0x00, 0x00, 0x01, // RequestId 1
  0x00, 0x00, 0x00, 0x02, // SequenceNumber 2 (third fragment)
  0x00, 0x00, 0x03, 0xe8, // MessageLength 1000 (the whole message)
]);

export const HANDLE = '20.500.12345/abc'; // 16 bytes

/** Resolution request body (RFC 3652 §3.1): handle, one index, one type. */
export const REQUEST_BODY = [
  0x00, 0x00, 0x00, 0x10, ...ascii(HANDLE), // Handle: length 16 + "20.500.12345/abc"
  0x00, 0x00, 0x00, 0x01, // IndexList: 1 index
  0x00, 0x00, 0x00, 0x01, //   index 1
  0x00, 0x00, 0x00, 0x01, // TypeList: 1 type
  0x00, 0x00, 0x00, 0x03, ...ascii('URL'), //   length 3 + "URL"
];

/** A whole resolution request message (after the envelope): header, body, empty credential. */
export const REQUEST_MESSAGE = Uint8Array.from([
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

export const URL_DATA = 'https://a.example'; // 17 bytes

/** One handle value (RFC 3651 §3 / Encoder.encodeHandleValue). */
export const URL_VALUE = [
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
export const RESPONSE_BODY = Uint8Array.from([
  0x00, 0x00, 0x00, 0x10, ...ascii(HANDLE), // handle: length 16 + "20.500.12345/abc"
  0x00, 0x00, 0x00, 0x01, // 1 value
  ...URL_VALUE,
]);

/** HS_SITE record (Encoder.encodeSiteInfoRecord): one server on 127.0.0.1 with a TCP and an HTTP interface. */
export const SITE_RECORD = Uint8Array.from([
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

export const SITE: SiteInfo = {
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
export const SITE_JSON = {
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
export const RSA_KEY_RECORD = Uint8Array.from([
  0x00, 0x00, 0x00, 0x0b, ...ascii('RSA_PUB_KEY'), // key type: length 11 + "RSA_PUB_KEY"
  0x00, 0x00, // flags (reserved)
  0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x01, // e: length 3 + 65537
  0x00, 0x00, 0x00, 0x03, 0x00, 0xc5, 0x01, // n: length 3 + 0x00c501 (BigInteger.toByteArray adds 0x00: top bit set)
]);
export const RSA_KEY_JSON = { kty: 'RSA', n: 'xQE', e: 'AQAB' };
