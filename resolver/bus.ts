// Cross-instance invalidation on Redis pub/sub: publish a change, every instance applies it and acks, the writer waits.
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-client.js';

/** What the bus uses of its subscriber connection: a plain connection, or a ShardSubscriber (Redis Cluster). */
export interface BusSubscriber {
  readonly status: string;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready' | 'close', listener: () => void): unknown;
  off(event: 'message', listener: (channel: string, message: string) => void): unknown;
  off(event: 'ready' | 'close', listener: () => void): unknown;
  /** SUBSCRIBE (SSUBSCRIBE for a ShardSubscriber) */
  subscribe(...channels: string[]): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
}

/** A change as it travels: handle keys, and whether suspensions changed (every instance re-reads them). */
export interface BusChange {
  keys: readonly string[];
  prefixes: boolean;
  /** the store position of the change's commit (with read replicas: resolver/read-floors.ts) */
  position?: bigint;
}

/**
 * The invalidation and ack channels. Sharded (Redis Cluster): one hash tag, so both live on one shard. Otherwise the
 * names of earlier versions, so that instances of both hear each other during a rolling upgrade.
 */
export function busChannels(namespace: string, sharded: boolean): [inv: string, ack: string] {
  return sharded ? [`{${namespace}bus}:inv`, `{${namespace}bus}:ack`] : [`${namespace}inv`, `${namespace}ack`];
}

export interface InvalidationBusOptions {
  /** command connection: PUBLISH of invalidations and acks */
  cmd: RedisClient;
  /** dedicated subscriber connection (this bus subscribes it; the caller owns and closes both connections) */
  sub: BusSubscriber;
  /**
   * Redis Cluster: PUBLISH counts only the subscribers of the node it reached, so the bus uses sharded pub/sub —
   * both channels share one slot (a hash tag), SPUBLISH goes to that slot's master and `sub` (a ShardSubscriber)
   * is subscribed there, so the count covers every instance again.
   */
  sharded?: boolean;
  namespace: string;
  instanceId: string;
  /** the longest publish() waits for acks, ms (default 1000) */
  ackTimeoutMs?: number;
  /** a change made by another instance: apply it here; the ack is sent once the returned promise settles */
  onChange(change: BusChange): Promise<void>;
  /** the subscription is (re)established: invalidations may have been missed until now */
  onSubscribed(): void;
  /** the subscription is gone: invalidations will be missed until onSubscribed */
  onUnsubscribed(): void;
  onError(e: unknown): void;
}

export interface PublishResult {
  /** subscribers PUBLISH reached (this instance included when subscribed); -1 when the publish failed */
  receivers: number;
  /** distinct instances that acknowledged */
  acks: number;
  /** every receiver acknowledged in time */
  complete: boolean;
}

interface Pending {
  needed: number;
  readonly acks: Set<string>;
  done: () => void;
}

export class InvalidationBus {
  readonly invChannel: string;
  readonly ackChannel: string;
  private readonly cmd: RedisClient;
  private readonly sub: BusSubscriber;
  private readonly sharded: boolean;
  private readonly instanceId: string;
  private readonly ackTimeoutMs: number;
  private readonly o: InvalidationBusOptions;
  private readonly pending = new Map<string, Pending>();
  private _subscribed = false;
  private closed = false;
  private subscribedWaiters: (() => void)[] = [];
  private seq = 0;
  private readonly idPrefix = randomBytes(6).toString('hex');

  constructor(o: InvalidationBusOptions) {
    this.o = o;
    this.cmd = o.cmd;
    this.sub = o.sub;
    this.instanceId = o.instanceId;
    this.ackTimeoutMs = o.ackTimeoutMs ?? 1000;
    this.sharded = o.sharded === true;
    [this.invChannel, this.ackChannel] = busChannels(o.namespace, this.sharded);
  }

  private send(channel: string, message: string): Promise<number> {
    return this.sharded ? this.cmd.spublish(channel, message).then(Number) : this.cmd.publish(channel, message);
  }

  get subscribed(): boolean {
    return this._subscribed;
  }

  /** Attaches the listeners and subscribes now if the connection is ready (else on its next 'ready'). */
  start(): void {
    this.sub.on('message', this.onMessage);
    this.sub.on('ready', this.onReady);
    this.sub.on('close', this.onClose);
    if (this.sub.status === 'ready') void this.subscribe();
  }

