#!/usr/bin/env node
// The idnode command line: picks the command (src/cli/, one file each), prints the usage, turns errors into exit codes.
import { HandleError } from '../handle/codes.js';
import { DataDirLockedError } from '../registry/data-lock.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { UsageError, type Command } from './cli/args.js';
import { importCommand } from './cli/import.js';
import { stderrLog } from './cli/log.js';
import { migrateCommand } from './cli/migrate.js';
import { planCommand } from './cli/plan.js';
import { resolveCommand } from './cli/resolve.js';
import { rotatePasswordKeyCommand } from './cli/rotate-password-key.js';
import { serveCommand } from './cli/serve.js';

const USAGE = `usage: idnode <command>
  serve               run the node (HTTP on PORT, default 8000)
  migrate             apply database migrations and exit
  resolve <handle>    print a handle's values as Handle JSON
  plan [--csv|--json] the county plan's progress per town and year (PLAN_FILE)
  import <file> --prefix <p> [--template <v>] [--batch <n>]
                      register identifiers from CSV or NDJSON (per item; re-running changes nothing)
  rotate-password-key a new key in the password key file, every v1 digest re-encrypted under it
Settings come from the environment: PORT HOST NODE_PREFIX ADMIN_SECRET DATABASE_URL REDIS_URL DATA_DIR
CACHE_MAX_BYTES ... (see README).`;

const COMMANDS: Readonly<Record<string, Command>> = {
  serve: serveCommand,
  migrate: migrateCommand,
  resolve: resolveCommand,
  plan: planCommand,
  import: importCommand,
  'rotate-password-key': rotatePasswordKeyCommand,
};

/** What a command can do instead while a node holds the embedded store's data folder. */
const WHILE_LOCKED: Readonly<Record<string, string>> = {
  import: 'or send the rows to the running node over HTTP (POST /identityv2/data/batchCreate, 2000 a request)',
  resolve: 'or ask the running node: GET /api/handles/<handle>',
  plan: 'or ask the running node: GET /operator/plan (or /operator/plan.csv)',
  migrate: 'the running node applied the migrations when it started',
};

/** The exit code (-1: a server that keeps running). */
async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (command === undefined) {
    stderrLog.error(`idnode: unknown command "${cmd}"\n${USAGE}`);
    return 2;
  }
  const run = command(rest);
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      stderrLog.error(`idnode: ${err.message}`);
      return 2;
    }
    throw err;
  }
  return run(config);
}

const cliArgs = process.argv.slice(2);
main(cliArgs).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    if (err instanceof UsageError) {
      stderrLog.error(`idnode: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof DataDirLockedError) {
      // a start-up error like a bad setting: nothing was opened or written
      const hint = err.owner !== null && Object.hasOwn(WHILE_LOCKED, cliArgs[0] ?? '') ? `\n  ${WHILE_LOCKED[cliArgs[0]!]}` : '';
      stderrLog.error(`idnode ${cliArgs[0]}: ${err.message}${hint}`);
      process.exitCode = 2;
      return;
    }
    const msg = err instanceof HandleError ? `${err.message} (responseCode ${err.code})` : (err as Error).message;
    stderrLog.error(`idnode: ${msg}`);
    process.exitCode = 1;
  },
);
