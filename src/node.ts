// Composition root: opens the store, the registry context, the resolver over the registry's reads, the site and the
// plan, and bootstraps the node admin. The server hands each face the parts it needs, and nothing else.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseHandle, parsePrefix, type CasePolicy, type HandleId } from '../handle/identifier.js';
import { isHomed } from '../registry/access.js';
import { ensureNodeAdmin } from '../registry/bootstrap.js';
import { bumpCacheEpoch, readCacheEpoch } from '../registry/cache-epoch.js';
import type { RegistryContext } from '../registry/context.js';
import { hiddenPrefixKeys } from '../registry/enterprises.js';
import { selfHostedPrefixKeys } from '../registry/prefix-hosting.js';
import { openPgliteStore, openPostgresStore } from '../registry/open.js';
import { DEFAULT_PLAN_FILE, loadPlan, type Plan } from '../registry/plan.js';
import { primaryPosition, ReplicaReads } from '../registry/replicas.js';
import type { Store } from '../registry/store.js';
import { ensureOperator } from '../registry/users/accounts.js';
import { LoginThrottle, MemoryThrottleStore } from '../registry/users/limiter.js';
import { prepareDigests } from '../registry/users/digests.js';
import { digestVault } from '../registry/users/keys.js';
import { verifyToken } from '../registry/users/tokens.js';
import { createResolver } from '../resolver/pipeline.js';
import { parseUpstreamSites } from '../resolver/remote/sites.js';
import { createRedisClient } from '../resolver/redis-client.js';
import type { RecordSource, Resolver } from '../resolver/types.js';
import { replicaUrls, workerCount, type Config } from './config.js';
import { Credentials } from './credentials.js';
import { openKeyFile, passwordKeyFilePath } from './key-file.js';
import { RedisConnectionLog } from './redis-log.js';
import { openServerKey, type ServerKey } from './server-key.js';
import { NodeSite } from './site.js';
import { waitForStore } from './startup.js';
import { RedisThrottleStore } from './throttle-redis.js';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/**
 * Whether the node answers resolutions of `id` at all: what it homes (self-hosted enterprise prefixes included: the
 * resolver asks their node), and with recursion on and an upstream configured anything else too (the resolver finds
 * the service). Writes stay limited to what it homes.
 */
export function resolvable(node: Pick<Node, 'config' | 'registry'>, id: HandleId): boolean {
  return isHomed(node.registry, id) || (node.config.RECURSION === 'on' && node.config.UPSTREAM_SITES.trim() !== '');
}

/** The parts of a running node. */
export interface Node {
  config: Config;
  policy: CasePolicy;
  store: Store;
  /** what the registry's services work on */
  registry: RegistryContext;
  resolver: Resolver;
  credentials: Credentials;
  site: NodeSite;
  /** the key that signs certified native answers (its public half is in the site) */
  serverKey: ServerKey;
  plan: Plan;
  /** the read replicas (DATABASE_REPLICA_URLS), null without */
  replicas: ReplicaReads | null;
  /** the shared cache's connection: 'off' without REDIS_URL */
  redisState(): 'ready' | 'down' | 'off';
  /** the HTTP processes serving this node (WORKERS, as `idnode serve` forks them; 1 when this process is the only one) */
  workers: number;
  close(): Promise<void>;
}

export const quietLogger: Logger = { info() {}, warn() {}, error() {} };

/**
 * Of CACHE_MAX_BYTES, the share the faces' memos of parsed requests get (half for HTTP, half for the native face);
 * the in-process cache (records and the answers rendered from them) gets the rest. A memo entry costs some 400
 * bytes, so the default budget remembers some 40,000 distinct requests per face.
 */
export const MEMO_SHARE = 1 / 4;
/**
 * The memos get at least this much whatever CACHE_MAX_BYTES says (a fixed part of the process, like its code): with
 * a small budget, or none (CACHE_MAX_BYTES=0 turns the record cache off), requests are still parsed once.
 */
export const MEMO_FLOOR_BYTES = 32 * 1024 * 1024;

/** The bytes the faces' request memos may hold together. */
export function memoBytes(config: Pick<Config, 'CACHE_MAX_BYTES'>): number {
  return Math.max(MEMO_FLOOR_BYTES, Math.floor(config.CACHE_MAX_BYTES * MEMO_SHARE));
}

export async function openStore(config: Config): Promise<Store> {
  return config.DATABASE_URL
    ? openPostgresStore(config.DATABASE_URL, { poolSize: config.DB_POOL_SIZE })
    : openPgliteStore(config.DATA_DIR === ':memory:' ? null : config.DATA_DIR);
}

