// Composition root: opens the store, the resolver and the services a node needs, and bootstraps the admin handle.
import { adminValue, ALL_ADMIN_PERMISSIONS } from '../handle/admin.js';
import { HandleError, RC } from '../handle/codes.js';
import { isUnderPrefix, parseHandle, parsePrefix, prefixOfPrefixRecord, prefixRecordHandle, type CasePolicy, type HandleId } from '../handle/identifier.js';
import { DEFAULT_TTL, INDEX, TYPE, type HandleValue, type SiteData } from '../handle/types.js';
import { type SiteInfo, siteInfoToJson } from '../handle/wire/site.js';
import { HandleService } from '../registry/handle-service.js';
import { openPgliteStore, openPostgresStore } from '../registry/open.js';
import { generateSecret, hashSecret, verifySecret } from '../registry/secrets.js';
import type { RegistryContext, RegistryEvents } from '../registry/context.js';
import { hiddenPrefixKeys } from '../registry/enterprises.js';
import { DEFAULT_PLAN_FILE, loadPlan, type Plan } from '../registry/plan.js';
import type { ResolvedHandle, Store } from '../registry/store.js';
import { ensureOperator } from '../registry/users/accounts.js';
import { verifyToken } from '../registry/users/tokens.js';
import { createResolver } from '../resolver/pipeline.js';
import type { Resolver, SourceRecord } from '../resolver/types.js';
import { Authenticator } from './auth.js';
import type { Config } from './config.js';
import { scopeOf } from './scope.js';
import type { NativeStats } from './native.js';
import { siteOf, type ListenerPorts } from './site.js';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface IdNode {
  config: Config;
  policy: CasePolicy;
  store: Store;
  resolver: Resolver;
  handles: HandleService;
  auth: Authenticator;
  /** what the registry services (enterprises, users, templates, identifiers) work on */
  registry: RegistryContext;
  plan: Plan;
  /** the node's own prefix, as configured and as a key */
  prefix: string;
  prefixKey: string;
  /** `0.NA/<NODE_PREFIX>`, holder of the node admin's HS_SECKEY at index 300 */
  adminHandle: string;
  isHomed(id: HandleId): boolean;
  /** This node's site: what `/api/site`, native site queries and every homed prefix record's HS_SITE say. */
  site(): SiteInfo;
  /** The ports the node actually listens on, once it does (the site lists them). */
  setListeners(ports: ListenerPorts): void;
  /** Counters of the native face while it runs (for /metrics). */
  nativeStats: (() => NativeStats) | null;
  close(): Promise<void>;
}

export const quietLogger: Logger = { info() {}, warn() {}, error() {} };

export async function openStore(config: Config): Promise<Store> {
  return config.DATABASE_URL
    ? openPostgresStore(config.DATABASE_URL, { poolSize: config.DB_POOL_SIZE })
    : openPgliteStore(config.DATA_DIR === ':memory:' ? null : config.DATA_DIR);
}

