// The resolution pipeline: memory cache → single-flight → Redis → store, serve-stale, and cross-instance invalidation.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { CacheStats, HitToken, RecordSource, ResolvedRecord, Resolution, ResolveOptions, Resolver, SourceRecord } from './types.js';
import { TurnBatcher } from './batch.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { MemoryCache, type CacheEntry } from './memory-cache.js';
import { encodeForRedis, recordFromRedis, recordFromSource } from './record.js';
import type { RedisRead } from './redis-tier.js';
import { RedisTier, closeRedisClient, createRedisClient, waitReady } from './redis-tier.js';
import { InvalidationBus, type GateChange } from './bus.js';

export interface ResolverRedisOptions {
  url: string;
  /** prefix of every key and channel (default `idnode:`) */
  namespace?: string;
  /** ms before a Redis command is given up (default 250) */
  commandTimeout?: number;
  /** ms to connect; createResolver waits at most this long for Redis before starting without it (default 1000) */
  connectTimeout?: number;
  /** ms invalidate() waits for other instances' acks (default 500) */
  ackTimeoutMs?: number;
  /** cap on the reconnect backoff, ms (default 2000) */
  maxReconnectDelayMs?: number;
}

export interface CreateResolverOptions {
  source: RecordSource;
  clock?: Clock;
  redis?: ResolverRedisOptions | null;
  cache: { maxBytes: number; minTtl?: number; maxTtl?: number; negativeTtl?: number; staleTtl?: number };
  /** unique per process; default `host:pid:random` */
  instanceId?: string;
}

/** One store read (or Redis read) shared by every concurrent resolve of a key. */
interface Flight {
  /** set when the key was invalidated (or superseded) while the fetch ran: its result must not be cached */
  invalidated: boolean;
  promise: Promise<Resolution>;
}

const NEGATIVE_MEMORY: Resolution = Object.freeze({ found: false, tier: 'memory', stale: false } as const);
const NEGATIVE_REDIS: Resolution = Object.freeze({ found: false, tier: 'redis', stale: false } as const);
const NEGATIVE_STORE: Resolution = Object.freeze({ found: false, tier: 'store', stale: false } as const);
const NEGATIVE_STALE: Resolution = Object.freeze({ found: false, tier: 'memory', stale: true } as const);
const HIDDEN: Resolution = Object.freeze({ found: false, tier: 'memory', stale: false, hidden: true } as const);

/** Keys per batched store read at most. */
const STORE_BATCH_MAX = 128;

/** A memory hit as peek gives it: with the token a face can recheck in O(1). */
type MemoryHit = Resolution & { readonly token: HitToken };

/** The prefix key of a canonical handle key (everything before the first `/`). */
function prefixKeyOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash);
}

function nowSec(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}

function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

class PipelineResolver implements Resolver {
  private readonly inflight = new Map<string, Flight>();
  /** prefix keys of suspended enterprises: their handles resolve as not found */
  private readonly hidden = new Set<string>();
  /** bumped whenever the hidden set may have changed (tokens from before then are no longer current) */
  private gateVersion = 0;
  private hits = 0;
  private misses = 0;
  private negativeHits = 0;
  private staleServed = 0;
  private redisHits = 0;
  private redisMisses = 0;
  private redisErrors = 0;
  private storeReads = 0;
  private prefetches = 0;
  private tier: RedisTier | null = null;
  private bus: InvalidationBus | null = null;
  private clients: Redis[] = [];
  private closed = false;

  readonly onRedisError = (_e: unknown): void => {
    this.redisErrors++;
  };

  /** store reads of one event-loop turn, sent as one query when the source can (see TurnBatcher) */
  private readonly reads: TurnBatcher<SourceRecord | null> | null;

