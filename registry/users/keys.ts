// The node master key (node_keys 'master') and the keys derived from it: password-digest encryption and token signing.
import { hkdfSync, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RegistryContext } from '../context.js';
import type { Database } from '../db.js';
import type { Store } from '../store.js';

const NODE_KEY_NAME = 'master';

export interface Keys {
  master: Buffer;
  /** AES-256-GCM key for password_sha256_enc */
  enc: Buffer;
  /** HMAC-SHA256 key for tokens */
  token: Buffer;
}

const keyCache = new WeakMap<Store, Promise<Keys>>();
/** Keys already loaded, for code that runs inside a transaction and must not query outside it. */
const loadedKeys = new WeakMap<Store, Keys>();

/**
 * The node's 32-byte master key, kept in node_keys ('master') and created on first use. Every instance sharing the
 * database derives the same token and encryption keys from it.
 */
export async function nodeKey(ctx: RegistryContext): Promise<Buffer> {
  return (await keys(ctx)).master;
}

/** The store's keys, loaded (and the master key created) on first use; a failed load is retried by the next caller. */
export function keys(ctx: RegistryContext): Promise<Keys> {
  let p = keyCache.get(ctx.store);
  if (p === undefined) {
    const store = ctx.store;
    p = loadKeys(store.db).then((k) => {
      loadedKeys.set(store, k);
      return k;
    });
    keyCache.set(store, p);
    // a failed load (database down) is retried by the next caller
    p.catch(() => keyCache.delete(ctx.store));
  }
  return p;
}

/** The store's keys if keys() has already loaded them, without touching the database. */
export function keysIfLoaded(store: Store): Keys | undefined {
  return loadedKeys.get(store);
}

async function loadKeys(db: Kysely<Database>): Promise<Keys> {
  await db
    .insertInto('node_keys')
    .values({ name: NODE_KEY_NAME, value: randomBytes(32).toString('base64') })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('node_keys').select('value').where('name', '=', NODE_KEY_NAME).executeTakeFirstOrThrow();
  const master = Buffer.from(row.value, 'base64');
  if (master.length !== 32) throw new Error(`node_keys '${NODE_KEY_NAME}' is not 32 bytes of base64`);
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, 'idnode', info, 32));
  return { master, enc: derive('idnode password-sha256 encryption v1'), token: derive('idnode token signing v1') };
}
