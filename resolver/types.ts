// Contracts of the resolution pipeline: the one interface its layers share, records, and the resolver's narrow contract.
import type { HandleValue } from '../handle/types.js';

/**
 * A handle record as text, exactly as the store keeps it and Redis carries it — the one serialised form of a record:
 * the handle as registered, its values in the value model's JSON (handle/record-json.ts), and its public values in
 * Handle JSON (handle/json.ts's output form, the anonymous view). Nothing is parsed until something asks.
 */
export interface RecordText {
  handle: string;
  valuesJson: string;
  /** null for rows written without it (computed from the values then) */
  publicJson: string | null;
}

/** What the resolver needs from the store (the registry), adapted by the composition root. */
export interface RecordSource {
  /** Records by canonical key, answered in the order of `keys` (null: no such handle). */
  read(keys: readonly string[]): Promise<(RecordText | null)[]>;
  /**
   * `read`, allowed to answer from a read replica: each key from a copy that has replayed at least `atLeast[i]` (the
   * store position of its last acknowledged write). Absent: the store has no replicas.
   */
  readAt?(keys: readonly string[], atLeast: readonly bigint[]): Promise<(RecordText | null)[]>;
  /** The store's current write position: every commit acknowledged before the call is at or below it (with readAt). */
  position?(): Promise<bigint>;
  /** A position every replica has replayed (the floor under which recently written keys need no tracking). */
  settledPosition?(): bigint;
  /** Prefix keys whose handles must not resolve (suspended enterprises). */
  hiddenPrefixKeys(): Promise<string[]>;
  /** Prefix keys hosted at an enterprise's own node: their handles are resolved there (recursion), not read here. */
  selfHostedPrefixKeys?(): Promise<string[]>;
  /** The cache epoch (see resolver/coherence.ts); absent: a source without one (a single process without Redis). */
  cacheEpoch?(): Promise<CacheEpoch>;
  /**
   * Moves the cache epoch on (`runId` given: only if the recorded Redis run id is still `expectRunId`, recording
   * `runId`); answers the epoch now in force either way.
   */
  bumpCacheEpoch?(o?: { expectRunId: string | null; runId: string }): Promise<CacheEpoch>;
}

/** The store's cache epoch: shared-cache entries from another epoch are never read. */
export interface CacheEpoch {
  epoch: number;
  /** the run id of the Redis server the epoch was last checked against */
  redisRunId: string | null;
}

/** A record as the resolver hands it to the faces: parsed on demand, sized without parsing. */
export interface ResolvedRecord {
  /** the handle as stored (original case) */
  readonly handle: string;
  readonly key: string;
  /** every value (for authorised readers and filters); throws RecordError when the stored text is corrupt */
  readonly values: readonly HandleValue[];
  /** the values with public read, in stored order */
  readonly publicValues: readonly HandleValue[];
  /** Handle JSON array of the public values: the unfiltered anonymous answer, spliced as is */
  readonly publicJson: string;
  /** smallest effective TTL of the values, seconds, before clamping */
  readonly minTtl: number;
  /** estimated bytes the record holds, known without parsing (the in-process cache budget counts it) */
  readonly sizeBytes: number;
}

export type Tier = 'memory' | 'redis' | 'store' | 'remote';

/** What a layer answers for one key. */
export interface Lookup {
  /** null: no such handle */
  readonly record: ResolvedRecord | null;
  readonly tier: Tier;
  /** an expired memory entry served because the layers below failed */
  readonly stale: boolean;
  /** ms (clock time) after which a layer above must not keep serving it; null: its own TTL rules apply */
  readonly expiresAt: number | null;
  /** false when the key changed while this lookup ran: the answer may be returned but must not be cached */
  readonly cacheable: boolean;
}

export interface LookupOptions {
  /** bypass every cache and read the store (Handle `auth=true`); the answer still refills the caches */
  authoritative?: boolean;
  /** a background refresh (prefetch): counted apart from the reads that answer requests */
  prefetch?: boolean;
  /** a lookup the recursion layer makes on the way to another (a service record): its bounds and what it asked */
  trail?: Trail;
}

/** One remote resolution's bounds, shared by the lookups it makes: deadline, depth, the keys on the way (loops), the servers asked. */
export interface Trail {
  /** ms (clock time) */
  readonly deadline: number;
  readonly depth: number;
  readonly keys: readonly string[];
  /** `endpoint handle` pairs already sent: asking one again is a referral loop */
  readonly asked: Set<string>;
}

/**
 * One tier of the pipeline. Every tier wraps the one below it (memory → single-flight → Redis → prefix site →
 * store), as hickory-dns builds its resolver from layers: each answers what it can and asks the next for the rest.
 */
export interface Layer {
  lookup(key: string, opts: LookupOptions): Promise<Lookup>;
  /** Keys changed (null: anything may have): drop what this tier keeps of them here, then tell the tier below. */
  forget(keys: readonly string[] | null): void;
}

/**
 * Proof that an answer came from a live in-process cache entry: `isCurrent` tells in O(1) whether it still stands
 * (same entry, fresh, trusted, no prefix hidden since). Faces keep derived answers against it.
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
}

/** What changed, for invalidate(): handles (canonical keys), and prefixes whose suspension changed. */
export interface Change {
  keys?: readonly string[];
  prefixKeys?: readonly string[];
}

export interface ResolverStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  /** memory hits (negative ones included) */
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
  /** how many times the cache epoch moved while this process ran */
  epochChanges: number;
  /** identifiers resolved at other nodes (recursion), failed ones included */
  remoteLookups: number;
  remoteFailures: number;
  /** requests sent to other servers */
  remoteExchanges: number;
}

/**
 * The resolver, as every face sees it: resolve, a synchronous look-up for the edge, invalidate. Derived answers a
 * face keeps (rendered bodies) live with the cache entry they came from, inside the same budget.
 */
export interface Resolver {
  resolve(key: string, opts?: ResolveOptions): Promise<Resolution>;
  /** Whether `key` is answered from this node's store (false: resolved at another node, by recursion). */
  homes(key: string): boolean;
  /** The answer if the in-process cache holds a fresh one (or the prefix is hidden), without a promise. */
  peek(key: string): Resolution | undefined;
  /** Whether an answer's token still stands; counted as a memory hit when it does. */
  isCurrent(token: HitToken): boolean;
  /**
   * A value derived from the record of a memory hit (a rendered answer), kept with its cache entry and counted in
   * the cache budget: built once per entry and variant, dropped with the entry (`release` is called then). Built
   * but not kept (`kept` false) when there is no live entry or the value is too large.
   */
  derive<T>(token: HitToken | undefined, variant: string, build: () => { value: T; bytes: number; release?: () => void }): { value: T; kept: boolean };
  /**
   * After a committed write: drop the handles everywhere (this process, Redis, every other instance) or re-read the
   * suspensions, and return once no instance can still answer from before the change. Never throws.
   */
  invalidate(change: Change): Promise<void>;
  stats(): ResolverStats;
  close(): Promise<void>;
}
