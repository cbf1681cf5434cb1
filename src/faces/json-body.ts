// JSON request bodies for every HTTP face: strict UTF-8, a nesting-depth bound checked on the text before parsing, and
// no NUL (\u0000) in any string (PostgreSQL text and jsonb cannot hold it) — each refused as a client error naming why.
import type { FastifyInstance } from 'fastify';
import { HandleError, RC } from '../../handle/codes.js';

/** Deepest nesting of arrays and objects a body may have (the faces' bodies need fewer than 10 levels). */
export const MAX_JSON_DEPTH = 64;

/** A malformed body: a Handle protocol error (responseCode 4, HTTP 400) with the Chinese the SNMS envelope shows. */
export class BodyError extends HandleError {
  constructor(
    readonly zh: string,
    en: string,
  ) {
    super(RC.PROTOCOL_ERROR, en);
    this.name = 'BodyError';
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * How deep `text` nests arrays and objects, stopping as soon as it passes `max` (a linear scan; strings skipped).
 * Parsing and everything after it (validation, serialisation, our own walks) recurse on depth: this bounds them all.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  if (text.length <= 2 * max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: jump to its closing quote (one not escaped: preceded by an even number of backslashes)
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return false; // unterminated: the parser refuses it
        let b = q - 1;
        while (b > i && text.charCodeAt(b) === 0x5c) b--;
        if ((q - 1 - b) % 2 === 0) {
          i = q;
          break;
        }
        from = q + 1;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** The path of the first string (or key) holding NUL, as `a.b[2].c`; null when there is none. Depth is bounded first. */
export function nulPath(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '(body)' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = nulPath(value[i], `${path}[${i}]`);
      if (p !== null) return p;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const at = path === '' ? k : `${path}.${k}`;
      if (k.includes('\u0000')) return `${path === '' ? '' : `${path}.`}${JSON.stringify(k)}`;
      const p = nulPath(v, at);
      if (p !== null) return p;
    }
  }
  return null;
}

/** Checks and parses one body's bytes; throws BodyError (or the parser's error for invalid JSON). */
export function checkJsonText(body: Buffer): string {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new BodyError('请求体不是有效的 UTF-8 编码', 'Request body is not valid UTF-8');
  }
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new BodyError(
      `请求体 JSON 嵌套超过 ${MAX_JSON_DEPTH} 层，请减少嵌套后重试`,
      `JSON in the request body is nested deeper than ${MAX_JSON_DEPTH} levels: send a flatter body`,
    );
  }
  return text;
}

/** After parsing: a string holding NUL is refused, naming where it is (only looked for when the text escapes one). */
export function checkNoNul(text: string, value: unknown): void {
  if (!text.includes('\\u0000')) return;
  const at = nulPath(value);
  if (at !== null) {
    throw new BodyError(
      `字段 ${at} 含有 NUL 字符（\\u0000），无法保存，请删除后重试`,
      `${at} contains NUL (\\u0000), which cannot be stored: remove it (binary data goes in base64 or hex values)`,
    );
  }
}

/**
 * Bodies whose JSON text holds no backslash and no DEL: no string in them can hold a control character (JSON allows
 * C0 characters in strings only as escapes), so the text-field refinements (text-fields.ts) cannot fail on them and
 * the schema compiler skips re-walking them with zod (schema-compilers.ts; a 2000-item batch: 4 µs per item).
 */
const controlFree = new WeakSet<object>();
const MAYBE_CONTROL = /[\\\u007f]/;

/** Whether `value` is a parsed body whose text could not hold a control character (see controlFree). */
export function isControlFreeBody(value: unknown): boolean {
  return typeof value === 'object' && value !== null && controlFree.has(value);
}

/** Replaces fastify's application/json parser with the checked one (the faces answer its errors in their format). */
export function useCheckedJson(fastify: FastifyInstance): void {
  const defaultJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    let text: string;
    try {
      text = checkJsonText(body as Buffer);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    defaultJson(req, text, (err, value) => {
      if (err) {
        done(new HandleError(RC.PROTOCOL_ERROR, `Invalid JSON in request body: ${err.message}`), undefined);
        return;
      }
      try {
        checkNoNul(text, value);
      } catch (e) {
        done(e as Error, undefined);
        return;
      }
      if (typeof value === 'object' && value !== null && !MAYBE_CONTROL.test(text)) controlFree.add(value);
      done(null, value);
    });
  });
}
