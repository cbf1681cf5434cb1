// Tests for handle/identifier.ts: handle and prefix parsing, case keys, limits, URL path decoding, prefix helpers.
import { describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../handle/codes.js';
import {
  decodeUrlPath,
  isUnderPrefix,
  parseHandle,
  parsePrefix,
  prefixOfPrefixRecord,
  prefixRecordHandle,
  type CasePolicy,
} from '../../handle/identifier.js';
import { expectHandleError } from '../helpers/errors.js';

const CI: CasePolicy = { caseSensitiveSuffix: false };
const CS: CasePolicy = { caseSensitiveSuffix: true };


describe('parseHandle: valid handles', () => {
  const rows: [string, CasePolicy, { prefix: string; suffix: string; prefixKey: string; key: string }][] = [
    ['88.320924.17/PUMP-2024-000123', CI, { prefix: '88.320924.17', suffix: 'PUMP-2024-000123', prefixKey: '88.320924.17', key: '88.320924.17/PUMP-2024-000123' }],
    ['88.320924.17/pump-a', CI, { prefix: '88.320924.17', suffix: 'pump-a', prefixKey: '88.320924.17', key: '88.320924.17/PUMP-A' }],
    ['88.320924.17/pump-a', CS, { prefix: '88.320924.17', suffix: 'pump-a', prefixKey: '88.320924.17', key: '88.320924.17/pump-a' }],
    ['abc.Def/x', CS, { prefix: 'abc.Def', suffix: 'x', prefixKey: 'ABC.DEF', key: 'ABC.DEF/x' }],
    ['0.na/88.320924.ab', CS, { prefix: '0.na', suffix: '88.320924.ab', prefixKey: '0.NA', key: '0.NA/88.320924.AB' }],
    ['0.NA/88.320924.ab', CI, { prefix: '0.NA', suffix: '88.320924.ab', prefixKey: '0.NA', key: '0.NA/88.320924.AB' }],
    ['88.1.2/泵-一号', CI, { prefix: '88.1.2', suffix: '泵-一号', prefixKey: '88.1.2', key: '88.1.2/泵-一号' }],
    ['88.1.2/泵x', CI, { prefix: '88.1.2', suffix: '泵x', prefixKey: '88.1.2', key: '88.1.2/泵X' }],
    ['a/ä', CI, { prefix: 'a', suffix: 'ä', prefixKey: 'A', key: 'A/ä' }],
    ['é.a/x', CI, { prefix: 'é.a', suffix: 'x', prefixKey: 'é.A', key: 'é.A/X' }],
    ['a/b/c:d', CI, { prefix: 'a', suffix: 'b/c:d', prefixKey: 'A', key: 'A/B/C:D' }],
    ['a/b+c', CI, { prefix: 'a', suffix: 'b+c', prefixKey: 'A', key: 'A/B+C' }],
    ['a/b c', CI, { prefix: 'a', suffix: 'b c', prefixKey: 'A', key: 'A/B C' }],
    ['a//', CI, { prefix: 'a', suffix: '/', prefixKey: 'A', key: 'A//' }],
    ['a/%2F', CI, { prefix: 'a', suffix: '%2F', prefixKey: 'A', key: 'A/%2F' }],
    ['a/😀', CI, { prefix: 'a', suffix: '😀', prefixKey: 'A', key: 'A/😀' }],
    ['20.500.12345/abc', CS, { prefix: '20.500.12345', suffix: 'abc', prefixKey: '20.500.12345', key: '20.500.12345/abc' }],
  ];
  it.each(rows)('%s', (input, policy, want) => {
    expect(parseHandle(input, policy)).toEqual({ handle: input, ...want });
  });
});

describe('parseHandle: limits', () => {
  it('accepts a 64-character prefix and refuses 65', () => {
    const p64 = 'a'.repeat(64);
    expect(parseHandle(`${p64}/x`, CI).prefixKey).toBe('A'.repeat(64));
    const e = expectHandleError(() => parseHandle(`${'a'.repeat(65)}/x`, CI), RC.INVALID_HANDLE);
    expect(e.message).toContain('64');
  });
  it('counts prefix length in characters, not bytes', () => {
    expect(parseHandle(`${'中'.repeat(64)}/x`, CI).prefix).toBe('中'.repeat(64));
    expectHandleError(() => parseHandle(`${'中'.repeat(65)}/x`, CI), RC.INVALID_HANDLE);
  });
  it('accepts exactly 255 UTF-8 bytes and refuses 256 (3-byte characters)', () => {
    const ok = `a/${'中'.repeat(84)}b`; // 1 + 1 + 252 + 1 = 255 bytes, 87 UTF-16 units
    expect(Buffer.byteLength(ok)).toBe(255);
    expect(parseHandle(ok, CI).suffix).toBe(`${'中'.repeat(84)}b`);
    const bad = `${ok}b`;
    expect(Buffer.byteLength(bad)).toBe(256);
    const e = expectHandleError(() => parseHandle(bad, CI), RC.INVALID_HANDLE);
    expect(e.message).toContain('255');
  });
  it('accepts exactly 255 UTF-8 bytes and refuses 256 (4-byte characters)', () => {
    const ok = `a/${'😀'.repeat(63)}x`; // 2 + 252 + 1
    expect(Buffer.byteLength(ok)).toBe(255);
    expect(parseHandle(ok, CI).handle).toBe(ok);
    expectHandleError(() => parseHandle(`${ok}x`, CI), RC.INVALID_HANDLE);
  });
  it('accepts 255 ASCII bytes and refuses 256', () => {
    expect(parseHandle(`a/${'b'.repeat(253)}`, CI).suffix.length).toBe(253);
    expectHandleError(() => parseHandle(`a/${'b'.repeat(254)}`, CI), RC.INVALID_HANDLE);
  });
});

describe('parseHandle: bad input', () => {
  const rows: [string, string, RegExp][] = [
    ['empty', '', /empty/i],
    ['no slash', 'abc', /'\/'/],
    ['empty prefix', '/abc', /prefix/i],
    ['only a slash', '/', /prefix/i],
    ['empty suffix', 'abc/', /suffix/i],
    ['leading dot', '.a/x', /segment/i],
    ['trailing dot', 'a./x', /segment/i],
    ['double dot', 'a..b/x', /segment/i],
    ['single dot prefix', './x', /segment/i],
    ['space in prefix', 'a b/x', /whitespace/i],
    ['no-break space in prefix', '\u00a0a/x', /whitespace/i],
    ['ideographic space in prefix', 'a\u3000b/x', /whitespace/i],
    ['tab in prefix', 'a\tb/x', /control/i],
    ['NUL in suffix', 'a/b\u0000', /control/i],
    ['LF in suffix', 'a/b\n', /control/i],
    ['CR in suffix', 'a/b\r', /control/i],
    ['ESC in suffix', 'a/\u001b[0m', /control/i],
    ['DEL in suffix', 'a/\u007f', /control/i],
    ['NEL (C1) in suffix', 'a/\u0085', /control/i],
    ['U+009F in suffix', 'a/x\u009f', /control/i],
    ['SOH in prefix', 'a\u0001/x', /control/i],
    ['lone high surrogate', 'a/\ud800', /surrogate/i],
    ['lone low surrogate', 'a/\udc00x', /surrogate/i],
    ['two high surrogates', 'a/x\ud800\ud800\udc00', /surrogate/i],
    ['prefix of 65 chars', `${'p'.repeat(65)}/x`, /64/],
    ['handle of 256 bytes', `a/${'b'.repeat(254)}`, /255/],
  ];
  it.each(rows)('%s', (_name, input, msg) => {
    const e = expectHandleError(() => parseHandle(input, CI), RC.INVALID_HANDLE);
    expect(e.message).toMatch(msg);
  });
  it('refuses a non-string', () => {
    expectHandleError(() => parseHandle(42 as unknown as string, CI), RC.INVALID_HANDLE);
  });
});

describe('parsePrefix', () => {
  const good: [string, string][] = [
    ['88.320924.17', '88.320924.17'],
    ['88.320924.ab', '88.320924.AB'],
    ['0.na', '0.NA'],
    ['é.b', 'é.B'],
    ['x'.repeat(64), 'X'.repeat(64)],
  ];
  it.each(good)('%s', (input, key) => {
    expect(parsePrefix(input)).toEqual({ prefix: input, prefixKey: key });
  });
  const bad: [string, string][] = [
    ['empty', ''],
    ['with a slash', '0.NA/88.1'],
    ['leading dot', '.88'],
    ['trailing dot', '88.'],
    ['empty segment', '88..1'],
    ['space', '88 1'],
    ['control', '88\u00001'],
    ['lone surrogate', '88.\ud800'],
    ['65 chars', 'x'.repeat(65)],
  ];
  it.each(bad)('refuses %s', (_name, input) => {
    expectHandleError(() => parsePrefix(input), RC.INVALID_HANDLE);
  });
});

describe('decodeUrlPath', () => {
  const good: [string, string][] = [
    ['abc', 'abc'],
    ['a+b', 'a+b'],
    ['a%2Bb', 'a+b'],
    ['%2F', '/'],
    ['88.320924.17%2FPUMP%2F1', '88.320924.17/PUMP/1'],
    ['88.320924.17/PUMP%2F1', '88.320924.17/PUMP/1'],
    ['%E6%B3%B5', '泵'],
    ['%e6%b3%b5', '泵'],
    ['泵%20x', '泵 x'],
    ['%25', '%'],
    ['%2525', '%25'],
    ['a%3Ab', 'a:b'],
    ['%F0%9F%98%80', '😀'],
    ['%EF%BB%BFa', '\ufeffa'],
    ['%00', '\u0000'],
    ['', ''],
  ];
  it.each(good)('%s', (input, want) => {
    expect(decodeUrlPath(input)).toBe(want);
  });
  const bad: [string, string][] = [
    ['lone percent', '%'],
    ['percent at end', 'abc%'],
    ['one hex digit', '%4'],
    ['one hex digit at end', 'a%2'],
    ['non-hex digit', '%G1'],
    ['non-hex second digit', '%1G'],
    ['invalid byte FF', '%FF'],
    ['invalid continuation', '%C3%28'],
    ['overlong slash (2 bytes)', '%C0%AF'],
    ['overlong slash (3 bytes)', '%E0%80%AF'],
    ['encoded surrogate', '%ED%A0%80'],
    ['above U+10FFFF', '%F4%90%80%80'],
    ['truncated sequence', '%E6%B3'],
    ['lone continuation byte', '%80'],
  ];
  it.each(bad)('refuses %s', (_name, input) => {
    expectHandleError(() => decodeUrlPath(input), RC.INVALID_HANDLE);
  });
  it('a decoded NUL is then refused by parseHandle', () => {
    expectHandleError(() => parseHandle(decodeUrlPath('a%2Fb%00'), CI), RC.INVALID_HANDLE);
  });
  it('a %2F in the suffix decodes to a slash inside the suffix', () => {
    const id = parseHandle(decodeUrlPath('88.1%2Fa%2Fb'), CI);
    expect(id.prefix).toBe('88.1');
    expect(id.suffix).toBe('a/b');
  });
});

describe('prefix helpers', () => {
  const under: [string, string, boolean][] = [
    ['88.1', '88.1', true],
    ['88.1.2', '88.1', true],
    ['88.1.2.3', '88.1', true],
    ['88.10', '88.1', false],
    ['88', '88.1', false],
    ['88.1.', '88.1', false],
    ['89.1.2', '88.1', false],
    ['X88.1.2', '88.1', false],
  ];
  it.each(under)('isUnderPrefix(%s, %s) = %s', (p, home, want) => {
    expect(isUnderPrefix(p, home)).toBe(want);
  });

  const records: [string, string | null][] = [
    ['0.NA/88.1.ab', '88.1.AB'],
    ['0.na/88.1', '88.1'],
    ['88.1/x', null],
    ['0.NA/a b', null],
    ['0.NA/a/b', null],
    ['0.NA/.a', null],
  ];
  it.each(records)('prefixOfPrefixRecord(%s) = %s', (h, want) => {
    expect(prefixOfPrefixRecord(parseHandle(h, CS))).toBe(want);
  });

  it('prefixRecordHandle', () => {
    expect(prefixRecordHandle('88.320924.17')).toBe('0.NA/88.320924.17');
    expect(prefixRecordHandle('88.a')).toBe('0.NA/88.a');
  });
});
