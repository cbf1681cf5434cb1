// The registry's migrations as a static record (no filesystem scanning, so it works from dist/ after tsc).
import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_handles.js';
import * as m002 from './002_enterprises.js';
import * as m003 from './003_public_json.js';
import * as m004 from './004_cache_epoch.js';
import * as m005 from './005_secret_public_answers.js';
import * as m006 from './006_console_accounts.js';
import * as m007 from './007_prefix_hosting.js';
import * as m008 from './008_secret_key_copies.js';
import * as m009 from './009_lz4_values.js';

/**
 * Every migration by name; kysely applies them in name order. Add new ones as `NNN_name.ts` and list them here —
 * never edit or rename one that has shipped.
 */
export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '001_handles': m001,
  '002_enterprises': m002,
  '003_public_json': m003,
  '004_cache_epoch': m004,
  '005_secret_public_answers': m005,
  '006_console_accounts': m006,
  '007_prefix_hosting': m007,
  '008_secret_key_copies': m008,
  '009_lz4_values': m009,
});

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...migrations }),
};
