// REDIS_URL's three forms, parsed in one place: redis:// (one server), redis-sentinel:// (a master found through Sentinel), redis-cluster:// (Redis Cluster).

export interface HostPort {
  host: string;
  port: number;
}

/** Credentials for the data nodes (the master and its replicas, or every cluster node). */
interface Auth {
  username?: string;
  password?: string;
}

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | ({ kind: 'sentinel'; sentinels: HostPort[]; name: string; db: number; sentinelUsername?: string; sentinelPassword?: string } & Auth)
  | ({ kind: 'cluster'; nodes: HostPort[] } & Auth);

export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

const SCHEMES = /^(rediss?|redis-sentinel|redis-cluster):\/\//i;
const SENTINEL_PARAMS = new Set(['sentinelPassword', 'sentinelUsername', 'db']);

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new RedisUrlError(`${what} is not valid percent-encoding`);
  }
}

/** `host:port`, `host` (default port) or `[v6]:port`. */
function hostPort(s: string, defaultPort: number): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(s);
  if (m === null) throw new RedisUrlError(`"${s}" is not host:port`);
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) throw new RedisUrlError(`"${s}": the port must be 1–65535`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The URL taken apart: scheme, userinfo (raw), hosts (raw), path and query (raw). Throws on what is not a URL. */
function split(url: string): { scheme: string; userinfo: string | null; hosts: string; path: string; query: string } {
  const s = SCHEMES.exec(url);
  if (s === null) throw new RedisUrlError('a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL');
  const rest = url.slice(s[0].length);
  if (rest.includes('#')) throw new RedisUrlError('no #fragment');
  // passwords must percent-encode '/', '?' and '@' (as in any URL): the authority ends at the first '/' or '?'
  const end = rest.search(/[/?]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const tail = end < 0 ? '' : rest.slice(end);
  const at = authority.lastIndexOf('@');
  const q = tail.indexOf('?');
  return {
    scheme: s[1]!.toLowerCase(),
    userinfo: at < 0 ? null : authority.slice(0, at),
    hosts: at < 0 ? authority : authority.slice(at + 1),
    path: q < 0 ? tail : tail.slice(0, q),
    query: q < 0 ? '' : tail.slice(q + 1),
  };
}

function auth(userinfo: string | null): Auth {
  if (userinfo === null) return {};
  const colon = userinfo.indexOf(':');
  const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'the username');
  const password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1), 'the password');
  // redis://token@host (no colon) is a password to Redis, as ioredis reads it
  if (password === undefined) return user === '' ? {} : { password: user };
  return { ...(user !== '' ? { username: user } : {}), ...(password !== '' ? { password } : {}) };
}

function hostList(raw: string, defaultPort: number): HostPort[] {
  const items = raw.split(',').filter((h) => h !== '');
  if (items.length === 0) throw new RedisUrlError('name at least one host:port');
  return items.map((h) => hostPort(h, defaultPort));
}

/**
 * Parses REDIS_URL. `redis://` and `rediss://` are handed to ioredis as they are; the others:
 * `redis-sentinel://[[user]:password@]host:port,host:port/<master name>[?db=N&sentinelPassword=…&sentinelUsername=…]`
 * (default port 26379) and `redis-cluster://[[user]:password@]host:port,host:port` (default port 6379, any nodes of
 * the cluster: the others are discovered). Throws RedisUrlError with what is wrong.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const p = split(url);
  if (p.scheme === 'redis' || p.scheme === 'rediss') {
    try {
      new URL(url);
    } catch {
      throw new RedisUrlError('not a valid URL');
    }
    return { kind: 'standalone', url };
  }
  const a = auth(p.userinfo);
  const params = new URLSearchParams(p.query);
  if (p.scheme === 'redis-cluster') {
    if (p.path !== '' && p.path !== '/') throw new RedisUrlError('redis-cluster:// takes no path (a cluster has database 0 only)');
    const unknown = [...params.keys()];
    if (unknown.length > 0) throw new RedisUrlError(`redis-cluster:// takes no parameters (got ${unknown.join(', ')})`);
    return { kind: 'cluster', nodes: hostList(p.hosts, 6379), ...a };
  }
  for (const k of params.keys()) if (!SENTINEL_PARAMS.has(k)) throw new RedisUrlError(`redis-sentinel:// parameter "${k}" is not one of ${[...SENTINEL_PARAMS].join(', ')}`);
  const name = decode(p.path.replace(/^\//, ''), 'the master name');
  if (name === '' || name.includes('/')) throw new RedisUrlError('redis-sentinel:// needs the master name as its path: redis-sentinel://host:26379,host:26380/mymaster');
  const dbText = params.get('db') ?? '0';
  if (!/^\d{1,2}$/.test(dbText)) throw new RedisUrlError('db must be a database number');
  const sp = params.get('sentinelPassword');
  const su = params.get('sentinelUsername');
  return {
    kind: 'sentinel',
    sentinels: hostList(p.hosts, 26379),
    name,
    db: Number(dbText),
    ...a,
    ...(sp !== null && sp !== '' ? { sentinelPassword: sp } : {}),
    ...(su !== null && su !== '' ? { sentinelUsername: su } : {}),
  };
}

const MASK = '***';

/**
 * A redis-sentinel:// or redis-cluster:// URL with its passwords masked (the hosts, master name and other parameters
 * kept); null when `url` is not one of them or cannot be parsed (the caller then masks everything).
 */
export function redactMultiHostRedisUrl(url: string): string | null {
  let p: ReturnType<typeof split>;
  try {
    p = split(url);
    parseRedisUrl(url);
  } catch {
    return null;
  }
  if (p.scheme !== 'redis-sentinel' && p.scheme !== 'redis-cluster') return null;
  let userinfo = '';
  if (p.userinfo !== null) {
    const colon = p.userinfo.indexOf(':');
    userinfo = colon < 0 ? `${MASK}@` : `${p.userinfo.slice(0, colon)}:${MASK}@`;
  }
  const query = p.query
    .split('&')
    .filter((kv) => kv !== '')
    .map((kv) => (/^sentinelPassword=/i.test(kv) ? `sentinelPassword=${MASK}` : kv))
    .join('&');
  return `${p.scheme}://${userinfo}${p.hosts}${p.path}${query === '' ? '' : `?${query}`}`;
}

/**
 * Why `namespace` cannot prefix keys on `target`, or null when it can: Redis Cluster reads `{…}` in a key as its hash
 * tag, so a namespace holding a brace would move the value and generation keys of one handle to different slots.
 */
export function namespaceProblem(target: RedisTarget, namespace: string): string | null {
  return target.kind === 'cluster' && /[{}]/.test(namespace) ? 'with redis-cluster:// it may hold no { or } (Redis Cluster reads them as hash tags)' : null;
}
