// Building cached records (pre-serialised public answer, min TTL) and the compact Redis payload codec.
import type { HandleValue, Permissions, ValueData, ValueReference } from '../handle/types.js';
import { DEFAULT_TTL } from '../handle/types.js';
import { valuesToJson } from '../handle/json.js';
import { isPublicReadable, minEffectiveTtl } from '../handle/value.js';
import type { ResolvedRecord, SourceRecord } from './types.js';

/** Estimated cost of one parsed value kept for filtering (objects, permissions, strings' headers). */
export const VALUE_OVERHEAD_BYTES = 192;
/** Bytes per character of value text counted in advance for the values a lazy record may parse later. */
const LAZY_PARSE_FACTOR = 1;

/** Builds the immutable cache record for `values` of `handle` (stored case) under canonical `key`. */
export function buildRecord(handle: string, key: string, values: HandleValue[], nowSec: number): ResolvedRecord {
  let allPublic = true;
  for (const v of values) {
    if (!isPublicReadable(v)) {
      allPublic = false;
      break;
    }
  }
  const publicValuesJson = valuesToJson(allPublic ? values : values.filter(isPublicReadable));
  // Not frozen: `slot` is filled by the faces; the values themselves are.
  return {
    handle,
    key,
    values: Object.freeze(values.slice()),
    publicValuesJson,
    minTtl: minEffectiveTtl(values, nowSec, DEFAULT_TTL),
    sizeBytes: (publicValuesJson.length + handle.length) * 2 + values.length * VALUE_OVERHEAD_BYTES,
    slot: null,
  };
}

// ---- Redis payload -------------------------------------------------------------------------------------------
//
// "0"                      the handle does not exist (cached negative answer)
// "2" + expiresAtMs + "\n" + JSON [handle, minTtl] + "\n" + publicValuesJson + "\n" + JSON [v…]
//                          the record, pre-serialised: a Redis hit answers an unfiltered resolution from the third
//                          part as it is and parses the values (last part) only when something asks for them.
//                          Each value is a tuple [index, type, format, value, ttl, timestamp, flags, refs?]
//                          flags: 1 publicWrite, 2 publicRead, 4 adminWrite, 8 adminRead, 16 absolute TTL
//                          refs: [[handle, index], …], omitted when empty
// "1" + JSON [handle, [v…]] the previous version (still read)
const NOT_FOUND = '0';
const V1 = '1';
const V2 = '2';

const F_PUBLIC_WRITE = 1;
const F_PUBLIC_READ = 2;
const F_ADMIN_WRITE = 4;
const F_ADMIN_READ = 8;
const F_ABSOLUTE = 16;

const FORMATS: ReadonlySet<string> = new Set(['string', 'base64', 'admin', 'vlist', 'site', 'key']);

type ValueTuple = [number, string, string, unknown, number, number, number, ([string, number][] | undefined)?];

function flagsOf(v: HandleValue): number {
  const p = v.permissions;
  return (
    (p.publicWrite ? F_PUBLIC_WRITE : 0) |
    (p.publicRead ? F_PUBLIC_READ : 0) |
    (p.adminWrite ? F_ADMIN_WRITE : 0) |
    (p.adminRead ? F_ADMIN_READ : 0) |
    (v.ttlType === 'absolute' ? F_ABSOLUTE : 0)
  );
}

function tuplesOf(values: readonly HandleValue[]): ValueTuple[] {
  return values.map((v) => {
    const t: ValueTuple = [v.index, v.type, v.data.format, v.data.value, v.ttl, v.timestamp, flagsOf(v)];
    if (v.references.length > 0) t.push(v.references.map((r): [string, number] => [r.handle, r.index]));
    return t;
  });
}

/**
 * The Redis value for a record (cached until `expiresAtMs`, which travels with it so a reader's memory copy never
 * outlives it), or the "not found" marker for `null`.
 */
export function encodeForRedis(record: ResolvedRecord | null, expiresAtMs: number): string {
  if (record === null) return NOT_FOUND;
  return `${V2}${Math.floor(expiresAtMs)}\n${JSON.stringify([record.handle, record.minTtl])}\n${record.publicValuesJson}\n${JSON.stringify(tuplesOf(record.values))}`;
}

function bad(why: string): never {
  throw new Error(`malformed Redis record payload: ${why}`);
}

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x);
}

function decodeValue(t: unknown): HandleValue {
  if (!Array.isArray(t) || t.length < 7 || t.length > 8) bad('value is not a tuple');
  const [index, type, format, value, ttl, timestamp, flags, refs] = t as unknown[];
  if (!isInt(index) || typeof type !== 'string' || typeof format !== 'string' || !FORMATS.has(format)) bad('value head');
  if (typeof ttl !== 'number' || !isInt(timestamp) || !isInt(flags)) bad('value ttl/timestamp/flags');
  if ((format === 'string' || format === 'base64') && typeof value !== 'string') bad('string data');
  if (format === 'vlist' && !Array.isArray(value)) bad('vlist data');
  if ((format === 'admin' || format === 'site' || format === 'key') && (value === null || typeof value !== 'object')) {
    bad('object data');
  }
  const references: ValueReference[] = [];
  if (refs !== undefined) {
    if (!Array.isArray(refs)) bad('references');
    for (const r of refs) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || !isInt(r[1])) bad('reference');
      references.push({ handle: r[0], index: r[1] });
    }
  }
  const permissions: Permissions = {
    adminRead: (flags & F_ADMIN_READ) !== 0,
    adminWrite: (flags & F_ADMIN_WRITE) !== 0,
    publicRead: (flags & F_PUBLIC_READ) !== 0,
    publicWrite: (flags & F_PUBLIC_WRITE) !== 0,
  };
  return {
    index,
    type,
    data: { format, value } as ValueData,
    ttlType: (flags & F_ABSOLUTE) !== 0 ? 'absolute' : 'relative',
    ttl,
    timestamp,
    permissions,
    references,
  };
}

