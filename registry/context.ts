// What registry services share: the store, the node's prefix and case policy, the clock, and the change events
// through which caches everywhere follow what the registry wrote.
import type { CasePolicy } from '../handle/identifier.js';
import type { Role } from './db.js';
import type { Store } from './store.js';
import type { LoginThrottle } from './users/limiter.js';

/** What one committed transaction changed: handles (canonical keys), and prefixes whose visibility changed. */
export interface RegistryChange {
  keys: string[];
  prefixKeys: string[];
}

export interface RegistryEvents {
  /** Called once after a commit that changed handles or suspensions; resolves when every cache has followed. */
  changed(change: RegistryChange): Promise<void>;
}

export interface RegistryContext {
  store: Store;
  /** NODE_PREFIX as configured, and its key */
  nodePrefix: string;
  nodePrefixKey: string;
  policy: CasePolicy;
  events: RegistryEvents;
  /** injected for tests; default `() => new Date()` */
  now: () => Date;
  /** failed-login throttle shared by workers and instances (src/node.ts composes it); absent: one per store in memory */
  loginThrottle?: LoginThrottle;
  /**
   * The keys of the stored SNMS v1 digests (users.password_sha256_enc), kept outside the database (src/key-file.ts);
   * null: the v1 login is off and no digest is kept. Unset (registry tests): a throw-away in-memory key per store.
   */
  passwordDigests?: DigestVault | null;
}

/** Encrypts and decrypts SNMS v1 digests under keys the database never holds (registry/users/keys.ts). */
export interface DigestVault {
  /** `<key id>:<iv>.<tag>.<ciphertext>` under the newest key */
  encrypt(digest: string): string;
  /** the digest, or null when the stored text does not decrypt under any key at hand */
  decrypt(stored: string): string | null;
  /** the ids of the keys at hand, newest last */
  keyIds(): string[];
}

/** An authenticated user of the SNMS and operator faces (from a token). */
export interface Principal {
  userId: number;
  username: string;
  role: Role;
  /** set for role `enterprise` */
  enterpriseId: number | null;
}

/** An expected failure of a registry operation: the faces turn it into their own format (SNMS status -2/-3). */
export class RegistryError extends Error {
  constructor(
    readonly kind: 'invalid' | 'conflict' | 'not-found' | 'forbidden' | 'locked',
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}
