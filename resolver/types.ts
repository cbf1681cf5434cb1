// Contracts of the resolution pipeline: what it reads from, what it returns, and its statistics.
import type { HandleValue } from '../handle/types.js';

/**
 * A handle as the source returns it: parsed values, or the values as JSON text with the public answer already
 * serialised (null when the row was written without it) — then nothing is parsed unless a filter asks.
 */
export type SourceRecord = { handle: string; values: HandleValue[] } | { handle: string; valuesJson: string; publicJson: string | null };

/** What the resolver needs from the store: one lookup by canonical key. */
export interface RecordSource {
  getHandle(key: string): Promise<SourceRecord | null>;
  /** Many lookups in one round trip, answered in key order: when present, misses of one event-loop turn share one. */
  getHandles?(keys: string[]): Promise<readonly (SourceRecord | null)[]>;
  /** Prefix keys whose handles must not resolve (suspended enterprises); read at start and after a resync. */
  hiddenPrefixKeys?(): Promise<string[]>;
}

/** A cached record: parsed values for filtering, plus the pre-serialised public answer. */
export interface ResolvedRecord {
  /** the handle as stored (original case) */
  readonly handle: string;
  readonly key: string;
  /** every value, for authorised callers and filters */
  readonly values: readonly HandleValue[];
  /** JSON array (Handle JSON codec) of the values with public read: the unfiltered anonymous answer */
  readonly publicValuesJson: string;
  /** smallest effective TTL of the values, seconds, before clamping */
  readonly minTtl: number;
  /**
   * Estimated bytes the record holds (its strings, its values parsed or the text they will be parsed from), known
   * without parsing anything: the in-process cache budget counts this.
   */
  readonly sizeBytes: number;
  /**
   * One answer a face has pre-encoded for this record, and who it was built for (the face's own marker): it lives
   * and dies with the record, so the cache budget covers it and a changed record starts afresh.
   */
  slot: { owner: unknown; body: string; length: number } | null;
}

export type Tier = 'memory' | 'redis' | 'store';

/**
 * Proof of an in-process cache hit, for a face that keeps its own encoded answer per request: `isCurrent` tells in
 * O(1) whether that answer still stands (same cache entry, still fresh, no prefix hidden or shown since).
 */
export interface HitToken {
  readonly entry: unknown;
  readonly gate: number;
}

export type Resolution =
  | { found: true; record: ResolvedRecord; tier: Tier; stale: boolean; token?: HitToken }
  | { found: false; tier: Tier; stale: boolean; hidden?: true; token?: HitToken };

export interface ResolveOptions {
  /** bypass every cache and read the store (Handle `auth=true`) */
  authoritative?: boolean;
  /** resolve handles under hidden (suspended) prefixes too: for their owners and operators */
  includeHidden?: boolean;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  negativeHits: number;
  staleServed: number;
  redisHits: number;
  redisMisses: number;
  redisErrors: number;
  storeReads: number;
  /** background refreshes of entries near expiry (store reads that answered no request) */
  prefetches: number;
  evictions: number;
}

export interface Resolver {
  resolve(key: string, opts?: ResolveOptions): Promise<Resolution>;
  /**
   * The answer if the in-process cache has a fresh one (or the prefix is hidden), without a promise; undefined
   * when only `resolve` can tell. Counted like `resolve`. The hot path of every face.
   */
  peek(key: string): Resolution | undefined;
  /** Whether the answer a memory hit's token came with is still the current one; counted as a hit when it is. */
  isCurrent(token: HitToken): boolean;
  /**
   * After a successful write: drop the key from this process and Redis and tell every other instance, waiting
   * (bounded) until they have dropped it too. Never throws because Redis is down.
   */
  invalidate(keys: string[]): Promise<void>;
  /**
   * Hide (or show again) every handle under a prefix, on this instance and — acknowledged, like invalidate() —
   * on every other one. Hidden handles resolve as not found unless `includeHidden`.
   */
  setPrefixHidden(prefixKey: string, hidden: boolean): Promise<void>;
  /** Whether handles under this prefix are hidden: it, or a prefix it is derived from, was hidden. */
  isPrefixHidden(prefixKey: string): boolean;
  stats(): CacheStats;
  close(): Promise<void>;
}
