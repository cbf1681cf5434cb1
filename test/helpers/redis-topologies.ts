// Throw-away replicated Redis on loopback ports for tests: a Redis Cluster (masters with replicas) and a Sentinel set (master, replicas, sentinels); nodes can be SIGKILLed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../resolver/helpers.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One command through redis-cli; its output trimmed, or null when the server does not answer. */
export async function redisCli(port: number, ...args: string[]): Promise<string | null> {
  try {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 3000 });
    return stdout.trim();
  } catch {
    return null;
  }
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A redis-server (or sentinel) process on a port of its own, in a dir of its own. */
export class RedisProcess {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  get running(): boolean {
    return this.proc !== null;
  }

  async launch(): Promise<void> {
    const proc = spawn('redis-server', this.args, { stdio: 'ignore', cwd: this.dir });
    this.proc = proc;
    this.exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await until(`redis on port ${this.port}`, 10_000, async () => (await redisCli(this.port, 'PING')) === 'PONG');
  }

  /** SIGKILL: a crash, nothing flushed. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === null) return;
    this.proc = null;
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await this.exited;
  }
}

async function launchAll(ps: RedisProcess[]): Promise<void> {
  await Promise.all(ps.map((p) => p.launch()));
}

/**
 * A Redis Cluster of `masters` masters with `replicas` replicas each on free loopback ports (bus ports chosen too),
 * no persistence, node timeout 1 s: a killed master is replaced by its replica within a few seconds.
 */
export class RedisClusterFixture {
  private constructor(
    readonly dir: string,
    readonly nodes: RedisProcess[],
  ) {}

