// The faces' memo of parsed requests: a request seen before (the same URL, the same native request bytes) is not
// parsed again. Bounded in bytes — its share of CACHE_MAX_BYTES — oldest first out.
import { stringBytes } from '../../resolver/record.js';

/** Estimated fixed cost of one memo entry beside its key (Map slot, the parsed request, its handle strings). */
export const MEMO_ENTRY_OVERHEAD = 320;

export class RequestMemo<T> {
  private readonly map = new Map<string, T>();
  private bytes = 0;

  /** `maxBytes` bounds the keys (twice: the key and the parsed handle it holds) and fixed overheads. */
  constructor(readonly maxBytes: number) {}

  get(key: string): T | undefined {
    return this.map.get(key);
  }

  /** Remembers `value` for `key` (replacing what was remembered for it, at the same cost). */
  set(key: string, value: T): void {
    if (this.map.has(key)) {
      this.map.set(key, value);
      return;
    }
    const cost = costOf(key);
    if (cost > this.maxBytes) return;
    this.map.set(key, value);
    this.bytes += cost;
    while (this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.bytes -= costOf(oldest);
    }
  }

  get size(): number {
    return this.map.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }
}

function costOf(key: string): number {
  return 2 * stringBytes(key) + MEMO_ENTRY_OVERHEAD;
}
