// Redis connections for the resolver: fail-fast commands, capped reconnect backoff, readiness, closing without hanging.
import { Redis } from 'ioredis';

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

/** The server's run id (INFO server): it changes whenever the server restarts or another server answers. */
export async function serverRunId(client: Redis): Promise<string> {
  const info = await client.info('server');
  const m = /(?:^|\n)run_id:([0-9a-zA-Z]+)/.exec(info);
  if (m === null) throw new Error('INFO server has no run_id');
  return m[1]!;
}

/**
 * Reports a connection's losses and recoveries (transitions only, not every failed reconnect): `change(false, why)`
 * when it is lost or a first connection fails, `change(true, '')` when it is ready (the first time too, unless it
 * already was when watching began: then the caller knows). Returns the unsubscriber.
 */
export function watchConnection(client: Redis, change: (up: boolean, detail: string) => void): () => void {
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