  constructor(
    readonly source: RecordSource,
    private readonly clock: Clock,
    private readonly mem: MemoryCache,
    readonly instanceId: string,
  ) {
    const many = source.getHandles?.bind(source);
    this.reads = many === undefined ? null : new TurnBatcher((keys) => (keys.length === 1 ? source.getHandle(keys[0]!).then((r) => [r]) : many(keys)), STORE_BATCH_MAX);
  }

  attachRedis(tier: RedisTier, bus: InvalidationBus, clients: Redis[]): void {
    this.tier = tier;
    this.bus = bus;
    this.clients = clients;
  }

  peek(key: string): Resolution | undefined {
    if (this.hidden.size !== 0 && this.isPrefixHidden(prefixKeyOf(key))) return HIDDEN;
    const e = this.mem.lookup(key);
    if (e === undefined) return undefined;
    this.counted(e, this.clock.now());
    const record = e.record;
    // one answer per entry (the hot path then allocates nothing), rebuilt when the hidden set has changed since
    let a = e.answer as MemoryHit | undefined;
    if (a === undefined || a.token.gate !== this.gateVersion) {
      const token = Object.freeze({ entry: e, gate: this.gateVersion });
      a = record === null ? { found: false, tier: 'memory', stale: false, token } : { found: true, record, tier: 'memory', stale: false, token };
      e.answer = Object.freeze(a);
    }
    return a;
  }

  isCurrent(token: HitToken): boolean {
    const e = token.entry as CacheEntry;
    if (!e.live || token.gate !== this.gateVersion) return false;
    const now = this.clock.now();
    if (now >= e.expiresAt) return false;
    e.ref = true;
    this.counted(e, now);
    return true;
  }

  /** A memory hit on `e`: counted, and near its expiry the entry is refreshed in the background. */
  private counted(e: CacheEntry, now: number): void {
    this.hits++;
    if (e.record === null) this.negativeHits++;
    if (!e.prefetching && now >= e.prefetchAt) this.prefetch(e);
  }

  resolve(key: string, opts?: ResolveOptions): Promise<Resolution> {
    if (this.hidden.size !== 0 && opts?.includeHidden !== true && this.isPrefixHidden(prefixKeyOf(key))) {
      return Promise.resolve(HIDDEN);
    }
    if (opts !== undefined && opts.authoritative === true) return this.startFlight(key, true).promise;
    const e = this.mem.lookup(key);
    if (e !== undefined) {
      this.counted(e, this.clock.now());
      const record = e.record;
      if (record === null) return Promise.resolve(NEGATIVE_MEMORY);
      return Promise.resolve({ found: true, record, tier: 'memory', stale: false });
    }
    this.misses++;
    const flight = this.inflight.get(key) ?? this.startFlight(key, false);
    return flight.promise.catch((err: unknown) => this.serveStale(key, err));
  }

  async invalidate(keys: string[]): Promise<void> {
    const uniq = [...new Set(keys)];
    if (uniq.length === 0) return;
    this.dropLocal(uniq);
    const tier = this.tier;
    const bus = this.bus;
    if (tier === null || bus === null) return;
    // Order matters: Redis first (gen bump + DEL), so an instance refetching after the bus message misses Redis.
    await tier.invalidate(uniq);
    await bus.publish(uniq);
  }

  async setPrefixHidden(prefixKey: string, hidden: boolean): Promise<void> {
    this.applyGate([[prefixKey, hidden]]);
    await this.bus?.publish([], [[prefixKey, hidden]]);
  }

  /** The prefix or one it is derived from (`88.1.7.9` from `88.1.7`) is hidden. */
  isPrefixHidden(prefixKey: string): boolean {
    if (this.hidden.size === 0) return false;
    let p = prefixKey;
    for (;;) {
      if (this.hidden.has(p)) return true;
      const dot = p.lastIndexOf('.');
      if (dot <= 0) return false;
      p = p.slice(0, dot);
    }
  }

