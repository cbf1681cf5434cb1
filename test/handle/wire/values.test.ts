// Tests for handle/wire/values.ts: handle values in wire form and their data by type (HS_ADMIN, HS_VLIST, HS_SITE, HS_PUBKEY).
import { describe, expect, it } from 'vitest';
import { dataBytes, encodeHandleValue, valueDataFromWire } from '../../../handle/wire/values.js';
import { valueOf } from '../../helpers/values.js';
import { ascii, hex, NOW, RSA_KEY_JSON, RSA_KEY_RECORD, SITE_JSON, SITE_RECORD } from './fixtures.js';

describe('handle values', () => {
  it('writes TTL type and permissions as Handle.Net does', () => {
    const v = valueOf({ timestamp: NOW, index: 7, type: 'T', data: { format: 'string', value: '' }, ttlType: 'absolute', ttl: 0x01020304, permissions: { adminRead: false, adminWrite: true, publicRead: false, publicWrite: true } });
    const b = encodeHandleValue(v);
    expect(b[8]).toBe(1); // ttlType 1 = absolute
    expect(b.readUInt32BE(9)).toBe(0x01020304); // ttl
    expect(b[13]).toBe(0x05); // ADMIN_WRITE 0x04 | PUBLIC_WRITE 0x01
  });
});

describe('value data on the wire', () => {
  it('encodes HS_ADMIN as u16 permission bits (the 12-character string read as binary), handle, index', () => {
    const v = valueOf({ timestamp: NOW, index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/20.500.12345', index: 200, permissions: '010000000001' } } });
    expect(Array.from(dataBytes(v))).toEqual([
      0x04, 0x01, // permissions: READ_VALUE 0x0400 | ADD_HANDLE 0x0001 (AdminRecord bit i = character 11 − i)
      0x00, 0x00, 0x00, 0x11, ...ascii('0.NA/20.500.12345'), // admin handle: length 17
      0x00, 0x00, 0x00, 0xc8, // admin index 200
    ]);
    const all = valueOf({ timestamp: NOW, index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: 'a/b', index: 1, permissions: '111111111111' } } });
    expect(Array.from(dataBytes(all).subarray(0, 2))).toEqual([0x0f, 0xff]);
  });

  it('decodes HS_ADMIN with Handle.Net ≤ 7.3’s two extra bytes, and ignores permission bits above 11', () => {
    const legacy = Uint8Array.from([0xff, 0xff, 0, 0, 0, 3, ...ascii('a/b'), 0, 0, 0, 1, 0, 0]);
    expect(valueDataFromWire('HS_ADMIN', legacy)).toEqual({ format: 'admin', value: { handle: 'a/b', index: 1, permissions: '111111111111' } });
  });

  it('encodes HS_VLIST as a count + (handle, index) pairs', () => {
    const v = valueOf({ timestamp: NOW, index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '20.500.12345/a', index: 300 }] } });
    expect(Array.from(dataBytes(v))).toEqual([
      0x00, 0x00, 0x00, 0x01, // 1 reference
      0x00, 0x00, 0x00, 0x0e, ...ascii('20.500.12345/a'), // handle: length 14
      0x00, 0x00, 0x01, 0x2c, // index 300
    ]);
  });

  it('encodes string and base64 data as their bytes', () => {
    expect(hex(dataBytes(valueOf({ timestamp: NOW, index: 1, type: 'URL', data: { format: 'string', value: 'ä' } })))).toBe('c3a4');
    expect(hex(dataBytes(valueOf({ timestamp: NOW, index: 1, type: 'B', data: { format: 'base64', value: '/wAB' } })))).toBe('ff0001');
  });

  it('encodes an RSA key as Handle.Net’s public-key record and decodes it back to the same JSON', () => {
    const v = valueOf({ timestamp: NOW, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: RSA_KEY_JSON } });
    expect(hex(dataBytes(v))).toBe(hex(RSA_KEY_RECORD));
    expect(valueDataFromWire('HS_PUBKEY', RSA_KEY_RECORD)).toEqual({ format: 'key', value: RSA_KEY_JSON });
    // padded or standard-alphabet base64 and leading zeros in the JSON make the same record
    const padded = valueOf({ timestamp: NOW, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'rsa', n: 'AMUB', e: 'AQAB' } } });
    expect(hex(dataBytes(padded))).toBe(hex(RSA_KEY_RECORD));
  });

  it('orders DSA numbers q, p, g, y in the record and y, p, q, g in the JSON', () => {
    const dsa = { kty: 'DSA', y: 'BQ', p: 'Cw', q: 'Aw', g: 'Ag' };
    const b = dataBytes(valueOf({ timestamp: NOW, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: dsa } }));
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
    expect(dataBytes(valueOf({ timestamp: NOW, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: key } })).toString()).toBe(JSON.stringify(key));
    const site = { servers: [{ serverId: 1, address: 'handle.example.org', interfaces: [] }] };
    expect(dataBytes(valueOf({ timestamp: NOW, index: 1, type: 'HS_SITE', data: { format: 'site', value: site } })).toString()).toBe(JSON.stringify(site));
  });

  it('decodes by type as Handle.Net’s JSON shows values: case-insensitive, subtypes included', () => {
    const admin = dataBytes(valueOf({ timestamp: NOW, index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: 'a/b', index: 1, permissions: '000000000001' } } }));
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
