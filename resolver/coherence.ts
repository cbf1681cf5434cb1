// Cache coherence across instances, partitions and Redis restarts: "acknowledged by the store ⇒ never hidden by an
// older cache entry", on every instance.
//
// The store keeps a cache epoch (one row); Redis keys carry it in their names, so moving the epoch on makes every
// shared entry written before unreadable at once, whatever Redis still holds. Three rules keep every cache honest:
//  1. A write's change reaches Redis (generation bump + delete) and every subscribed instance (bus, acknowledged).
//     When either cannot be confirmed, the writer moves the epoch on and waits one lease before acknowledging the
//     write: by then every instance that can reach the store has polled the new epoch and stopped trusting what it
//     held (polls run every `pollMs`; the lease is two polls and a margin).
//  2. Redis is read only after this process has checked, since its connection last came up, that the server's run id
//     is the one the store's epoch was taken against. A restarted server (with its data or without) or another server
//     (a failover) moves the epoch on first.
//  3. The in-process cache is trusted only while the bus subscription is live; when it drops, and again when it comes
//     back, every entry held becomes stale-only (served only if the store fails) and in-flight lookups are not cached.
//  4. The lease: memory and Redis are read only until one lease after the start of the last poll of the store's epoch
//     that completed (a poll that fails because the store is out of reach counts: no write can be acknowledged then).
//     A process whose polls run late (a stalled event loop) stops answering from its caches instead of answering
//     from before a write whose writer waited out the lease.
//
// Replicated Redis (Sentinel, Cluster). Replication is asynchronous: a master that dies before passing on an
// invalidation would leave the promoted replica serving the old value under the current epoch. So there an
// invalidation counts for rule 1 only once WAIT says a replica has it (layers/redis.ts); otherwise the writer moves
// the epoch on as for any unconfirmed change. Rule 2's "server" is the master (Sentinel: the connection follows a
// failover by dropping and coming back 'ready' on the new master, whose run id differs) or, for a cluster, the set
// of masters serving the slots (a fingerprint of their run ids): any node connection coming or going stops Redis
// reads until it is verified again, and every poll re-checks it, so a failover or a restarted master moves the epoch
// on. Every poll also compares the run id the store's epoch names with the one verified here: when another instance
// has moved it to another server, this one verifies again before reading on.
import { InvalidationBus, type BusChange, type BusSubscriber } from './bus.js';
import type { Counters } from './counters.js';
import type { EpochSource, RedisLayer } from './layers/redis.js';
import { isCluster, serverRunId, type RedisClient } from './redis-client.js';
import type { CacheEpoch, RecordSource } from './types.js';

export interface CoherenceOptions {
  source: RecordSource;
  cmd: RedisClient;
  sub: BusSubscriber;
  namespace: string;
  instanceId: string;
  counters: Counters;
  /** ms between polls of the store's epoch (default 500) */
  pollMs?: number;
  /** ms a writer waits after moving the epoch on (default 2 × pollMs + 200) */
  leaseMs?: number;
  /** ms the bus waits for acks (default 1000) */
  ackTimeoutMs?: number;
  /** anything may have changed: every cached entry becomes stale-only, running lookups uncacheable */
  forgetAll(): void;
  /** whether this process may cache answers as fresh (its bus subscription is live) */
  setTrusting(trusting: boolean): void;
  /** the caches may be read as fresh until this time (Date.now(); rule 4) */
  setLease(until: number): void;
  /** another instance's change: apply it here (the ack waits for it) */
  apply(change: BusChange): Promise<void>;
  /** suspensions may have changed: re-read them */
  reloadGate(): Promise<boolean>;
}

