// Registry test backends: each suite runs on PGlite in memory and on a throw-away PostgreSQL database.
import { afterAll, beforeAll } from 'vitest';
import { DEFAULT_CASE_POLICY } from '../../handle/identifier.js';
import type { RegistryChange, RegistryContext } from '../../registry/context.js';
import { openPostgresStore } from '../../registry/open.js';
import type { Actor, HandleRef, Store } from '../../registry/store.js';
import { openMemoryStore } from './pglite-template.js';
import { hasPostgres, tempPostgres } from './services.js';

export interface Backend {
  name: string;
  /** Opens a migrated store; `close` also drops the temporary database. */
  open: () => Promise<{ store: Store; close: () => Promise<void>; url?: string }>;
}

const pglite: Backend = {
  name: 'pglite',
  open: async () => {
    const store = await openMemoryStore();
    await store.migrate();
    return { store, close: () => store.close() };
  },
};

/** A throw-away PostgreSQL database (only when DATABASE_URL is set); `open` also gives its URL. */
export const postgresBackend: Backend = {
  name: 'postgres',
  open: async () => {
    const db = await tempPostgres();
    const store = await openPostgresStore(db.url, { poolSize: 4 });
    await store.migrate();
    return {
      store,
      url: db.url,
      close: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
};

/** For `describe.each`: PGlite always, PostgreSQL when DATABASE_URL is set (REQUIRE_SERVICES=1 makes it mandatory). */
export const backends: Backend[] = hasPostgres ? [pglite, postgresBackend] : [pglite];

/**
 * The store of `backend` for the suite this is called in: opened (migrated) before its tests, closed (its database
 * dropped) after them; `opened` receives it (and the database URL on PostgreSQL) once it is open.
 */
export function useStore(backend: Backend, opened: (store: Store, url: string) => void | Promise<void>): void {
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const o = await backend.open();
    close = o.close;
    await opened(o.store, o.url ?? '');
  });
  afterAll(async () => {
    await close?.();
  });
}

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

/** The actors the write-path suites write as: a Handle.Net credential with an address, and the CLI. */
export const alice: Actor = { id: '300:0.NA/88.320924', address: '192.0.2.10' };
export const bob: Actor = { id: 'cli' };

let prefixSeq = 0;
/** A fresh prefix under the node, so tests never see each other's rows. */
export function freshPrefix(): string {
  prefixSeq += 1;
  return `88.320924.${Date.now() % 100000}${prefixSeq}`;
}

/** A ref with its canonical key spelled out (ASCII upper case, as the default case policy has it). */
export function ref(prefix: string, suffix: string): HandleRef {
  return { handle: `${prefix}/${suffix}`, key: `${prefix}/${suffix.toUpperCase()}`, prefixKey: prefix };
}
