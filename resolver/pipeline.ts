// The resolution pipeline: the prefix gate over the layers memory → single-flight → Redis → recursion → prefix site →
// store, and the resolver's narrow contract (resolve, peek, invalidate) on top.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isUnderPrefix, PREFIX_RECORD_PREFIX } from '../handle/identifier.js';
import { busChannels, type BusChange, type BusSubscriber } from './bus.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { Coherence } from './coherence.js';
import { Counters } from './counters.js';
import { PrefixGate } from './gate.js';
import { MemoryLayer, type MemoryLookup } from './layers/memory.js';
import { PrefixSiteLayer, type SiteSource } from './layers/prefix-site.js';
import { RecursionLayer, type RecursionOptions } from './layers/recursion.js';
import { RedisLayer } from './layers/redis.js';
import { SingleFlight } from './layers/single-flight.js';
import { StoreLayer } from './layers/store.js';
import { MemoryCache, type CacheEntry, type TtlPolicyOptions } from './memory-cache.js';
import { ReadFloors } from './read-floors.js';
import { closeRedisClient, createRedisClient, isCluster, waitReady, watchConnection, type RedisClient } from './redis-client.js';
import { namespaceProblem, parseRedisUrl } from './redis-url.js';
import { ShardSubscriber } from './shard-subscriber.js';
import type { Change, HitToken, Layer, RecordSource, Resolution, ResolveOptions, Resolver, ResolverStats } from './types.js';

export interface ResolverRedisOptions {
  /** REDIS_URL: redis:// or rediss:// (one server), redis-sentinel:// or redis-cluster:// (resolver/redis-url.ts) */
  url: string;
  /** prefix of every key and channel (default `idnode:`) */
  namespace?: string;
  /** ms before a Redis command is given up (default 250) */
  commandTimeout?: number;
  /** ms to connect; createResolver waits at most this long for Redis before starting without it (default 1000) */
  connectTimeout?: number;
  /** ms invalidate() waits for other instances' acks (default 1000) */
  ackTimeoutMs?: number;
  /** cap on the reconnect backoff, ms (default 2000) */
  maxReconnectDelayMs?: number;
  /** ms between polls of the store's cache epoch (default 500) */
  epochPollMs?: number;
  /** told when the command connection is lost (or cannot connect) and when it is back; transitions only */
  onConnectionChange?: (up: boolean, detail: string) => void;
}

export interface CreateResolverOptions {
  source: RecordSource;
  clock?: Clock;
  redis?: ResolverRedisOptions | null;
  cache: TtlPolicyOptions & { maxBytes: number };
  /** this node's site, for its homed prefix records (none: records are served as stored) */
  site?: SiteSource | null;
  /** unique per process; default `host:pid:random` */
  instanceId?: string;
  /**
   * Resolution of what this node does not hold (recursion): keys outside `nodePrefixKey`, and under its self-hosted
   * prefixes, are resolved at their service. Absent: every key is read from the store.
   */
  recursion?: (Omit<RecursionOptions, 'isLocal' | 'selfHosted' | 'delegatingRecordKey'> & { nodePrefixKey: string }) | null;
}

const HIDDEN: Resolution = Object.freeze({ found: false, tier: 'memory', stale: false, hidden: true } as const);

/** The prefix key of a canonical handle key (everything before the first `/`). */
function prefixKeyOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash);
}

function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** A memory hit as peek gives it: with the token a face can recheck in O(1). */
type MemoryHit = Resolution & { readonly token: HitToken };

class PipelineResolver implements Resolver {
  coherence: Coherence | null = null;
  /** whether a key is answered from the store (set when recursion is configured) */
  homes: (key: string) => boolean = () => true;
  /** the Redis connections (commands, subscriber), for inspection */
  clients: (RedisClient | BusSubscriber)[] = [];
  /** closes the Redis connections */
  closers: (() => Promise<void>)[] = [];
  /** with read replicas: the positions reads must be at (null: the store has none) */
  floors: ReadFloors | null = null;
  /** stops reporting the connection's state (closing it is no loss) */
  unwatch = (): void => {};
  private closed = false;