  /** Resolves true once subscribed, false after `timeoutMs`. */
  waitSubscribed(timeoutMs: number): Promise<boolean> {
    if (this._subscribed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.subscribedWaiters = this.subscribedWaiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.subscribedWaiters.push(w);
    });
  }

  /**
   * Tells every instance (this one included) about `change` and waits until as many instances acked as PUBLISH
   * reported receivers, or the ack timeout. Never throws.
   */
  async publish(change: BusChange): Promise<PublishResult> {
    if ((change.keys.length === 0 && !change.prefixes) || this.closed) return { receivers: 0, acks: 0, complete: true };
    if (this.cmd.status !== 'ready') {
      this.o.onError(new Error('redis not connected'));
      return { receivers: -1, acks: 0, complete: false };
    }
    const id = `${this.idPrefix}.${++this.seq}`;
    let timer: NodeJS.Timeout | undefined;
    const p: Pending = { needed: -1, acks: new Set(), done: () => {} };
    const finished = new Promise<void>((resolve) => {
      p.done = resolve;
    });
    // Registered before PUBLISH: other instances' acks can arrive (on the subscriber socket) before its reply.
    this.pending.set(id, p);
    try {
      const msg = JSON.stringify({
        id,
        origin: this.instanceId,
        keys: change.keys,
        ...(change.prefixes ? { prefixes: true } : {}),
        ...(change.position !== undefined ? { position: change.position.toString() } : {}),
      });
      timer = setTimeout(() => p.done(), this.ackTimeoutMs);
      let receivers: number;
      try {
        receivers = await this.send(this.invChannel, msg);
      } catch (e) {
        this.o.onError(e);
        return { receivers: -1, acks: p.acks.size, complete: false };
      }
      p.needed = receivers;
      if (p.acks.size >= receivers) p.done();
      await finished;
      return { receivers, acks: p.acks.size, complete: p.acks.size >= receivers };
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  /** Stops listening and releases waiting publishers; the connections are closed by their owner. */
  close(): void {
    this.closed = true;
    this.sub.off('message', this.onMessage);
    this.sub.off('ready', this.onReady);
    this.sub.off('close', this.onClose);
    for (const p of this.pending.values()) p.done();
    this.pending.clear();
    this._subscribed = false;
  }

  private readonly onReady = (): void => {
    void this.subscribe();
  };

  private readonly onClose = (): void => {
    if (!this._subscribed) return;
    this._subscribed = false;
    if (!this.closed) this.o.onUnsubscribed();
  };

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(this.invChannel, this.ackChannel);
    } catch (e) {
      this.o.onError(e);
      // A live connection without the subscription would silently miss invalidations: force a reconnect.
      if (!this.closed && this.sub.status === 'ready') this.sub.disconnect(true);
      return;
    }
    if (this.closed) return;
    this._subscribed = true;
    // Only now can no invalidation be missed; whatever was cached before may be stale.
    this.o.onSubscribed();
    const ws = this.subscribedWaiters;
    this.subscribedWaiters = [];
    for (const w of ws) w();
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel === this.invChannel) void this.onInvalidation(message);
    else if (channel === this.ackChannel) this.onAck(message);
  };

  private async onInvalidation(message: string): Promise<void> {
    let m: { id?: unknown; origin?: unknown; keys?: unknown; prefixes?: unknown; position?: unknown };
    try {
      m = JSON.parse(message) as typeof m;
    } catch (e) {
      this.o.onError(e);
      return;
    }
    if (typeof m.id !== 'string' || !Array.isArray(m.keys)) return;
    // The publisher applied its own change before publishing; it still acks, PUBLISH counted its subscriber.
    if (m.origin !== this.instanceId) {
      const keys = (m.keys as unknown[]).filter((k): k is string => typeof k === 'string');
      try {
        const change: BusChange = { keys, prefixes: m.prefixes === true };
        if (typeof m.position === 'string' && /^\d{1,20}$/.test(m.position)) change.position = BigInt(m.position);
        await this.o.onChange(change);
      } catch (e) {
        // not applied: no ack, so the publisher moves the epoch on
        this.o.onError(e);
        return;
      }
    }
    if (this.cmd.status !== 'ready') {
      this.o.onError(new Error('redis not connected (ack)'));
      return;
    }
    this.send(this.ackChannel, JSON.stringify({ id: m.id, instance: this.instanceId })).catch((e: unknown) => this.o.onError(e));
  }

  private onAck(message: string): void {
    // Every instance sees every ack; skip the ones for other publishers without parsing them.
    if (this.pending.size === 0 || !message.includes(this.idPrefix)) return;
    let m: { id?: unknown; instance?: unknown };
    try {
      m = JSON.parse(message) as typeof m;
    } catch (e) {
      this.o.onError(e);
      return;
    }
    if (typeof m.id !== 'string' || typeof m.instance !== 'string') return;
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    p.acks.add(m.instance);
    if (p.needed >= 0 && p.acks.size >= p.needed) p.done();
  }
}
