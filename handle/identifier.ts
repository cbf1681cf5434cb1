// Handle identifiers: parsing and validation of `prefix/suffix`, canonical case keys, URL path decoding, prefix tests.
import { HandleError, RC } from './codes.js';

/** How suffixes compare: the node default (and the Handle.Net server default) is case-insensitive ASCII. */
export interface CasePolicy {
  caseSensitiveSuffix: boolean;
}

export const DEFAULT_CASE_POLICY: Readonly<CasePolicy> = Object.freeze({ caseSensitiveSuffix: false });

/** A parsed handle: the original text and its canonical lookup keys. */
export interface HandleId {
  /** exactly as given */
  handle: string;
  /** exactly as given (the part before the first `/`) */
  prefix: string;
  /** exactly as given (everything after the first `/`) */
  suffix: string;
  /** prefixKey + '/' + suffix (ASCII upper-cased unless the policy keeps suffix case; always for `0.NA`) */
  key: string;
  /** prefix with ASCII letters upper-cased */
  prefixKey: string;
}

export const MAX_PREFIX_CHARS = 64;
export const MAX_HANDLE_BYTES = 255;
/** The prefix under which prefix records live: `0.NA/<prefix>`. */
export const PREFIX_RECORD_PREFIX = '0.NA';

// C0 controls, DEL and C1 controls.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
// A high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const WHITESPACE_RE = /\s/u;
const LOWER_ASCII_RE = /[a-z]+/g;

/** Upper-cases ASCII letters only; every other character is kept as is. */
export function asciiUpper(s: string): string {
  return s.replace(LOWER_ASCII_RE, (m) => m.toUpperCase());
}

/** UTF-8 length of a string without allocating (lone surrogates count 3 bytes, as TextEncoder would emit U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function invalid(message: string): HandleError {
  return new HandleError(RC.INVALID_HANDLE, message);
}

function describeChar(s: string): string {
  const m = CONTROL_RE.exec(s);
  const c = m ? m[0].charCodeAt(0) : 0;
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Checks shared by whole handles and bare prefixes: characters that are never allowed anywhere. */
function checkCharacters(s: string, what: string): void {
  if (CONTROL_RE.test(s)) throw invalid(`${what} contains a control character (${describeChar(s)})`);
  if (LONE_SURROGATE_RE.test(s)) throw invalid(`${what} contains an unpaired UTF-16 surrogate (not valid Unicode)`);
}

/** Prefix rules; assumes characters were already checked. */
function checkPrefix(prefix: string): void {
  if (prefix.length === 0) throw invalid('Empty prefix');
  if (prefix.includes('/')) throw invalid("Prefix contains '/'");
  // Length in characters (code points), not UTF-16 units.
  const chars = prefix.length > MAX_PREFIX_CHARS ? [...prefix].length : prefix.length;
  if (chars > MAX_PREFIX_CHARS) throw invalid(`Prefix longer than ${MAX_PREFIX_CHARS} characters (${chars})`);
  if (WHITESPACE_RE.test(prefix)) throw invalid('Prefix contains whitespace');
  if (prefix.startsWith('.')) throw invalid("Prefix starts with '.' (empty segment)");
  if (prefix.endsWith('.')) throw invalid("Prefix ends with '.' (empty segment)");
  if (prefix.includes('..')) throw invalid("Prefix contains '..' (empty segment)");
}

/**
 * Parses `prefix/suffix` (split at the first `/`), validating the limits deployed nodes enforce, and computes the
 * canonical keys. Throws HandleError(RC.INVALID_HANDLE) saying what is wrong.
 */
