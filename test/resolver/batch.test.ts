// Per-turn batching of lookups (resolver/batch.ts): what arrives in one turn goes out as one fetch, in chunks.
import { describe, expect, it } from 'vitest';
import { TurnBatcher } from '../../resolver/batch.js';

describe('TurnBatcher', () => {
  it('sends the keys asked for in one turn as one fetch, and answers each caller with its own value', async () => {
    const calls: string[][] = [];
    const b = new TurnBatcher<string>(async (keys) => {
      calls.push(keys);
      return keys.map((k) => k.toUpperCase());
    }, 100);
    const answers = await Promise.all(['a', 'b', 'c'].map((k) => b.get(k)));
    expect(answers).toEqual(['A', 'B', 'C']);
    expect(calls).toEqual([['a', 'b', 'c']]);
    // the next turn is a new batch
    expect(await b.get('d')).toBe('D');
    expect(calls).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('splits a large turn into chunks of at most max keys', async () => {
    const sizes: number[] = [];
    const b = new TurnBatcher<number>(async (keys) => {
      sizes.push(keys.length);
      return keys.map(Number);
    }, 4);
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => b.get(String(i))));
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sizes).toEqual([4, 4, 2]);
  });

  it('a failed fetch (thrown, rejected, or answering the wrong count) rejects only its own chunk', async () => {
    let n = 0;
    const b = new TurnBatcher<string>((keys) => {
      n++;
      if (n === 1) throw new Error('sync');
      if (keys[0] === 'short') return Promise.resolve([]);
      return keys[0] === 'bad' ? Promise.reject(new Error('down')) : Promise.resolve(keys);
    }, 2);
    await expect(b.get('x')).rejects.toThrow('sync');
    const r = await Promise.allSettled([b.get('bad'), b.get('bad2'), b.get('ok'), b.get('ok2')]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    await expect(b.get('short')).rejects.toThrow(/answered 0 of 1/);
  });

  it('refuses a nonsense chunk size', () => {
    expect(() => new TurnBatcher(async (k) => k, 0)).toThrow(RangeError);
  });
});
