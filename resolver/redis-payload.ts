// The Redis value of a cached record: the record's text (the same three texts the store row holds) and its expiry.
//
//   "0"                                  the handle does not exist (a cached negative answer)
//   "4" expiresAtMs "\n" minTtl "\n" handle-as-JSON-string "\n" length-of-publicJson "\n" publicJson valuesJson
//                                        the record; the expiry travels with it so a reader's memory copy never
//                                        outlives it, its smallest TTL so a reader need not parse the values to know
//                                        it (-1: unknown), and the public answer's length frames it, whatever it holds.
import type { RecordText } from './types.js';

const NOT_FOUND = '0';
const V4 = '4';

/** The Redis value for a record's text (null: not found) cached until `expiresAtMs`, with its min TTL when known. */
export function encodePayload(text: RecordText | null, expiresAtMs: number, minTtl: number | null = null): string {
  if (text === null) return NOT_FOUND;
  const pub = text.publicJson ?? '';
  return `${V4}${Math.floor(expiresAtMs)}\n${minTtl ?? -1}\n${JSON.stringify(text.handle)}\n${pub.length}\n${pub}${text.valuesJson}`;
}

/** A payload this code does not understand (an older format, or damage): read as a miss, and overwritten. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

function bad(why: string): never {
  throw new PayloadError(`unreadable Redis record payload: ${why}`);
}

/** The text, expiry and min TTL of a payload (`text` null: the handle does not exist, the others null then). */
export function decodePayload(s: string): { text: RecordText | null; expiresAt: number | null; minTtl: number | null } {
  if (s === NOT_FOUND) return { text: null, expiresAt: null, minTtl: null };
  if (s[0] !== V4) bad('unknown version');
  const a = s.indexOf('\n');
  const b = a < 0 ? -1 : s.indexOf('\n', a + 1);
  const c = b < 0 ? -1 : s.indexOf('\n', b + 1);
  const d = c < 0 ? -1 : s.indexOf('\n', c + 1);
  if (d < 0) bad('not framed');
  const expiresAt = integer(s.slice(1, a));
  const ttl = integer(s.slice(a + 1, b));
  const length = integer(s.slice(c + 1, d));
  if (expiresAt === null || ttl === null || length === null || length < 0 || d + 1 + length > s.length) bad('header');
  let handle: unknown;
  try {
    handle = JSON.parse(s.slice(b + 1, c));
  } catch {
    bad('handle');
  }
  if (typeof handle !== 'string') bad('handle');
  const publicJson = s.slice(d + 1, d + 1 + length);
  return {
    text: { handle, valuesJson: s.slice(d + 1 + length), publicJson: publicJson === '' ? null : publicJson },
    expiresAt,
    minTtl: ttl < 0 ? null : ttl,
  };
}

/** A decimal integer as written by encodePayload (an optional minus, digits), or null. */
function integer(t: string): number | null {
  return /^-?\d{1,16}$/.test(t) ? Number(t) : null;
}