  /** redis-cluster://127.0.0.1:p1,127.0.0.1:p2,… (every node: the client discovers the rest anyway) */
  get url(): string {
    return `redis-cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  static async start(o: { masters?: number; replicas?: number } = {}): Promise<RedisClusterFixture> {
    const masters = o.masters ?? 3;
    const replicas = o.replicas ?? 1;
    const dir = await mkdtemp(join(tmpdir(), 'idnode-cluster-'));
    const nodes: RedisProcess[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const port = await freePort();
        const busPort = await freePort();
        const d = join(dir, String(port));
        await mkdir(d, { recursive: true });
        nodes.push(
          new RedisProcess(port, d, [
            '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
            '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000', '--save', '', '--appendonly', 'no',
            '--dir', d, '--loglevel', 'warning',
          ]),
        );
      }
      const fixture = new RedisClusterFixture(dir, nodes);
      await launchAll(nodes);
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
      await fixture.waitHealthy(30_000);
      return fixture;
    } catch (e) {
      await Promise.all(nodes.map((n) => n.kill()));
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Every live node says the cluster is ok, and every live replica's link to its master is up. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    await until('a healthy cluster', timeoutMs, async () => {
      for (const n of this.nodes.filter((x) => x.running)) {
        if (!(await redisCli(n.port, 'CLUSTER', 'INFO'))?.includes('cluster_state:ok')) return false;
        const repl = (await redisCli(n.port, 'INFO', 'replication')) ?? '';
        if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) return false;
      }
      return true;
    });
  }

  /** The port of the master serving `slot`, as a live node sees it. */
  async masterOf(slot: number): Promise<number> {
    for (const n of this.nodes.filter((x) => x.running)) {
      const out = await redisCli(n.port, 'CLUSTER', 'NODES');
      if (out === null) continue;
      for (const line of out.split('\n')) {
        const f = line.split(' ');
        if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
        for (const range of f.slice(8)) {
          const [a, b] = range.split('-').map(Number);
          if (slot >= a! && slot <= (b ?? a!)) return Number(f[1]!.split(':')[1]!.split('@')[0]);
        }
      }
    }
    throw new Error(`no live node knows the master of slot ${slot}`);
  }

  node(port: number): RedisProcess {
    const n = this.nodes.find((x) => x.port === port);
    if (n === undefined) throw new Error(`no node on port ${port}`);
    return n;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A master with `replicas` replicas and `sentinels` sentinels (quorum: a majority) watching it as `name`, on free
 * loopback ports, no persistence; a master down for 1 s is failed over.
 */
export class RedisSentinelFixture {
  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly data: RedisProcess[],
    readonly sentinels: RedisProcess[],
  ) {}

  get url(): string {
    return `redis-sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${this.name}`;
  }

  static async start(o: { replicas?: number; sentinels?: number } = {}): Promise<RedisSentinelFixture> {
    const replicas = o.replicas ?? 2;
    const count = o.sentinels ?? 3;
    const name = 'idnode-test';
    const dir = await mkdtemp(join(tmpdir(), 'idnode-sentinel-'));
    const data: RedisProcess[] = [];
    const sentinels: RedisProcess[] = [];
    const base = (port: number, d: string) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', d, '--loglevel', 'warning'];
    try {
      const masterPort = await freePort();
      for (let i = 0; i <= replicas; i++) {
        const port = i === 0 ? masterPort : await freePort();
        const d = join(dir, String(port));
        await mkdir(d, { recursive: true });
        data.push(new RedisProcess(port, d, [...base(port, d), ...(i === 0 ? [] : ['--replicaof', '127.0.0.1', String(masterPort)])]));
      }
      await launchAll(data);
      for (let i = 0; i < count; i++) {
        const port = await freePort();
        const d = join(dir, `s${port}`);
        await mkdir(d, { recursive: true });
        const conf = join(d, 'sentinel.conf');
        await writeFile(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${d}`,
            `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${Math.floor(count / 2) + 1}`,
            `sentinel down-after-milliseconds ${name} 1000`,
            `sentinel failover-timeout ${name} 4000`,
            `sentinel parallel-syncs ${name} 2`,
            '',
          ].join('\n'),
        );
        sentinels.push(new RedisProcess(port, d, [conf, '--sentinel', '--loglevel', 'warning']));
      }
      await launchAll(sentinels);
      const fixture = new RedisSentinelFixture(dir, name, data, sentinels);
      await fixture.waitHealthy(30_000);
      return fixture;
    } catch (e) {
      await Promise.all([...data, ...sentinels].map((n) => n.kill()));
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The master's port as the first live sentinel names it. */
  async masterPort(): Promise<number> {
    for (const s of this.sentinels.filter((x) => x.running)) {
      const out = await redisCli(s.port, 'SENTINEL', 'get-master-addr-by-name', this.name);
      if (out !== null && out !== '') return Number(out.split('\n')[1]);
    }
    throw new Error('no sentinel names a master');
  }

  /** Every sentinel knows the others and the master's live replicas, whose links are up. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const liveReplicas = this.data.filter((d) => d.running).length - 1;
    await until('sentinels that know each other and the replicas', timeoutMs, async () => {
      const master = await this.masterPort().catch(() => 0);
      const info = master === 0 ? null : await redisCli(master, 'INFO', 'replication');
      if (info === null || !info.includes('role:master') || !info.includes(`connected_slaves:${liveReplicas}`)) return false;
      for (const s of this.sentinels.filter((x) => x.running)) {
        const out = (await redisCli(s.port, 'SENTINEL', 'master', this.name)) ?? '';
        const field = (k: string) => {
          const lines = out.split('\n');
          const i = lines.indexOf(k);
          return i < 0 ? '' : lines[i + 1];
        };
        if (field('num-other-sentinels') !== String(this.sentinels.length - 1) || field('num-slaves') !== String(this.data.length - 1)) return false;
        if (field('flags') !== 'master') return false;
      }
      return true;
    });
  }

  dataNode(port: number): RedisProcess {
    const n = this.data.find((x) => x.port === port);
    if (n === undefined) throw new Error(`no data node on port ${port}`);
    return n;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.data].map((n) => n.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
