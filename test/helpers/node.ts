// Starts real idnode servers for HTTP tests (PGlite in memory, or PostgreSQL + Redis) and talks to them with undici.
import { request } from 'undici';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openMemoryStore } from './pglite-template.js';
import { databaseUrl, redisNamespace, redisUrl } from './services.js';

export const ADMIN_SECRET = 'admin-secret-for-tests';
export const NODE_PREFIX = '88.320924';

export type Backend = 'pglite' | 'postgres+redis';

export interface TestServer extends RunningServer {
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  send(method: 'PUT' | 'POST' | 'DELETE' | 'HEAD' | 'GET', path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(user)}:${password}`).toString('base64')}` };
}

export const admin = () => basic(`300:0.NA/${NODE_PREFIX}`, ADMIN_SECRET);

/**
 * Starts a server; `shared` lets several servers use the same database URL and Redis namespace; `native` also
 * starts the native Handle protocol listeners on a free port (`running.native`).
 */
export async function startTestServer(
  backend: Backend,
  env: Record<string, string> = {},
  shared?: { databaseUrl: string; namespace: string },
  opts: { native?: boolean } = {},
): Promise<TestServer> {
  const base: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_PREFIX,
    ADMIN_SECRET,
    LOG_LEVEL: 'silent',
    DATA_DIR: ':memory:',
    NATIVE_PORT: '0',
  };
  if (backend === 'postgres+redis') {
    base.DATABASE_URL = shared?.databaseUrl ?? databaseUrl;
    base.REDIS_URL = redisUrl;
    base.REDIS_NAMESPACE = shared?.namespace ?? redisNamespace();
  }
  const config = loadConfig({ ...base, ...env });
  const store = config.DATABASE_URL || config.DATA_DIR !== ':memory:' ? undefined : await openMemoryStore();
  const running = await startServer(config, undefined, { logger: false, ...(opts.native ? { nativePort: 0 } : {}), ...(store ? { store } : {}) });
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const hasBody = body !== undefined;
    const res = await request(running.url + path, {
      method: method as 'GET',
      headers: hasBody && typeof body !== 'string' && !Buffer.isBuffer(body) ? { 'content-type': 'application/json', ...headers } : headers,
      body: hasBody ? (typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)) : undefined,
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json };
  };
  return Object.assign(running, {
    get: (path: string, headers?: Record<string, string>) => call('GET', path, undefined, headers),
    send: (method: 'PUT' | 'POST' | 'DELETE' | 'HEAD' | 'GET', path: string, body?: unknown, headers?: Record<string, string>) =>
      call(method, path, body, headers),
  });
}