export function parseHandle(input: string, policy: CasePolicy): HandleId {
  if (typeof input !== 'string') throw invalid('Handle is not a string');
  if (input.length === 0) throw invalid('Empty handle');
  checkCharacters(input, 'Handle');
  const bytes = utf8Length(input);
  if (bytes > MAX_HANDLE_BYTES) throw invalid(`Handle longer than ${MAX_HANDLE_BYTES} bytes (${bytes} bytes in UTF-8)`);
  const slash = input.indexOf('/');
  if (slash < 0) throw invalid("Handle has no '/' between prefix and suffix");
  const prefix = input.slice(0, slash);
  const suffix = input.slice(slash + 1);
  if (prefix.length === 0) throw invalid('Empty prefix');
  if (suffix.length === 0) throw invalid('Empty suffix');
  checkPrefix(prefix);
  const prefixKey = asciiUpper(prefix);
  const suffixKey = policy.caseSensitiveSuffix && prefixKey !== PREFIX_RECORD_PREFIX ? suffix : asciiUpper(suffix);
  return { handle: input, prefix, suffix, key: `${prefixKey}/${suffixKey}`, prefixKey };
}

/** Parses a bare prefix (no `0.NA/` form) with the same rules as the prefix part of a handle. */
export function parsePrefix(input: string): { prefix: string; prefixKey: string } {
  if (typeof input !== 'string') throw invalid('Prefix is not a string');
  if (input.length === 0) throw invalid('Empty prefix');
  checkCharacters(input, 'Prefix');
  checkPrefix(input);
  return { prefix: input, prefixKey: asciiUpper(input) };
}

const HEX_VALUE: Record<string, number> = {};
for (let i = 0; i < 16; i++) {
  HEX_VALUE[i.toString(16)] = i;
  HEX_VALUE[i.toString(16).toUpperCase()] = i;
}

const utf8Encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Percent-decodes a raw URL path (segment) into a string: `%XX` escapes become bytes, and the bytes must be strict
 * UTF-8. `+` stays `+`. Malformed escapes and invalid UTF-8 throw HandleError(RC.INVALID_HANDLE).
 */
export function decodeUrlPath(path: string): string {
  if (!path.includes('%')) return path;
  const bytes: number[] = [];
  let literalStart = 0;
  const flushLiteral = (end: number): void => {
    if (end > literalStart) for (const b of utf8Encoder.encode(path.slice(literalStart, end))) bytes.push(b);
  };
  for (let i = 0; i < path.length; i++) {
    if (path.charCodeAt(i) !== 0x25 /* % */) continue;
    flushLiteral(i);
    const hi = HEX_VALUE[path.charAt(i + 1)];
    const lo = HEX_VALUE[path.charAt(i + 2)];
    if (hi === undefined || lo === undefined) {
      throw invalid(`Malformed percent-escape '${path.slice(i, i + 3)}' at position ${i} in the URL path`);
    }
    bytes.push(hi * 16 + lo);
    i += 2;
    literalStart = i + 1;
  }
  flushLiteral(path.length);
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    throw invalid('URL path does not decode to valid UTF-8');
  }
}

/** True when `prefixKey` is `homeKey` itself or a prefix derived from it (`homeKey.` followed by more). */
export function isUnderPrefix(prefixKey: string, homeKey: string): boolean {
  if (prefixKey === homeKey) return true;
  return prefixKey.length > homeKey.length + 1 && prefixKey.startsWith(homeKey) && prefixKey.charCodeAt(homeKey.length) === 0x2e;
}

/** A prefix key and every prefix it is derived from, shortest first: `88.1.7` → `88`, `88.1`, `88.1.7`. */
export function prefixAncestors(prefixKey: string): string[] {
  const parts = prefixKey.split('.');
  return parts.map((_p, i) => parts.slice(0, i + 1).join('.'));
}

/** For a prefix record `0.NA/<p>`, the prefixKey of `<p>` (null when `<p>` is not a valid prefix); else null. */
export function prefixOfPrefixRecord(id: HandleId): string | null {
  if (id.prefixKey !== PREFIX_RECORD_PREFIX) return null;
  try {
    return parsePrefix(id.suffix).prefixKey;
  } catch {
    return null;
  }
}

/** The handle of a prefix's record: `0.NA/<prefix>`. */
export function prefixRecordHandle(prefix: string): string {
  return `${PREFIX_RECORD_PREFIX}/${prefix}`;
}
