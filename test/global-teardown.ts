// After the whole run: delete the Redis keys the suites left under their private namespaces (idnode-t-…, t-0.…).
import { Redis } from 'ioredis';

export default function setup(): () => Promise<void> {
  return async () => {
    const url = process.env.REDIS_URL;
    if (!url) return;
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      for (const pattern of ['idnode-t-*', 't-0.*']) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== '0');
      }
    } catch {
      // a teardown that cannot reach Redis leaves the keys to their TTLs
    } finally {
      redis.disconnect();
    }
  };
}
