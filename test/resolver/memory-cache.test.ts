// Memory cache: TTL clamps, negative entries, stale window, byte bound with CLOCK eviction, derived values, distrust and the trusting switch.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../resolver/clock.js';
import {
  DERIVED_OVERHEAD_BYTES,
  ENTRY_OVERHEAD_BYTES,
  MAX_DERIVED_PER_ENTRY,
  MemoryCache,
  TtlPolicy,
  entrySize,
  prefetchWindowMs,
  type CacheEntry,
} from '../../resolver/memory-cache.js';
import { recordFromValues, recordOf } from '../../resolver/record.js';
import { val } from '../helpers/values.js';
import { urlRecord } from './helpers.js';

const NOW_SEC = 1_700_000_000;

function cache(o: Partial<ConstructorParameters<typeof MemoryCache>[0]> = {}) {
  const clock = new ManualClock(NOW_SEC * 1000);
  return { clock, c: new MemoryCache({ maxBytes: 1 << 20, clock, ...o }) };
}

/** What one derived value costs in the budget: its bytes, its variant name (UTF-16), the fixed overhead. */
/** What keeping a derived value costs: its bytes, its variant's name (ASCII here: a byte a character), a fixed overhead. */
function derivedCost(variant: string, bytes: number): number {
  return bytes + variant.length + DERIVED_OVERHEAD_BYTES;
}

/** A derived value whose release is recorded. */
function tracked(name: string, bytes: number, released: string[]) {
  return () => ({ value: name, bytes, release: () => void released.push(name) });
}

