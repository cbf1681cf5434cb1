// A private redis-server on a free loopback port in a temp dir, with or without persistence, that a test kills and restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../resolver/helpers.js';

export interface RedisServerOptions {
  /**
   * true: append-only file fsynced on every write (`--appendonly yes --appendfsync always --save ""`), so an
   * acknowledged write survives a SIGKILL. false (default): no automatic persistence (`--save "" --appendonly no`);
   * the server still loads a `dump.rdb` that an explicit SAVE wrote into its dir — a snapshot older than the crash.
   */
  persistent?: boolean;
}

/** Sends one inline command and resolves with the first reply line, or null (refused, closed, 500 ms silence). */
function firstReplyLine(port: number, command: string): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (line: string | null): void => {
      sock.destroy();
      resolve(line);
    };
    sock.setTimeout(500, () => done(null));
    sock.once('error', () => done(null));
    sock.once('close', () => done(null));
    sock.on('data', (d) => {
      buf += d.toString();
      const end = buf.indexOf('\r\n');
      if (end >= 0) done(buf.slice(0, end));
    });
    sock.once('connect', () => sock.write(`${command}\r\n`));
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly persistent: boolean,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = await mkdtemp(join(tmpdir(), 'idnode-redis-'));
    const r = new RedisServer(await freePort(), dir, opts.persistent === true);
    try {
      await r.launch();
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return r;
  }

  /** SIGKILL: nothing is flushed; the data survives only as far as it was persisted. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === null) return;
    this.proc = null;
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await this.exited;
  }

  /** Starts again on the same port from the same dir (reloading what was persisted there). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Every file the server persisted in its dir (AOF parts, dump.rdb), concatenated as latin1 — for `toContain`. */
  async persisted(): Promise<string> {
    const files = (await readdir(this.dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    const parts = await Promise.all(files.map((e) => readFile(join(e.parentPath, e.name), 'latin1')));
    return parts.join('\n');
  }

  /** Kills the server and removes its dir. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const persistence = this.persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
      : ['--save', '', '--appendonly', 'no'];
    const proc = spawn(
      'redis-server',
      // rdbcompression off: what a snapshot or an AOF preamble holds stays greppable (see persisted())
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--rdbcompression', 'no', '--loglevel', 'warning', ...persistence],
      { stdio: 'ignore' },
    );
    this.proc = proc;
    this.exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // PONG only once the dataset is loaded (a loading server answers -LOADING).
    for (let i = 0; i < 200; i++) {
      if ((await firstReplyLine(this.port, 'PING')) === '+PONG') return;
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await this.kill();
    throw new Error(`redis-server did not start on port ${this.port} (dir ${this.dir})`);
  }
}
