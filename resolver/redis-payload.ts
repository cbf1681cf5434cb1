// The Redis value of a cached record: the record's text (the same three texts the store row holds) and its expiry.
//
//   "0"                                  the handle does not exist (a cached negative answer)
//   "3" expiresAtMs "\n" handle-as-JSON-string "\n" length-of-publicJson "\n" publicJson valuesJson
//                                        the record; the expiry travels with it so a reader's memory copy never
//                                        outlives it, and the public answer's length frames it, whatever it holds.
import type { RecordText } from './types.js';

const NOT_FOUND = '0';
const V3 = '3';

/** The Redis value for a record's text (null: not found) cached until `expiresAtMs`. */
export function encodePayload(text: RecordText | null, expiresAtMs: number): string {
  if (text === null) return NOT_FOUND;
  const pub = text.publicJson ?? '';
  return `${V3}${Math.floor(expiresAtMs)}\n${JSON.stringify(text.handle)}\n${pub.length}\n${pub}${text.valuesJson}`;
}

/** A payload this code does not understand (an older format, or damage): read as a miss, and overwritten. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

function bad(why: string): never {
  throw new PayloadError(`unreadable Redis record payload: ${why}`);
}

/** The text and expiry of a payload (`text` null: the handle does not exist, `expiresAt` then null). */
export function decodePayload(s: string): { text: RecordText | null; expiresAt: number | null } {
  if (s === NOT_FOUND) return { text: null, expiresAt: null };
  if (s[0] !== V3) bad('unknown version');
  const a = s.indexOf('\n');
  const b = a < 0 ? -1 : s.indexOf('\n', a + 1);
  const c = b < 0 ? -1 : s.indexOf('\n', b + 1);
  if (c < 0) bad('not framed');
  const expiresAt = Number(s.slice(1, a));
  const length = Number(s.slice(b + 1, c));
  if (!Number.isSafeInteger(expiresAt) || !Number.isSafeInteger(length) || length < 0 || c + 1 + length > s.length) bad('header');
  let handle: unknown;
  try {
    handle = JSON.parse(s.slice(a + 1, b));
  } catch {
    bad('handle');
  }
  if (typeof handle !== 'string') bad('handle');
  const publicJson = s.slice(c + 1, c + 1 + length);
  return { text: { handle, valuesJson: s.slice(c + 1 + length), publicJson: publicJson === '' ? null : publicJson }, expiresAt };
}
