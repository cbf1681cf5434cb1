// A small seeded PRNG (bench/lib.ts seededRandom, mulberry32) with the picks fuzzers need: integers, choices, chances, bytes, strings.
import { seededRandom } from '../../bench/lib.js';

/** The seed of the `i`-th item of a run, so any item can be regenerated alone from (run seed, i). */
export function itemSeed(seed: number, i: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0;
}

export class Rng {
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }
  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** integer in [lo, hi] */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** a string of `n` characters drawn from `alphabet` (code points) */
  string(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.'): string {
    const cps = [...alphabet];
    let s = '';
    for (let i = 0; i < n; i++) s += cps[this.int(cps.length)];
    return s;
  }
  /** any code point of the BMP and beyond, surrogates, controls and NUL included (lone surrogates too) */
  wild(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) {
      const k = this.int(6);
      s +=
        k === 0
          ? String.fromCharCode(this.int(32))
          : k === 1
            ? String.fromCharCode(0xd800 + this.int(0x800))
            : k === 2
              ? String.fromCodePoint(0x10000 + this.int(0xfffff))
              : k === 3
                ? String.fromCharCode(0x4e00 + this.int(0x5000))
                : String.fromCharCode(32 + this.int(95));
    }
    return s;
  }
}