  constructor(
    readonly memory: MemoryLayer,
    readonly gate: PrefixGate,
    private readonly counters: Counters,
  ) {}

  peek(key: string): Resolution | undefined {
    if (this.gate.any && this.gate.isHidden(prefixKeyOf(key))) return HIDDEN;
    const e = this.memory.peek(key);
    return e === undefined ? undefined : this.hit(e);
  }

  isCurrent(token: HitToken): boolean {
    return token.gate === this.gate.version && this.memory.stillFresh(token.entry as CacheEntry);
  }

  async resolve(key: string, opts?: ResolveOptions): Promise<Resolution> {
    if (this.gate.any && this.gate.isHidden(prefixKeyOf(key))) return HIDDEN;
    const r: MemoryLookup = await this.memory.lookup(key, { authoritative: opts?.authoritative === true });
    if (r.tier === 'memory' && r.entry !== undefined && !r.stale) return this.hit(r.entry);
    const token = r.entry === undefined ? undefined : Object.freeze({ entry: r.entry, gate: this.gate.version });
    if (r.record === null) return token === undefined ? { found: false, tier: r.tier, stale: r.stale } : { found: false, tier: r.tier, stale: r.stale, token };
    return token === undefined ? { found: true, record: r.record, tier: r.tier, stale: r.stale } : { found: true, record: r.record, tier: r.tier, stale: r.stale, token };
  }

  derive<T>(token: HitToken | undefined, variant: string, build: () => { value: T; bytes: number; release?: () => void }): { value: T; kept: boolean } {
    const e = token?.entry as CacheEntry | undefined;
    if (e === undefined || !e.live) return { value: build().value, kept: false };
    return this.memory.cache.derive(e, variant, build);
  }

  async invalidate(change: Change): Promise<void> {
    const keys = [...new Set(change.keys ?? [])];
    const prefixes = (change.prefixKeys?.length ?? 0) > 0;
    if (keys.length === 0 && !prefixes) return;
    const c: BusChange = { keys, prefixes };
    // With read replicas the change carries the store position of its commit (read after it), so every instance
    // reads these keys only from a replica that has replayed it.
    if (this.floors !== null && keys.length > 0) {
      try {
        c.position = await this.floors.position();
      } catch {
        // unknown: the keys are read from the primary until a position is learned (ReadFloors.note)
      }
    }
    try {
      await this.apply(c);
    } catch {
      // the write is committed: the other instances must still hear of it, and this one re-reads when it can
      this.reloadGateLater();
    }
    await this.coherence?.spread(c);
  }

  private gateRetry = false;

  /** The suspensions could not be re-read here: try again in the background until they are (or until close). */
  private reloadGateLater(): void {
    if (this.gateRetry || this.closed) return;
    this.gateRetry = true;
    let delay = 100;
    const attempt = (): void => {
      setTimeout(() => {
        if (this.closed) {
          this.gateRetry = false;
          return;
        }
        void this.gate.reload().then((ok) => {
          if (ok || this.closed) {
            this.gateRetry = false;
            return;
          }
          delay = Math.min(delay * 2, 2000);
          attempt();
        });
      }, delay).unref();
    };
    attempt();
  }

  /** A change applied in this process: the keys dropped (and their running lookups made uncacheable), suspensions re-read. */
  async apply(c: BusChange): Promise<void> {
    if (c.keys.length > 0) {
      if (this.floors !== null && c.position === undefined) {
        // a change from an instance that sent no position: the store's position now is at or above its commit
        c.position = await this.floors.position().catch(() => undefined);
      }
      this.floors?.note(c.keys, c.position);
      this.memory.forget(c.keys);
    }
    if (!c.prefixes) return;
    const remote = this.gate.remoteVersion;
    if (!(await this.gate.reload())) throw new Error('could not re-read the suspended prefixes');
    // a prefix moved to (or back from) its enterprise's node: what was cached of it came from the other place
    if (this.gate.remoteVersion !== remote) this.memory.forget(null);
  }

