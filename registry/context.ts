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
