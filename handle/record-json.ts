// The value model's own JSON (how the store keeps a handle's values): written as JSON.stringify of HandleValue[],
// read back with every field checked — a stored row that does not match the model is a RecordError, never a crash.
import { HandleError, RC } from './codes.js';
import type { HandleValue, Permissions, ValueData, ValueReference } from './types.js';

/** A stored record that does not hold what the value model says: answered as an internal error (RC 2). */
export class RecordError extends HandleError {
  constructor(message: string) {
    super(RC.ERROR, `Stored record is corrupt: ${message}`);
    this.name = 'RecordError';
  }
}

const FORMATS: ReadonlySet<string> = new Set(['string', 'base64', 'admin', 'vlist', 'site', 'key']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function bad(i: number, what: string): never {
  throw new RecordError(`value #${i + 1}: ${what}`);
}

function dataOf(i: number, d: unknown): ValueData {
  if (!isObject(d) || typeof d.format !== 'string' || !FORMATS.has(d.format)) bad(i, 'data has no known format');
  const v = d.value;
  switch (d.format) {
    case 'string':
    case 'base64':
      if (typeof v !== 'string') bad(i, `${d.format} data is not a string`);
      return { format: d.format, value: v };
    case 'admin':
      if (!isObject(v) || typeof v.handle !== 'string' || !isUint32(v.index) || typeof v.permissions !== 'string') bad(i, 'admin data is malformed');
      return { format: 'admin', value: { handle: v.handle, index: v.index, permissions: v.permissions } };
    case 'vlist':
      return { format: 'vlist', value: referencesOf(i, v) };
    default:
      if (!isObject(v)) bad(i, `${d.format} data is not an object`);
      return { format: d.format as 'site' | 'key', value: v };
  }
}

function referencesOf(i: number, raw: unknown): ValueReference[] {
  if (!Array.isArray(raw)) bad(i, 'references are not a list');
  return raw.map((r) => {
    if (!isObject(r) || typeof r.handle !== 'string' || !isUint32(r.index)) bad(i, 'a reference is malformed');
    return { handle: r.handle, index: r.index };
  });
}

function permissionsOf(i: number, p: unknown): Permissions {
  if (!isObject(p)) bad(i, 'permissions are missing');
  const { adminRead, adminWrite, publicRead, publicWrite } = p;
  if (typeof adminRead !== 'boolean' || typeof adminWrite !== 'boolean' || typeof publicRead !== 'boolean' || typeof publicWrite !== 'boolean') {
    bad(i, 'permissions are malformed');
  }
  return { adminRead, adminWrite, publicRead, publicWrite };
}

/** One stored value, checked field by field. */
function valueOf(i: number, v: unknown): HandleValue {
  if (!isObject(v)) bad(i, 'not an object');
  if (!isUint32(v.index)) bad(i, 'index is not an integer');
  if (typeof v.type !== 'string') bad(i, 'type is not a string');
  if (v.ttlType !== 'relative' && v.ttlType !== 'absolute') bad(i, 'ttlType is neither relative nor absolute');
  if (!isUint32(v.ttl)) bad(i, 'ttl is not an integer');
  if (!isUint32(v.timestamp)) bad(i, 'timestamp is not an integer');
  return {
    index: v.index,
    type: v.type,
    data: dataOf(i, v.data),
    ttlType: v.ttlType,
    ttl: v.ttl,
    timestamp: v.timestamp,
    permissions: permissionsOf(i, v.permissions),
    references: v.references === undefined ? [] : referencesOf(i, v.references),
  };
}

/** Parses a stored value list; throws RecordError naming what is wrong. */
export function parseStoredValues(text: string): HandleValue[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RecordError('values are not JSON');
  }
  if (!Array.isArray(raw)) throw new RecordError('values are not a list');
  return raw.map((v, i) => valueOf(i, v));
}

/** The stored form of a value list. */
export function storedValuesJson(values: readonly HandleValue[]): string {
  return JSON.stringify(values);
}
