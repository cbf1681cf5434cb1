// Store factories: PostgreSQL (kysely over a pg.Pool) and embedded PGlite (in memory or in a data folder).
import { mkdir } from 'node:fs/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { lockDataDir, type DataDirLock } from './data-lock.js';
import type { Database } from './db.js';
import { PGliteDialect, SerialLock } from './pglite-dialect.js';
import { GET_HANDLE_SQL, RESOLVE_HANDLE_SQL, RESOLVE_HANDLES_SQL, SqlStore, type HandleRow, type ResolveRow } from './sql-store.js';
import type { Store } from './store.js';

export interface PostgresStoreOptions {
  /** pg.Pool `max`; default 10 */
  poolSize?: number;
}

/** A Store on PostgreSQL. The caller runs `migrate()`. */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  // An idle client losing its connection must not crash the process; the next query gets a fresh client.
  pool.on('error', () => {});
  // A checked-out client has no pool listener: its connection dropping (PostgreSQL stopped or out of reach) would be
  // an uncaught 'error' that ends the process. The query in flight fails on its own and is answered as unavailable.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new SqlStore({
    kind: 'postgres',
    db,
    getHandleRow: async (key) => {
      const res = await pool.query<HandleRow>({ name: 'idnode_get_handle', text: GET_HANDLE_SQL, values: [key] });
      return res.rows[0];
    },
    resolveRow: async (key) => {
      const res = await pool.query<ResolveRow>({ name: 'idnode_resolve_handle', text: RESOLVE_HANDLE_SQL, values: [key] });
      return res.rows[0];
    },
    resolveRows: async (keys) => {
      const res = await pool.query<ResolveRow & { key: string }>({ name: 'idnode_resolve_handles', text: RESOLVE_HANDLES_SQL, values: [keys] });
      return res.rows;
    },
  });
}

/**
 * A Store on PGlite: `null` keeps the database in memory, otherwise in `dataDir` (created if missing). `from`, a dump
 * of a PGlite data folder (`PGlite.dumpDataDir`), starts an in-memory store from it instead of running initdb (which
 * costs seconds of CPU each time; tests open many).
 *
 * A data folder is locked first (`dataDir/idnode.lock`, see data-lock.ts) and until close(): PGlite keeps the
 * database in its process and writes the folder back as it likes, so a second process on the same folder would
 * acknowledge writes that one of the two then loses. Throws DataDirLockedError when another process has it.
 */
export async function openPgliteStore(dataDir: string | null, opts: { from?: Blob } = {}): Promise<Store> {
  let folderLock: DataDirLock | undefined;
  if (dataDir !== null) {
    await mkdir(dataDir, { recursive: true });
    folderLock = await lockDataDir(dataDir);
  }
  const releaseLock = async () => folderLock?.release();
  let pglite: PGlite | undefined;
  try {
    const { PGlite: Ctor } = await import('@electric-sql/pglite');
    pglite = dataDir !== null ? new Ctor(dataDir) : opts.from ? new Ctor({ loadDataDir: opts.from }) : new Ctor();
    await pglite.waitReady;
  } catch (err) {
    await pglite?.close().catch(() => {});
    await releaseLock();
    throw err;
  }
  const client = pglite;
  // Shared with the fast path, so a lookup never runs inside another caller's open transaction.
  const lock = new SerialLock();
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite: client, lock }) });
  return new SqlStore({
    kind: 'pglite',
    db,
    getHandleRow: (key) => lock.run(async () => (await client.query<HandleRow>(GET_HANDLE_SQL, [key])).rows[0]),
    resolveRow: (key) => lock.run(async () => (await client.query<ResolveRow>(RESOLVE_HANDLE_SQL, [key])).rows[0]),
    resolveRows: (keys) => lock.run(async () => (await client.query<ResolveRow & { key: string }>(RESOLVE_HANDLES_SQL, [keys])).rows),
    onClose: async () => {
      try {
        await client.close();
      } finally {
        await releaseLock();
      }
    },
  });
}
