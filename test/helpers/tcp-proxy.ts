// A TCP proxy from a loopback port to a target host:port that a test stops (dropping or blackholing connections) and restarts.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface StopOptions {
  /**
   * false (default): close the listener and destroy every open connection — clients see the connection drop and are
   * refused on reconnect. true: a partition that closes nothing — open connections stay up but every byte either way
   * is silently discarded, and new connections are accepted and treated the same (never forwarded). Unlike TCP after
   * a real partition (which retransmits), the lost bytes stay lost: a request/reply client that had commands in
   * flight is out of step with its server after the heal unless it drops that connection.
   */
  blackhole?: boolean;
}

/** One client connection and its upstream connection. */
interface Pair {
  client: Socket;
  upstream: Socket | null;
}

export class TcpProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<Pair>();
  private blackholed = false;
  private closed = false;
  /** connections accepted since creation (reconnects included) */
  accepted = 0;

  private constructor(
    /** 0 until the first listen picks a free port; the same port on every restart */
    private _port: number,
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** Listens on `port` (0 = a free one) of 127.0.0.1 and forwards to `targetHost:targetPort`. */
  static async open(targetHost: string, targetPort: number, port = 0): Promise<TcpProxy> {
    const p = new TcpProxy(port, targetHost, targetPort);
    await p.listen();
    return p;
  }

  get port(): number {
    return this._port;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** Open client connections. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Partitions: see StopOptions. Idempotent. */
  async stop(opts: StopOptions = {}): Promise<void> {
    if (opts.blackhole === true) {
      this.blackholed = true;
      return;
    }
    this.blackholed = false;
    const server = this.server;
    this.server = null;
    const closed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const pair of this.pairs) this.destroy(pair);
    await closed;
  }

  /** Heals: listens again on the same port (after a drop), or forwards again (after a blackhole). */
  async start(): Promise<void> {
    if (this.closed) throw new Error('proxy closed');
    this.blackholed = false;
    if (this.server === null) await this.listen();
  }

  /** Stops for good (listener and connections). */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this._port, host: '127.0.0.1', exclusive: true }, () => {
        server.off('error', reject);
        const a = server.address();
        if (typeof a === 'object' && a !== null) this._port = a.port;
        this.server = server;
        resolve();
      });
    });
  }

  private accept(client: Socket): void {
    this.accepted++;
    const pair: Pair = { client, upstream: null };
    this.pairs.add(pair);
    client.setNoDelay(true);
    client.on('error', () => this.destroy(pair));
    client.on('close', () => this.destroy(pair));
    // A connection opened during a blackhole is not forwarded: its upstream is dialled only if it sends after the heal.
    const dial = (): void => {
      const upstream = connect({ host: this.targetHost, port: this.targetPort });
      pair.upstream = upstream;
      upstream.setNoDelay(true);
      upstream.on('error', () => this.destroy(pair));
      upstream.on('close', () => this.destroy(pair));
      upstream.on('data', (d) => {
        if (!this.blackholed) client.write(d);
      });
    };
    client.on('data', (d) => {
      if (this.blackholed) return;
      if (pair.upstream === null) dial();
      pair.upstream!.write(d); // a socket still connecting queues the write
    });
    if (!this.blackholed) dial();
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
