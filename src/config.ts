// The one configuration loader: the environment, validated with zod, into a typed Config.
import { isIP } from 'node:net';
import { z } from 'zod';
import { namespaceProblem, parseRedisUrl } from '../resolver/redis-url.js';
import { parseUpstreamSites } from '../resolver/remote/sites.js';
import { parseTrustProxy } from './trust-proxy.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  PORT: int(0, 65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** the IP address other nodes and clients should use to reach this one (site info: HS_SITE carries addresses) */
  ADVERTISED_HOST: z
    .string()
    .refine((s) => isIP(s) !== 0, 'an IPv4 or IPv6 address (HS_SITE carries addresses, not names)')
    .optional(),
  /** the native Handle protocol on TCP and UDP (0 = off) */
  NATIVE_PORT: int(0, 65535).default(2641),
  /** open native TCP connections at most */
  NATIVE_MAX_CONNECTIONS: int(1, 100_000).default(1024),
  /** seconds a native TCP connection may sit idle */
  NATIVE_IDLE_TIMEOUT: int(1, 3600).default(30),
  // --- native TCP abuse limits (issue 10, finding 6) ---
  /** open native TCP connections from one client address at most; default an eighth of NATIVE_MAX_CONNECTIONS */
  NATIVE_MAX_CONNECTIONS_PER_ADDRESS: int(1, 100_000).optional(),
  /** seconds a native request may take to arrive whole, from its first byte (the idle timeout restarts on every byte) */
  NATIVE_MESSAGE_TIMEOUT: int(1, 3600).default(5),
  NODE_PREFIX: z
    .string()
    .regex(/^[0-9A-Za-z]+(\.[0-9A-Za-z_-]+)*$/, 'a dot-separated prefix such as 88.320924')
    .max(64)
    .default('88.320924'),
  ADMIN_SECRET: z.string().min(8, 'at least 8 characters').max(1024).optional(),
  /** username of the operator account for the SNMS and operator faces (password: ADMIN_SECRET) */
  ADMIN_USER: z
    .string()
    .regex(/^[A-Za-z0-9_.@-]{3,50}$/, '3–50 characters of A-Z a-z 0-9 _ . @ -')
    .default('admin'),
  /** the county plan (targets per town and year); default: the shipped plan/sheyang-2022-2024.json */
  PLAN_FILE: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
    .optional(),
  /** streaming read replicas of DATABASE_URL (comma-separated postgres:// URLs): resolution reads go to them */
  DATABASE_REPLICA_URLS: z
    .string()
    .regex(/^\s*postgres(ql)?:\/\/[^,\s]+(\s*,\s*postgres(ql)?:\/\/[^,\s]+)*\s*$/, 'comma-separated postgres:// URLs')
    .optional(),
  /** redis:// or rediss:// (one server), redis-sentinel://h:26379,h:26380/<master> or redis-cluster://h:7000,h:7001 */
  REDIS_URL: z
    .string()
    .superRefine((s, ctx) => {
      try {
        parseRedisUrl(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    })
    .optional(),
  REDIS_NAMESPACE: z.string().min(1).max(64).default('idnode:'),
  DATA_DIR: z.string().min(1).default('./data'),
  DB_POOL_SIZE: int(1, 200).default(10),
  /** everything the resolution path keeps in a process: records, rendered answers, parsed-request memos */
  CACHE_MAX_BYTES: int(0, 64 * 1024 ** 3).default(128 * 1024 * 1024),
  CACHE_MIN_TTL: int(0, 86400).default(1),
  CACHE_MAX_TTL: int(1, 7 * 86400).default(3600),
  CACHE_NEGATIVE_TTL: int(0, 3600).default(60),
  CACHE_STALE_TTL: int(0, 7 * 86400).default(3600),
  CASE_SENSITIVE_SUFFIX: bool.default(false),
  BODY_LIMIT: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** HTTP worker processes (node cluster); 0 = one per core when DATABASE_URL and REDIS_URL are set, else 1 */
  WORKERS: int(0, 256).default(0),
  /** seconds a SIGTERM leaves the node serving with /readyz at 503 (so a balancer takes it out) before it closes */
  DRAIN_SECONDS: int(0, 300).default(0),
  /** how many of the workers also serve the native face (TCP and UDP on NATIVE_PORT); the others serve HTTP only */
  NATIVE_WORKERS: int(1, 256).default(1),
  // ---- password keys and the SNMS v1 login (README: "Password keys and the v1 login") ----
  /** the key file of the SNMS v1 digests; default <DATA_DIR>/password-key (created 0600 on first start) */
  PASSWORD_KEY_FILE: z.string().min(1).optional(),
  /** `off`: /identity/token/v1 is refused and no recoverable password digest is kept */
  SNMS_V1_LOGIN: z.enum(['on', 'off']).default('on'),
  /** the server's RSA private key (PEM), which signs certified native answers; default <DATA_DIR>/server-key.pem (created 0600) */
  SERVER_KEY_FILE: z.string().min(1).optional(),

  // ---- operations (issue 10): TLS, proxies, access log, waiting for PostgreSQL at start ----
  /** PEM certificate (chain) file: with TLS_KEY, the HTTP listener serves HTTPS */
  TLS_CERT: z.string().min(1).optional(),
  /** PEM private key file of TLS_CERT */
  TLS_KEY: z.string().min(1).optional(),
  /** proxies allowed to name the client in X-Forwarded-For: a hop count, or addresses/CIDRs separated by commas */
  TRUST_PROXY: z
    .string()
    .refine((s) => parseTrustProxy(s) !== undefined, 'a hop count (1, 2, …) or addresses/CIDRs separated by commas, e.g. 10.0.0.0/8,127.0.0.1')
    .optional(),
  /** one log line per HTTP request at info level: on, off, or sample:N (one request in N) */
  ACCESS_LOG: z
    .string()
    .regex(/^(on|off|sample:[1-9]\d{0,6})$/, 'on, off or sample:N (N a whole number ≥ 1)')
    .default('on'),
  /** time one HTTP request in N for the idnode_http_request_duration_seconds histogram of /metrics; 0 = off */
  LATENCY_SAMPLE: int(0, 1_000_000).default(8),
  /** seconds to keep trying PostgreSQL at start before giving up (exit 2) */
  DB_CONNECT_TIMEOUT: int(0, 3600).default(30),

  /** signed (certified) native answers per second per process at most; more are answered busy (RC 3) */
  NATIVE_SIGN_RATE: int(1, 100_000).default(400),

  // ---- recursion (issue 12): identifiers this node does not hold, resolved at their own service ----
  /** `off`: only what this node holds is answered (RC 301 for the rest, as before) */
  RECURSION: z.enum(['on', 'off']).default('on'),
  /** the national top-level node: `host:port` list (each its own site), or Handle.Net JSON of an HS_SITE value (or an array of them) */
  UPSTREAM_SITES: z
    .string()
    .superRefine((s, ctx) => {
      try {
        parseUpstreamSites(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    })
    .default(''),
  /** ms one recursive resolution may take in all (referrals and failover included) */
  RECURSION_TIMEOUT_MS: int(100, 60_000).default(5000),
  /** ms one request to one server interface may take before the next is tried */
  RECURSION_ATTEMPT_MS: int(50, 60_000).default(1500),
  /** referrals and service lookups followed at most for one identifier */
  RECURSION_MAX_DEPTH: int(1, 32).default(8),
  /** recursive resolutions running at once at most, per process (more are answered busy) */
  RECURSION_MAX_IN_FLIGHT: int(1, 100_000).default(256),
});

export type Config = z.infer<typeof schema>;

/** Every setting's name (the environment variables the node reads). */
export const SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

/** How many HTTP workers `serve` runs: WORKERS, or with 0 one per core when PostgreSQL and Redis are configured. */
export function workerCount(c: Config, cores: number): number {
  if (c.WORKERS > 0) return c.WORKERS;
  return c.DATABASE_URL && c.REDIS_URL ? Math.max(1, cores) : 1;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the settings from an environment (default: process.env); empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  if (parsed.data.CACHE_MIN_TTL > parsed.data.CACHE_MAX_TTL) {
    throw new ConfigError(['CACHE_MIN_TTL: must not exceed CACHE_MAX_TTL']);
  }
  if (parsed.data.WORKERS > 1 && (!parsed.data.DATABASE_URL || !parsed.data.REDIS_URL)) {
    // PGlite lives in one process, and workers keep their caches in step only through Redis.
    throw new ConfigError(['WORKERS: more than one worker needs DATABASE_URL (PostgreSQL) and REDIS_URL (cache invalidation)']);
  }
  if (parsed.data.DATABASE_REPLICA_URLS !== undefined && !parsed.data.DATABASE_URL) {
    throw new ConfigError(['DATABASE_REPLICA_URLS: read replicas need DATABASE_URL (their PostgreSQL primary)']);
  }
  const nsProblem = parsed.data.REDIS_URL === undefined ? null : namespaceProblem(parseRedisUrl(parsed.data.REDIS_URL), parsed.data.REDIS_NAMESPACE);
  if (nsProblem !== null) throw new ConfigError([`REDIS_NAMESPACE: ${nsProblem}`]);
  if ((parsed.data.TLS_CERT === undefined) !== (parsed.data.TLS_KEY === undefined)) {
    throw new ConfigError([`${parsed.data.TLS_CERT === undefined ? 'TLS_CERT' : 'TLS_KEY'}: set both TLS_CERT and TLS_KEY (PEM files) to serve HTTPS, or neither`]);
  }
  return parsed.data;
}

/** DATABASE_REPLICA_URLS as a list (empty when unset). */
export function replicaUrls(config: Pick<Config, 'DATABASE_REPLICA_URLS'>): string[] {
  return (config.DATABASE_REPLICA_URLS ?? '').split(',').map((u) => u.trim()).filter((u) => u !== '');
}
