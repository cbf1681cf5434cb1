// Resolution filters (Handle.Net semantics): requested types and indexes select a union of values; publicOnly hides private ones.
import type { HandleValue } from './types.js';
import { asciiUpper } from './identifier.js';
import { isPublicReadable } from './value.js';

/**
 * Whether a requested type selects a value's type, ASCII case-insensitively. A request ending in `.` (`URL.`) matches
 * the type without the dot (`URL`) and every subtype (`URL.anything`); otherwise only the exact type matches.
 */
export function typeMatches(requested: string, actual: string): boolean {
  const req = asciiUpper(requested);
  const act = asciiUpper(actual);
  if (req.endsWith('.') && req.length > 1) {
    return act === req.slice(0, -1) || (act.length > req.length && act.startsWith(req));
  }
  return req === act;
}

export interface ValueFilter {
  types: readonly string[];
  indexes: readonly number[];
  publicOnly: boolean;
}

/**
 * With neither types nor indexes, every value; otherwise the union of values whose index is listed or whose type
 * matches. With publicOnly, values without public read are dropped. Stored order is kept.
 */
export function filterValues(values: readonly HandleValue[], f: ValueFilter): HandleValue[] {
  const all = f.types.length === 0 && f.indexes.length === 0;
  const out: HandleValue[] = [];
  for (const v of values) {
    if (f.publicOnly && !isPublicReadable(v)) continue;
    if (!all && !f.indexes.includes(v.index) && !f.types.some((t) => typeMatches(t, v.type))) continue;
    out.push(v);
  }
  return out;
}
