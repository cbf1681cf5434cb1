// Redis connections for the resolver: fail-fast commands, capped reconnect backoff, readiness, closing without hanging.
import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl, type HostPort } from './redis-url.js';

/** A connection to the shared cache: one server (plain or found through Sentinel), or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Whether the client is a Redis Cluster client. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

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

/** The per-connection options every client here shares: no offline queue, no command retries, capped backoff. */
function failFast(o: RedisConnectionOptions): RedisOptions {
  const cap = o.maxReconnectDelayMs ?? 2000;
  return {
    commandTimeout: o.commandTimeout ?? 250,
    connectTimeout: o.connectTimeout ?? 1000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(cap, 50 * 2 ** Math.min(times, 16)),
    ...(o.connectionName !== undefined ? { connectionName: o.connectionName } : {}),
  };
}

/**
 * A connection that never queues or retries commands: when Redis is slow or down a command fails fast (timeout or
 * "not writeable") and the caller falls through to the store; the connection itself reconnects with capped backoff.
 * `url` is any REDIS_URL form (resolver/redis-url.ts): one server, a master found through Sentinel (followed across
 * failovers: the connection drops and comes back 'ready' on the new master), or a Redis Cluster.
 */
export function createRedisClient(url: string, o: RedisConnectionOptions = {}): RedisClient {
  const t = parseRedisUrl(url);
  const base = failFast(o);
  const cap = o.maxReconnectDelayMs ?? 2000;
  let client: RedisClient;
  if (t.kind === 'standalone') client = new Redis(url, base);
  else if (t.kind === 'sentinel') {
    client = new Redis({
      ...base,
      sentinels: t.sentinels,
      name: t.name,
      role: 'master',
      db: t.db,
      ...(t.username !== undefined ? { username: t.username } : {}),
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...(t.sentinelUsername !== undefined ? { sentinelUsername: t.sentinelUsername } : {}),
      ...(t.sentinelPassword !== undefined ? { sentinelPassword: t.sentinelPassword } : {}),
      sentinelCommandTimeout: base.connectTimeout!,
      // never null: a connection attempt that gives up on the sentinels would end the client for good
      sentinelRetryStrategy: (times: number) => Math.min(cap, 50 * 2 ** Math.min(times, 16)),
      sentinelReconnectStrategy: (times: number) => Math.min(cap, 50 * 2 ** Math.min(times, 16)),
      // a switch-master seen on a sentinel drops the connection at once, even while the old master still answers
      failoverDetector: true,
    });
  } else client = createClusterClient(t.nodes, { ...base, ...(t.username !== undefined ? { username: t.username } : {}), ...(t.password !== undefined ? { password: t.password } : {}) }, cap);
  // Connection errors are expected while Redis is down; without a listener ioredis would print each one.
  client.on('error', () => {});
  return client;
}

/**
 * A Cluster client that fails as fast as a single connection: no offline queue, no waiting retries on a lost node or
 * CLUSTERDOWN (the caller falls through to the store); MOVED is still followed at once. The slot map is re-read every
 * second, so a failover is followed within about a second of the cluster promoting a replica.
 */
function createClusterClient(nodes: HostPort[], node: RedisOptions, cap: number): Cluster {
  const options: ClusterOptions = {
    enableOfflineQueue: false,
    enableReadyCheck: true,
    clusterRetryStrategy: (times: number) => Math.min(cap, 50 * 2 ** Math.min(times, 16)),
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 0,
    retryDelayOnMoved: 0,
    maxRedirections: 4,
    slotsRefreshTimeout: node.connectTimeout ?? 1000,
    slotsRefreshInterval: 1000,
    // commands are grouped per node as they are issued (an MGET cannot span slots)
    enableAutoPipelining: true,
    redisOptions: node,
  };
  return new Cluster(nodes, options);
}

/** A plain fail-fast connection to one node (a cluster node found in the slot map). */
export function createNodeClient(host: string, port: number, o: RedisConnectionOptions & { username?: string; password?: string }): Redis {
  const client = new Redis({
    ...failFast(o),
    host,
    port,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
  });
  client.on('error', () => {});
  return client;
}

/** Resolves true once the client is ready, false after `timeoutMs` (the client keeps reconnecting). */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
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
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      // a Sentinel client's failover detector (its own connections to the sentinels) goes only with disconnect()
      if (!isCluster(client)) client.disconnect(false);
      return;
    } catch {
      // fall through
    }
  }
  client.disconnect(false);
}

function runIdOf(info: string): string {
  const m = /(?:^|\n)run_id:([0-9a-zA-Z]+)/.exec(info);
  if (m === null) throw new Error('INFO server has no run_id');
  return m[1]!;
}

/**
 * The server's run id (INFO server): it changes whenever the server restarts or another server answers (a Sentinel
 * failover). For a cluster, a fingerprint of every master's run id (`cluster:<sha1 of the sorted ids>`), taken over
 * the masters that serve the slots in the client's current map: it changes when any master restarts or a replica is
 * promoted. Throws when a master cannot be asked, does not say it is a master, or the map leaves slots unserved.
 */
export async function serverRunId(client: RedisClient): Promise<string> {
  if (!isCluster(client)) return runIdOf(await client.info('server'));
  const masters = new Set<string>();
  for (let slot = 0; slot < 16384; slot++) {
    const key = client.slots[slot]?.[0];
    if (key === undefined) throw new Error(`cluster slot ${slot} has no master in the slot map`);
    masters.add(key);
  }
  const byKey = new Map(client.nodes('all').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  const ids = await Promise.all(
    [...masters].map(async (key) => {
      const n = byKey.get(key);
      if (n === undefined) throw new Error(`cluster master ${key} has no connection yet`);
      const [info, role] = await Promise.all([n.info('server'), n.call('ROLE') as Promise<unknown[]>]);
      if (role?.[0] !== 'master') throw new Error(`cluster node ${key} is not a master any more`);
      return runIdOf(info);
    }),
  );
  return `cluster:${createHash('sha1').update(ids.sort().join(',')).digest('hex')}`;
}

/**
 * Reports a connection's losses and recoveries (transitions only, not every failed reconnect): `change(false, why)`
 * when it is lost or a first connection fails, `change(true, '')` when it is ready (the first time too, unless it
 * already was when watching began: then the caller knows). Returns the unsubscriber.
 */
export function watchConnection(client: RedisClient, change: (up: boolean, detail: string) => void): () => void {
  let up: boolean | null = client.status === 'ready' ? true : null;
  let lastError = '';
  const onError = (err: Error): void => {
    lastError = err.message || (err as { code?: string }).code || 'error';
    if (up !== false) {
      up = false;
      change(false, lastError);
    }
  };
  const onClose = (): void => {
    if (up === true) {
      up = false;
      change(false, lastError || 'connection closed');
    }
  };
  const onReady = (): void => {
    lastError = '';
    if (up !== true) change(true, '');
    up = true;
  };
  client.on('error', onError);
  client.on('close', onClose);
  client.on('ready', onReady);
  return () => {
    client.off('error', onError);
    client.off('close', onClose);
    client.off('ready', onReady);
  };
}