describe('MemoryCache TTLs', () => {
  it('expires exactly at the record TTL (fresh one ms before, gone at the boundary)', () => {
    const { clock, c } = cache();
    c.set('a', urlRecord('a', 30));
    clock.advance(29_999);
    expect(c.lookup('a')?.record?.handle).toBe('A');
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();
  });

  it('raises a TTL below minTtl to minTtl', () => {
    const { clock, c } = cache({ minTtl: 10, maxTtl: 60 });
    const e = c.set('a', urlRecord('a', 2));
    expect(e?.expiresAt).toBe(clock.now() + 10_000);
    clock.advance(9_999);
    expect(c.lookup('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();
  });

  it('raises a zero TTL to the default minTtl of 1 s', () => {
    const { clock, c } = cache();
    c.set('a', urlRecord('a', 0));
    clock.advance(999);
    expect(c.lookup('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();
  });

  it('lowers a TTL above maxTtl to maxTtl (default 3600 s)', () => {
    const { clock, c } = cache();
    c.set('a', urlRecord('a', 86400));
    clock.advance(3_600_000 - 1);
    expect(c.lookup('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('a')).toBeUndefined();

    const small = cache({ minTtl: 1, maxTtl: 60 });
    small.c.set('b', urlRecord('b', 86400));
    small.clock.advance(60_000);
    expect(small.c.lookup('b')).toBeUndefined();
  });

  it('uses the smallest value TTL of the record', () => {
    const { clock, c } = cache();
    const r = recordFromValues('H', 'h', [val(1, 'URL', 'x', 600), val(2, 'EMAIL', 'y', 20)], NOW_SEC);
    expect(r.minTtl).toBe(20);
    c.set('h', r);
    clock.advance(19_999);
    expect(c.lookup('h')).toBeDefined();
    clock.advance(1);
    expect(c.lookup('h')).toBeUndefined();
  });

  it('a record whose stored values are corrupt is cached for minTtl (its TTL cannot be read), never an error', () => {
    const { clock, c } = cache({ minTtl: 5 });
    const corrupt = recordOf({ handle: 'X', valuesJson: '[{"index":1}]', publicJson: '[]' }, 'x', NOW_SEC);
    expect(() => corrupt.minTtl).toThrow();
    expect(c.policy.ttlFor(corrupt)).toBe(5);
    c.set('x', corrupt);
    clock.advance(4_999);
    expect(c.lookup('x')?.record).toBe(corrupt);
    clock.advance(1);
    expect(c.lookup('x')).toBeUndefined();
  });

  it('caps the TTL by capMs (the time the shared tier still holds the record)', () => {
    const { clock, c } = cache();
    c.set('a', urlRecord('a', 300), 1_500);
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

  it('prefetch starts in the last tenth of the TTL, at least 1 s before expiry, at most half the TTL', () => {
    expect(prefetchWindowMs(100_000)).toBe(10_000);
    expect(prefetchWindowMs(5_000)).toBe(1_000);
    expect(prefetchWindowMs(1_000)).toBe(500);
    const { clock, c } = cache();
    const e = c.set('a', urlRecord('a', 100))!;
    expect(e.prefetchAt).toBe(clock.now() + 90_000);
  });
});

describe('MemoryCache stale window', () => {
  it('keeps an expired entry for lookupStale until staleTtl has passed, then drops it', () => {
    const { clock, c } = cache({ staleTtl: 60 });
    c.set('a', urlRecord('a', 10));
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
    c.set('a', urlRecord('a', 10));
    clock.advance(10_000);
    expect(c.lookup('a')).toBeUndefined();
    expect(c.entries).toBe(0);
    expect(c.bytes).toBe(0);
  });
});

describe('MemoryCache byte bound (CLOCK eviction)', () => {
  it('sizes entries by their texts plus overheads', () => {
    const r = urlRecord('a', 10);
    expect(entrySize('a', r)).toBe(ENTRY_OVERHEAD_BYTES + 1 + r.sizeBytes);
    expect(r.sizeBytes).toBeGreaterThan(r.publicJson.length + JSON.stringify(r.values).length);
    expect(entrySize('a', null)).toBe(ENTRY_OVERHEAD_BYTES + 1);
  });

  it('sizes a record read as text without parsing its values (and counts the text)', () => {
    // values that would throw if parsed: sizing must not touch them
    const lazy = recordOf({ handle: '88.1/A', valuesJson: `{not json${'x'.repeat(1000)}`, publicJson: '[]' }, '88.1/A', NOW_SEC);
    const size = entrySize('88.1/A', lazy);
    expect(size).toBeGreaterThan(ENTRY_OVERHEAD_BYTES + 1010 + 2);
    expect(() => lazy.values).toThrow();
  });

  it('evicts unreferenced entries first so the total stays ≤ maxBytes', () => {
    const one = entrySize('k0', urlRecord('k0', 100));
    const { c } = cache({ maxBytes: one * 3 + one / 2 });
    for (let i = 0; i < 3; i++) c.set(`k${i}`, urlRecord(`k${i}`, 100));
    expect(c.entries).toBe(3);
    expect(c.lookup('k0')).toBeDefined(); // k0 is referenced; k1 is the oldest unreferenced one
    c.set('k3', urlRecord('k3', 100));
    expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    expect(c.entries).toBe(3);
    expect(c.evictions).toBe(1);
    expect(c.lookupStale('k1')).toBeUndefined();
    expect(c.lookup('k0')).toBeDefined();
    for (let i = 4; i < 50; i++) {
      c.set(`k${i}`, urlRecord(`k${i}`, 100, 'x'.repeat(i * 3)));
      expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    }
    let sum = 0;
    for (let i = 0; i < 50; i++) sum += c.lookupStale(`k${i}`)?.size ?? 0;
    expect(sum).toBe(c.bytes);
  });

  it('a reference buys one second chance: an entry not used again is evicted on the next pass', () => {
    const one = entrySize('k0', urlRecord('k0', 100));
    const run = (useAgain: boolean) => {
      const { c } = cache({ maxBytes: one * 3 + one / 2 });
      for (let i = 0; i < 3; i++) c.set(`k${i}`, urlRecord(`k${i}`, 100));
      c.lookup('k0');
      for (let i = 3; i <= 6; i++) {
        if (useAgain && i === 5) c.lookup('k0');
        c.set(`k${i}`, urlRecord(`k${i}`, 100));
      }
      return c;
    };
    // k3 evicts k1 (k0 passed over once), k4 evicts k2, k5 evicts k3, k6 reaches k0 again
    const idle = run(false);
    expect(idle.lookupStale('k0')).toBeUndefined();
    expect([4, 5, 6].map((i) => idle.lookupStale(`k${i}`) !== undefined)).toEqual([true, true, true]);
    const used = run(true);
    expect(used.lookupStale('k0')).toBeDefined();
    expect(used.evictions).toBe(4);
  });

  it('replacing an entry adjusts the byte count and retires the old one', () => {
    const { c } = cache();
    const old = c.set('a', urlRecord('a', 100, 'short'))!;
    const before = c.bytes;
    const longer = urlRecord('a', 100, 'a much longer payload than before');
    c.set('a', longer);
    expect(old.live).toBe(false);
    expect(old.record).toBeNull();
    expect(c.entries).toBe(1);
    expect(c.bytes).toBe(entrySize('a', longer));
    expect(c.bytes).toBeGreaterThan(before);
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    expect(c.bytes).toBe(0);
  });

  it('does not store an entry larger than the whole cache', () => {
    const { c } = cache({ maxBytes: 1000 });
    expect(c.set('big', urlRecord('big', 100, 'x'.repeat(2000)))).toBeUndefined();
    expect(c.entries).toBe(0);
  });

  it('maxBytes 0 disables the cache: every lookup misses', () => {
    const { c } = cache({ maxBytes: 0 });
    expect(c.set('a', urlRecord('a', 100))).toBeUndefined();
    expect(c.set('gone', null)).toBeUndefined();
    expect(c.lookup('a')).toBeUndefined();
    expect(c.lookupStale('a')).toBeUndefined();
    expect(c.entries).toBe(0);
    expect(c.bytes).toBe(0);
  });
});

describe('MemoryCache derived values', () => {
  it('are built once per entry and variant, and counted in bytes with their entry', () => {
    const { c } = cache();
    const e = c.set('a', urlRecord('a', 100))!;
    const base = c.bytes;
    let builds = 0;
    const build = () => {
      builds++;
      return { value: `body-${builds}`, bytes: 1000 };
    };
    expect(c.derive(e, 'h:x', build)).toEqual({ value: 'body-1', kept: true });
    expect(c.derive(e, 'h:x', build)).toEqual({ value: 'body-1', kept: true });
    expect(builds).toBe(1);
    expect(c.bytes).toBe(base + derivedCost('h:x', 1000));
    expect(e.size).toBe(c.bytes);
    expect(c.derive(e, 'v:longer-variant', () => ({ value: 'v', bytes: 10 })).kept).toBe(true);
    expect(c.bytes).toBe(base + derivedCost('h:x', 1000) + derivedCost('v:longer-variant', 10));
  });

  it(`are capped at ${MAX_DERIVED_PER_ENTRY} per entry: the oldest is pushed out (and released), the bytes follow`, () => {
    const { c } = cache();
    const e = c.set('a', urlRecord('a', 100))!;
    const base = c.bytes;
    const released: string[] = [];
    for (let i = 0; i <= MAX_DERIVED_PER_ENTRY; i++) c.derive(e, `h:${i}`, tracked(`v${i}`, 100 + i, released));
    expect(released).toEqual(['v0']);
    let expected = base;
    for (let i = 1; i <= MAX_DERIVED_PER_ENTRY; i++) expected += derivedCost(`h:${i}`, 100 + i);
    expect(c.bytes).toBe(expected);
    expect(e.derived?.size).toBe(MAX_DERIVED_PER_ENTRY);
    // the pushed-out variant is built anew; the newest ones are still kept
    let rebuilt = false;
    c.derive(e, `h:${MAX_DERIVED_PER_ENTRY}`, () => {
      rebuilt = true;
      return { value: 'x', bytes: 1 };
    });
    expect(rebuilt).toBe(false);
    expect(c.derive(e, 'h:0', tracked('v0 again', 100, released))).toEqual({ value: 'v0 again', kept: true });
    expect(released).toEqual(['v0', 'v1']);
  });

  it('are dropped and released with their entry: delete, replace, expiry past the stale window, eviction, clear', () => {
    const { clock, c } = cache({ staleTtl: 10 });
    const released: string[] = [];
    const fill = (key: string) => {
      const e = c.set(key, urlRecord(key, 100))!;
      c.derive(e, 'h:1', tracked(`${key}/1`, 500, released));
      c.derive(e, 'h:2', tracked(`${key}/2`, 500, released));
      return e;
    };
    const a = fill('a');
    expect(c.delete('a')).toBe(true);
    expect(released).toEqual(['a/1', 'a/2']);
    expect(a.live).toBe(false);
    expect(a.derived).toBeNull();
    expect(c.bytes).toBe(0);

    fill('b');
    c.set('b', urlRecord('b', 100));
    expect(released).toEqual(['a/1', 'a/2', 'b/1', 'b/2']);
    expect(c.bytes).toBe(entrySize('b', urlRecord('b', 100)));

    fill('c');
    clock.advance(110_000); // past its TTL and its stale window
    expect(c.lookup('c')).toBeUndefined();
    expect(released.slice(4)).toEqual(['c/1', 'c/2']);

    c.clear();
    fill('d');
    c.clear();
    expect(released.slice(6)).toEqual(['d/1', 'd/2']);
    expect(c.bytes).toBe(0);
    expect(c.entries).toBe(0);
  });

  it('evicting an entry releases its derived values and keeps the total ≤ maxBytes', () => {
    const one = entrySize('k0', urlRecord('k0', 100));
    const { c } = cache({ maxBytes: 64 * (one + derivedCost('h:1', 400)) });
    const released: string[] = [];
    for (let i = 0; i < 200; i++) {
      const e = c.set(`k${i}`, urlRecord(`k${i}`, 100))!;
      c.derive(e, 'h:1', tracked(`k${i}`, 400, released));
      expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    }
    expect(c.evictions).toBeGreaterThan(0);
    expect(released).toHaveLength(c.evictions);
    expect(released.slice(0, 3)).toEqual(['k0', 'k1', 'k2']);
  });

  it('are not kept when too large for the budget, or when their entry is gone', () => {
    const { c } = cache({ maxBytes: 64 * 1024 });
    expect(c.maxDerivedBytes).toBe(1024);
    const e = c.set('a', urlRecord('a', 100))!;
    const base = c.bytes;
    const released: string[] = [];
    expect(c.derive(e, 'h:big', tracked('big', 1025, released))).toEqual({ value: 'big', kept: false });
    expect(c.bytes).toBe(base);
    expect(e.derived?.has('h:big') ?? false).toBe(false);
    expect(c.derive(e, 'h:fits', tracked('fits', 1024, released))).toEqual({ value: 'fits', kept: true });

    c.delete('a');
    expect(released).toEqual(['fits']);
    expect(c.derive(e, 'h:late', tracked('late', 10, released))).toEqual({ value: 'late', kept: false });
    expect(c.bytes).toBe(0);
    expect(released).toEqual(['fits']);
  });
});

describe('MemoryCache derived values at the edge of the budget', () => {
  /** Three ~21 KB entries in a 64 KiB cache (about 2 KB left), all just used. */
  function full() {
    const { c } = cache({ maxBytes: 64 * 1024 });
    const r = (k: string, n: number) => recordFromValues(k, k, [val(1, 'URL', 'x'.repeat(n))], NOW_SEC);
    // the largest records of which three still fit
    let n = 1000;
    while (3 * entrySize('k0', r('k0', n + 50)) <= c.maxBytes) n += 50;
    const es = ['k0', 'k1', 'k2'].map((k) => c.set(k, r(k, n))!);
    for (const e of es) c.lookup(e.key);
    expect(c.entries).toBe(3);
    expect(c.maxBytes - c.bytes).toBeLessThan(2 * derivedCost('h:0', 1000));
    return { c, es };
  }

  it('keeping a value makes room from the other entries, never from the entry it is kept with', () => {
    const { c, es } = full();
    const released: string[] = [];
    // the oldest entry: a sweep reaching it first would evict it
    expect(c.derive(es[0]!, 'h:0', tracked('first', 1000, released)).kept).toBe(true);
    const got = c.derive(es[0]!, 'h:1', tracked('second', 1000, released));
    expect(got).toEqual({ value: 'second', kept: true });
    expect(es[0]!.live).toBe(true);
    expect(c.evictions).toBe(1);
    expect(c.entries).toBe(2);
    expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    expect(released).toEqual([]);
    expect(c.lookup('k0')?.derived?.size).toBe(2);
  });

  it('a value that cannot fit beside its own entry is not kept, and not released (the caller still sends it)', () => {
    const { c } = cache({ maxBytes: 64 * 1024 });
    // the largest record that still fits
    const big = (n: number) => recordFromValues('big', 'big', [val(1, 'URL', 'x'.repeat(n))], NOW_SEC);
    let n = 1000;
    while (entrySize('big', big(n + 100)) <= c.maxBytes) n += 100;
    const e = c.set('big', big(n))!;
    expect(c.maxBytes - c.bytes).toBeLessThan(derivedCost('h:0', 1000));
    c.lookup('big');
    const released: string[] = [];
    const bytes = c.bytes;
    expect(c.derive(e, 'h:0', tracked('body', 1000, released))).toEqual({ value: 'body', kept: false });
    expect(released).toEqual([]);
    expect(e.live).toBe(true);
    expect(c.bytes).toBe(bytes);
    expect(c.lookup('big')).toBe(e);
  });
});

describe('MemoryCache distrust and the trusting switch', () => {
  it('distrust makes every entry stale-only, drops derived values with exact byte accounting, stops prefetch', () => {
    const { clock, c } = cache({ staleTtl: 60 });
    const released: string[] = [];
    const entries: CacheEntry[] = [];
    for (const k of ['a', 'b', 'c']) {
      const e = c.set(k, urlRecord(k, 100))!;
      entries.push(e);
      if (k !== 'c') c.derive(e, 'h:1', tracked(k, 300, released));
    }
    const neg = c.set('gone', null)!;
    c.distrust();
    expect(released.sort()).toEqual(['a', 'b']);
    expect(c.bytes).toBe(['a', 'b', 'c'].reduce((s, k) => s + entrySize(k, urlRecord(k, 100)), 0) + entrySize('gone', null));
    for (const e of [...entries, neg]) {
      expect(c.lookup(e.key)).toBeUndefined();
      expect(c.lookupStale(e.key)).toBe(e);
      expect(e.prefetchAt).toBe(Infinity);
      expect(e.derived).toBeNull();
    }
    expect(c.entries).toBe(4);
    // still servable for the stale window counted from the original expiry, then gone
    clock.advance(100_000 + 59_999);
    expect(c.lookupStale('a')).toBeDefined();
    clock.advance(1);
    expect(c.lookupStale('a')).toBeUndefined();
  });

  it('an entry set after distrust is fresh again', () => {
    const { c } = cache();
    c.set('a', urlRecord('a', 100));
    c.distrust();
    expect(c.lookup('a')).toBeUndefined();
    c.set('a', urlRecord('a', 100));
    expect(c.lookup('a')).toBeDefined();
  });

  it('setTrusting(false) stores nothing fresh (and drops the older entry); true stores again', () => {
    const { c } = cache();
    c.set('a', urlRecord('a', 100));
    c.setTrusting(false);
    expect(c.set('b', urlRecord('b', 100))).toBeUndefined();
    expect(c.set('gone', null)).toBeUndefined();
    expect(c.set('a', urlRecord('a', 100))).toBeUndefined();
    expect(c.lookup('a')).toBeUndefined();
    expect(c.lookup('b')).toBeUndefined();
    expect(c.entries).toBe(0);
    expect(c.bytes).toBe(0);
    c.setTrusting(true);
    expect(c.set('b', urlRecord('b', 100))).toBeDefined();
    expect(c.lookup('b')?.record?.handle).toBe('B');
  });
});
