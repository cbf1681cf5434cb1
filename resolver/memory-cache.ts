// The in-process resolution cache: one byte budget over positive and negative entries and the answers faces derive
// from them, with TTLs, a stale window and CLOCK eviction. Hand-written (not lru-cache): the hot path is one Map
// probe and a few field reads, and a hit never reorders anything — the bench's hot rows show it pays.
import { RecordError } from '../handle/record-json.js';
import { LazyRecord, stringBytes } from './record.js';
import type { ResolvedRecord } from './types.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export interface TtlPolicyOptions {
  /** seconds; a record's TTL is raised to at least this (default 1) */
  minTtl?: number;
  /** seconds; a record's TTL is lowered to at most this (default 3600) */
  maxTtl?: number;
  /**
   * seconds a "not found" is cached (default 60, clamped to [0, maxTtl]): every write invalidates the caches of
   * every instance, so this bounds a stale "not found" only while the invalidation bus is down
   */
  negativeTtl?: number;
  /** seconds after expiry during which an entry may still be served when the source fails (default 3600) */
  staleTtl?: number;
}

export interface MemoryCacheOptions extends TtlPolicyOptions {
  /** bound on the estimated bytes of all entries and their derived answers; 0 disables the cache */
  maxBytes: number;
  clock?: Clock;
}

/** A value a face derived from an entry's record (a rendered answer), kept and counted with the entry. */
export interface Derived<T = unknown> {
  value: T;
  bytes: number;
  /** called when the value is dropped (its entry left, or a newer variant pushed it out) */
  release?: () => void;
}

export interface CacheEntry {
  readonly key: string;
  /** `null` = the handle does not exist (negative entry); also null once the entry has left the cache */
  record: ResolvedRecord | null;
  /** ms (clock time): fresh while now < expiresAt (lowered to now when the cache stops trusting it) */
  expiresAt: number;
  /** ms: servable on source failure while now < staleUntil */
  readonly staleUntil: number;
  /** ms: a hit from here on refreshes the entry in the background (prefetch), once */
  prefetchAt: number;
  /** a background refresh was started */
  prefetching: boolean;
  /** estimated bytes, derived answers included */
  size: number;
  /** used since the eviction sweep last passed it (CLOCK's reference bit) */
  ref: boolean;
  /** still in the cache: false once deleted, replaced, evicted or cleared (holders of the entry check this) */
  live: boolean;
  /** answers derived from the record, by variant (oldest first) */
  derived: Map<string, Derived> | null;
  /** the resolver's answer for this entry, built once (the hot path then allocates nothing) */
  answer?: unknown;
}

/** Estimated fixed cost of one entry: Map slot, entry and record objects, the key. */
export const ENTRY_OVERHEAD_BYTES = 256;
/** Estimated fixed cost of one derived value beside its own bytes (Map slot, holder object, variant key). */
export const DERIVED_OVERHEAD_BYTES = 96;
/** Derived answers kept per entry at most: more variants of one handle push out the oldest. */
export const MAX_DERIVED_PER_ENTRY = 16;

/** Estimated memory of an entry without derived answers: its record and key, plus fixed overheads. */
export function entrySize(key: string, record: ResolvedRecord | null): number {
  return ENTRY_OVERHEAD_BYTES + stringBytes(key) + (record === null ? 0 : record.sizeBytes);
}

