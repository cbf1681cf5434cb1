// The failed-login counts in Redis, shared by every worker and instance on it; one process's memory while Redis is unreachable.
import { isCluster, type RedisClient } from '../resolver/redis-client.js';
import { MemoryThrottleStore, type ThrottleCount, type ThrottleStore } from '../registry/users/limiter.js';

/**
 * Each key is a Redis hash `{c: failures, t: latest ms}` under `<namespace>throttle:`, expiring `ttlMs` after its
 * latest failure. When a command fails (Redis down or slow) the counts fall back to this process's memory, so logins
 * keep working and keep being throttled, per process, until Redis is back. In a Redis Cluster every key carries the
 * hash tag `{<namespace>throttle}`, so the pipelines and MULTIs over several keys stay on one slot (failed logins
 * are few: one shard holds them all easily).
 */
export class RedisThrottleStore implements ThrottleStore {
  private readonly fallback = new MemoryThrottleStore();

  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    namespace: string,
  ) {
    this.prefix = isCluster(redis) ? `{${namespace}throttle}:` : `${namespace}throttle:`;
  }

  private key(k: string): string {
    return `${this.prefix}${k}`;
  }

  async read(keys: readonly string[], nowMs: number): Promise<(ThrottleCount | null)[]> {
    try {
      const p = this.redis.pipeline();
      for (const k of keys) p.hmget(this.key(k), 'c', 't');
      const res = (await p.exec()) ?? [];
      return keys.map((_k, i) => {
        const [err, v] = res[i] ?? [new Error('no reply'), null];
        if (err) throw err;
        const [c, t] = v as [string | null, string | null];
        return c === null || t === null ? null : { count: Number(c), lastMs: Number(t) };
      });
    } catch {
      return this.fallback.read(keys, nowMs);
    }
  }

  async hit(keys: readonly string[], nowMs: number, ttlMs: number): Promise<void> {
    try {
      const m = this.redis.multi();
      for (const k of keys) m.hincrby(this.key(k), 'c', 1).hset(this.key(k), 't', String(nowMs)).pexpire(this.key(k), ttlMs);
      await m.exec();
    } catch {
      await this.fallback.hit(keys, nowMs, ttlMs);
    }
  }

  async mark(keys: readonly string[], nowMs: number, ttlMs: number): Promise<void> {
    try {
      const m = this.redis.multi();
      for (const k of keys) m.hset(this.key(k), 'c', '0', 't', String(nowMs)).pexpire(this.key(k), ttlMs);
      await m.exec();
    } catch {
      await this.fallback.mark(keys, nowMs, ttlMs);
    }
  }

  async clear(keys: readonly string[]): Promise<void> {
    await this.fallback.clear(keys);
    try {
      await this.redis.del(...keys.map((k) => this.key(k)));
    } catch {
      // forgotten when it expires
    }
  }
}
