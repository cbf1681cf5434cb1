// The Handle JSON codec (Handle.Net v9 REST shapes): values in (Gson-compatible, validated) and out as `{format,value}`.
import { HandleError, RC } from './codes.js';
import type { CasePolicy, HandleId } from './identifier.js';
import { DEFAULT_CASE_POLICY, parseHandle, utf8Length } from './identifier.js';
import type { HandleValue, KeyData, Permissions, SiteData, ValueData, ValueReference } from './types.js';
import { DEFAULT_PERMISSIONS, DEFAULT_TTL } from './types.js';
import { hasDefaultPermissions, isPublicReadable, permissionsToString } from './value.js';

/** The JSON shape of one value on output. */
export interface ValueJson {
  index: number;
  type: string;
  data: { format: string; value: unknown };
  permissions?: string;
  ttl: number | string;
  timestamp?: string;
  references?: { handle: string; index: number }[];
}

/** The last timestamp formatted: a batch's values share one (every value of a registration is stamped alike). */
let lastSec = Number.NaN;
let lastText = '';

/** Epoch seconds → `2024-01-02T03:04:05Z`. */
export function formatTimestamp(sec: number): string {
  if (sec !== lastSec) {
    lastText = new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    lastSec = sec;
  }
  return lastText;
}

export function valueToJson(v: HandleValue): ValueJson {
  const out: ValueJson = { index: v.index, type: v.type, data: { format: v.data.format, value: v.data.value }, ttl: 0 };
  if (!hasDefaultPermissions(v.permissions)) out.permissions = permissionsToString(v.permissions);
  out.ttl = v.ttlType === 'absolute' ? formatTimestamp(v.ttl) : v.ttl;
  if (v.timestamp !== 0) out.timestamp = formatTimestamp(v.timestamp);
  if (v.references.length > 0) out.references = v.references.map((r) => ({ handle: r.handle, index: r.index }));
  return out;
}

/** A JSON array of values, ready to splice into a response body. */
export function valuesToJson(values: readonly HandleValue[]): string {
  return JSON.stringify(values.map(valueToJson));
}

/**
 * The public view of a value list (the values with public read, in order) in Handle JSON: what an anonymous
 * resolution answers, kept serialised beside the values by every write.
 */
export function publicValuesJson(values: readonly HandleValue[]): string {
  return valuesToJson(values.every(isPublicReadable) ? values : values.filter(isPublicReadable));
}

// ---------------------------------------------------------------------------------------------------------------------
// Input side: what Handle.Net's Gson adapters accept, validated strictly, normalised to the value model.

/** Largest data value, in bytes after decoding (Handle.Net's practical per-value limit). */
export const MAX_DATA_BYTES = 65535;
/** Largest value type, in UTF-8 bytes. */
export const MAX_TYPE_BYTES = 1024;
/** Most values one PUT may carry. */
export const MAX_VALUES_PER_REQUEST = 1000;
const INT32_MAX = 2147483647;

const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * ISO-8601 date-time (`2024-01-02T03:04:05Z`, optional fraction, `Z` / `±hh:mm` / `±hhmm` / none = UTC, or a bare
 * date) → epoch seconds (fraction dropped). Must lie in 1970-01-01 … 2038-01-19 (Handle timestamps are 32-bit).
 * Throws HandleError(RC.INVALID_VALUE).
 */
export function parseTimestamp(s: string): number {
  const bad = (why: string): HandleError => new HandleError(RC.INVALID_VALUE, `Invalid timestamp ${show(s)}: ${why}`);
  if (typeof s !== 'string') throw bad('not a string');
  const m = TIMESTAMP_RE.exec(s);
  if (!m) throw bad('not an ISO-8601 date-time');
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12) throw bad('month out of range');
  if (day < 1 || day > daysInMonth(year, month)) throw bad('day out of range');
  if (hour > 23 || minute > 59 || second > 59) throw bad('time out of range');
  let offset = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) throw bad('zone offset out of range');
    offset = (m[9] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const sec = Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offset;
  if (sec < 0 || sec > INT32_MAX) throw bad('outside the 32-bit epoch-second range (1970 … 2038)');
  return sec;
}

