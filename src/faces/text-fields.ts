// The shared zod refinements of text fields on every HTTP face: no control characters in names, codes and keys, no
// NUL anywhere (PostgreSQL cannot store it); the schema compiler refuses a violation as a client error naming the field.
import { z } from 'zod';

/** Issues raised by these refinements carry this param, so a route-checked schema can report only them. */
export const TEXT_ISSUE = 'textField';

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A name, code, key or identifier: no control characters (C0 and DEL). */
export function plainText(): z.ZodString {
  return z.string().refine((s) => !CONTROL.test(s), {
    message: '含有控制字符（如 NUL、换行），请删除后重试 / contains a control character (such as NUL or a line break): remove it',
    params: { [TEXT_ISSUE]: true },
  });
}

/** Free text (descriptions, reasons, value data): line breaks and tabs allowed, NUL never. */
export function freeText(): z.ZodString {
  return z.string().refine((s) => !s.includes('\u0000'), {
    message: '含有 NUL 字符（\\u0000），无法保存，请删除后重试 / contains NUL (\\u0000), which cannot be stored: remove it',
    params: { [TEXT_ISSUE]: true },
  });
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  params?: Record<string, unknown>;
  errors?: Issue[][];
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(value)' : out;
}

/** The first text-field issue among `issues` (inside unions too), as `field: message`; null when there is none. */
export function textIssue(issues: readonly Issue[], base: readonly PropertyKey[] = []): string | null {
  for (const i of issues) {
    if (i.code === 'custom' && i.params?.[TEXT_ISSUE] === true) return `${pathText([...base, ...i.path])}: ${i.message}`;
    if (i.code === 'invalid_union' && i.errors !== undefined) {
      for (const branch of i.errors) {
        const found = textIssue(branch, [...base, ...i.path]);
        if (found !== null) return found;
      }
    }
  }
  return null;
}