/** The four parts of a version-2 payload, or a thrown error. */
function splitV2(s: string): { expiresAt: number; handle: string; minTtl: number; publicJson: string; tuples: string } {
  const a = s.indexOf('\n');
  const b = a < 0 ? -1 : s.indexOf('\n', a + 1);
  const c = b < 0 ? -1 : s.indexOf('\n', b + 1);
  if (c < 0) bad('not four parts');
  const expiresAt = Number(s.slice(1, a));
  let head: unknown;
  try {
    head = JSON.parse(s.slice(a + 1, b));
  } catch {
    bad('header not JSON');
  }
  if (!Number.isFinite(expiresAt) || !Array.isArray(head) || typeof head[0] !== 'string' || typeof head[1] !== 'number') bad('header');
  const publicJson = s.slice(b + 1, c);
  if (publicJson[0] !== '[') bad('public values');
  return { expiresAt, handle: head[0] as string, minTtl: head[1] as number, publicJson, tuples: s.slice(c + 1) };
}

function parseTuples(json: string): HandleValue[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    bad('values not JSON');
  }
  if (!Array.isArray(parsed)) bad('values not a list');
  return (parsed as unknown[]).map(decodeValue);
}

/**
 * Decodes a Redis value: the handle and its values, or `null` for the cached "not found" marker.
 * Throws on a payload it does not understand (callers treat that as a cache miss).
 */
export function decodeFromRedis(s: string): { handle: string; values: HandleValue[] } | null {
  if (s === NOT_FOUND) return null;
  if (s.startsWith(V2)) {
    const p = splitV2(s);
    return { handle: p.handle, values: parseTuples(p.tuples) };
  }
  if (!s.startsWith(V1)) bad('unknown version');
  let parsed: unknown;
  try {
    parsed = JSON.parse(s.slice(1));
  } catch {
    bad('not JSON');
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || !Array.isArray(parsed[1])) {
    bad('not [handle, values]');
  }
  const values = (parsed[1] as unknown[]).map(decodeValue);
  return { handle: parsed[0] as string, values };
}

/**
 * A record read as text (from Redis or the store): the public answer as stored, the values parsed only when
 * something asks for them, the min TTL given or computed from them then.
 */
class LazyRecord implements ResolvedRecord {
  slot: { owner: unknown; body: string; length: number } | null = null;
  private parsed: readonly HandleValue[] | null = null;
  readonly sizeBytes: number;

  constructor(
    readonly handle: string,
    readonly key: string,
    readonly publicValuesJson: string,
    /** length of the text `parse` reads: kept until then, and about what its values take once parsed */
    textLength: number,
    private readonly parse: () => HandleValue[],
    private ttl: number | null,
    private readonly nowSec: number,
  ) {
    // the strings (UTF-16 upper bound), the unparsed text, and room for its values should a filter parse them
    this.sizeBytes = (publicValuesJson.length + handle.length) * 2 + textLength * 2 + textLength * LAZY_PARSE_FACTOR;
  }

  get values(): readonly HandleValue[] {
    return (this.parsed ??= Object.freeze(this.parse()));
  }

  get minTtl(): number {
    return (this.ttl ??= minEffectiveTtl(this.values, this.nowSec, DEFAULT_TTL));
  }
}

/**
 * A Redis value as the cache record (the values still unparsed) and when it expires (ms; null: the reader's own
 * TTL rules apply), or `record: null` for "not found". Throws on a payload it does not understand.
 */
export function recordFromRedis(s: string, key: string, nowSec: number): { record: ResolvedRecord | null; expiresAt: number | null } {
  if (s === NOT_FOUND) return { record: null, expiresAt: null };
  if (s.startsWith(V2)) {
    const p = splitV2(s);
    return { record: new LazyRecord(p.handle, key, p.publicJson, p.tuples.length, () => parseTuples(p.tuples), p.minTtl, nowSec), expiresAt: p.expiresAt };
  }
  const d = decodeFromRedis(s);
  return { record: d === null ? null : buildRecord(d.handle, key, d.values, nowSec), expiresAt: null };
}

/** The cache record for what the source returned. */
export function recordFromSource(s: SourceRecord, key: string, nowSec: number): ResolvedRecord {
  if ('values' in s) return buildRecord(s.handle, key, s.values, nowSec);
  if (s.publicJson !== null) return new LazyRecord(s.handle, key, s.publicJson, s.valuesJson.length, () => JSON.parse(s.valuesJson) as HandleValue[], null, nowSec);
  return buildRecord(s.handle, key, JSON.parse(s.valuesJson) as HandleValue[], nowSec);
}
