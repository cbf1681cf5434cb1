// Handle values in the native protocol's wire form (RFC 3651 §3): the value record, and HS_ADMIN, HS_VLIST, HS_SITE and HS_PUBKEY data.
import { HandleError } from '../codes.js';
import { asciiUpper } from '../identifier.js';
import { dataFromBytes } from '../json.js';
import type { AdminData, HandleValue, ValueData, ValueReference } from '../types.js';
import { Reader, WireError, Writer } from './bytes.js';
import { decodePublicKey, publicKeyBytesFromJson } from './keys.js';
import { decodeSiteInfo, encodeSiteInfo, siteInfoFromJson, siteInfoToJson } from './site.js';

const TTL_TYPE_RELATIVE = 0;
const TTL_TYPE_ABSOLUTE = 1;
const PERM_ADMIN_READ = 0x08;
const PERM_ADMIN_WRITE = 0x04;
const PERM_PUBLIC_READ = 0x02;
const PERM_PUBLIC_WRITE = 0x01;

/** Writes one value in wire form (see encodeHandleValue); body.ts writes a response's values with it. */
export function writeHandleValue(w: Writer, v: HandleValue): void {
  w.u32(v.index, 'value index');
  w.u32(v.timestamp, 'value timestamp');
  w.u8(v.ttlType === 'absolute' ? TTL_TYPE_ABSOLUTE : TTL_TYPE_RELATIVE, 'ttl type');
  w.u32(v.ttl, 'ttl');
  const p = v.permissions;
  w.u8(
    (p.adminRead ? PERM_ADMIN_READ : 0) | (p.adminWrite ? PERM_ADMIN_WRITE : 0) | (p.publicRead ? PERM_PUBLIC_READ : 0) | (p.publicWrite ? PERM_PUBLIC_WRITE : 0),
    'permissions',
  );
  w.string(v.type, 'value type');
  w.byteArray(dataBytes(v), 'value data');
  w.u32(v.references.length, 'reference count');
  for (const ref of v.references) {
    w.string(ref.handle, 'reference handle');
    w.u32(ref.index, 'reference index');
  }
}

/** Reads one value in wire form (see encodeHandleValue), `label` naming it in errors; body.ts reads a response's values with it. */
export function readHandleValue(r: Reader, label: string): HandleValue {
  const index = r.u32(`${label} index`);
  const timestamp = r.u32(`${label} timestamp`);
  const ttlTypeByte = r.u8(`${label} ttl type`);
  if (ttlTypeByte !== TTL_TYPE_RELATIVE && ttlTypeByte !== TTL_TYPE_ABSOLUTE) throw r.fail(`${label} has unknown ttl type ${ttlTypeByte}`);
  const ttl = r.u32(`${label} ttl`);
  const perms = r.u8(`${label} permissions`);
  const type = r.string(`${label} type`);
  const data = r.byteArray(`${label} data`);
  const refCount = r.count(`${label} reference count`, 8);
  const references: ValueReference[] = [];
  for (let i = 0; i < refCount; i++) {
    const handle = r.string(`${label} reference ${i} handle`);
    references.push({ handle, index: r.u32(`${label} reference ${i} index`) });
  }
  return {
    index,
    type,
    data: valueDataFromWire(type, data),
    ttlType: ttlTypeByte === TTL_TYPE_ABSOLUTE ? 'absolute' : 'relative',
    ttl,
    timestamp,
    permissions: {
      adminRead: (perms & PERM_ADMIN_READ) !== 0,
      adminWrite: (perms & PERM_ADMIN_WRITE) !== 0,
      publicRead: (perms & PERM_PUBLIC_READ) !== 0,
      publicWrite: (perms & PERM_PUBLIC_WRITE) !== 0,
    },
    references,
  };
}

/**
 * One handle value in wire form (RFC 3651 §3, RFC 3652 §2.2.3.3; Encoder.encodeHandleValue): index u32, timestamp u32
 * (seconds), ttlType u8 (0 relative, 1 absolute), ttl u32, permissions u8 (ADMIN_READ 0x08, ADMIN_WRITE 0x04,
 * PUBLIC_READ 0x02, PUBLIC_WRITE 0x01), type (string), data (byte array), references (u32 count + handle, u32 index).
 */
export function encodeHandleValue(v: HandleValue): Buffer {
  const w = new Writer(128);
  writeHandleValue(w, v);
  return w.finish();
}

/** The inverse of encodeHandleValue (the whole input must be one value). */
export function decodeHandleValue(bytes: Uint8Array): HandleValue {
  const r = new Reader(bytes, 'handle value');
  const v = readHandleValue(r, 'value');
  r.end();
  return v;
}

/**
 * Value data bytes of a value. string → UTF-8; base64 → the decoded bytes; admin → HS_ADMIN (Encoder.encodeAdminRecord:
 * u16 permission bits, admin handle string, u32 admin index); vlist → Encoder.encodeValueReferenceList (u32 count +
 * handle string, u32 index each); site → the binary HS_SITE record (siteInfoFromJson + encodeSiteInfo); key →
 * Handle.Net's public-key record (Util.getBytesFromPublicKey, built from the JSON {kty, n, e} / {kty, y, p, q, g}).
 * A site or key whose JSON cannot be converted (json.ts accepts some that Handle.Net would not, e.g. a host name as a
 * server address) is sent as its JSON text in UTF-8 rather than failing the whole response.
 */
