// The top layer: the in-process cache — fresh hits answered at once (also synchronously, for the edge), misses asked
// below and cached, entries in use refreshed before they expire (prefetch), expired ones served when the rest fails.
import type { Clock } from '../clock.js';
import type { Counters } from '../counters.js';
import type { CacheEntry, MemoryCache } from '../memory-cache.js';
import type { Layer, Lookup, LookupOptions } from '../types.js';

/** A lookup with the cache entry that now holds its answer (absent when nothing was cached). */
export interface MemoryLookup extends Lookup {
  readonly entry?: CacheEntry;
}

export class MemoryLayer implements Layer {
  constructor(
    private readonly inner: Layer,
    readonly cache: MemoryCache,
    private readonly clock: Clock,
    private readonly counters: Counters,
  ) {}

  /** A fresh entry for `key`, counted as a hit, or undefined. */
  peek(key: string): CacheEntry | undefined {
    const e = this.cache.lookup(key);
    if (e !== undefined) this.counted(e, this.clock.now());
    return e;
  }

  /** Whether `e` is still the live, fresh entry a face took an answer from; counted as a hit when it is. */
  stillFresh(e: CacheEntry): boolean {
    if (!e.live) return false;
    const now = this.clock.now();
    if (now >= e.expiresAt || !this.cache.leased()) return false;
    e.ref = true;
    this.counted(e, now);
    return true;
  }

  async lookup(key: string, opts: LookupOptions): Promise<MemoryLookup> {
    if (opts.authoritative !== true) {
      const e = this.peek(key);
      if (e !== undefined) return { record: e.record, tier: 'memory', stale: false, expiresAt: e.expiresAt, cacheable: true, entry: e };
      this.counters.misses++;
    }
    let r: Lookup;
    try {
      r = await this.inner.lookup(key, opts);
    } catch (err) {
      // an authoritative read (and a prefetch, which is one) answers from the store or not at all
      if (opts.authoritative === true || opts.prefetch === true) throw err;
      return this.serveStale(key, err);
    }
    if (!r.cacheable) return r;
    const now = this.clock.now();
    if (r.expiresAt !== null && r.expiresAt <= now) return r;
    const entry = this.cache.set(key, r.record, r.expiresAt === null ? undefined : r.expiresAt - now);
    return entry === undefined ? r : { ...r, entry };
  }

  forget(keys: readonly string[] | null): void {
    // anything may have changed: every entry becomes stale-only (still there for serve-stale)
    if (keys === null) this.cache.distrust();
    else for (const k of keys) this.cache.delete(k);
    this.inner.forget(keys);
  }

  /** A memory hit on `e`: counted, and near its expiry the entry is refreshed in the background. */
  private counted(e: CacheEntry, now: number): void {
    this.counters.hits++;
    if (e.record === null) this.counters.negativeHits++;
    if (!e.prefetching && now >= e.prefetchAt) {
      // Past Redis (which expires with it): the store is read again and both tiers refilled before the entry expires.
      e.prefetching = true;
      this.counters.prefetches++;
      this.lookup(e.key, { authoritative: true, prefetch: true }).catch(() => {});
    }
  }

  /** The layers below failed: answer from an entry still inside its stale window, or rethrow. */
  private serveStale(key: string, err: unknown): MemoryLookup {
    const e = this.cache.lookupStale(key);
    if (e === undefined) throw err;
    const fresh = this.clock.now() < e.expiresAt; // refilled meanwhile by another lookup
    if (fresh) this.counters.hits++;
    else this.counters.staleServed++;
    return { record: e.record, tier: 'memory', stale: !fresh, expiresAt: e.expiresAt, cacheable: false, ...(fresh ? { entry: e } : {}) };
  }
}
