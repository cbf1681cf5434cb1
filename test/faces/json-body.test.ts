// The checked JSON body parser's helpers: the nesting-depth scan (which skips strings by jumping to their closing quote) agrees with a character-by-character scan, and which bodies may skip the text-field re-check.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { isControlFreeBody, jsonDepthExceeds, useCheckedJson } from '../../src/faces/json-body.js';

/** The scan as it was: every character looked at. */
function reference(text: string, max: number): boolean {
  if (text.length <= 2 * max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

describe('jsonDepthExceeds', () => {
  it('agrees with the character-by-character scan on strings full of brackets, quotes and backslashes', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = ['[', ']', '{', '}', '"', '\\', 'a', '泵', ',', ':'];
    for (let n = 0; n < 3000; n++) {
      const len = 1 + Math.floor(rnd() * 60);
      let s = '';
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      for (const max of [1, 2, 3, 5]) expect(jsonDepthExceeds(s, max), `${JSON.stringify(s)} max ${max}`).toBe(reference(s, max));
    }
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const inner = JSON.stringify('[[[[[[ \\" {{{{{{ \\\\" [[[[');
    expect(jsonDepthExceeds(`[${inner},[${inner}]]`, 2)).toBe(false);
    expect(jsonDepthExceeds(`[[[${inner}]]]`, 2)).toBe(true);
    expect(jsonDepthExceeds(`${'['.repeat(65)}${']'.repeat(65)}`, 64)).toBe(true);
  });
});

describe('control-free bodies', () => {
  it('marks a parsed body whose text has no backslash and no DEL, and no other', async () => {
    const app = Fastify();
    useCheckedJson(app);
    let seen: unknown[] = [];
    app.post('/', async (req) => {
      seen.push(isControlFreeBody(req.body));
      return {};
    });
    const send = (payload: string) => app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload });
    await send(JSON.stringify([{ handle: '88.1/泵', templateVersion: 'v1' }]));
    await send(JSON.stringify([{ handle: '88.1/a', templateVersion: 'v1\n' }]));
    await send(JSON.stringify([{ handle: '88.1/a\u007f', templateVersion: 'v1' }]));
    await send(JSON.stringify({ a: 'quote " inside' }));
    await send('"a string body"');
    expect(seen).toEqual([true, false, false, false, false]);
    seen = [];
    await app.close();
  });
});
