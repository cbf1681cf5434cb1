// HandleValue fixtures shared by the test suites: small factories over handle/types.ts and handle/value.ts, and one value of every data format.
import { adminValue } from '../../handle/admin.js';
import { DEFAULT_PERMISSIONS, TYPE, type HandleValue, type Permissions, type ValueData } from '../../handle/types.js';
import { secretKeyValue, stringValue } from '../../handle/value.js';

/** The timestamp fixtures carry unless told otherwise (2023-11-14T22:13:20Z). */
export const T0 = 1_700_000_000;

/** Permissions with the defaults (all but public write), public read as given. */
export function perms(publicRead = true): Permissions {
  return { ...DEFAULT_PERMISSIONS, publicRead };
}

/** A value of any data format with the defaults (relative TTL 86400, default permissions, no references, timestamp T0), `extra` over them. */
export function value(index: number, type: string, data: ValueData, extra: Partial<HandleValue> = {}): HandleValue {
  return { ...stringValue(index, type, '', T0), data, ...extra };
}

/** A value given as its fields (index, type and data at least) over the same defaults. */
export function valueOf(fields: Partial<HandleValue> & Pick<HandleValue, 'index' | 'type' | 'data'>): HandleValue {
  return { ...stringValue(fields.index, fields.type, '', T0), ...fields };
}

/** A string value with the defaults, a relative TTL of `ttl` seconds and public read as given. */
export function val(index: number, type: string, data: string, ttl = 86400, publicRead = true): HandleValue {
  return { ...stringValue(index, type, data, T0, perms(publicRead)), ttl };
}

/** A URL value (index 1 unless told). */
export function urlValue(u: string, index = 1): HandleValue {
  return val(index, TYPE.URL, u);
}

/** An HS_ADMIN value at `valueIndex` naming `index:handle` administrator with the 12-character `permissions`, timestamp T0. */
export function adminVal(valueIndex: number, handle: string, index: number, permissions: string): HandleValue {
  return adminValue(handle, index, permissions, valueIndex, T0);
}

/** An HS_SECKEY value (index 300) holding `hash`, readable by admins only, timestamp T0. */
export function seckeyVal(hash: string): HandleValue {
  return secretKeyValue(hash, T0);
}

/** One value of every data format, with unicode, escapes and non-default permissions/ttl/references. */
export const ALL_FORMATS: HandleValue[] = [
  value(1, 'URL', { format: 'string', value: 'https://例え.jp/产品/泵?q=ä&x="y"\\z\n\t' }),
  value(2, 'DESC', { format: 'string', value: '工业互联网标识 🏭 — Ünïcödé e\u0301 \u{1F600} \u2028' }),
  value(3, 'BLOB', { format: 'base64', value: 'AAECA//+/Q==' }),
  value(100, 'HS_ADMIN', { format: 'admin', value: { handle: '0.NA/88.320924', index: 200, permissions: '011111110011' } }),
  value(200, 'HS_VLIST', {
    format: 'vlist',
    value: [
      { handle: '0.NA/88.320924', index: 300 },
      { handle: '88.320924.17/管理员', index: 301 },
    ],
  }),
  value(5, 'HS_SITE', {
    format: 'site',
    value: { version: 1, protocolVersion: '2.10', serialNumber: 1, primarySite: true, multiPrimary: false, servers: [{ serverId: 1, address: '::1', publicKey: { format: 'key', value: null }, interfaces: [{ query: true, admin: true, protocol: 'TCP', port: 2641 }] }], attributes: [{ name: 'desc', value: '主站点' }] },
  }),
  value(300, 'HS_PUBKEY', { format: 'key', value: { kty: 'RSA', n: 'qwerty', e: 'AQAB', nested: { empty: {}, list: [], n: null, f: 1.5, neg: -3, big: 2147483647 } } }, {
    ttlType: 'absolute',
    ttl: 1_893_456_000,
    permissions: { adminRead: true, adminWrite: false, publicRead: false, publicWrite: false },
    references: [{ handle: '88.320924.17/ref', index: 1 }],
  }),
];
