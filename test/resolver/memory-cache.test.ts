// Memory cache: clamped TTL boundaries, negative entries, the stale window, byte-bounded LRU, disabling.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../resolver/clock.js';
import { ENTRY_OVERHEAD_BYTES, MemoryCache, TtlPolicy, entrySize } from '../../resolver/memory-cache.js';
import { buildRecord, recordFromSource } from '../../resolver/record.js';
import { val } from './helpers.js';

const NOW_SEC = 1_700_000_000;

function rec(key: string, ttl: number, payload = 'https://example.com/' + key) {
  return buildRecord(key.toUpperCase(), key, [val(1, 'URL', payload, ttl)], NOW_SEC);
}

function cache(o: Partial<ConstructorParameters<typeof MemoryCache>[0]> = {}) {
  const clock = new ManualClock(NOW_SEC * 1000);
  return { clock, c: new MemoryCache({ maxBytes: 1 << 20, clock, ...o }) };
}

describe('MemoryCache TTLs', () => {
  it('expires exactly at the record TTL (fresh one ms before, gone at the boundary)', () => {
    const { clock, c } = cache();
    c.set('a', rec('a', 30));
    clock.advance(29_999);
    expect(c.lookup('a')?.record?.handle).toBe('A');
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();
  });

  it('raises a TTL below minTtl to minTtl', () => {
    const { clock, c } = cache({ minTtl: 10, maxTtl: 60 });
    const e = c.set('a', rec('a', 2));
    expect(e?.expiresAt).toBe(clock.now() + 10_000);
    clock.advance(9_999);
    expect(c.lookup('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();
  });

  it('raises a zero TTL to the default minTtl of 1 s', () => {
    const { clock, c } = cache();
    c.set('a', rec('a', 0));
    clock.advance(999);
    expect(c.lookup('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();
  });

  it('lowers a TTL above maxTtl to maxTtl (default 3600 s)', () => {
    const { clock, c } = cache();
    c.set('a', rec('a', 86400));
    clock.advance(3_600_000 - 1);
    expect(c.lookup('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();

    const small = cache({ minTtl: 1, maxTtl: 60 });
    small.c.set('b', rec('b', 86400));
    small.clock.advance(60_000);
    expect(small.c.lookup('b')).toBeUndefined();
  });

  it('uses the smallest value TTL of the record', () => {
    const { clock, c } = cache();
    const r = buildRecord('H', 'h', [val(1, 'URL', 'x', 600), val(2, 'EMAIL', 'y', 20)], NOW_SEC);
    expect(r.minTtl).toBe(20);
    c.set('h', r);
    clock.advance(20_000);
    expect(c.lookup('h')).toBeUndefined();
  });

  it('caps the TTL by capMs (the time the shared tier still holds the record)', () => {
    const { clock, c } = cache();
    c.set('a', rec('a', 300), 1_500);
    clock.advance(1_499);
    expect(c.lookup('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();
  });

  it('negative entries expire after negativeTtl (default 60 s)', () => {
    const { clock, c } = cache();
    const e = c.set('gone', null);
    expect(e?.record).toBeNull();
    clock.advance(59_999);
    expect(c.lookup('gone')?.record).toBeNull();
    clock.advance(1);
    expect(c.lookup('gone')).toBeUndefined();
  });

  it('negativeTtl is clamped to [0, maxTtl]; 0 stores nothing', () => {
    expect(new TtlPolicy({ negativeTtl: 100, maxTtl: 50 }).negativeTtl).toBe(50);
    const { c } = cache({ negativeTtl: 0 });
    expect(c.set('gone', null)).toBeUndefined();
    expect(c.entries).toBe(0);
  });

  it('rejects nonsense TTL settings', () => {
    expect(() => new TtlPolicy({ minTtl: 10, maxTtl: 5 })).toThrow(RangeError);
    expect(() => new TtlPolicy({ minTtl: -1 })).toThrow(RangeError);
    expect(() => new TtlPolicy({ staleTtl: Number.NaN })).toThrow(RangeError);
    expect(() => new MemoryCache({ maxBytes: -1 })).toThrow(RangeError);
  });
});

describe('MemoryCache stale window', () => {
  it('keeps an expired entry for lookupStale until staleTtl has passed, then drops it', () => {
    const { clock, c } = cache({ staleTtl: 60 });
    c.set('a', rec('a', 10));
    clock.advance(10_000);
    expect(c.lookup('a')).toBeUndefined();
    expect(c.lookupStale('a')?.record?.handle).toBe('A');
    clock.advance(59_999);
    expect(c.lookupStale('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookupStale('a')).toBeUndefined();
    expect(c.entries).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it('lookup drops an entry that is past its stale window', () => {
    const { clock, c } = cache({ staleTtl: 0 });
    c.set('a', rec('a', 10));
    clock.advance(10_000);
    expect(c.lookup('a')).toBeUndefined();
    expect(c.entries).toBe(0);
  });
});

describe('MemoryCache byte bound (LRU)', () => {
  it('sizes entries by their serialised JSON plus overheads', () => {
    const r = rec('a', 10);
    expect(entrySize('a', r)).toBeGreaterThan(r.publicValuesJson.length * 2);
    expect(entrySize('a', null)).toBe(ENTRY_OVERHEAD_BYTES + 2);
  });

  it('sizes a record read as text without parsing its values (and counts the text)', () => {
    // values that would throw if parsed: sizing must not touch them
    const lazy = recordFromSource({ handle: '88.1/A', valuesJson: `{not json${'x'.repeat(1000)}`, publicJson: '[]' }, '88.1/A', NOW_SEC);
    const size = entrySize('88.1/A', lazy);
    expect(size).toBeGreaterThan(2000);
    expect(() => lazy.values).toThrow();
  });

  it('evicts least recently used entries so the total stays ≤ maxBytes', () => {
    const one = entrySize('k0', rec('k0', 100));
    const { c } = cache({ maxBytes: one * 3 + one / 2 });
    for (let i = 0; i < 3; i++) c.set(`k${i}`, rec(`k${i}`, 100));
    expect(c.entries).toBe(3);
    expect(c.lookup('k0')).toBeDefined(); // k0 becomes most recently used; k1 is now the oldest
    c.set('k3', rec('k3', 100));
    expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    expect(c.entries).toBe(3);
    expect(c.evictions).toBe(1);
    expect(c.lookup('k1')).toBeUndefined();
    expect(c.lookup('k0')).toBeDefined();
    for (let i = 4; i < 50; i++) {
      c.set(`k${i}`, rec(`k${i}`, 100, 'x'.repeat(i * 3)));
      expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    }
    let sum = 0;
    for (let i = 0; i < 50; i++) sum += c.lookupStale(`k${i}`)?.size ?? 0;
    expect(sum).toBe(c.bytes);
  });

  it('replacing an entry adjusts the byte count', () => {
    const { c } = cache();
    c.set('a', rec('a', 100, 'short'));
    const before = c.bytes;
    c.set('a', rec('a', 100, 'a much longer payload than before'));
    expect(c.entries).toBe(1);
    expect(c.bytes).toBe(entrySize('a', rec('a', 100, 'a much longer payload than before')));
    expect(c.bytes).toBeGreaterThan(before);
    c.delete('a');
    expect(c.bytes).toBe(0);
  });

  it('does not store an entry larger than the whole cache', () => {
    const { c } = cache({ maxBytes: 1000 });
    expect(c.set('big', rec('big', 100, 'x'.repeat(2000)))).toBeUndefined();
    expect(c.entries).toBe(0);
  });

  it('maxBytes 0 disables the cache: every lookup misses', () => {
    const { c } = cache({ maxBytes: 0 });
    expect(c.set('a', rec('a', 100))).toBeUndefined();
    expect(c.set('gone', null)).toBeUndefined();
    expect(c.lookup('a')).toBeUndefined();
    expect(c.lookupStale('a')).toBeUndefined();
    expect(c.entries).toBe(0);
    expect(c.bytes).toBe(0);
  });
});
