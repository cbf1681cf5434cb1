// The shared layer: Redis, read in one MGET per event-loop turn, filled under a generation guard, its keys named by
// the cache epoch so an entry from before a partition or a restart is never read (resolver/coherence.ts).
import { createHash } from 'node:crypto';
import { TurnBatcher } from '../batch.js';
import { keySlot } from '../key-slot.js';
import { isCluster, type RedisClient } from '../redis-client.js';
import type { Clock } from '../clock.js';
import type { Counters } from '../counters.js';
import type { TtlPolicy } from '../memory-cache.js';
import { decodePayload, encodePayload, PayloadError } from '../redis-payload.js';
import { recordOf, textOf } from '../record.js';
import { RecordError } from '../../handle/record-json.js';
import type { Layer, Lookup, LookupOptions, ResolvedRecord } from '../types.js';

/** How long a generation counter outlives its last bump; it only has to outlast one reader's store read. */
const GEN_TTL_MS = 24 * 3600 * 1000;
/** Keys per MGET at most: a larger batch goes out as several commands. */
const MGET_MAX = 256;

/** KEYS: value, gen. ARGV: gen as read ('' = none), payload, ttl ms. Sets only if nobody invalidated meanwhile. */
const FILL_LUA = `local g = redis.call('GET', KEYS[2])
if (g or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;
const FILL_SHA = createHash('sha1').update(FILL_LUA).digest('hex');

/** KEYS: gen, value. ARGV: gen ttl ms. One key's invalidation, atomic on the node that holds both keys. */
const INVALIDATE_LUA = `redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1`;

/** KEYS: gen, value pairs. ARGV: gen ttl ms. The invalidation of many keys on one server, each pair as INVALIDATE_LUA. */
const INVALIDATE_MANY_LUA = `for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  redis.call('DEL', KEYS[i + 1])
end
return 1`;
const INVALIDATE_MANY_SHA = createHash('sha1').update(INVALIDATE_MANY_LUA).digest('hex');
/** Keys per invalidation script (one server) at most. */
const INVALIDATE_MANY = 1000;

/** How the layer writes to a replicated Redis (Sentinel, Cluster); absent for one server. */
export interface ReplicationOptions {
  /** an invalidation counts as done only once this many replicas have it (WAIT); 0: not asked */
  waitReplicas: number;
  /** ms WAIT waits for them (keep it under the command timeout) */
  waitMs: number;
}

/** A record's min TTL for the payload, or null when it cannot be known (corrupt stored values). */
function minTtlOf(record: ResolvedRecord | null): number | null {
  if (record === null) return null;
  try {
    return record.minTtl;
  } catch (e) {
    if (e instanceof RecordError) return null;
    throw e;
  }
}

/** The epoch the layer may read and fill under now; null while Redis is not trusted (not verified since connecting). */
export interface EpochSource {
  readonly epoch: number | null;
}

export class RedisLayer implements Layer {
  /**
   * GETs, batched: those asked for while the event loop handles one round of ready sockets go to Redis as one MGET
   * (one write, one reply, one wake-up of Redis) — under load most of what a Redis hit costs on a small machine.
   */
  private readonly gets: TurnBatcher<string | null>;
  /** keys are hash-tagged so a key's value and generation share a slot; reads go out per node, not as one MGET */
  readonly cluster: boolean;

  constructor(
    private readonly inner: Layer,
    readonly client: RedisClient,
    readonly namespace: string,
    private readonly trust: EpochSource,
    private readonly policy: TtlPolicy,
    private readonly clock: Clock,
    private readonly counters: Counters,
    /** a command timed out: its reply may still come and be taken for another's, so the connection must go */
    private readonly onTimeout: () => void = () => {},
    private readonly replication: ReplicationOptions = { waitReplicas: 0, waitMs: 0 },
  ) {
    const c = client;
    this.cluster = isCluster(c);
    // In a cluster an MGET cannot span slots: each GET is sent on its own and the client's auto-pipelining groups
    // those of one turn per node (one write per node). One server keeps the single MGET.
    this.gets = new TurnBatcher<string | null>(
      isCluster(c)
        ? (keys) => Promise.all(keys.map((k) => c.get(k)))
        : (keys) => (keys.length === 1 ? c.get(keys[0]!).then((v) => [v]) : c.mget(keys)),
      MGET_MAX,
    );
  }

  private failed(e: unknown): void {
    this.counters.redisError(e);
    if (e instanceof Error && /timed? ?out/i.test(e.message)) this.onTimeout();
  }

  /**
   * The value key. In a cluster `<ns>h{<epoch>:<key>}`: the hash tag (from the first `{` to the next `}`) is the same
   * text in the value and the generation key even when the handle holds braces, so the fill script and the
   * invalidation touch one slot (the namespace may hold no braces). One server keeps `<ns>h:<epoch>:<key>`, the
   * names instances of earlier versions read and invalidate during a rolling upgrade.
   */
  valueKey(epoch: number, key: string): string {
    return this.cluster ? `${this.namespace}h{${epoch}:${key}}` : `${this.namespace}h:${epoch}:${key}`;
  }

  genKey(epoch: number, key: string): string {
    return this.cluster ? `${this.namespace}g{${epoch}:${key}}` : `${this.namespace}g:${epoch}:${key}`;
  }

  async lookup(key: string, opts: LookupOptions): Promise<Lookup> {
    const epoch = this.trust.epoch;
    if (epoch === null || this.client.status !== 'ready') return this.inner.lookup(key, opts);
    // The generation must be read BEFORE the store read starts: that is what makes the guarded fill race-free.
    let gen: string | null;
    try {
      if (opts.authoritative !== true) {
        const payload = await this.gets.get(this.valueKey(epoch, key));
        // a cluster node came or went while the read was out (it may have been redirected there): not trusted
        if (this.cluster && this.trust.epoch !== epoch) throw new Error('the cluster changed during the read');
        if (payload !== null) {
          const hit = this.fromPayload(key, payload);
          if (hit !== null) return hit;
        } else this.counters.redisMisses++;
      }
      gen = (await this.gets.get(this.genKey(epoch, key))) ?? '';
    } catch (e) {
      this.failed(e);
      gen = null;
    }
    const r = await this.inner.lookup(key, opts);
    if (gen !== null && r.cacheable) {
      const ttlMs = this.policy.ttlFor(r.record) * 1000;
      const payload = encodePayload(r.record === null ? null : textOf(r.record), this.clock.now() + ttlMs, minTtlOf(r.record));
      await this.fill(epoch, key, gen, payload, ttlMs);
    }
    return r;
  }

  forget(keys: readonly string[] | null): void {
    this.inner.forget(keys);
  }

  /**
   * Bumps each key's generation and deletes its value under `epoch`. False when Redis failed or (replicated Redis)
   * a node could not confirm that a replica has it: the caller must then make the epoch move on, since a replica
   * promoted without it would serve the old value under the current epoch.
   */
  async invalidate(epoch: number, keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    const client = this.client;
    if (client.status !== 'ready') return false;
    if (isCluster(client) || this.replication.waitReplicas > 0) return this.invalidateReplicated(epoch, keys);
    try {
      // one script per INVALIDATE_MANY keys (each key's bump and delete atomic, as the script runs whole): a bulk
      // write's thousands of keys are a handful of commands, not three apiece (a MULTI of 6 000 commands cost a bulk
      // registration with Redis about a third of its rate)
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < keys.length; i += INVALIDATE_MANY) {
        const args: (string | number)[] = [];
        const chunk = keys.slice(i, i + INVALIDATE_MANY);
        for (const k of chunk) args.push(this.genKey(epoch, k), this.valueKey(epoch, k));
        calls.push(this.evalScript(INVALIDATE_MANY_SHA, INVALIDATE_MANY_LUA, args.length, [...args, GEN_TTL_MS]));
      }
      await Promise.all(calls);
      return true;
    } catch (e) {
      this.failed(e);
      return false;
    }
  }

  /**
   * One script per key (generation and value share a slot), sent as one pipeline per node and followed on the same
   * connection by WAIT: the node answers once `waitReplicas` replicas have everything it wrote before, this included.
   */
  private async invalidateReplicated(epoch: number, keys: readonly string[]): Promise<boolean> {
    const groups = new Map<string, string[]>();
    if (isCluster(this.client)) {
      const slots = this.client.slots;
      for (const k of keys) {
        const node = slots[keySlot(this.genKey(epoch, k))]?.[0];
        if (node === undefined) return this.failedInvalidation(new Error('cluster slot map incomplete'));
        const g = groups.get(node);
        if (g === undefined) groups.set(node, [k]);
        else g.push(k);
      }
    } else groups.set('', [...keys]);
    const want = this.replication.waitReplicas;
    try {
      const done = await Promise.all(
        [...groups.values()].map(async (group) => {
          const p = this.client.pipeline();
          for (const k of group) p.eval(INVALIDATE_LUA, 2, this.genKey(epoch, k), this.valueKey(epoch, k), GEN_TTL_MS);
          if (want > 0) p.wait(want, this.replication.waitMs);
          const res = await p.exec();
          if (res === null) throw new Error('pipeline aborted');
          for (const [err] of res) if (err) throw err;
          return want === 0 || Number(res[res.length - 1]![1]) >= want;
        }),
      );
      if (done.every(Boolean)) return true;
      this.counters.redisError(new Error(`an invalidation reached fewer than ${want} replica(s) in ${this.replication.waitMs} ms`));
      return false;
    } catch (e) {
      return this.failedInvalidation(e);
    }
  }

  private failedInvalidation(e: unknown): false {
    this.failed(e);
    return false;
  }

  /** A Redis hit as a lookup; null (a miss: read the store and overwrite it) when the payload is unreadable. */
  private fromPayload(key: string, payload: string): Lookup | null {
    let d: ReturnType<typeof decodePayload>;
    try {
      d = decodePayload(payload);
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      this.counters.redisError(e);
      return null;
    }
    this.counters.redisHits++;
    const record = d.text === null ? null : recordOf(d.text, key, Math.floor(this.clock.now() / 1000), d.minTtl);
    return { record, tier: 'redis', stale: false, expiresAt: d.expiresAt, cacheable: true };
  }

  /** Stores `payload` for `ttlMs` unless the key's generation moved since `gen` was read. */
  private async fill(epoch: number, key: string, gen: string, payload: string, ttlMs: number): Promise<void> {
    const ms = Math.floor(ttlMs);
    if (!(ms > 0) || this.client.status !== 'ready') return;
    const k = this.valueKey(epoch, key);
    const g = this.genKey(epoch, key);
    try {
      await this.evalScript(FILL_SHA, FILL_LUA, 2, [k, g, gen, payload, ms]);
    } catch (e) {
      this.failed(e);
    }
  }

  /** EVALSHA, and EVAL when the server does not hold the script yet (a restarted or new server). */
  private async evalScript(sha: string, lua: string, numKeys: number, args: (string | number)[]): Promise<unknown> {
    try {
      return await this.client.evalsha(sha, numKeys, ...args);
    } catch (e) {
      if (!(e instanceof Error && e.message.includes('NOSCRIPT'))) throw e;
      return this.client.eval(lua, numKeys, ...args);
    }
  }
}