/** A failure to reach the store at all (as opposed to one of its answers going wrong). */
function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|57P0[123]|53300)$/.test(e.code)) return true;
  return typeof e?.message === 'string' && /Connection terminated|connect ECONNREFUSED|PGlite is closed|timeout/i.test(e.message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export class Coherence implements EpochSource {
  /** the epoch Redis was verified under since the connection came up (null: not verified) */
  #epoch: number | null = null;
  /** the run id (cluster: fingerprint) the last successful verification found */
  private verifiedRunId: string | null = null;
  private rechecking = false;
  /** Date.now() time: caches may be read until then (rule 4) */
  #trustedUntil = 0;
  readonly bus: InvalidationBus;
  /** the last epoch this process saw in the store */
  private known: number | null = null;
  private verifying = 0;
  private polling = false;
  private closed = false;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | null = null;
  private redis: RedisLayer | null = null;

  /** The epoch Redis may be read and filled under now: verified since the connection came up, and within the lease. */
  get epoch(): number | null {
    return Date.now() < this.#trustedUntil ? this.#epoch : null;
  }

  private set epoch(e: number | null) {
    this.#epoch = e;
  }

  /** Renews the lease from a poll that started at `startedAt` (rule 4). */
  private renew(startedAt: number): void {
    this.#trustedUntil = startedAt + this.leaseMs;
    this.o.setLease(this.#trustedUntil);
  }

  constructor(private readonly o: CoherenceOptions) {
    this.pollMs = o.pollMs ?? 500;
    this.leaseMs = o.leaseMs ?? 2 * this.pollMs + 200;
    this.bus = new InvalidationBus({
      cmd: o.cmd,
      sub: o.sub,
      namespace: o.namespace,
      instanceId: o.instanceId,
      sharded: isCluster(o.cmd),
      ...(o.ackTimeoutMs !== undefined ? { ackTimeoutMs: o.ackTimeoutMs } : {}),
      onChange: (c) => o.apply(c),
      onSubscribed: () => {
        o.setTrusting(true);
        o.forgetAll();
        void o.reloadGate();
      },
      onUnsubscribed: () => {
        o.setTrusting(false);
        o.forgetAll();
      },
      onError: o.counters.redisError,
    });
  }

  /** Starts listening: the bus, the connection's comings and goings, the epoch poll. */
  start(redis: RedisLayer): void {
    this.redis = redis;
    this.o.setTrusting(false);
    this.bus.start();
    this.o.cmd.on('ready', this.onReady);
    this.o.cmd.on('close', this.onClose);
    if (isCluster(this.o.cmd)) {
      this.o.cmd.on('+node', this.onNodeChange);
      this.o.cmd.on('-node', this.onNodeChange);
    }
    this.o.setLease(0);
    if (this.o.cmd.status === 'ready') void this.verify();
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** Resolves once Redis is verified and the bus subscribed, or after `timeoutMs` (the node then starts without). */
  async ready(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    await this.bus.waitSubscribed(timeoutMs);
    while (this.epoch === null && Date.now() < until && !this.closed) await sleep(20);
  }

  /**
   * A committed change, already applied in this process: spread it to Redis and every instance; when that cannot be
   * confirmed, move the epoch on and wait out the lease. Never throws.
   */
  async spread(change: BusChange): Promise<void> {
    const epoch = this.epoch;
    let confirmed = epoch !== null && this.redis !== null;
    if (confirmed && change.keys.length > 0) confirmed = await this.redis!.invalidate(epoch!, change.keys);
    const pub = await this.bus.publish(change);
    if (!pub.complete) confirmed = false;
    if (!confirmed) await this.moveOn();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.o.cmd.off('ready', this.onReady);
    this.o.cmd.off('close', this.onClose);
    this.o.cmd.off('+node', this.onNodeChange);
    this.o.cmd.off('-node', this.onNodeChange);
    this.bus.close();
  }

  /** Moves the store's epoch on (retrying briefly), adopts it, and waits one lease for every poller to see it. */
  private async moveOn(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const e = await this.o.source.bumpCacheEpoch!();
        this.adopt(e);
        break;
      } catch (err) {
        this.o.counters.redisError(err);
        await sleep(100);
      }
    }
    await sleep(this.leaseMs);
  }

  /** An epoch read from the store: a new one makes everything cached stale-only and Redis keys move with it. */
  private adopt(e: CacheEpoch): void {
    // epochs only move on: a read that started before a newer one was adopted (a slow poll) changes nothing
    if (this.known !== null && e.epoch < this.known) return;
    if (this.known !== null && e.epoch !== this.known) {
      this.o.counters.epochChanges++;
      this.o.forgetAll();
      void this.o.reloadGate();
    }
    this.known = e.epoch;
    if (this.#epoch !== null) this.#epoch = e.epoch;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    const started = Date.now();
    try {
      const e = await this.o.source.cacheEpoch!();
      this.adopt(e);
      this.renew(started);
      if (this.#epoch !== null && !this.closed) {
        // another instance moved the epoch to another server (or cluster shape): verify before reading on
        if (e.redisRunId !== this.verifiedRunId) void this.verify();
        else if (isCluster(this.o.cmd)) void this.recheck();
      }
    } catch (err) {
      // the store is out of reach: no write can be acknowledged either, so the caches go on (rule 4)
      if (isUnreachable(err)) this.renew(started);
    } finally {
      this.polling = false;
    }
  }

  private readonly onReady = (): void => {
    void this.verify();
  };

  private readonly onClose = (): void => {
    this.epoch = null;
    this.verifying++;
  };

  /**
   * A cluster node connection was made or lost (a node restarted, a replica promoted, the map changed): Redis is not
   * read until the masters are verified again. Nothing has been sent on a new connection yet when this runs.
   */
  private readonly onNodeChange = (): void => {
    if (this.closed) return;
    this.epoch = null;
    const attempt = ++this.verifying;
    // several nodes come and go together: verify once they have
    setTimeout(() => {
      if (attempt === this.verifying && !this.closed && this.o.cmd.status === 'ready') void this.verify();
    }, 50).unref();
  };

  /** Cluster: the masters' fingerprint again; verified anew (the epoch moves on) when it changed. */
  private async recheck(): Promise<void> {
    if (this.rechecking) return;
    this.rechecking = true;
    const attempt = this.verifying;
    try {
      const runId = await serverRunId(this.o.cmd);
      if (runId !== this.verifiedRunId && attempt === this.verifying && !this.closed) void this.verify();
    } catch (err) {
      // a master out of reach: its slots fail on their own; the map changing will bring a verification
      this.o.counters.redisError(err);
    } finally {
      this.rechecking = false;
    }
  }

  private lastReset = 0;

  /**
   * A command timed out. Its reply may yet arrive and be matched to a later command (or never, if bytes were lost on
   * the way): drop the connection and read Redis again only after it is verified anew. At most once a second.
   */
  resetCommandConnection(): void {
    const now = Date.now();
    if (now - this.lastReset < 1000 || this.closed) return;
    this.lastReset = now;
    this.epoch = null;
    this.verifying++;
    this.o.cmd.disconnect(true);
  }

  /** Rule 2: before Redis is read again, its run id must be the one the store's epoch was taken against. */
  private async verify(): Promise<void> {
    const attempt = ++this.verifying;
    this.epoch = null;
    try {
      const runId = await serverRunId(this.o.cmd);
      const started = Date.now();
      let e = await this.o.source.cacheEpoch!();
      if (e.redisRunId !== runId) e = await this.o.source.bumpCacheEpoch!({ expectRunId: e.redisRunId, runId });
      // another instance moved it on meanwhile, against another server (a cluster map seen differently): again later
      if (e.redisRunId !== runId) throw new Error('the cache epoch was just taken against another Redis server');
      if (attempt !== this.verifying || this.closed) return;
      this.adopt(e);
      this.verifiedRunId = runId;
      this.epoch = e.epoch;
      this.renew(started);
    } catch (err) {
      this.o.counters.redisError(err);
      if (attempt !== this.verifying || this.closed) return;
      setTimeout(() => {
        if (attempt === this.verifying && !this.closed && this.o.cmd.status === 'ready') void this.verify();
      }, 500).unref();
    }
  }
}