function show(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'number' || v === undefined ? String(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function has(o: Record<string, unknown>, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const BINARY_CONTROL_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Byte data as Handle.Net shows it: `string` when the bytes are valid UTF-8 with no control characters other than
 * tab, CR and LF; otherwise `base64` (canonical, padded).
 */
export function dataFromBytes(bytes: Uint8Array): ValueData {
  let text: string | null = null;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = null;
  }
  if (text !== null && !BINARY_CONTROL_RE.test(text)) return { format: 'string', value: text };
  return { format: 'base64', value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
}

const NOTHING: unique symbol = Symbol('nothing');

/** Reports problems with one incoming value, naming it by index once known, else by position. */
class ValueContext {
  label: string;
  constructor(position: number | null) {
    this.label = position === null ? 'Value' : `Value #${position + 1}`;
  }
  named(index: number): void {
    this.label = `Value ${index}`;
  }
  fail(field: string, problem: string, value: unknown = NOTHING): HandleError {
    const shown = value === NOTHING ? '' : ` (got ${show(value)})`;
    const subject = field === '' ? problem : `${field} ${problem}`;
    return new HandleError(RC.INVALID_VALUE, `${this.label}: ${subject}${shown}`);
  }
}

/** A JSON number or a numeric string holding an integer in [min, 2^31-1]; null otherwise. */
function intField(raw: unknown, min: number): number | null {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && /^\d{1,10}$/.test(raw)) n = Number(raw);
  else return null;
  if (!Number.isInteger(n) || n < min || n > INT32_MAX) return null;
  return n;
}

function checkText(ctx: ValueContext, field: string, s: string): void {
  if (LONE_SURROGATE_RE.test(s)) throw ctx.fail(field, 'contains an unpaired UTF-16 surrogate (not valid Unicode)');
}

function handleField(ctx: ValueContext, field: string, raw: unknown): string {
  if (typeof raw !== 'string') throw ctx.fail(field, 'must be a handle string', raw);
  try {
    parseHandle(raw, DEFAULT_CASE_POLICY);
  } catch (e) {
    throw ctx.fail(field, `is not a valid handle: ${(e as Error).message}`, raw);
  }
  return raw;
}

function referenceFromJson(ctx: ValueContext, field: string, raw: unknown): ValueReference {
  if (!isObject(raw)) throw ctx.fail(field, 'must be an object {handle, index}', raw);
  const handle = handleField(ctx, `${field}.handle`, raw.handle);
  const index = intField(raw.index, 0);
  if (index === null) throw ctx.fail(`${field}.index`, 'must be an integer 0 … 2147483647', raw.index);
  return { handle, index };
}

function referencesFromJson(ctx: ValueContext, field: string, raw: unknown): ValueReference[] {
  if (!Array.isArray(raw)) throw ctx.fail(field, 'must be an array of {handle, index}', raw);
  return raw.map((r, i) => referenceFromJson(ctx, `${field}[${i}]`, r));
}

function isTruthy(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return !Number.isNaN(v) && v !== 0;
  return true;
}

/**
 * HS_ADMIN permissions as Gson's AdminRecord adapter reads them, normalised to the 12-character bit string (last
 * character add_handle): a string of up to 12 `0`/`1` read from the right, or `"*"` (all); a boolean (all / none);
 * an integer whose binary digits are the bits; an array whose i-th element's truthiness is bit i (add_handle first);
 * absent or null → none. Throws HandleError(RC.INVALID_VALUE) for anything else.
 */
export function adminPermissionsFromJson(raw: unknown): string {
  return adminPermissions(new ValueContext(null), 'data.value.permissions', raw);
}

function adminPermissions(ctx: ValueContext, field: string, raw: unknown): string {
  if (raw === undefined || raw === null) return '000000000000';
  if (raw === '*' || raw === true) return '111111111111';
  if (raw === false) return '000000000000';
  if (typeof raw === 'string') {
    if (!/^[01]{0,12}$/.test(raw)) throw ctx.fail(field, "must be up to 12 '0'/'1' characters or '*'", raw);
    return raw.padStart(12, '0');
  }
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < -2147483648 || raw > INT32_MAX) throw ctx.fail(field, 'must be a 32-bit integer', raw);
    return (raw & 0xfff).toString(2).padStart(12, '0');
  }
  if (Array.isArray(raw)) {
    let s = '';
    for (let i = 11; i >= 0; i--) s += isTruthy(raw[i]) ? '1' : '0';
    return s;
  }
  throw ctx.fail(field, 'must be a bit string, "*", a boolean, a number or an array', raw);
}

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;
const BASE64URL_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Strict base64 (standard or URL-safe alphabet, optional padding, line breaks ignored) → bytes; null if invalid. */
function decodeBase64(s: string): Uint8Array | null {
  const t = s.replace(/[\r\n\t ]+/g, '');
  if (!BASE64_RE.test(t)) return null;
  const body = t.replace(/=+$/, '');
  if (body.length % 4 === 1) return null;
  if (t.length !== body.length && t.length % 4 !== 0) return null;
  return new Uint8Array(Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

function decodeHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function checkDataSize(ctx: ValueContext, bytes: number): void {
  if (bytes > MAX_DATA_BYTES) throw ctx.fail('data.value', `is too large: ${bytes} bytes (at most ${MAX_DATA_BYTES})`);
}

function stringData(ctx: ValueContext, field: string, s: string): ValueData {
  checkText(ctx, field, s);
  checkDataSize(ctx, utf8Length(s));
  // Stored as bytes by Handle.Net: text with control characters comes back as base64.
  if (BINARY_CONTROL_RE.test(s)) return dataFromBytes(new TextEncoder().encode(s));
  return { format: 'string', value: s };
}

function lowerCaseFirst(s: string): string {
  return s.length === 0 ? s : s.charAt(0).toLowerCase() + s.slice(1);
}

/** Gson's `lowerCaseIfNeeded`: legacy objects (with `ServerList`, `Address` or `Port`) get lower-cased first letters. */
function lowerCaseIfNeeded(o: Record<string, unknown>): Record<string, unknown> {
  if (!has(o, 'ServerList') && !has(o, 'Address') && !has(o, 'Port')) return o;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[lowerCaseFirst(k)] = v;
  return out;
}

function siteFromJson(ctx: ValueContext, raw: unknown): SiteData {
  if (!isObject(raw)) throw ctx.fail('data.value', 'must be a site object', raw);
  const site: Record<string, unknown> = { ...lowerCaseIfNeeded(raw) };
  const servers = has(site, 'servers') ? site.servers : site.serverList;
  delete site.serverList;
  if (!Array.isArray(servers)) throw ctx.fail('data.value.servers', 'must be an array of servers', servers);
  site.servers = servers.map((srv: unknown, i: number) => {
    const f = `data.value.servers[${i}]`;
    if (!isObject(srv)) throw ctx.fail(f, 'must be a server object', srv);
    const server: Record<string, unknown> = { ...lowerCaseIfNeeded(srv) };
    if (typeof server.address !== 'string' || server.address.length === 0) {
      throw ctx.fail(`${f}.address`, 'must be a non-empty string', server.address);
    }
    const intfs = has(server, 'interfaces') ? server.interfaces : server.interfaceList;
    delete server.interfaceList;
    if (intfs !== undefined && intfs !== null) {
      if (!Array.isArray(intfs)) throw ctx.fail(`${f}.interfaces`, 'must be an array', intfs);
      server.interfaces = intfs.map((it: unknown, j: number) => {
        if (!isObject(it)) throw ctx.fail(`${f}.interfaces[${j}]`, 'must be an interface object', it);
        return lowerCaseIfNeeded(it);
      });
    }
    return server;
  });
  return site;
}

function keyFromJson(ctx: ValueContext, raw: unknown): KeyData {
  if (!isObject(raw)) throw ctx.fail('data.value', 'must be a key object with kty', raw);
  if (typeof raw.kty !== 'string') throw ctx.fail('data.value.kty', 'must be a string', raw.kty);
  const kty = raw.kty.toUpperCase();
  const fields = kty === 'RSA' ? ['n', 'e'] : kty === 'DSA' ? ['y', 'p', 'q', 'g'] : null;
  if (fields === null) throw ctx.fail('data.value.kty', "must be 'RSA' or 'DSA'", raw.kty);
  const key: KeyData = { kty };
  for (const name of fields) {
    const v = raw[name];
    if (typeof v !== 'string' || !BASE64URL_RE.test(v) || decodeBase64(v) === null) {
      throw ctx.fail(`data.value.${name}`, 'must be a non-empty base64url string', v);
    }
    key[name] = v;
  }
  return key;
}

function dataFromJson(ctx: ValueContext, raw: unknown): ValueData {
  if (typeof raw === 'string') return stringData(ctx, 'data', raw);
  if (!isObject(raw)) throw ctx.fail('data', 'must be a string or an object {format, value}', raw);
  if (typeof raw.format !== 'string') throw ctx.fail('data.format', 'must be a string', raw.format);
  const format = raw.format.toLowerCase();
  const value = raw.value;
  if (value === undefined) throw ctx.fail('data.value', 'is missing');
  switch (format) {
    case 'string':
      if (typeof value !== 'string') throw ctx.fail('data.value', 'must be a string for format string', value);
      return stringData(ctx, 'data.value', value);
    case 'base64':
    case 'hex': {
      if (typeof value !== 'string') throw ctx.fail('data.value', `must be a string for format ${format}`, value);
      const bytes = format === 'base64' ? decodeBase64(value) : decodeHex(value);
      if (bytes === null) {
        throw ctx.fail('data.value', format === 'base64' ? 'is not valid base64' : 'is not valid hex (even number of hex digits)', value);
      }
      checkDataSize(ctx, bytes.byteLength);
      return dataFromBytes(bytes);
    }
    case 'admin': {
      if (!isObject(value)) throw ctx.fail('data.value', 'must be an object {handle, index, permissions}', value);
      const handle = handleField(ctx, 'data.value.handle', value.handle);
      const index = intField(value.index, 0);
      if (index === null) throw ctx.fail('data.value.index', 'must be an integer 0 … 2147483647', value.index);
      const permissions = adminPermissions(ctx, 'data.value.permissions', value.permissions);
      return { format: 'admin', value: { handle, index, permissions } };
    }
    case 'vlist': {
      const refs = referencesFromJson(ctx, 'data.value', value);
      checkDataSize(ctx, utf8Length(JSON.stringify(refs)));
      return { format: 'vlist', value: refs };
    }
    case 'site': {
      const site = siteFromJson(ctx, value);
      checkDataSize(ctx, utf8Length(JSON.stringify(site)));
      return { format: 'site', value: site };
    }
    case 'key': {
      const key = keyFromJson(ctx, value);
      checkDataSize(ctx, utf8Length(JSON.stringify(key)));
      return { format: 'key', value: key };
    }
    default:
      throw ctx.fail('data.format', 'is not one of string, base64, hex, admin, vlist, site, key', raw.format);
  }
}

/** Value permissions as Gson reads them: up to 4 `0`/`1` from the right (publicWrite last), or `"*"` (all). */
function permissionsFromJson(ctx: ValueContext, raw: unknown): Permissions {
  const p: Permissions = { ...DEFAULT_PERMISSIONS };
  if (raw === undefined) return p;
  if (raw === '*') return { adminRead: true, adminWrite: true, publicRead: true, publicWrite: true };
  if (typeof raw !== 'string' || !/^[01]{1,4}$/.test(raw)) {
    throw ctx.fail('permissions', "must be up to 4 '0'/'1' characters (adminRead adminWrite publicRead publicWrite) or '*'", raw);
  }
  const bit = (fromRight: number): boolean | undefined =>
    raw.length > fromRight ? raw.charAt(raw.length - 1 - fromRight) === '1' : undefined;
  p.publicWrite = bit(0) ?? p.publicWrite;
  p.publicRead = bit(1) ?? p.publicRead;
  p.adminWrite = bit(2) ?? p.adminWrite;
  p.adminRead = bit(3) ?? p.adminRead;
  return p;
}

function parseValue(input: unknown, nowSec: number, position: number | null): HandleValue {
  const ctx = new ValueContext(position);
  if (!isObject(input)) throw ctx.fail('', 'must be an object {index, type, data}', input);
  const index = intField(input.index, 1);
  if (index === null) throw ctx.fail('index', 'must be an integer 1 … 2147483647', input.index);
  ctx.named(index);

  const type = input.type;
  if (typeof type !== 'string' || type.length === 0) throw ctx.fail('type', 'must be a non-empty string', type);
  if (CONTROL_RE.test(type)) throw ctx.fail('type', 'contains a control character', type);
  checkText(ctx, 'type', type);
  const typeBytes = utf8Length(type);
  if (typeBytes > MAX_TYPE_BYTES) throw ctx.fail('type', `is too long: ${typeBytes} bytes (at most ${MAX_TYPE_BYTES})`);

  if (!has(input, 'data')) throw ctx.fail('data', 'is missing');
  const data = dataFromJson(ctx, input.data);

  let ttlType: HandleValue['ttlType'] = 'relative';
  let ttl = DEFAULT_TTL;
  if (input.ttl !== undefined) {
    if (typeof input.ttl === 'number') {
      if (!Number.isInteger(input.ttl) || input.ttl < 0 || input.ttl > INT32_MAX) {
        throw ctx.fail('ttl', 'must be an integer number of seconds 0 … 2147483647', input.ttl);
      }
      ttl = input.ttl;
    } else if (typeof input.ttl === 'string') {
      try {
        ttl = parseTimestamp(input.ttl);
      } catch (e) {
        throw ctx.fail('ttl', `is not a valid absolute expiry: ${(e as Error).message}`);
      }
      ttlType = 'absolute';
    } else {
      throw ctx.fail('ttl', 'must be a number of seconds or an ISO-8601 time', input.ttl);
    }
  }

  if (input.timestamp !== undefined) {
    if (typeof input.timestamp !== 'string') throw ctx.fail('timestamp', 'must be an ISO-8601 string', input.timestamp);
    try {
      parseTimestamp(input.timestamp);
    } catch (e) {
      throw ctx.fail('timestamp', `is invalid: ${(e as Error).message}`);
    }
  }

  const permissions = permissionsFromJson(ctx, input.permissions);
  const references =
    input.references === undefined || input.references === null ? [] : referencesFromJson(ctx, 'references', input.references);

  return { index, type, data, ttlType, ttl, timestamp: nowSec, permissions, references };
}

/**
 * One value from its Handle JSON form (what Handle.Net's Gson adapter accepts), validated and normalised; the
 * stored timestamp is `nowSec`. Throws HandleError(RC.INVALID_VALUE) naming the field and the value's index.
 */
export function valueFromJson(input: unknown, nowSec: number): HandleValue {
  return parseValue(input, nowSec, null);
}

/**
 * The values of a PUT body, in the forms Handle.Net accepts: an array of values, `{handle?, values: [...]}`, or one
 * value object. Throws HandleError: RC.PROTOCOL_ERROR for an unrecognised body or a `handle` that is not `id`,
 * RC.INVALID_VALUE for bad values, duplicate indexes or more than MAX_VALUES_PER_REQUEST values.
 */
export function valuesFromBody(body: unknown, id: HandleId, policy: CasePolicy, nowSec: number): HandleValue[] {
  let list: unknown[];
  if (Array.isArray(body)) {
    list = body;
  } else if (isObject(body) && has(body, 'values')) {
    if (!Array.isArray(body.values)) throw new HandleError(RC.PROTOCOL_ERROR, 'Invalid JSON in PUT request');
    if (body.handle !== undefined && body.handle !== null) {
      let same = false;
      if (typeof body.handle === 'string') {
        try {
          same = parseHandle(body.handle, policy).key === id.key;
        } catch {
          same = false;
        }
      }
      if (!same) throw new HandleError(RC.PROTOCOL_ERROR, 'Mismatched handle in PUT request');
    }
    list = body.values;
  } else if (isObject(body) && has(body, 'index') && has(body, 'type') && has(body, 'data')) {
    list = [body];
  } else {
    throw new HandleError(RC.PROTOCOL_ERROR, 'Invalid JSON in PUT request');
  }
  if (list.length > MAX_VALUES_PER_REQUEST) {
    throw new HandleError(RC.INVALID_VALUE, `Too many values: ${list.length} (at most ${MAX_VALUES_PER_REQUEST} per request)`);
  }
  const out: HandleValue[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < list.length; i++) {
    const v = parseValue(list[i], nowSec, list.length === 1 ? null : i);
    if (seen.has(v.index)) throw new HandleError(RC.INVALID_VALUE, `Duplicate value index ${v.index}`);
    seen.add(v.index);
    out.push(v);
  }
  return out;
}
