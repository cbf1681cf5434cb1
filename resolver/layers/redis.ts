// The shared layer: Redis, read in one MGET per event-loop turn, filled under a generation guard, its keys named by
// the cache epoch so an entry from before a partition or a restart is never read (resolver/coherence.ts).
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TurnBatcher } from '../batch.js';
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
  private readonly gets = new TurnBatcher<string | null>(
    (keys) => (keys.length === 1 ? this.client.get(keys[0]!).then((v) => [v]) : this.client.mget(keys)),
    MGET_MAX,
  );

  constructor(
    private readonly inner: Layer,
    readonly client: Redis,
    readonly namespace: string,
    private readonly trust: EpochSource,
    private readonly policy: TtlPolicy,
    private readonly clock: Clock,
    private readonly counters: Counters,
    /** a command timed out: its reply may still come and be taken for another's, so the connection must go */
    private readonly onTimeout: () => void = () => {},
  ) {}

  private failed(e: unknown): void {
    this.counters.redisError(e);
    if (e instanceof Error && /timed? ?out/i.test(e.message)) this.onTimeout();
  }

  valueKey(epoch: number, key: string): string {
    return `${this.namespace}h:${epoch}:${key}`;
  }

  genKey(epoch: number, key: string): string {
    return `${this.namespace}g:${epoch}:${key}`;
  }

  async lookup(key: string, opts: LookupOptions): Promise<Lookup> {
    const epoch = this.trust.epoch;
    if (epoch === null || this.client.status !== 'ready') return this.inner.lookup(key, opts);
    // The generation must be read BEFORE the store read starts: that is what makes the guarded fill race-free.
    let gen: string | null;
    try {
      if (opts.authoritative !== true) {
        const payload = await this.gets.get(this.valueKey(epoch, key));
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
   * Bumps each key's generation and deletes its value under `epoch`, atomically (MULTI). False when Redis failed:
   * the caller must then make the epoch move on.
   */
  async invalidate(epoch: number, keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    if (this.client.status !== 'ready') return false;
    try {
      const m = this.client.multi();
      for (const k of keys) {
        const g = this.genKey(epoch, k);
        m.incr(g).pexpire(g, GEN_TTL_MS).del(this.valueKey(epoch, k));
      }
      const res = await m.exec();
      if (res === null) throw new Error('MULTI aborted');
      for (const [err] of res) if (err) throw err;
      return true;
    } catch (e) {
      this.failed(e);
      return false;
    }
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
      try {
        await this.client.evalsha(FILL_SHA, 2, k, g, gen, payload, ms);
      } catch (e) {
        if (!(e instanceof Error && e.message.includes('NOSCRIPT'))) throw e;
        await this.client.eval(FILL_LUA, 2, k, g, gen, payload, ms);
      }
    } catch (e) {
      this.failed(e);
    }
  }
}
