#!/usr/bin/env node
// The idnode command line: serve, migrate, resolve <handle>.
import { HandleError } from '../handle/codes.js';
import { parseHandle } from '../handle/identifier.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openNode, openStore, type Logger } from './node.js';
import { startServer } from './server.js';

const stderrLog: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`${m}\n`),
  error: (m) => process.stderr.write(`${m}\n`),
};

const USAGE = `usage: idnode <command>
  serve               run the node (HTTP on PORT, default 8000)
  migrate             apply database migrations and exit
  resolve <handle>    print a handle's values as Handle JSON
Settings come from the environment: PORT HOST NODE_PREFIX ADMIN_SECRET DATABASE_URL REDIS_URL DATA_DIR
CACHE_MAX_BYTES ... (see README).`;

async function serve(config: Config): Promise<void> {
  const running = await startServer(config, stderrLog);
  const where = running.node.store.kind === 'pglite' ? `embedded PGlite in ${config.DATA_DIR}` : 'PostgreSQL';
  stderrLog.info(`idnode ${running.node.prefix} serving on ${running.url} (${where}${config.REDIS_URL ? ' + Redis' : ''})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stderrLog.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (err) => {
        stderrLog.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function migrate(config: Config): Promise<void> {
  const store = await openStore(config);
  try {
    await store.migrate();
    stderrLog.info(`migrations applied (${store.kind})`);
  } finally {
    await store.close();
  }
}

async function resolve(config: Config, handle: string | undefined): Promise<number> {
  if (!handle) {
    stderrLog.error('usage: idnode resolve <handle>');
    return 2;
  }
  const node = await openNode({ ...config, REDIS_URL: undefined }, stderrLog);
  try {
    const id = parseHandle(handle, node.policy);
    const res = await node.resolver.resolve(id.key, { authoritative: true });
    if (!res.found) {
      process.stdout.write(`${JSON.stringify({ responseCode: 100, handle, message: 'Handle Not Found' })}\n`);
      return 1;
    }
    process.stdout.write(`{"responseCode":1,"handle":${JSON.stringify(handle)},"values":${res.record.publicValuesJson}}\n`);
    return 0;
  } finally {
    await node.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd === undefined ? 2 : 0;
  }
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
  switch (cmd) {
    case 'serve':
      await serve(config);
      return -1; // keep running
    case 'migrate':
      await migrate(config);
      return 0;
    case 'resolve':
      return resolve(config, rest[0]);
    default:
      stderrLog.error(`idnode: unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    const msg = err instanceof HandleError ? `${err.message} (responseCode ${err.code})` : (err as Error).message;
    stderrLog.error(`idnode: ${msg}`);
    process.exitCode = 1;
  },
);
