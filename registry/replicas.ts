// Streaming read replicas for resolution reads: each read also learns how far the replica has replayed the
// primary's WAL, and a key is taken from a replica only when it has replayed the key's last acknowledged write.
//
// A replica read is one round trip of two statements (simple query protocol, so they travel together):
//   1. the replica's replay position (pg_last_wal_replay_lsn) and when its server started;
//   2. the rows, under a snapshot taken after statement 1 (READ COMMITTED: one snapshot per statement).
// Replay only moves forward while a server runs, so the rows hold every transaction replayed up to the position read
// in statement 1. A server that restarted (its start time changed) may come back behind what it had shown before a
// crash; until it replays past that again it answers no key. A key whose required position the replica has not
// reached, a replica that fails, or one that is not a standby at all is read from the primary instead, so a
// resolution never fails or goes back in time because of a replica.
import { sql } from 'kysely';
import pg from 'pg';
import type { ResolvedHandle, Store } from './store.js';

/** A WAL position as PostgreSQL prints it (`16/B374D848`), as a number. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (m === null) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** A resolution row as the replica returns it (the same columns as the store's RESOLVE_HANDLES_SQL). */
interface ReplicaRow {
  key: string;
  handle: string;
  values_text: string;
  public_json: string | null;
}

export interface ReplicaOptions {
  /** connections per replica (default 5) */
  poolSize?: number;
  /** ms to connect, and for one read (default 1000) */
  timeoutMs?: number;
  /** ms between position polls of each replica (default 200) */
  pollMs?: number;
}

export interface ReplicaStats {
  /** keys answered by a replica */
  replicaKeys: number;
  /** keys read from the primary because no replica had replayed their last write (or none was usable) */
  lagKeys: number;
  /** replica reads that failed (the keys then went to the primary) */
  replicaErrors: number;
}

const MAX_COOLDOWN_MS = 5000;

class Replica {
  readonly pool: pg.Pool;
  /** the highest replay position seen from this server (0: none yet) */
  seen = 0n;
  /** after a restart: reads count only once the replica has replayed up to here again */
  regress = 0n;
  /** pg_postmaster_start_time of the server last answering, µs since 1970 ('' unknown) */
  started = '';
  /** no reads before (Date.now()) after a failure */
  coolUntil = 0;
  cooldownMs = 250;
  /** it answered, but it is not a standby (a promoted or misconfigured server): never read */
  notStandby = false;

  constructor(
    url: string,
    o: Required<ReplicaOptions>,
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: o.poolSize,
      connectionTimeoutMillis: o.timeoutMs,
      query_timeout: o.timeoutMs,
      application_name: 'idnode-replica-read',
    });
    this.pool.on('error', () => {});
    this.pool.on('connect', (c) => c.on('error', () => {}));
  }

  get usable(): boolean {
    return !this.notStandby && Date.now() >= this.coolUntil;
  }

  /** Records a position report; answers the position reads may count on now (null: none, the replica is behind itself). */
  observe(lsnText: string | null, started: string): bigint | null {
    if (lsnText === null) {
      this.notStandby = true;
      return null;
    }
    this.notStandby = false;
    const lsn = parseLsn(lsnText);
    if (this.started !== '' && started !== this.started) this.regress = this.seen;
    this.started = started;
    if (lsn > this.seen) this.seen = lsn;
    this.cooldownMs = 250;
    return lsn >= this.regress ? lsn : null;
  }

  failed(): void {
    this.coolUntil = Date.now() + this.cooldownMs;
    this.cooldownMs = Math.min(MAX_COOLDOWN_MS, this.cooldownMs * 2);
  }
}

/** An error PostgreSQL answered about the query itself (an SQLSTATE outside connection, shutdown and resource classes). */
function answeredError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57|58|XX)/.test(code);
}

const POSITION_SQL = "select pg_last_wal_replay_lsn()::text as lsn, (extract(epoch from pg_postmaster_start_time()) * 1000000)::bigint::text as started";

export class ReplicaReads {
  private readonly replicas: Replica[];
  private next = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  readonly stats: ReplicaStats = { replicaKeys: 0, lagKeys: 0, replicaErrors: 0 };

