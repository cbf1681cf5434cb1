// Start-up checks of `serve`: waiting (bounded) for PostgreSQL, the warnings a deployment should not miss (what the
// site advertises, credentials over plain HTTP), and the error that stops the node with exit code 2.
import { isIP } from 'node:net';
import type { Store } from '../registry/store.js';
import type { Config } from './config.js';
import { isUnavailable } from './faces/errors.js';
import { redactUrl } from './log-redact.js';
import { advertisedAddress } from './site.js';

/** What these messages are written to (the node's Logger; declared here so that node.ts may import this file). */
type Logger = { info(msg: string): void; warn(msg: string): void };

/** The node cannot start as configured: `serve` prints the message (which says what to check) and exits 2. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What an error says, without a stack: its code and message. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  let msg = typeof e.message === 'string' ? e.message : String(err);
  // Node's happy-eyeballs connect gives an AggregateError with an empty message: take the first attempt's
  if (msg === '' && Array.isArray(e.errors) && e.errors.length > 0) msg = String((e.errors[0] as Error).message ?? '');
  return code !== '' && !msg.includes(code) ? `${code} ${msg}`.trim() : msg || code || 'unknown error';
}

/**
 * Waits until PostgreSQL answers, retrying with backoff for DB_CONNECT_TIMEOUT seconds (a database restarting, or
 * started with the node). Throws StartupError naming the setting and what to check: at once when the server refuses
 * the node (credentials, database name), after the timeout when it cannot be reached.
 */
export async function waitForStore(store: Pick<Store, 'ping'>, config: Pick<Config, 'DATABASE_URL' | 'DB_CONNECT_TIMEOUT'>, log: Logger): Promise<void> {
  const where = `DATABASE_URL=${redactUrl(config.DATABASE_URL ?? '')}`;
  const deadline = Date.now() + config.DB_CONNECT_TIMEOUT * 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      await store.ping();
      if (attempt > 0) log.info(`PostgreSQL answered (${where})`);
      return;
    } catch (err) {
      const e = err as Error & { code?: unknown };
      if (!isUnavailable(e) && !(e instanceof AggregateError)) {
        throw new StartupError(
          `PostgreSQL at ${where} refused the node: ${describe(err)}. Check the user, password and database name in DATABASE_URL ` +
            `(and that the user may connect to that database).`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new StartupError(
          `could not reach PostgreSQL at ${where} within ${config.DB_CONNECT_TIMEOUT} s (DB_CONNECT_TIMEOUT): ${describe(err)}. ` +
            `Check that PostgreSQL runs and listens on that host and port, that this host may connect (listen_addresses, ` +
            `pg_hba.conf, firewalls), or raise DB_CONNECT_TIMEOUT to wait longer.`,
        );
      }
      if (attempt === 0) log.warn(`PostgreSQL at ${where} does not answer (${describe(err)}); retrying for up to ${config.DB_CONNECT_TIMEOUT} s (DB_CONNECT_TIMEOUT)`);
      await sleep(Math.min(left, 2000, 100 * 2 ** attempt));
    }
  }
}

/** Whether a listening address is a wildcard (every interface). */
function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Whether a listening address is reachable from this host only. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\./.test(host) || host === '::1';
}

/** What a deployment should be told at start: each a complete sentence saying what happens and how to change it. */
export function startupWarnings(c: Config): string[] {
  const out: string[] = [];
  if (c.ADVERTISED_HOST === undefined && (isWildcard(c.HOST) || isIP(c.HOST) === 0)) {
    out.push(
      `HOST=${c.HOST} without ADVERTISED_HOST: the site information (/api/site, the HS_SITE of 0.NA/${c.NODE_PREFIX}, native ` +
        `site queries) advertises ${advertisedAddress(c)}, which clients on other hosts cannot reach. Set ADVERTISED_HOST to ` +
        `the IP address clients use to reach this node (e.g. ADVERTISED_HOST=203.0.113.10).`,
    );
  }
  if (c.TLS_CERT === undefined && c.TRUST_PROXY === undefined && !isLoopback(c.HOST)) {
    out.push(
      `HOST=${c.HOST} serves plain HTTP beyond this host: passwords, Basic credentials and tokens sent to it travel in ` +
        `the clear. Set TLS_CERT and TLS_KEY to serve HTTPS, or put a TLS-terminating proxy in front and set TRUST_PROXY ` +
        `to its address.`,
    );
  }
  return out;
}