/**
 * The resolver's view of the registry: batched reads of records (from the read replicas when there are any), the
 * suspensions, the cache epoch.
 */
function recordSource(registry: RegistryContext, replicas: ReplicaReads | null): RecordSource {
  const store = registry.store;
  const source: RecordSource = {
    read: (keys) => (keys.length === 1 ? store.resolveHandle(keys[0]!).then((r) => [r]) : store.resolveHandles(keys)),
    hiddenPrefixKeys: () => hiddenPrefixKeys(registry),
    selfHostedPrefixKeys: () => selfHostedPrefixKeys(registry),
    cacheEpoch: () => readCacheEpoch(store),
    bumpCacheEpoch: (o) => bumpCacheEpoch(store, o),
  };
  if (replicas !== null) {
    source.readAt = (keys, atLeast) => replicas.read(keys, atLeast, store);
    source.position = () => primaryPosition(store);
    source.settledPosition = () => replicas.settled();
  }
  return source;
}

/**
 * Opens a node on the configured store (PGlite in DATA_DIR unless DATABASE_URL) and cache tiers; `store`, one the
 * caller opened, is used instead (and closed with the node).
 */
export async function openNode(config: Config, log: Logger = quietLogger, opened?: Store): Promise<Node> {
  const policy: CasePolicy = { caseSensitiveSuffix: config.CASE_SENSITIVE_SUFFIX };
  const { prefix, prefixKey } = parsePrefix(config.NODE_PREFIX);
  const plan = loadPlan(config.PLAN_FILE ?? DEFAULT_PLAN_FILE);
  let serverKey: ServerKey;
  try {
    serverKey = await openServerKey(config);
  } catch (err) {
    await opened?.close().catch(() => {});
    throw err;
  }
  if (serverKey.warning !== null) log.warn(serverKey.warning);
  if (serverKey.created) log.info(`created the server key ${serverKey.path} (mode 0600): back it up; clients verify certified answers with its public key`);
  const store = opened ?? (await openStore(config));
  const urls = store.kind === 'postgres' ? replicaUrls(config) : [];
  const replicas = urls.length > 0 ? new ReplicaReads(urls, { poolSize: Math.max(2, Math.ceil(config.DB_POOL_SIZE / 2)) }) : null;
  let resolver: Resolver | undefined;
  // Failed logins (SNMS accounts and Basic-auth credentials) are counted where every worker and instance sees them:
  // Redis when configured (WORKERS > 1 requires it); otherwise there is one process, and its memory is enough.
  const throttleRedis = config.REDIS_URL ? createRedisClient(config.REDIS_URL, { connectionName: 'idnode-throttle' }) : null;
  const loginThrottle = new LoginThrottle(
    throttleRedis ? new RedisThrottleStore(throttleRedis, config.REDIS_NAMESPACE) : new MemoryThrottleStore(),
    {},
    (msg) => log.warn(msg),
  );
  const redisLog = config.REDIS_URL ? new RedisConnectionLog(config.REDIS_URL, log) : null;
  // the shared cache's connection as the resolver reports it (its first ready included), for /readyz
  let redisUp = false;
  const onRedisChange = (up: boolean, detail: string): void => {
    redisUp = up;
    redisLog?.change(up, detail);
  };
  try {
    // a PostgreSQL still starting (or restarting) is waited for, DB_CONNECT_TIMEOUT seconds at most
    if (store.kind === 'postgres') await waitForStore(store, config, log);
    await store.migrate();
    // The registry tells the caches what it changed; the resolver exists only after it, hence the late binding.
    const registry: RegistryContext = {
      store,
      nodePrefix: prefix,
      nodePrefixKey: prefixKey,
      policy,
      events: { changed: (c) => resolver!.invalidate({ keys: c.keys, prefixKeys: c.prefixKeys }) },
      now: () => new Date(),
      loginThrottle,
    };
    await preparePasswordKeys(config, registry, log);
    const site = new NodeSite(config, serverKey.publicKeyBytes);
    const r = await createResolver({
      source: recordSource(registry, replicas),
      redis: config.REDIS_URL
        ? { url: config.REDIS_URL, namespace: config.REDIS_NAMESPACE, onConnectionChange: onRedisChange }
        : null,
      cache: {
        maxBytes: Math.max(0, config.CACHE_MAX_BYTES - Math.floor(config.CACHE_MAX_BYTES * MEMO_SHARE)),
        minTtl: config.CACHE_MIN_TTL,
        maxTtl: config.CACHE_MAX_TTL,
        negativeTtl: config.CACHE_NEGATIVE_TTL,
        staleTtl: config.CACHE_STALE_TTL,
      },
      site: { nodePrefixKey: prefixKey, siteData: () => site.json, serverKey: () => serverKey.json },
      recursion: {
        enabled: config.RECURSION === 'on',
        nodePrefixKey: prefixKey,
        upstream: parseUpstreamSites(config.UPSTREAM_SITES),
        keyOf: (handle) => {
          try {
            return parseHandle(handle, policy).key;
          } catch {
            return null;
          }
        },
        timeoutMs: config.RECURSION_TIMEOUT_MS,
        attemptMs: config.RECURSION_ATTEMPT_MS,
        maxDepth: config.RECURSION_MAX_DEPTH,
        maxInFlight: config.RECURSION_MAX_IN_FLIGHT,
      },
    });
    resolver = r;
    const credentials = new Credentials({ resolver: r, policy, verifyToken: (token) => verifyToken(registry, token), throttle: loginThrottle });
    const admin = await ensureNodeAdmin(registry, config.ADMIN_SECRET);
    if (admin.outcome === 'created' && admin.generated) {
      log.warn(
        `ADMIN_SECRET was not set: generated the node admin secret below. It is shown once; only its hash is kept.\n` +
          `  Handle clients: 300:0.NA/${prefix}   SNMS/operator login: ${config.ADMIN_USER}\n` +
          `  secret ${admin.secret}`,
      );
    } else if (admin.outcome === 'created') log.info(`created node admin 300:0.NA/${prefix}`);
    else if (admin.outcome === 'rotated') log.info(`ADMIN_SECRET changed: rotated the secret of 300:0.NA/${prefix}`);
    if (admin.outcome !== 'kept') await ensureOperator(registry, config.ADMIN_USER, admin.secret);
    return {
      config,
      policy,
      store,
      registry,
      resolver: r,
      credentials,
      site,
      serverKey,
      plan,
      replicas,
      redisState: () => (config.REDIS_URL ? (redisUp ? 'ready' : 'down') : 'off'),
      workers: cluster.isWorker ? workerCount(config, availableParallelism()) : 1,
      async close() {
        redisLog?.close();
        await r.close();
        throttleRedis?.disconnect();
        await replicas?.close();
        await store.close();
      },
    };
  } catch (err) {
    throttleRedis?.disconnect();
    redisLog?.close();
    await resolver?.close().catch(() => {});
    await replicas?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}

/**
 * The keys of the SNMS v1 digests, outside the database: none with SNMS_V1_LOGIN=off (stored digests are dropped);
 * else the key file (PASSWORD_KEY_FILE, or <DATA_DIR>/password-key, created 0600 on first start), or for a throw-away
 * node (DATA_DIR=:memory:, no PASSWORD_KEY_FILE) a key in memory. Moves digests off the legacy in-database key. A start
 * whose key file lacks keys that stored rows name is refused (a throw-away node only warns): those v1 logins would fail.
 */
async function preparePasswordKeys(config: Config, registry: RegistryContext, log: Logger): Promise<void> {
  if (config.SNMS_V1_LOGIN === 'off') {
    registry.passwordDigests = null;
    const r = await prepareDigests(registry, null);
    if (r.cleared > 0) log.info(`SNMS_V1_LOGIN=off: dropped the v1 digests of ${r.cleared} users (they log in with /identity/token)`);
    return;
  }
  const path = passwordKeyFilePath(config);
  const file = path === null ? null : openKeyFile(path);
  if (file?.warning) log.warn(file.warning);
  if (file !== null) registry.passwordDigests = file.ring;
  // path null: the registry's in-memory key for this store
  const r = await prepareDigests(registry, digestVault(registry));
  if (file?.created) log.info(`created the password key file ${file.path} (mode 0600): back it up apart from the database`);
  if (r.legacyKeyDeleted) log.info(`moved ${r.migrated} v1 digests to the key file and deleted the old key from the database`);
  const missing = Object.entries(r.missing);
  if (missing.length === 0) return;
  const n = missing.reduce((a, [, c]) => a + c, 0);
  const message =
    `${n} users have SNMS v1 digests under key(s) ${missing.map(([id]) => id).join(', ')}, which ` +
    `${file === null ? 'this throw-away node (DATA_DIR=:memory:) does not have' : `${file.path} does not hold`}: their /identity/token/v1 logins fail. ` +
    'Give every instance the same key file (copy it from the instance that made those rows, or set PASSWORD_KEY_FILE to a shared one), ' +
    'or start once with SNMS_V1_LOGIN=off to drop the digests (users log in with /identity/token; a password change makes a new digest).';
  if (file === null) log.warn(message);
  else throw new Error(message);
}
