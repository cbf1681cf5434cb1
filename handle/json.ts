// The Handle JSON codec (Handle.Net v9 REST shapes): values out as `{format,value}`, ISO-second timestamps.
import type { HandleValue } from './types.js';
import { hasDefaultPermissions, permissionsToString } from './value.js';

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

/** Epoch seconds → `2024-01-02T03:04:05Z`. */
export function formatTimestamp(sec: number): string {
  return new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
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
