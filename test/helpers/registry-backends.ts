// Registry test backends: each suite runs on PGlite in memory and on a throw-away PostgreSQL database.
import { DEFAULT_CASE_POLICY } from '../../handle/identifier.js';
import type { RegistryChange, RegistryContext } from '../../registry/context.js';
import { openPostgresStore } from '../../registry/open.js';
import type { Store } from '../../registry/store.js';
import { openMemoryStore } from './pglite-template.js';
import { hasPostgres, tempPostgres } from './services.js';

export interface Backend {
  name: string;
  /** Opens a migrated store; `close` also drops the temporary database. */
  open: () => Promise<{ store: Store; close: () => Promise<void> }>;
}

const pglite: Backend = {
  name: 'pglite',
  open: async () => {
    const store = await openMemoryStore();
    await store.migrate();
    return { store, close: () => store.close() };
  },
};

const postgres: Backend = {
  name: 'postgres',
  open: async () => {
    const db = await tempPostgres();
    const store = await openPostgresStore(db.url, { poolSize: 4 });
    await store.migrate();
    return {
      store,
      close: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
};

/** For `describe.each`: PGlite always, PostgreSQL when DATABASE_URL is set (REQUIRE_SERVICES=1 makes it mandatory). */
export const backends: Backend[] = hasPostgres ? [pglite, postgres] : [pglite];

/** A registry context over `store` (node prefix 88.320924) that records every change announced after a commit. */
export function testContext(store: Store, now: () => Date = () => new Date()): RegistryContext & { changes: RegistryChange[] } {
  const changes: RegistryChange[] = [];
  return {
    store,
    nodePrefix: '88.320924',
    nodePrefixKey: '88.320924',
    policy: DEFAULT_CASE_POLICY,
    now,
    changes,
    events: {
      changed: async (change) => {
        changes.push({ keys: [...change.keys].sort(), prefixKeys: [...change.prefixKeys].sort() });
      },
    },
  };
}

/** A store that is not migrated yet (the suite migrates it), and how to dispose of it. */
export interface Opened {
  store: Store;
  cleanup: () => Promise<void>;
}

/** For `describe.each(storeBackends)('… on %s', (name, open) => …)`: the same two backends, unmigrated. */
export const storeBackends: [string, () => Promise<Opened>][] = [
  [
    'pglite',
    async () => {
      const store = await openMemoryStore();
      return { store, cleanup: () => store.close() };
    },
  ],
];
if (hasPostgres) {
  storeBackends.push([
    'postgres',
    async () => {
      const db = await tempPostgres();
      const store = await openPostgresStore(db.url);
      return {
        store,
        cleanup: async () => {
          await store.close();
          await db.drop();
        },
      };
    },
  ]);
}