function seconds(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${x}`);
  return x;
}

/** The TTL rules shared by the memory and Redis tiers (hickory-dns style clamping). */
export class TtlPolicy {
  readonly minTtl: number;
  readonly maxTtl: number;
  readonly negativeTtl: number;
  readonly staleTtl: number;

  constructor(o: TtlPolicyOptions = {}) {
    this.minTtl = seconds('minTtl', o.minTtl, 1);
    this.maxTtl = seconds('maxTtl', o.maxTtl, 3600);
    if (this.maxTtl < this.minTtl) throw new RangeError(`maxTtl (${this.maxTtl}) < minTtl (${this.minTtl})`);
    this.negativeTtl = Math.min(seconds('negativeTtl', o.negativeTtl, 60), this.maxTtl);
    this.staleTtl = seconds('staleTtl', o.staleTtl, 3600);
  }

  /**
   * Seconds to cache: the record's min TTL clamped to [minTtl, maxTtl], or the negative TTL for `null`. A record
   * whose stored values are corrupt has no TTL of its own: it is cached for minTtl (its answers are the faces' RC 2,
   * or its stored public answer), and resolving it never fails here.
   */
  ttlFor(record: ResolvedRecord | null): number {
    if (record === null) return this.negativeTtl;
    let t: number;
    try {
      t = record.minTtl;
    } catch (e) {
      if (e instanceof RecordError) return this.minTtl;
      throw e;
    }
    return t < this.minTtl ? this.minTtl : t > this.maxTtl ? this.maxTtl : t;
  }
}

type Entry = CacheEntry;

/**
 * How long before expiry a hit refreshes an entry in the background (CoreDNS's prefetch): the last 10 % of its TTL,
 * at least 1 s, at most half the TTL — so an entry in use is replaced before it expires and no request waits for it.
 */
export function prefetchWindowMs(ttlMs: number): number {
  return Math.min(Math.max(ttlMs * 0.1, 1000), ttlMs / 2);
}

function releaseAll(e: Entry): void {
  if (e.derived === null) return;
  for (const d of e.derived.values()) d.release?.();
  e.derived = null;
}

/** An entry leaves the cache: marked dead, and what it held let go (a face may still hold the small entry). */
function retire(e: Entry): void {
  if (e.record instanceof LazyRecord) e.record.grow = null;
  e.live = false;
  e.record = null;
  e.answer = undefined;
  releaseAll(e);
}

export class MemoryCache {
  readonly maxBytes: number;
  /** the largest derived value kept (larger ones are rebuilt for each request) */
  readonly maxDerivedBytes: number;
  readonly policy: TtlPolicy;
  private readonly clock: Clock;
  private readonly map = new Map<string, Entry>();
  private _bytes = 0;
  private _evictions = 0;
  /** while false (coherence lost), nothing new is cached fresh */
  private trusting = true;
  /**
   * Real time (Date.now(), not the cache's clock: the lease is about timers really firing) until which entries may be
   * answered as fresh at all — the lease of resolver/coherence.ts, renewed by every poll of the store's epoch.
   * Infinity without a shared cache: nothing can change behind this process.
   */
  trustedUntil = Infinity;

  /** Whether the lease (see trustedUntil) still holds. */
  leased(): boolean {
    return this.trustedUntil === Infinity || Date.now() < this.trustedUntil;
  }

  constructor(o: MemoryCacheOptions) {
    if (typeof o.maxBytes !== 'number' || !(o.maxBytes >= 0)) throw new RangeError(`maxBytes must be ≥ 0, got ${o.maxBytes}`);
    this.maxBytes = o.maxBytes;
    this.maxDerivedBytes = Math.min(256 * 1024, Math.floor(o.maxBytes / 64));
    this.policy = new TtlPolicy(o);
    this.clock = o.clock ?? systemClock;
  }

  get entries(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this._bytes;
  }

  get evictions(): number {
    return this._evictions;
  }

  /** A fresh entry (marked as used), or undefined. Entries past their stale window are dropped. */
  lookup(key: string): CacheEntry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    const now = this.clock.now();
    if (now < e.expiresAt && this.leased()) {
      // CLOCK (second chance) instead of strict LRU: a hit only sets the reference bit; the eviction sweep moves
      // referenced entries to the back once and evicts the others, so hits never reorder the Map.
      e.ref = true;
      return e;
    }
    if (now >= e.staleUntil) this.remove(e);
    return undefined;
  }

  /** An entry that is fresh or within its stale window (for serve-stale when the source fails), or undefined. */
  lookupStale(key: string): CacheEntry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (this.clock.now() >= e.staleUntil) {
      this.remove(e);
      return undefined;
    }
    e.ref = true;
    return e;
  }

  /**
   * Caches `record` (or a negative entry for `null`) for its clamped TTL, at most `capMs` milliseconds when given
   * (e.g. the time the shared tier still holds it). A TTL of 0, or a cache that does not trust new answers, stores
   * nothing and drops any older entry.
   */
  set(key: string, record: ResolvedRecord | null, capMs?: number): CacheEntry | undefined {
    if (this.maxBytes === 0) return undefined;
    let ttlMs = this.policy.ttlFor(record) * 1000;
    if (capMs !== undefined && capMs < ttlMs) ttlMs = capMs;
    const size = entrySize(key, record);
    if (!(ttlMs > 0) || size > this.maxBytes || !this.trusting) {
      this.delete(key);
      return undefined;
    }
    const expiresAt = this.clock.now() + ttlMs;
    const e: Entry = {
      key,
      record,
      expiresAt,
      staleUntil: expiresAt + this.policy.staleTtl * 1000,
      prefetchAt: expiresAt - prefetchWindowMs(ttlMs),
      prefetching: false,
      size,
      ref: false,
      live: true,
      derived: null,
    };
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this._bytes -= old.size;
      retire(old);
    }
    this.map.set(key, e);
    this._bytes += size;
    // what the record takes once parsed is counted when it is parsed (most records never are)
    if (record instanceof LazyRecord) record.grow = (bytes) => this.grow(e, bytes);
    if (this._bytes > this.maxBytes) this.evict();
    return e;
  }

  /** A held record grew (its values were parsed): counted, and room made from the other entries. */
  private grow(e: Entry, bytes: number): void {
    if (!e.live) return;
    e.size += bytes;
    this._bytes += bytes;
    if (this._bytes > this.maxBytes) this.evict(0, e);
  }

  /**
   * A value derived from a live entry's record under `variant`: kept with the entry (counted in the budget, at most
   * MAX_DERIVED_PER_ENTRY per entry, the oldest pushed out) unless the entry is gone or the value is too large. Room
   * is made from the other entries, never from `e` (the caller is answering from it); a value that does not fit
   * beside its entry is not kept. A value returned is never released: `release` is for values kept.
   */
  derive<T>(e: CacheEntry, variant: string, build: () => Derived<T>): { value: T; kept: boolean } {
    const have = e.derived?.get(variant);
    if (have !== undefined) return { value: have.value as T, kept: true };
    const d = build();
    if (!e.live || d.bytes > this.maxDerivedBytes) return { value: d.value, kept: false };
    const cost = d.bytes + stringBytes(variant) + DERIVED_OVERHEAD_BYTES;
    const map = (e.derived ??= new Map());
    if (map.size >= MAX_DERIVED_PER_ENTRY) {
      const [oldest, od] = map.entries().next().value as [string, Derived];
      map.delete(oldest);
      const freed = od.bytes + stringBytes(oldest) + DERIVED_OVERHEAD_BYTES;
      e.size -= freed;
      this._bytes -= freed;
      od.release?.();
    }
    if (this._bytes + cost > this.maxBytes) this.evict(cost, e);
    if (this._bytes + cost > this.maxBytes) return { value: d.value, kept: false };
    map.set(variant, d as Derived);
    e.size += cost;
    this._bytes += cost;
    return { value: d.value, kept: true };
  }

  delete(key: string): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  clear(): void {
    for (const e of this.map.values()) retire(e);
    this.map.clear();
    this._bytes = 0;
  }

  /**
   * Coherence lost or regained (see resolver/coherence.ts): every entry held now may have missed an invalidation, so
   * none is fresh any more — each stays only for serve-stale. Its derived answers go.
   */
  distrust(): void {
    const now = this.clock.now();
    for (const e of this.map.values()) {
      if (e.expiresAt > now) e.expiresAt = now;
      e.prefetchAt = Infinity;
      e.answer = undefined;
      if (e.derived !== null) {
        const before = e.size;
        e.size = entrySize(e.key, e.record);
        this._bytes -= before - e.size;
        releaseAll(e);
      }
    }
  }

  /** While false (this process may miss invalidations), nothing new is cached fresh. */
  setTrusting(trusting: boolean): void {
    this.trusting = trusting;
  }

  private remove(e: Entry): void {
    this.map.delete(e.key);
    this._bytes -= e.size;
    retire(e);
  }

  /**
   * CLOCK sweep from the oldest end until `extra` more bytes fit: referenced entries get a second chance (moved to
   * the back), others go — all but `keep`.
   */
  private evict(extra = 0, keep?: Entry): void {
    let chances = this.map.size;
    for (const e of this.map.values()) {
      if (this._bytes + extra <= this.maxBytes) break;
      if (e === keep) continue;
      if (e.ref && chances-- > 0) {
        e.ref = false;
        this.map.delete(e.key);
        this.map.set(e.key, e);
        continue;
      }
      this.remove(e);
      this._evictions++;
    }
  }
}