  applyGate(changes: readonly GateChange[]): void {
    this.gateVersion++;
    for (const [prefixKey, hidden] of changes) {
      if (hidden) this.hidden.add(prefixKey);
      else this.hidden.delete(prefixKey);
    }
  }

  /** (Re)reads the hidden prefixes from the source; on failure the current set stays. */
  async loadHidden(): Promise<void> {
    if (this.source.hiddenPrefixKeys === undefined) return;
    try {
      const keys = await this.source.hiddenPrefixKeys();
      this.gateVersion++;
      this.hidden.clear();
      for (const k of keys) this.hidden.add(k);
    } catch {
      // keep what we have; the next resync tries again
    }
  }

  stats(): CacheStats {
    return {
      entries: this.mem.entries,
      bytes: this.mem.bytes,
      maxBytes: this.mem.maxBytes,
      hits: this.hits,
      misses: this.misses,
      negativeHits: this.negativeHits,
      staleServed: this.staleServed,
      redisHits: this.redisHits,
      redisMisses: this.redisMisses,
      redisErrors: this.redisErrors,
      storeReads: this.storeReads,
      prefetches: this.prefetches,
      evictions: this.mem.evictions,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus?.close();
    this.bus = null;
    this.tier = null;
    const clients = this.clients;
    this.clients = [];
    await Promise.all(clients.map(closeRedisClient));
  }

  /** Keys changed elsewhere: forget them and make running fetches of them uncacheable (and unjoinable). */
  dropLocal(keys: readonly string[]): void {
    for (const k of keys) {
      this.mem.delete(k);
      const f = this.inflight.get(k);
      if (f !== undefined) {
        f.invalidated = true;
        this.inflight.delete(k);
      }
    }
  }

  /** Invalidations may have been missed: forget everything. */
  resync(): void {
    void this.loadHidden();
    this.mem.clear();
    for (const f of this.inflight.values()) f.invalidated = true;
    this.inflight.clear();
  }

  /**
   * A hit near the end of an entry's TTL: read the store again in the background (past Redis, which expires with
   * it) and refill both tiers, so the entry is replaced before it expires. Failures are left to the next miss.
   */
  private prefetch(e: CacheEntry): void {
    e.prefetching = true;
    if (this.closed || this.inflight.has(e.key)) return;
    this.prefetches++;
    this.startFlight(e.key, true, true).promise.catch(() => {});
  }

  private startFlight(key: string, authoritative: boolean, prefetch = false): Flight {
    const prev = this.inflight.get(key);
    // Only an authoritative read gets here with a fetch running; that older fetch must not overwrite its answer.
    if (prev !== undefined) prev.invalidated = true;
    const flight: Flight = { invalidated: false, promise: undefined as unknown as Promise<Resolution> };
    this.inflight.set(key, flight);
    flight.promise = this.run(key, flight, authoritative, prefetch);
    return flight;
  }

  private async run(key: string, flight: Flight, authoritative: boolean, prefetch: boolean): Promise<Resolution> {
    try {
      const tier = this.tier;
      // The generation must be read BEFORE the store read starts: that is what makes the guarded fill race-free.
      let gen: string | null = null;
      if (tier !== null) {
        if (authoritative) {
          gen = await tier.readGen(key);
        } else {
          const r = await tier.read(key);
          if (r.kind === 'hit') {
            const res = this.fromRedis(key, r, flight);
            if (res !== null) return res;
            gen = await tier.readGen(key); // undecodable: read the store and overwrite it, guarded as after a miss
          } else if (r.kind === 'miss') {
            this.redisMisses++;
            gen = r.gen;
          }
        }
      }
      if (!prefetch) this.storeReads++;
      const stored = await (this.reads === null ? this.source.getHandle(key) : this.reads.get(key));
      const record = stored === null ? null : recordFromSource(stored, key, nowSec(this.clock));
      if (tier !== null && gen !== null && !flight.invalidated) {
        const ttlMs = this.mem.policy.ttlFor(record) * 1000;
        await tier.fill(key, gen, encodeForRedis(record, this.clock.now() + ttlMs), ttlMs);
      }
      if (!flight.invalidated) this.mem.set(key, record);
      return record === null ? NEGATIVE_STORE : { found: true, record, tier: 'store', stale: false };
    } finally {
      if (this.inflight.get(key) === flight) this.inflight.delete(key);
    }
  }

  /** A Redis hit as a resolution (cached in memory for no longer than Redis keeps it); null if undecodable. */
  private fromRedis(key: string, r: Extract<RedisRead, { kind: 'hit' }>, flight: Flight): Resolution | null {
    let data: ReturnType<typeof recordFromRedis>;
    try {
      data = recordFromRedis(r.payload, key, nowSec(this.clock));
    } catch (e) {
      this.onRedisError(e);
      return null; // read the store and overwrite it (the generation is unchanged)
    }
    this.redisHits++;
    const record = data.record;
    if (!flight.invalidated) {
      if (data.expiresAt === null) this.mem.set(key, record);
      else if (data.expiresAt > this.clock.now()) this.mem.set(key, record, data.expiresAt - this.clock.now());
    }
    return record === null ? NEGATIVE_REDIS : { found: true, record, tier: 'redis', stale: false };
  }

  /** The source failed: answer from a memory entry still inside its stale window, or rethrow. */
  private serveStale(key: string, err: unknown): Resolution {
    const e = this.mem.lookupStale(key);
    if (e === undefined) throw err;
    const fresh = this.clock.now() < e.expiresAt; // refilled meanwhile by another fetch
    if (fresh) this.hits++;
    else this.staleServed++;
    if (e.record === null) return fresh ? NEGATIVE_MEMORY : NEGATIVE_STALE;
    return { found: true, record: e.record, tier: 'memory', stale: !fresh };
  }
}

/**
 * Builds a resolver over `source`. With `redis`, connects (waiting at most `connectTimeout` for it; Redis being
 * down never fails creation or resolution) and joins the invalidation bus of `namespace`.
 */
export async function createResolver(opts: CreateResolverOptions): Promise<Resolver> {
  const clock = opts.clock ?? systemClock;
  const mem = new MemoryCache({ ...opts.cache, clock });
  const instanceId = opts.instanceId ?? defaultInstanceId();
  const resolver = new PipelineResolver(opts.source, clock, mem, instanceId);
  await resolver.loadHidden();
  const r = opts.redis;
  if (r === undefined || r === null) return resolver;

  const ns = r.namespace ?? 'idnode:';
  const connectTimeout = r.connectTimeout ?? 1000;
  const name = `${ns}${instanceId}`.replace(/[^\w.:-]/g, '_');
  const conn = {
    connectTimeout,
    ...(r.commandTimeout !== undefined ? { commandTimeout: r.commandTimeout } : {}),
    ...(r.maxReconnectDelayMs !== undefined ? { maxReconnectDelayMs: r.maxReconnectDelayMs } : {}),
  };
  const cmd = createRedisClient(r.url, { ...conn, connectionName: `${name}:cmd` });
  const sub = createRedisClient(r.url, { ...conn, connectionName: `${name}:sub` });
  const tier = new RedisTier(cmd, ns, resolver.onRedisError);
  const bus = new InvalidationBus({
    cmd,
    sub,
    namespace: ns,
    instanceId,
    ...(r.ackTimeoutMs !== undefined ? { ackTimeoutMs: r.ackTimeoutMs } : {}),
    onInvalidate: (keys) => resolver.dropLocal(keys),
    onGate: (changes) => resolver.applyGate(changes),
    onResync: () => resolver.resync(),
    onError: resolver.onRedisError,
  });
  resolver.attachRedis(tier, bus, [cmd, sub]);
  bus.start();
  await Promise.all([waitReady(cmd, connectTimeout), bus.waitSubscribed(connectTimeout)]);
  return resolver;
}
