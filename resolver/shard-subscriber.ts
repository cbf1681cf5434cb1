// A subscriber for sharded pub/sub in a Redis Cluster: one connection to the master serving one slot, moved to the new master when the slot map says it changed.
import { EventEmitter } from 'node:events';
import type { Cluster, Redis } from 'ioredis';
import { keySlot } from './key-slot.js';
import { closeRedisClient, createNodeClient, type RedisConnectionOptions } from './redis-client.js';

/**
 * Sharded channels (SSUBSCRIBE) live on the shard that serves their slot: SPUBLISH's receiver count is complete only
 * when every subscriber is connected to that shard's master. This keeps one plain connection there, following the
 * cluster client's slot map. It has the shape the invalidation bus uses of a subscriber connection: `status`,
 * 'ready' / 'close' / 'message' events, `subscribe()` (SSUBSCRIBE) and `disconnect(reconnect)`.
 *
 * 'close' is emitted whenever the subscription may be gone: the connection dropped, the slot moved to another master,
 * or the server unsubscribed it (a node that loses a slot sends SUNSUBSCRIBE to its shard channels' subscribers).
 */
export class ShardSubscriber extends EventEmitter {
  private conn: Redis | null = null;
  private nodeKey: string | null = null;
  private closed = false;
  private readonly slot: number;

  constructor(
    private readonly cluster: Cluster,
    /** a channel of the slot to follow (every channel subscribed must share its slot) */
    channel: string,
    private readonly options: RedisConnectionOptions,
  ) {
    super();
    this.slot = keySlot(channel);
    cluster.on('refresh', this.follow);
    cluster.on('ready', this.follow);
    this.follow();
  }

  get status(): string {
    return this.conn?.status ?? 'wait';
  }

  /** the node (host:port) the subscription is on now, if any */
  get node(): string | null {
    return this.nodeKey;
  }

  async subscribe(...channels: string[]): Promise<unknown> {
    if (this.conn === null) throw new Error('no master known for the bus slot');
    return this.conn.ssubscribe(...channels);
  }

  /** Drops the connection; with `reconnect`, the slot map is read again and the slot's master connected anew. */
  disconnect(reconnect = false): void {
    const c = this.conn;
    if (!reconnect) {
      void this.close();
      return;
    }
    this.drop();
    if (c !== null) this.cluster.refreshSlotsCache();
    // the map may still name the same node for a moment: connect again a little later (or on the next refresh)
    setTimeout(this.follow, 100).unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cluster.off('refresh', this.follow);
    this.cluster.off('ready', this.follow);
    const c = this.conn;
    this.drop();
    if (c !== null) await closeRedisClient(c);
  }

  /** Connects to the slot's master as the cluster client's map has it, unless already there. */
  private readonly follow = (): void => {
    if (this.closed) return;
    const key = this.cluster.slots[this.slot]?.[0];
    if (key === undefined || key === this.nodeKey) return;
    const node = this.cluster.nodes('all').find((n) => `${n.options.host}:${n.options.port}` === key);
    const colon = key.lastIndexOf(':');
    const host = node?.options.host ?? key.slice(0, colon);
    const port = node?.options.port ?? Number(key.slice(colon + 1));
    this.drop();
    const r = this.cluster.options.redisOptions ?? {};
    const conn = createNodeClient(host, port, {
      ...this.options,
      ...(r.username !== undefined ? { username: r.username } : {}),
      ...(r.password !== undefined ? { password: r.password } : {}),
    });
    this.conn = conn;
    this.nodeKey = key;
    conn.on('ready', () => this.emit('ready'));
    conn.on('close', () => this.emit('close'));
    conn.on('smessage', (channel: string, message: string) => this.emit('message', channel, message));
    conn.on('error', (e: Error) => {
      // a SUNSUBSCRIBE pushed by the server (its node lost the slot) reaches ioredis with no command waiting for it
      if (/Last reply: sunsubscribe/i.test(e.message)) {
        this.emit('close');
        this.disconnect(true);
      }
    });
  };

  /** Forgets the current connection (its 'close' is reported once, as the subscription's end). */
  private drop(): void {
    const c = this.conn;
    if (c === null) return;
    this.conn = null;
    this.nodeKey = null;
    const wasReady = c.status === 'ready';
    c.removeAllListeners();
    c.on('error', () => {});
    c.disconnect(false);
    if (wasReady) this.emit('close');
  }
}