  stats(): ResolverStats {
    const c = this.counters;
    const cache = this.memory.cache;
    return {
      entries: cache.entries,
      bytes: cache.bytes,
      maxBytes: cache.maxBytes,
      hits: c.hits,
      misses: c.misses,
      negativeHits: c.negativeHits,
      staleServed: c.staleServed,
      redisHits: c.redisHits,
      redisMisses: c.redisMisses,
      redisErrors: c.redisErrors,
      storeReads: c.storeReads,
      prefetches: c.prefetches,
      evictions: cache.evictions,
      epochChanges: c.epochChanges,
      remoteLookups: c.remoteLookups,
      remoteFailures: c.remoteFailures,
      remoteExchanges: c.remoteExchanges,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.floors?.close();
    this.unwatch();
    this.coherence?.close();
    this.coherence = null;
    const closers = this.closers;
    this.closers = [];
    this.clients = [];
    await Promise.all(closers.map((c) => c()));
  }

  /** The one answer per entry (the hot path then allocates nothing), rebuilt when the suspensions changed since. */
  private hit(e: CacheEntry): MemoryHit {
    let a = e.answer as MemoryHit | undefined;
    if (a === undefined || a.token.gate !== this.gate.version) {
      const token = Object.freeze({ entry: e, gate: this.gate.version });
      const record = e.record;
      a = Object.freeze(record === null ? { found: false, tier: 'memory', stale: false, token } : { found: true, record, tier: 'memory', stale: false, token });
      e.answer = a;
    }
    return a;
  }
}

/**
 * Builds a resolver over `source`. With `redis`, connects (waiting at most `connectTimeout` for it; Redis being
 * down never fails creation or resolution) and keeps the caches coherent with every other instance.
 */
export async function createResolver(opts: CreateResolverOptions): Promise<Resolver> {
  const clock = opts.clock ?? systemClock;
  const counters = new Counters();
  const cache = new MemoryCache({ ...opts.cache, clock });
  const gate = new PrefixGate(opts.source);
  await gate.reload();
  const replicated = opts.source.readAt !== undefined && opts.source.position !== undefined;
  const floors = replicated ? new ReadFloors(opts.redis !== undefined && opts.redis !== null) : null;
  const store = new StoreLayer(opts.source, clock, counters, floors);
  let below: Layer = opts.site ? new PrefixSiteLayer(store, opts.site, clock) : store;
  let recursion: RecursionLayer | null = null;
  let homes: ((key: string) => boolean) | null = null;
  if (opts.recursion) {
    const node = opts.recursion.nodePrefixKey;
    const recordKeyPrefix = `${PREFIX_RECORD_PREFIX}/`;
    homes = (key) => {
      const slash = key.indexOf('/');
      const pk = slash < 0 ? key : key.slice(0, slash);
      if (pk === PREFIX_RECORD_PREFIX) {
        // a prefix record is held here for every prefix under the node's, self-hosted ones included (their HS_SITE)
        const p = key.slice(recordKeyPrefix.length);
        return isUnderPrefix(p, node) && gate.selfHostedAncestor(p, true) === null;
      }
      return isUnderPrefix(pk, node) && gate.selfHostedAncestor(pk) === null;
    };
    const selfHosted = (key: string): boolean => {
      const slash = key.indexOf('/');
      const pk = slash < 0 ? key : key.slice(0, slash);
      const p = pk === PREFIX_RECORD_PREFIX ? key.slice(recordKeyPrefix.length) : pk;
      return isUnderPrefix(p, node) && gate.selfHostedAncestor(p, pk === PREFIX_RECORD_PREFIX) !== null;
    };
    recursion = new RecursionLayer(
      below,
      {
        ...opts.recursion,
        isLocal: homes,
        selfHosted,
        delegatingRecordKey: (p) => {
          const r = isUnderPrefix(p, node) ? gate.selfHostedAncestor(p, true) : null;
          return r === null ? null : `${recordKeyPrefix}${r}`;
        },
      },
      clock,
      counters,
    );
    below = recursion;
  }

  const r = opts.redis;
  let coherence: Coherence | null = null;
  let closers: (() => Promise<void>)[] = [];
  let clients: (RedisClient | BusSubscriber)[] = [];
  let redisLayer: RedisLayer | null = null;
  let cmdClient: ReturnType<typeof createRedisClient> | null = null;
  let unwatch = (): void => {};
  // the layers above Redis, known once built (coherence's callbacks reach them)
  const top: { memory: MemoryLayer | null; resolver: PipelineResolver | null } = { memory: null, resolver: null };
  if (r !== undefined && r !== null) {
    if (opts.source.cacheEpoch === undefined || opts.source.bumpCacheEpoch === undefined) {
      throw new Error('a shared Redis cache needs a source with a cache epoch');
    }
    const ns = r.namespace ?? 'idnode:';
    const target = parseRedisUrl(r.url);
    const nsProblem = namespaceProblem(target, ns);
    if (nsProblem !== null) throw new Error(`Redis namespace ${ns}: ${nsProblem}`);
    const connectTimeout = r.connectTimeout ?? 1000;
    const commandTimeout = r.commandTimeout ?? 250;
    const instanceId = opts.instanceId ?? defaultInstanceId();
    const name = `${ns}${instanceId}`.replace(/[^\w.:-]/g, '_');
    const conn = {
      connectTimeout,
      commandTimeout,
      ...(r.maxReconnectDelayMs !== undefined ? { maxReconnectDelayMs: r.maxReconnectDelayMs } : {}),
    };
    const cmd = createRedisClient(r.url, { ...conn, connectionName: `${name}:cmd` });
    let sub: BusSubscriber;
    clients = [cmd];
    if (isCluster(cmd)) {
      const s = new ShardSubscriber(cmd, busChannels(ns, true)[0], { ...conn, connectionName: `${name}:sub` });
      sub = s;
      clients.push(s);
      closers = [() => closeRedisClient(cmd), () => s.close()];
    } else {
      const s = createRedisClient(r.url, { ...conn, connectionName: `${name}:sub` });
      sub = s;
      clients.push(s);
      closers = [() => closeRedisClient(cmd), () => closeRedisClient(s)];
    }
    if (r.onConnectionChange !== undefined) unwatch = watchConnection(cmd, r.onConnectionChange);
    coherence = new Coherence({
      source: opts.source,
      cmd,
      sub,
      namespace: ns,
      instanceId,
      counters,
      ...(r.epochPollMs !== undefined ? { pollMs: r.epochPollMs } : {}),
      ...(r.ackTimeoutMs !== undefined ? { ackTimeoutMs: r.ackTimeoutMs } : {}),
      setLease: (until) => {
        cache.trustedUntil = until;
        floors?.setLease(until);
      },
      forgetAll: () => {
        top.memory?.forget(null);
        floors?.refloor();
      },
      setTrusting: (t) => {
        cache.setTrusting(t);
        floors?.setTrusting(t);
      },
      apply: (c) => top.resolver!.apply(c),
      reloadGate: () => gate.reload(),
    });
    const c = coherence;
    // replicated Redis: an invalidation is done once a replica has it (WAIT), within most of a command's time
    const replication = target.kind === 'standalone' ? { waitReplicas: 0, waitMs: 0 } : { waitReplicas: 1, waitMs: Math.max(10, Math.floor(commandTimeout * 0.6)) };
    redisLayer = new RedisLayer(below, cmd, ns, coherence, cache.policy, clock, counters, () => c.resetCommandConnection(), replication);
    cmdClient = cmd;
    below = redisLayer;
  }
  const memory = new MemoryLayer(new SingleFlight(below), cache, clock, counters);
  const resolver = new PipelineResolver(memory, gate, counters);
  if (recursion !== null) recursion.top = memory;
  if (homes !== null) resolver.homes = homes;
  top.memory = memory;
  top.resolver = resolver;
  if (floors !== null) {
    resolver.floors = floors;
    const source = opts.source;
    floors.follow({ position: () => source.position!(), ...(source.settledPosition ? { settledPosition: () => source.settledPosition!() } : {}) });
  }
  if (coherence !== null && redisLayer !== null && r) {
    resolver.coherence = coherence;
    resolver.closers = closers;
    resolver.clients = clients;
    resolver.unwatch = unwatch;
    coherence.start(redisLayer);
    const connectTimeout = r.connectTimeout ?? 1000;
    await Promise.all([waitReady(cmdClient!, connectTimeout), coherence.ready(connectTimeout)]);
  }
  return resolver;
}
