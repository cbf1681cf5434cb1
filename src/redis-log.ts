// Redis losses and recoveries in the node's log: one warning when the shared cache is lost, one line when it is back,
// at most one loss a minute however much the connection flaps (the flaps are counted in the next line), URL redacted.
import { redactUrl } from './log-redact.js';

/** What these messages are written to (the node's Logger; declared here so that node.ts may import this file). */
type Logger = { info(msg: string): void; warn(msg: string): void };

export const REDIS_LOG_INTERVAL_MS = 60_000;

export class RedisConnectionLog {
  private readonly where: string;
  private down = false;
  /** the loss being down now was logged (so its recovery is too) */
  private reported = false;
  private downSince = 0;
  private lastReport = -Infinity;
  private unreported = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    url: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.where = `REDIS_URL=${redactUrl(url)}`;
  }

  /** The connection's transitions, as the resolver reports them. */
  readonly change = (up: boolean, detail: string): void => {
    if (up) return this.recovered();
    if (this.down) return;
    this.down = true;
    this.downSince = this.now();
    const wait = this.lastReport + REDIS_LOG_INTERVAL_MS - this.downSince;
    if (wait <= 0) return this.lost(detail);
    this.unreported++;
    // a loss within a minute of the last one is logged only if it lasts until that minute is over
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (this.down && !this.reported) this.lost(detail);
    }, wait);
    this.timer.unref();
  };

  private lost(detail: string): void {
    this.reported = true;
    this.lastReport = this.now();
    const flaps = this.unreported > 0 ? ` (${this.unreported} shorter interruptions since the last report)` : '';
    this.unreported = 0;
    this.log.warn(
      `Redis unreachable at ${this.where}: ${detail}${flaps}. Resolutions go on from PostgreSQL without the shared ` +
        `cache; writes wait a cache lease longer. Check that Redis runs and that this host may reach it; the node ` +
        `reconnects on its own.`,
    );
  }

  private recovered(): void {
    if (!this.down) return;
    this.down = false;
    if (!this.reported) return;
    this.reported = false;
    const s = Math.max(0, Math.round((this.now() - this.downSince) / 1000));
    this.log.info(`Redis reachable again at ${this.where} after ${s} s; the shared cache is back in use`);
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
