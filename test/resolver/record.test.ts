// Cached records (resolver/record.ts): the texts a write stores, LazyRecord parsing on demand (public values, public JSON, min TTL), corrupt texts.
import { describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../handle/codes.js';
import { RecordError } from '../../handle/record-json.js';
import type { HandleValue } from '../../handle/types.js';
import { recordFromValues, recordOf, recordText, textOf } from '../../resolver/record.js';
import { val } from '../helpers/values.js';

const NOW_SEC = 1_700_000_000;

/** The Handle JSON of a default-permission relative-TTL string value, written out by hand. */
function handleJson(index: number, type: string, value: string, ttl = 86400): string {
  return `{"index":${index},"type":"${type}","data":{"format":"string","value":"${value}"},"ttl":${ttl},"timestamp":"2023-11-14T22:13:20Z"}`;
}

/** The error a getter throws (failing when it throws nothing). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the getter to throw');
}

describe('recordText', () => {
  it('keeps every value in the stored JSON and only the publicly readable ones in the public answer', () => {
    const values = [val(1, 'URL', 'https://a'), val(2, 'SECRET', 's', 86400, false), val(3, 'EMAIL', 'e')];
    const t = recordText('88.1/Abc', values);
    expect(t.handle).toBe('88.1/Abc');
    expect(JSON.parse(t.valuesJson)).toEqual(values);
    expect(t.publicJson).toBe(`[${handleJson(1, 'URL', 'https://a')},${handleJson(3, 'EMAIL', 'e')}]`);
  });
});

describe('LazyRecord', () => {
  it('parses its values on demand, frozen, and keeps the public ones in stored order', () => {
    const values = [val(3, 'EMAIL', 'e'), val(1, 'URL', 'https://a'), val(2, 'SECRET', 's', 86400, false)];
    const r = recordFromValues('88.1/Abc', '88.1/ABC', values, NOW_SEC);
    expect(r.handle).toBe('88.1/Abc');
    expect(r.key).toBe('88.1/ABC');
    expect(r.values).toEqual(values);
    expect(Object.isFrozen(r.values)).toBe(true);
    expect(r.values).toBe(r.values); // parsed once
    expect(r.publicValues.map((v) => v.index)).toEqual([3, 1]);
    expect(Object.isFrozen(r.publicValues)).toBe(true);
    // all public: the same list, not a copy
    const open = recordFromValues('h', 'H', [val(1, 'URL', 'u')], NOW_SEC);
    expect(open.publicValues).toBe(open.values);
  });

  it('publicJson is the stored public answer, as stored (never recomputed while it is there)', () => {
    const stored = `[ ${handleJson(1, 'URL', 'as-stored')} ]`;
    const r = recordOf({ handle: 'h', valuesJson: JSON.stringify([val(1, 'URL', 'other')]), publicJson: stored }, 'H', NOW_SEC);
    expect(r.publicJson).toBe(stored);
  });

  it('publicJson is built from the values for a row written without it', () => {
    const values = [val(1, 'URL', 'https://a'), val(2, 'SECRET', 's', 86400, false)];
    const r = recordOf({ handle: 'h', valuesJson: JSON.stringify(values), publicJson: null }, 'H', NOW_SEC);
    expect(r.publicJson).toBe(`[${handleJson(1, 'URL', 'https://a')}]`);
    const none = recordOf({ handle: 'h', valuesJson: JSON.stringify([val(2, 'SECRET', 's', 86400, false)]), publicJson: null }, 'H', NOW_SEC);
    expect(none.publicJson).toBe('[]');
  });

  it('minTtl: smallest effective TTL, absolute TTLs as time left (never below 0), 86400 when there are no values', () => {
    const abs: HandleValue = { ...val(2, 'X', 'x'), ttlType: 'absolute', ttl: NOW_SEC + 42 };
    expect(recordFromValues('h', 'h', [val(1, 'URL', 'u', 600), abs], NOW_SEC).minTtl).toBe(42);
    const past: HandleValue = { ...abs, ttl: NOW_SEC - 10 };
    expect(recordFromValues('h', 'h', [val(1, 'URL', 'u', 600), past], NOW_SEC).minTtl).toBe(0);
    expect(recordFromValues('h', 'h', [val(1, 'URL', 'u', 600), val(2, 'E', 'e', 30, false)], NOW_SEC).minTtl).toBe(30);
    expect(recordFromValues('h', 'h', [], NOW_SEC).minTtl).toBe(86400);
    expect(recordFromValues('h', 'h', [], NOW_SEC).publicJson).toBe('[]');
  });

  it('is sized from its texts without parsing them', () => {
    const text = { handle: '88.1/A', valuesJson: 'x'.repeat(3000), publicJson: 'y'.repeat(1000) };
    const r = recordOf(text, '88.1/A', NOW_SEC);
    // at least both texts (ASCII: a byte a character), before anything is parsed
    expect(r.sizeBytes).toBeGreaterThanOrEqual(3000 + 1000);
    expect(() => r.values).toThrow(RecordError);
  });

  it('counts text outside Latin-1 at two bytes a character', () => {
    const ascii = recordOf({ handle: '88.1/A', valuesJson: 'x'.repeat(1000), publicJson: '[]' }, '88.1/A', NOW_SEC);
    const wide = recordOf({ handle: '88.1/A', valuesJson: '泵'.repeat(1000), publicJson: '[]' }, '88.1/A', NOW_SEC);
    expect(wide.sizeBytes - ascii.sizeBytes).toBe(1000);
  });

  it('keeps mostly-ASCII values holding Chinese as UTF-8 bytes (smaller), and gives them back as they were', () => {
    const text = JSON.stringify([{ index: 2000, type: 'productName', data: { format: 'string', value: '离心泵 IS80-65-160' }, pad: 'x'.repeat(500) }]);
    const ascii = recordOf({ handle: '88.1/A', valuesJson: 'x'.repeat(text.length), publicJson: '[]' }, '88.1/A', NOW_SEC);
    const r = recordOf({ handle: '88.1/A', valuesJson: text, publicJson: '[]' }, '88.1/A', NOW_SEC) as unknown as { valuesJson: string; sizeBytes: number };
    expect(r.valuesJson).toBe(text);
    // three CJK characters take 3 bytes each in UTF-8: 6 more than their count, against text.length more as two-byte text
    expect(r.sizeBytes - ascii.sizeBytes).toBe(6);
    expect(textOf(r as never).valuesJson).toBe(text);
  });

  it('grows by what its parsed values take when they are parsed, and tells its holder; minTtl alone keeps nothing parsed', () => {
    const r = recordFromValues('88.1/A', '88.1/A', [val(1, 'URL', 'https://example.com/a'), val(2, 'EMAIL', 'a@example.com')], NOW_SEC);
    const before = r.sizeBytes;
    expect(r.minTtl).toBe(86400);
    expect(r.sizeBytes).toBe(before);
    const grew: number[] = [];
    (r as unknown as { grow: (b: number) => void }).grow = (b) => void grew.push(b);
    expect(r.values).toHaveLength(2);
    expect(r.sizeBytes).toBeGreaterThan(before + 2 * 100);
    expect(grew).toEqual([r.sizeBytes - before]);
    void r.values;
    expect(grew).toHaveLength(1);
  });

  const CORRUPT = [
    { name: 'not JSON', valuesJson: '{not json' },
    { name: 'an object', valuesJson: '{"x":1}' },
    { name: 'null', valuesJson: 'null' },
    { name: 'numbers', valuesJson: '[1,2]' },
    { name: 'a value with an index only', valuesJson: '[{"index":1}]' },
    { name: 'a whole value with null data', valuesJson: JSON.stringify([{ ...val(1, 'URL', 'u'), data: null }]) },
    { name: 'a whole value with a text timestamp', valuesJson: JSON.stringify([{ ...val(1, 'URL', 'u'), timestamp: 'soon' }]) },
  ];

  it.each(CORRUPT)('corrupt stored values ($name): values, publicValues, minTtl throw RecordError (RC 2), never a TypeError', ({ valuesJson }) => {
    const r = recordOf({ handle: '88.1/X', valuesJson, publicJson: '[]' }, '88.1/X', NOW_SEC);
    // what needs no parsing still works
    expect(r.handle).toBe('88.1/X');
    expect(r.publicJson).toBe('[]');
    expect(r.sizeBytes).toBeGreaterThan(0);
    for (const get of [() => r.values, () => r.publicValues, () => r.minTtl]) {
      const e = thrownBy(get);
      expect(e).toBeInstanceOf(RecordError);
      expect(e).toBeInstanceOf(HandleError);
      expect(e).not.toBeInstanceOf(TypeError);
      expect((e as HandleError).code).toBe(RC.ERROR);
    }
    // without a stored public answer, the public answer needs the values too
    const bare = recordOf({ handle: '88.1/X', valuesJson, publicJson: null }, '88.1/X', NOW_SEC);
    expect(thrownBy(() => bare.publicJson)).toBeInstanceOf(RecordError);
  });
});

describe('textOf', () => {
  it('gives back the very texts a record was read from (what Redis is filled with)', () => {
    const text = { handle: '88.1/X', valuesJson: JSON.stringify([val(1, 'URL', 'u')]), publicJson: `[${handleJson(1, 'URL', 'u')}]` };
    expect(textOf(recordOf(text, '88.1/X', NOW_SEC))).toEqual(text);
    // a corrupt row travels as it is (copying it must not parse it)
    const corrupt = { handle: '88.1/Y', valuesJson: '[{"index":1}]', publicJson: '[]' };
    expect(textOf(recordOf(corrupt, '88.1/Y', NOW_SEC))).toEqual(corrupt);
  });

  it('serialises a record built from values like a write would', () => {
    const values = [val(1, 'URL', 'u'), val(2, 'S', 's', 60, false)];
    const t = textOf(recordFromValues('88.1/Z', '88.1/Z', values, NOW_SEC));
    expect(t.handle).toBe('88.1/Z');
    // every value, as the value model stores it
    expect(JSON.parse(t.valuesJson)).toEqual([
      { index: 1, type: 'URL', data: { format: 'string', value: 'u' }, ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false }, references: [] },
      { index: 2, type: 'S', data: { format: 'string', value: 's' }, ttlType: 'relative', ttl: 60, timestamp: 1_700_000_000, permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false }, references: [] },
    ]);
    // the public answer: value 1 only, in Handle JSON
    expect(t.publicJson).toBe(`[${handleJson(1, 'URL', 'u')}]`);
  });
});
