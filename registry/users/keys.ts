// The node's keys: the v1-digest keyring (kept outside the database, several keys with ids) and the token signing key.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DigestVault, RegistryContext } from '../context.js';
import type { Database } from '../db.js';
import type { Store } from '../store.js';

/** node_keys row of the token signing key (random, or derived from the legacy master key it replaces). */
const TOKEN_KEY_NAME = 'token';
/** node_keys row of the legacy master key: both keys were derived from it; it leaves the database at start. */
export const LEGACY_MASTER_NAME = 'master';

export interface Keys {
  /** HMAC-SHA256 key for tokens */
  token: Buffer;
}

/** One digest key: a short id (recorded in every row it encrypts) and 32 bytes. */
export interface DigestKey {
  id: string;
  key: Buffer;
}

const KEY_ID_RE = /^[0-9a-z]{1,32}$/;

/** A new digest key with a random id (random, so keys made apart never share an id). */
export function newDigestKey(): DigestKey {
  return { id: randomBytes(4).toString('hex'), key: randomBytes(32) };
}

export function isDigestKeyId(id: string): boolean {
  return KEY_ID_RE.test(id);
}

/** The AES-256-GCM key the legacy master key derived for password_sha256_enc (rows without a key id). */
export function legacyDigestKey(master: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, 'idnode', 'idnode password-sha256 encryption v1', 32));
}

function legacyTokenKey(master: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, 'idnode', 'idnode token signing v1', 32));
}

/** AES-256-GCM of a digest: `iv.tag.ct` (base64). */
export function sealDigest(key: Buffer, digest: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(digest, 'utf8'), cipher.final()]);
  return `${iv.toString('base64')}.${cipher.getAuthTag().toString('base64')}.${ct.toString('base64')}`;
}

/** The digest back from `iv.tag.ct`, or null when it does not decrypt under `key`. */
export function openDigest(key: Buffer, sealed: string): string | null {
  const parts = sealed.split('.');
  if (parts.length !== 3) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[0]!, 'base64'));
    decipher.setAuthTag(Buffer.from(parts[1]!, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(parts[2]!, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** The key id a stored digest names (`<id>:…`); null for a legacy row (no id) or an empty one (v1 off). */
export function digestKeyId(stored: string): string | null {
  const colon = stored.indexOf(':');
  return colon > 0 ? stored.slice(0, colon) : null;
}

/**
 * The digest keys at hand, newest last. New encryptions use the newest; a row names its key. `reload` (the key file
 * read again) is tried when a row names a key not at hand — a rotation made by `idnode rotate-password-key` while
 * this process runs — at most once every few seconds.
 */
export class DigestKeyring implements DigestVault {
  #keys: DigestKey[];
  #lastReload = 0;

  constructor(
    keys: readonly DigestKey[],
    private readonly reload?: () => DigestKey[],
  ) {
    if (keys.length === 0) throw new Error('a digest keyring needs at least one key');
    this.#keys = [...keys];
  }

  keyIds(): string[] {
    return this.#keys.map((k) => k.id);
  }

  encrypt(digest: string): string {
    const k = this.#keys[this.#keys.length - 1]!;
    return `${k.id}:${sealDigest(k.key, digest)}`;
  }

  decrypt(stored: string): string | null {
    const id = digestKeyId(stored);
    if (id === null) return null;
    let k = this.#keys.find((x) => x.id === id);
    if (k === undefined && this.reload !== undefined && Date.now() - this.#lastReload > 5_000) {
      this.#lastReload = Date.now();
      try {
        const fresh = this.reload();
        if (fresh.length > 0) this.#keys = fresh;
      } catch {
        // the file unreadable for a moment: keep the keys at hand
      }
      k = this.#keys.find((x) => x.id === id);
    }
    return k === undefined ? null : openDigest(k.key, stored.slice(id.length + 1));
  }
}

const ephemeral = new WeakMap<Store, DigestKeyring>();

/**
 * The digest vault of a context: the configured one, null when the v1 login is off, or (a context built without one:
 * registry tests, throw-away stores) an in-memory key of its own per store.
 */
export function digestVault(ctx: RegistryContext): DigestVault | null {
  if (ctx.passwordDigests !== undefined) return ctx.passwordDigests;
  let ring = ephemeral.get(ctx.store);
  if (ring === undefined) {
    ring = new DigestKeyring([newDigestKey()]);
    ephemeral.set(ctx.store, ring);
  }
  return ring;
}

const keyCache = new WeakMap<Store, Promise<Keys>>();

/** The store's token key, loaded (created on first use) once; a failed load is retried by the next caller. */
export function keys(ctx: RegistryContext): Promise<Keys> {
  let p = keyCache.get(ctx.store);
  if (p === undefined) {
    const store = ctx.store;
    p = loadTokenKey(store.db).then((token) => ({ token }));
    keyCache.set(store, p);
    // a failed load (database down) is retried by the next caller
    p.catch(() => keyCache.delete(store));
  }
  return p;
}

/**
 * node_keys 'token': created random on first use — or, on a database from before the key file, derived from the
 * legacy master key exactly as before, so tokens already issued stay valid when the master key leaves.
 */
async function loadTokenKey(db: Kysely<Database>): Promise<Buffer> {
  const read = async (name: string) => (await db.selectFrom('node_keys').select('value').where('name', '=', name).executeTakeFirst())?.value;
  let value = await read(TOKEN_KEY_NAME);
  if (value === undefined) {
    const master = await read(LEGACY_MASTER_NAME);
    const token = master === undefined ? randomBytes(32) : legacyTokenKey(Buffer.from(master, 'base64'));
    await db
      .insertInto('node_keys')
      .values({ name: TOKEN_KEY_NAME, value: token.toString('base64') })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    value = await read(TOKEN_KEY_NAME);
  }
  const key = Buffer.from(value ?? '', 'base64');
  if (key.length !== 32) throw new Error(`node_keys '${TOKEN_KEY_NAME}' is not 32 bytes of base64: delete the row (tokens issued so far stop working) and start again`);
  return key;
}

/** Makes sure the token key exists (derived from the legacy master key while that is still there). */
export async function ensureTokenKey(ctx: RegistryContext): Promise<void> {
  await keys(ctx);
}
