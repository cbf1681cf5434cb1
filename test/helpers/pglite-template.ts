// In-memory PGlite stores for tests, started from one dump of a fresh cluster made by the global setup (no initdb each).
import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import { openPgliteStore } from '../../registry/open.js';
import type { Store } from '../../registry/store.js';

let template: Promise<Blob | undefined> | undefined;

function loadTemplate(): Promise<Blob | undefined> {
  template ??= (async () => {
    const path = inject('pgliteTemplate');
    return path ? new Blob([await readFile(path)]) : undefined;
  })();
  return template;
}

/** A fresh in-memory PGlite store (not migrated): from the run's template when there is one, else from initdb. */
export async function openMemoryStore(): Promise<Store> {
  const from = await loadTemplate();
  return openPgliteStore(null, from ? { from } : {});
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** a dump of a fresh PGlite cluster (see test/global-setup.ts), '' when there is none */
    pgliteTemplate: string;
  }
}
