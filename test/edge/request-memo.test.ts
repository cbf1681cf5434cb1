// The faces' memo of parsed requests (src/edge/request-memo.ts): bounded in bytes, oldest out first, a newer value for a key replaces the older.
import { describe, expect, it } from 'vitest';
import { MEMO_ENTRY_OVERHEAD, RequestMemo } from '../../src/edge/request-memo.js';

/** What one entry costs: its key twice (the key and the parsed handle it holds; ASCII: a byte a character) and the fixed overhead. */
const cost = (key: string) => key.length * 2 + MEMO_ENTRY_OVERHEAD;

describe('RequestMemo', () => {
  it('holds at most maxBytes, pushing out the oldest keys first', () => {
    const keys = Array.from({ length: 10 }, (_, i) => `/api/handles/88.1/k${i}`);
    const m = new RequestMemo<number>(cost(keys[0]!) * 3 + 10);
    keys.forEach((k, i) => m.set(k, i));
    expect(m.size).toBe(3);
    expect(m.usedBytes).toBe(cost(keys[0]!) * 3);
    expect(m.usedBytes).toBeLessThanOrEqual(m.maxBytes);
    expect(keys.map((k) => m.get(k))).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined, 7, 8, 9]);
  });

  it('does not keep a key larger than the whole memo', () => {
    const m = new RequestMemo<number>(1000);
    m.set('x'.repeat(500), 1);
    expect(m.size).toBe(0);
    expect(m.usedBytes).toBe(0);
  });

  it('counts characters outside Latin-1 at two bytes', () => {
    const m = new RequestMemo<number>(100_000);
    m.set('/api/handles/88.1/泵', 1);
    expect(m.usedBytes).toBe('/api/handles/88.1/泵'.length * 4 + MEMO_ENTRY_OVERHEAD);
  });

  it('a newer value for a key already held replaces the older one, at the same cost', () => {
    const m = new RequestMemo<string>(10_000);
    m.set('a', 'first');
    m.set('a', 'second');
    expect(m.get('a')).toBe('second');
    expect(m.size).toBe(1);
    expect(m.usedBytes).toBe(cost('a'));
  });
});
