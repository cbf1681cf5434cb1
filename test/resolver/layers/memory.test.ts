// The memory layer over single-flight and the store: distrusted entries are stale-only (served only when the store fails), an untrusting cache keeps nothing.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../resolver/clock.js';
import { Counters } from '../../../resolver/counters.js';
import { MemoryLayer } from '../../../resolver/layers/memory.js';
import { SingleFlight } from '../../../resolver/layers/single-flight.js';
import { StoreLayer } from '../../../resolver/layers/store.js';
import { MemoryCache } from '../../../resolver/memory-cache.js';
import { val } from '../../helpers/values.js';
import { TestSource } from '../helpers.js';

function stack() {
  const source = new TestSource();
  const clock = new ManualClock();
  const counters = new Counters();
  const cache = new MemoryCache({ maxBytes: 1 << 20, clock });
  const memory = new MemoryLayer(new SingleFlight(new StoreLayer(source, clock, counters)), cache, clock, counters);
  return { source, clock, counters, cache, memory };
}

const urlOf = (r: { record: { values: readonly { data: { value: unknown } }[] } | null }) => r.record?.values[0]?.data.value ?? null;

describe('MemoryLayer', () => {
  it('after forget(null) every entry is stale-only: the store answers while it works, the old copy only when it fails', async () => {
    const { source, counters, memory } = stack();
    source.put('88.1/A', '88.1/a', [val(1, 'URL', 'old')]);
    source.put('88.1/B', '88.1/b', [val(1, 'URL', 'b')]);
    await memory.lookup('88.1/A', {});
    await memory.lookup('88.1/B', {});
    expect((await memory.lookup('88.1/A', {})).tier).toBe('memory');
    expect(source.reads).toBe(2);

    memory.forget(null); // anything may have changed
    expect(memory.peek('88.1/A')).toBeUndefined();
    expect(memory.peek('88.1/B')).toBeUndefined();

    // the store works: it answers (and the answer is cached fresh again)
    source.put('88.1/A', '88.1/a', [val(1, 'URL', 'new')]);
    const a = await memory.lookup('88.1/A', {});
    expect(a.tier).toBe('store');
    expect(urlOf(a)).toBe('new');
    expect((await memory.lookup('88.1/A', {})).tier).toBe('memory');

    // the store fails: the distrusted copy is served, marked stale, and nothing is kept from it
    source.fail = true;
    const b = await memory.lookup('88.1/B', {});
    expect(b).toMatchObject({ tier: 'memory', stale: true, cacheable: false });
    expect(urlOf(b)).toBe('b');
    expect(b.entry).toBeUndefined();
    expect(counters.staleServed).toBe(1);
  });

  it('forget(keys) drops those keys only, and makes a lookup running for them uncacheable', async () => {
    const { source, memory } = stack();
    source.put('88.1/A', '88.1/a', [val(1, 'URL', 'a')]);
    source.put('88.1/B', '88.1/b', [val(1, 'URL', 'b')]);
    await memory.lookup('88.1/B', {});
    const hold = source.holdNextRead();
    const running = memory.lookup('88.1/A', {});
    await hold.started;
    memory.forget(['88.1/A']);
    hold.release();
    const r = await running;
    expect(r.cacheable).toBe(false);
    expect(r.entry).toBeUndefined();
    expect(memory.peek('88.1/A')).toBeUndefined();
    expect(memory.peek('88.1/B')).toBeDefined();
  });

  it('while the cache does not trust new answers, lookups answer from the store and keep nothing', async () => {
    const { source, cache, memory } = stack();
    source.put('88.1/A', '88.1/a', [val(1, 'URL', 'a')]);
    cache.setTrusting(false);
    for (let i = 1; i <= 3; i++) {
      const r = await memory.lookup('88.1/A', {});
      expect(r.tier).toBe('store');
      expect(r.entry).toBeUndefined();
      expect(source.reads).toBe(i);
    }
    expect(cache.entries).toBe(0);
    cache.setTrusting(true);
    await memory.lookup('88.1/A', {});
    expect((await memory.lookup('88.1/A', {})).tier).toBe('memory');
  });
});