/** Opens a node on the configured store (PGlite in DATA_DIR unless DATABASE_URL) and cache tiers. */
export async function openNode(config: Config, log: Logger = quietLogger): Promise<IdNode> {
  const policy: CasePolicy = { caseSensitiveSuffix: config.CASE_SENSITIVE_SUFFIX };
  const { prefix, prefixKey } = parsePrefix(config.NODE_PREFIX);
  const plan = loadPlan(config.PLAN_FILE ?? DEFAULT_PLAN_FILE);
  const store = await openStore(config);
  let resolver: Resolver | undefined;
  try {
    await store.migrate();
    // The registry tells the caches what it changed; the resolver exists only after it, hence the late binding.
    const events: RegistryEvents = {
      handlesChanged: (keys) => resolver!.invalidate(keys),
      prefixVisibility: (prefixKey, hidden) => resolver!.setPrefixHidden(prefixKey, hidden),
    };
    const registry: RegistryContext = { store, nodePrefix: prefix, nodePrefixKey: prefixKey, policy, events, now: () => new Date() };
    const site = new PrefixRecordSite(config, prefixKey);
    resolver = await createResolver({
      source: {
        getHandle: async (key) => site.apply(key, await store.resolveHandle(key)),
        getHandles: async (keys) => (await store.resolveHandles(keys)).map((r, i) => site.apply(keys[i]!, r)),
        hiddenPrefixKeys: () => hiddenPrefixKeys(registry),
      },
      redis: config.REDIS_URL ? { url: config.REDIS_URL, namespace: config.REDIS_NAMESPACE } : null,
      cache: {
        maxBytes: config.CACHE_MAX_BYTES,
        minTtl: config.CACHE_MIN_TTL,
        maxTtl: config.CACHE_MAX_TTL,
        negativeTtl: config.CACHE_NEGATIVE_TTL,
        staleTtl: config.CACHE_STALE_TTL,
      },
    });
    const r = resolver;
    const adminId = parseHandle(prefixRecordHandle(prefix), policy);
    const isHomed = (id: HandleId) => isUnderPrefix(prefixOfPrefixRecord(id) ?? id.prefixKey, prefixKey);
    const handles = new HandleService(store, events.handlesChanged);
    let nodeRef: IdNode | undefined;
    const auth = new Authenticator(r, policy, { key: adminId.key, index: INDEX.SECKEY }, isHomed, {
      verify: (token) => verifyToken(registry, token),
      scope: (p, mode) => scopeOf(nodeRef!, p, mode),
    });
    const node: IdNode = {
      config,
      policy,
      store,
      resolver: r,
      handles,
      auth,
      registry,
      plan,
      prefix,
      prefixKey,
      adminHandle: adminId.handle,
      isHomed,
      site: () => site.info,
      setListeners: (ports) => site.setPorts(ports),
      nativeStats: null,
      async close() {
        await r.close();
        await store.close();
      },
    };
    nodeRef = node;
    const secret = await ensureAdmin(node, adminId, log);
    if (secret !== undefined) await ensureOperator(registry, config.ADMIN_USER, secret);
    return node;
  } catch (err) {
    await resolver?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}

/**
 * Every homed prefix record (`0.NA/<prefix>`) resolves with an HS_SITE value pointing at this node — built from the
 * configuration, not stored, so it follows ADVERTISED_HOST and the ports — unless the record has one of its own.
 * A client that starts from the prefix record (Handle.Net's resolver does) finds its way here.
 */
class PrefixRecordSite {
  info: SiteInfo;
  private data: SiteData;
  private readonly since = Math.floor(Date.now() / 1000);

  constructor(
    private readonly config: Config,
    private readonly prefixKey: string,
  ) {
    this.info = siteOf(config, { http: config.PORT, native: null });
    this.data = siteInfoToJson(this.info);
  }

  setPorts(ports: ListenerPorts): void {
    this.info = siteOf(this.config, ports);
    this.data = siteInfoToJson(this.info);
  }

  apply(key: string, s: ResolvedHandle | null): SourceRecord | null {
    if (s === null || !key.startsWith(PREFIX_RECORD) || !isUnderPrefix(key.slice(PREFIX_RECORD.length), this.prefixKey)) return s;
    const values = JSON.parse(s.valuesJson) as HandleValue[];
    if (values.some((v) => v.type.toUpperCase() === TYPE.SITE)) return s;
    let index = 1;
    while (values.some((v) => v.index === index)) index++;
    const site: HandleValue = {
      index,
      type: TYPE.SITE,
      data: { format: 'site', value: this.data },
      ttlType: 'relative',
      ttl: DEFAULT_TTL,
      timestamp: this.since,
      permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
      references: [],
    };
    return { handle: s.handle, values: [...values, site].sort((a, b) => a.index - b.index) };
  }
}

const PREFIX_RECORD = '0.NA/';

function secretValue(hash: string, nowSec: number): HandleValue {
  return {
    index: INDEX.SECKEY,
    type: TYPE.SECKEY,
    data: { format: 'string', value: hash },
    ttlType: 'relative',
    ttl: DEFAULT_TTL,
    timestamp: nowSec,
    permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false },
    references: [],
  };
}

/**
 * First start: create `0.NA/<NODE_PREFIX>` with HS_ADMIN (100) and a hashed HS_SECKEY (300) from ADMIN_SECRET,
 * generating and printing one secret when it is unset. Later starts with ADMIN_SECRET set rotate the secret if
 * it no longer matches.
 */
async function ensureAdmin(node: IdNode, adminId: HandleId, log: Logger): Promise<string | undefined> {
  const actor = { id: 'system' };
  const nowSec = Math.floor(Date.now() / 1000);
  const given = node.config.ADMIN_SECRET;
  const current = await node.store.getHandle(adminId.key);
  if (current === null) {
    const secret = given ?? generateSecret();
    const values = [
      adminValue(adminId.handle, INDEX.SECKEY, ALL_ADMIN_PERMISSIONS, INDEX.ADMIN, nowSec),
      secretValue(await hashSecret(secret), nowSec),
    ];
    try {
      await node.handles.create(adminId, values, false, actor);
    } catch (err) {
      if (err instanceof HandleError && err.code === RC.HANDLE_ALREADY_EXISTS) return given; // another instance won
      throw err;
    }
    if (given === undefined) {
      log.warn(
        `ADMIN_SECRET was not set: generated the node admin secret below. It is shown once; only its hash is kept.\n` +
          `  Handle clients: ${INDEX.SECKEY}:${adminId.handle}   SNMS/operator login: ${node.config.ADMIN_USER}\n` +
          `  secret ${secret}`,
      );
    } else {
      log.info(`created node admin ${INDEX.SECKEY}:${adminId.handle}`);
    }
    return secret;
  }
  if (given === undefined) return undefined;
  const seckey = current.values.find((v) => v.index === INDEX.SECKEY && v.type.toUpperCase() === TYPE.SECKEY);
  if (seckey?.data.format === 'string' && (await verifySecret(seckey.data.value, given))) return given;
  await node.handles.addValues(adminId, [secretValue(await hashSecret(given), nowSec)], true, actor);
  log.info(`ADMIN_SECRET changed: rotated the secret of ${INDEX.SECKEY}:${adminId.handle}`);
  return given;
}
