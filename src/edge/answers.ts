// Rendered answers, the same for the front door and the faces' full paths: the Handle JSON resolution body, the
// proxy redirect, HTTP dates — each built from a resolved record (its public values as the store serialised them).
import { filterValues, typeMatches, type ValueFilter } from '../../handle/filter.js';
import { valuesToJson } from '../../handle/json.js';
import type { HandleValue } from '../../handle/types.js';
import { minEffectiveTtl } from '../../handle/value.js';
import type { ResolvedRecord } from '../../resolver/types.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** A filter as requested: `type` and `index` lists (publicOnly is the caller's decision). */
export interface RequestFilter {
  types: readonly string[];
  indexes: readonly number[];
}

export const NO_FILTER: RequestFilter = Object.freeze({ types: [], indexes: [] });

/** A stable name of a filter, for keeping what is derived from it (ASCII case of types does not matter). */
export function filterKey(f: RequestFilter): string {
  if (f.types.length === 0 && f.indexes.length === 0) return '';
  return `${f.types.map((t) => t.toUpperCase()).join('\u0001')}\u0000${f.indexes.join(',')}`;
}

/** The values JSON of a resolution: the stored public answer when nothing filters, else the filtered values. */
export function valuesJsonFor(record: ResolvedRecord, f: RequestFilter, publicOnly: boolean): string {
  if (publicOnly && f.types.length === 0 && f.indexes.length === 0) return record.publicJson;
  const filter: ValueFilter = { types: f.types, indexes: f.indexes, publicOnly };
  const shown = filterValues(publicOnly ? record.publicValues : record.values, filter);
  return shown.length === 0 ? '[]' : valuesToJson(shown);
}

/** The Handle JSON resolution body around a values JSON (responseCode 200 and `values: []` when it is empty). */
export function bodyAround(handle: string, valuesJson: string): string {
  const h = JSON.stringify(handle);
  return valuesJson === '[]' ? `{"responseCode":200,"handle":${h},"values":[]}` : `{"responseCode":1,"handle":${h},"values":${valuesJson}}`;
}

/**
 * The Handle JSON answer to a resolution of `record` (the handle echoed as requested): responseCode 1 with the
 * values the filter keeps, or 200 with `values: []` when it keeps none.
 */
export function resolutionBody(handle: string, record: ResolvedRecord, f: RequestFilter, publicOnly: boolean): string {
  return bodyAround(handle, valuesJsonFor(record, f, publicOnly));
}

/** The Handle JSON "not found" answer. */
export function notFoundBody(handle: string): string {
  return `{"responseCode":100,"handle":${JSON.stringify(handle)},"message":"Handle Not Found"}`;
}

/** First URL to redirect to: the requested types in order (default URL, then URL.*), lowest index first. */
export function redirectTarget(values: readonly HandleValue[], types: readonly string[]): string | undefined {
  const order = types.length > 0 ? types : ['URL', 'URL.'];
  for (const t of order) {
    const hit = values
      .filter((v) => typeMatches(t, v.type) && v.data.format === 'string' && v.data.value !== '')
      .sort((a, b) => a.index - b.index)[0];
    if (hit) return hit.data.value as string;
  }
  return undefined;
}

/** A Location header value: what can be decoded is decoded, then encoded once (no CR/LF, only ASCII). */
export function locationOf(url: string): string {
  let s = url;
  try {
    s = decodeURI(url);
  } catch {
    // keep as given
  }
  return encodeURI(s);
}

/** A redirect answer for a proxy path. */
export interface Redirect {
  location: string;
  maxAge: number;
}

/** The unfiltered redirect of a record, or null when the full path must answer (no URL, or TTLs that count down). */
export function redirectOf(record: ResolvedRecord): Redirect | null {
  const shown = record.publicValues;
  const target = redirectTarget(shown, []);
  // only relative TTLs give a max-age that does not change with time
  if (target === undefined || !shown.every((v) => v.ttlType === 'relative')) return null;
  return { location: locationOf(target), maxAge: minEffectiveTtl(shown, 0, 86400) };
}

let dateCache = { second: -1, text: '' };
/** An HTTP date, formatted once per second. */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateCache.second) dateCache = { second, text: new Date(second * 1000).toUTCString() };
  return dateCache.text;
}