  constructor(urls: readonly string[], o: ReplicaOptions = {}) {
    const opts: Required<ReplicaOptions> = { poolSize: o.poolSize ?? 5, timeoutMs: o.timeoutMs ?? 1000, pollMs: o.pollMs ?? 200 };
    this.replicas = urls.map((u) => new Replica(u, opts));
    this.timer = setInterval(() => void this.poll(), opts.pollMs);
    this.timer.unref();
    void this.poll();
  }

  /**
   * The records of `keys`, in their order (null: no such handle), each from a replica that has replayed at least
   * `atLeast[i]`, otherwise from the primary (`store`).
   */
  async read(keys: readonly string[], atLeast: readonly bigint[], store: Store): Promise<(ResolvedHandle | null)[]> {
    const r = this.pick();
    if (r === null) {
      this.stats.lagKeys += keys.length;
      return store.resolveHandles(keys);
    }
    let position: bigint | null;
    let rows: ReplicaRow[];
    try {
      const list = keys.map((k) => pg.escapeLiteral(k)).join(',');
      const res = (await r.pool.query(
        `${POSITION_SQL}; select key, handle, values::text as values_text, public_json from handles where key = any(array[${list}]::text[])`,
      )) as unknown as [pg.QueryResult<{ lsn: string | null; started: string }>, pg.QueryResult<ReplicaRow>];
      const p = res[0].rows[0]!;
      position = r.observe(p.lsn, p.started);
      rows = res[1].rows;
    } catch (err) {
      this.stats.replicaErrors++;
      // the replica out of reach, shutting down or overloaded is rested; an error of this query alone (what the keys
      // held, say) is not held against it, so no request can keep the replicas idle
      if (!answeredError(err)) r.failed();
      return store.resolveHandles(keys);
    }
    if (position === null) {
      this.stats.lagKeys += keys.length;
      return store.resolveHandles(keys);
    }
    const byKey = new Map<string, ResolvedHandle>();
    for (const row of rows) byKey.set(row.key, { handle: row.handle, valuesJson: row.values_text, publicJson: row.public_json });
    const out: (ResolvedHandle | null)[] = keys.map((k) => byKey.get(k) ?? null);
    const behind: number[] = [];
    for (let i = 0; i < keys.length; i++) if (atLeast[i]! > position) behind.push(i);
    this.stats.replicaKeys += keys.length - behind.length;
    if (behind.length === 0) return out;
    this.stats.lagKeys += behind.length;
    const fresh = await store.resolveHandles(behind.map((i) => keys[i]!));
    behind.forEach((i, j) => (out[i] = fresh[j]!));
    return out;
  }

  /** The position every replica has shown it replayed (the lowest of their highest); 0 while one has shown none. */
  settled(): bigint {
    let min: bigint | null = null;
    for (const r of this.replicas) if (min === null || r.seen < min) min = r.seen;
    return min ?? 0n;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all(this.replicas.map((r) => r.pool.end().catch(() => {})));
  }

  private pick(): Replica | null {
    for (let i = 0; i < this.replicas.length; i++) {
      const r = this.replicas[(this.next + i) % this.replicas.length]!;
      if (r.usable) {
        this.next = (this.next + i + 1) % this.replicas.length;
        return r;
      }
    }
    return null;
  }

  private polling = false;

  /** Learns every replica's position (so settled() moves on while few keys are read) and finds failed ones back. */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      await Promise.all(
        this.replicas.map(async (r) => {
          try {
            const res = await r.pool.query<{ lsn: string | null; started: string }>(POSITION_SQL);
            r.observe(res.rows[0]!.lsn, res.rows[0]!.started);
            r.coolUntil = 0;
          } catch {
            r.failed();
          }
        }),
      );
    } finally {
      this.polling = false;
    }
  }
}

/** The primary's current WAL position: every transaction committed before this call is at or below it. */
export async function primaryPosition(store: Store): Promise<bigint> {
  const res = await sql<{ lsn: string }>`select pg_current_wal_lsn()::text as lsn`.execute(store.db);
  return parseLsn(res.rows[0]!.lsn);
}