export function dataBytes(v: HandleValue): Buffer {
  const d = v.data;
  switch (d.format) {
    case 'string':
      return Buffer.from(d.value, 'utf8');
    case 'base64':
      return Buffer.from(d.value, 'base64');
    case 'admin':
      return encodeAdminRecord(d.value);
    case 'vlist':
      return encodeValueReferenceList(d.value);
    case 'site':
      try {
        return encodeSiteInfo(siteInfoFromJson(d.value));
      } catch (e) {
        if (e instanceof HandleError) return Buffer.from(JSON.stringify(d.value), 'utf8');
        throw e;
      }
    case 'key': {
      const bytes = publicKeyBytesFromJson(d.value);
      return bytes ?? Buffer.from(JSON.stringify(d.value), 'utf8');
    }
  }
}

/**
 * Handle.Net's HandleValue.hasType: equal ignoring ASCII case, or a subtype ("HS_SITE.6" has type HS_SITE).
 */
function hasType(type: string, wanted: string): boolean {
  const t = asciiUpper(type);
  return t === wanted || (t.length > wanted.length && t.charAt(wanted.length) === '.' && t.startsWith(wanted));
}

/**
 * Value data from wire bytes, shown the way Handle.Net's JSON shows it (GsonUtility.serializeData), by type:
 * HS_ADMIN → admin, HS_VLIST → vlist, HS_SITE / HS_SITE.PREFIX / HS_NA_DELEGATE → site, HS_PUBKEY → key (subtypes
 * included, case ignored); bytes that do not parse as that, and every other type, → string or base64 via dataFromBytes.
 * Never throws.
 */
export function valueDataFromWire(type: string, bytes: Uint8Array): ValueData {
  try {
    if (hasType(type, 'HS_ADMIN')) return { format: 'admin', value: decodeAdminRecord(bytes) };
    if (hasType(type, 'HS_VLIST')) return { format: 'vlist', value: decodeValueReferenceList(bytes) };
    if (hasType(type, 'HS_SITE') || hasType(type, 'HS_SITE.PREFIX') || hasType(type, 'HS_NA_DELEGATE')) {
      return { format: 'site', value: siteInfoToJson(decodeSiteInfo(bytes)) };
    }
    if (hasType(type, 'HS_PUBKEY')) return { format: 'key', value: decodePublicKey(bytes) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
  return dataFromBytes(bytes);
}

/**
 * HS_ADMIN permissions: the 12-character string is exactly the u16's low 12 bits, most significant first (Handle.Net's
 * JSON prints AdminRecord.perms[11..0], and perms[i] is wire bit i: ADD_HANDLE 0x001, DELETE_HANDLE 0x002,
 * ADD_DERIVED_PREFIX 0x004, DELETE_DERIVED_PREFIX 0x008, MODIFY_VALUE 0x010, REMOVE_VALUE 0x020, ADD_VALUE 0x040,
 * MODIFY_ADMIN 0x080, REMOVE_ADMIN 0x100, ADD_ADMIN 0x200, READ_VALUE 0x400, LIST_HANDLES 0x800).
 */
function encodeAdminRecord(a: AdminData): Buffer {
  if (!/^[01]{0,16}$/.test(a.permissions)) throw new RangeError(`admin permissions must be a bit string (got ${JSON.stringify(a.permissions)})`);
  const w = new Writer(2 + 4 + a.handle.length * 3 + 4);
  w.u16(a.permissions === '' ? 0 : parseInt(a.permissions, 2), 'admin permissions');
  w.string(a.handle, 'admin handle');
  w.u32(a.index, 'admin index');
  return w.finish();
}

/** Encoder.decodeAdminRecord: records from Handle.Net ≤ 7.3 carry 2 extra zero bytes ("legacyByteLength"), accepted. */
function decodeAdminRecord(bytes: Uint8Array): AdminData {
  const r = new Reader(bytes, 'HS_ADMIN record');
  const perms = r.u16('permissions');
  const handle = r.string('admin handle');
  const index = r.u32('admin index');
  if (r.remaining === 2) r.u16('legacy padding');
  r.end();
  return { handle, index, permissions: (perms & 0xfff).toString(2).padStart(12, '0') };
}

function encodeValueReferenceList(refs: readonly ValueReference[]): Buffer {
  const w = new Writer(64);
  w.u32(refs.length, 'reference count');
  for (const ref of refs) {
    w.string(ref.handle, 'reference handle');
    w.u32(ref.index, 'reference index');
  }
  return w.finish();
}

function decodeValueReferenceList(bytes: Uint8Array): ValueReference[] {
  const r = new Reader(bytes, 'HS_VLIST record');
  const n = r.count('reference count', 8);
  const refs: ValueReference[] = [];
  for (let i = 0; i < n; i++) {
    const handle = r.string(`reference ${i} handle`);
    refs.push({ handle, index: r.u32(`reference ${i} index`) });
  }
  r.end();
  return refs;
}
