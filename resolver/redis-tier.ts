// The shared Redis cache tier: resilient ioredis connections, batched one-round-trip reads, generation-guarded fills.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { TurnBatcher } from './batch.js';

export interface RedisConnectionOptions {
  /** ms before a command is failed (default 250) */
  commandTimeout?: number;
  /** ms to establish a connection (default 1000) */
  connectTimeout?: number;
  /** cap on the reconnect backoff, ms (default 2000) */
  maxReconnectDelayMs?: number;
  /** CLIENT SETNAME for the connection */
  connectionName?: string;
}

/**
 * A connection that never queues or retries commands: when Redis is slow or down a command fails fast (timeout or
 * "not writeable") and the caller falls through to the store; the connection itself reconnects with capped backoff.
 */
export function createRedisClient(url: string, o: RedisConnectionOptions = {}): Redis {
  const cap = o.maxReconnectDelayMs ?? 2000;
  const client = new Redis(url, {
    commandTimeout: o.commandTimeout ?? 250,
    connectTimeout: o.connectTimeout ?? 1000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(cap, 50 * 2 ** Math.min(times, 16)),
    ...(o.connectionName !== undefined ? { connectionName: o.connectionName } : {}),
  });
  // Connection errors are expected while Redis is down; without a listener ioredis would print each one.
  client.on('error', () => {});
  return client;
}

/** Resolves true once the client is ready, false after `timeoutMs` (the client keeps reconnecting). */
export function waitReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      resolve(ok);
    };
    const onReady = (): void => done(true);
    const onEnd = (): void => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

/** Closes a client without waiting on a dead server: QUIT when connected, otherwise drop the socket and timers. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through
    }
  }
  client.disconnect(false);
}

export type RedisRead =
  /** `payload` is the stored value (its expiry travels inside it); a hit does not read the generation */
  | { kind: 'hit'; payload: string; gen: null }
  | { kind: 'miss'; gen: string }
  | { kind: 'error' };

/** How long a generation counter outlives its last bump; it only has to outlast one reader's store read. */
const GEN_TTL_MS = 24 * 3600 * 1000;

/** KEYS: value, gen. ARGV: gen as read ('' = none), payload, ttl ms. Sets only if nobody invalidated meanwhile. */
const FILL_LUA = `local g = redis.call('GET', KEYS[2])
if (g or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;
const FILL_SHA = createHash('sha1').update(FILL_LUA).digest('hex');

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Keys per MGET at most: a larger batch goes out as several commands. */
const MGET_MAX = 256;

export class RedisTier {
  /**
   * GETs, batched: those asked for while the event loop handles one round of ready sockets go to Redis as one MGET
   * (one write, one reply, one wake-up of Redis) — under load most of what a Redis hit costs on a small machine.
   */
  private readonly gets = new TurnBatcher<string | null>(
    (keys) => (keys.length === 1 ? this.client.get(keys[0]!).then((v) => [v]) : this.client.mget(keys)),
    MGET_MAX,
  );

  constructor(
    readonly client: Redis,
    readonly namespace: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  valueKey(key: string): string {
    return `${this.namespace}h:${key}`;
  }

  genKey(key: string): string {
    return `${this.namespace}g:${key}`;
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Value, its remaining TTL and the key's generation, in one round trip. */
  async read(key: string): Promise<RedisRead> {
    if (!this.ready) return this.fail(new Error('redis not connected'));
    const vk = this.valueKey(key);
    try {
      // A hit is one GET (batched with the others of this turn), like the fastify + ioredis ceiling's. Only a miss reads the generation that the fill after
      // the store read must find unchanged (read before the store read: that is what makes the fill race-free).
      const value = await this.gets.get(vk);
      if (value !== null) return { kind: 'hit', payload: value, gen: null };
      const gen = await this.gets.get(this.genKey(key));
      return { kind: 'miss', gen: gen ?? '' };
    } catch (e) {
      return this.fail(e);
    }
  }

  /** The key's generation ('' = never bumped), or null when Redis failed. */
  async readGen(key: string): Promise<string | null> {
    if (!this.ready) {
      this.onError(new Error('redis not connected'));
      return null;
    }
    try {
      return (await this.gets.get(this.genKey(key))) ?? '';
    } catch (e) {
      this.onError(e);
      return null;
    }
  }

  /**
   * Stores `payload` for `ttlMs` unless the key's generation moved since `gen` was read (a writer invalidated it
   * after this reader's store read may have started). True if stored.
   */
  async fill(key: string, gen: string, payload: string, ttlMs: number): Promise<boolean> {
    const ms = Math.floor(ttlMs);
    if (!(ms > 0) || !this.ready) return false;
    const keys = [this.valueKey(key), this.genKey(key)] as const;
    try {
      let r: unknown;
      try {
        r = await this.client.evalsha(FILL_SHA, 2, keys[0], keys[1], gen, payload, ms);
      } catch (e) {
        if (!errMessage(e).includes('NOSCRIPT')) throw e;
        r = await this.client.eval(FILL_LUA, 2, keys[0], keys[1], gen, payload, ms);
      }
      return r === 1;
    } catch (e) {
      this.onError(e);
      return false;
    }
  }

  /** Bumps each key's generation and deletes its value, atomically (MULTI). False when Redis failed. */
  async invalidate(keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    if (!this.ready) {
      this.onError(new Error('redis not connected'));
      return false;
    }
    try {
      const m = this.client.multi();
      for (const k of keys) {
        const g = this.genKey(k);
        m.incr(g).pexpire(g, GEN_TTL_MS).del(this.valueKey(k));
      }
      const res = await m.exec();
      if (res === null) throw new Error('MULTI aborted');
      for (const [err] of res) if (err) throw err;
      return true;
    } catch (e) {
      this.onError(e);
      return false;
    }
  }

  private fail(e: unknown): RedisRead {
    this.onError(e);
    return { kind: 'error' };
  }
}
