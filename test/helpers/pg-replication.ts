// A throw-away PostgreSQL primary and a streaming replica made by pg_basebackup, on free loopback ports, for tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Debian's PostgreSQL binaries (the newest installed version), or null when there are none. */
export function pgBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_basebackup'))).sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? null : join(root, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** PostgreSQL refuses to run as root: as root, the servers run as the `postgres` user. */
const asRoot = process.getuid?.() === 0;

function run(bin: string, args: string[]): string {
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class PgServer {
  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  url(db = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  start(): void {
    run(join(this.bin, 'pg_ctl'), [
      '-D', this.dir, '-w', '-t', '30', '-l', join(this.dir, 'server.log'),
      '-o', `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.dir} -c fsync=off -c full_page_writes=off`,
      'start',
    ]);
  }

  /** `fast` (clean) or `immediate` (like a crash: no shutdown checkpoint). */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    spawnSync(asRoot ? 'runuser' : join(this.bin, 'pg_ctl'), asRoot ? ['-u', 'postgres', '--', join(this.bin, 'pg_ctl'), '-D', this.dir, '-m', mode, '-w', 'stop'] : ['-D', this.dir, '-m', mode, '-w', 'stop'], { stdio: 'ignore' });
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, db = 'postgres'): Promise<R[]> {
    const c = new pg.Client({ connectionString: this.url(db) });
    await c.connect();
    try {
      return (await c.query<R>(text)).rows;
    } finally {
      await c.end();
    }
  }
}

export interface Replication {
  primary: PgServer;
  replica: PgServer;
  /** stops both servers and removes their folders */
  stop(): void;
}

/** initdb a primary, start it, copy it with pg_basebackup -R, start the copy as a hot standby. */
export async function startReplication(bin: string): Promise<Replication> {
  const root = mkdtempSync(join(tmpdir(), 'idnode-pgrep-'));
  chmodSync(root, 0o755);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(root, uid, gid);
  }
  const pdir = join(root, 'primary');
  const rdir = join(root, 'replica');
  const primary = new PgServer(pdir, await freePort(), bin);
  const replica = new PgServer(rdir, await freePort(), bin);
  const stop = (): void => {
    replica.stop('immediate');
    primary.stop('immediate');
    rmSync(root, { recursive: true, force: true });
  };
  try {
    run(join(bin, 'initdb'), ['-D', pdir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    primary.start();
    run(join(bin, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', rdir, '-R', '-X', 'stream', '--no-sync']);
    replica.start();
  } catch (err) {
    stop();
    throw err;
  }
  return { primary, replica, stop };
}
