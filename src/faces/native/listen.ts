// The native face's listeners: TCP and UDP on one port number, their limits, counters and shutdown.
import { createSocket } from 'node:dgram';
import { createServer, isIPv6, type Socket } from 'node:net';
import { UDP_FRAGMENT_PAYLOAD } from '../../../handle/wire/envelope.js';
import type { NativeHandler } from './handler.js';
import { serveTcp } from './tcp.js';
import { serveUdp } from './udp.js';

export interface NativeOptions {
  /** 0 = any free port (TCP first; UDP then takes the same number) */
  port: number;
  host: string;
  /** open TCP connections at most; more are refused at accept */
  maxConnections: number;
  /** a TCP connection with no complete request for this long is closed */
  idleTimeoutMs: number;
  /** largest request message (envelope excluded) accepted; larger ones get a protocol error and the connection closes */
  maxMessageBytes: number;
  /** largest response sent over UDP (fragmented); larger answers tell the client to retry over TCP */
  udpMaxResponseBytes: number;
  /** requests waiting on one TCP connection before it stops reading (pipelining bound) */
  maxPipelined: number;
}

export const NATIVE_DEFAULTS: Omit<NativeOptions, 'port' | 'host'> = {
  maxConnections: 1024,
  idleTimeoutMs: 30_000,
  maxMessageBytes: 64 * 1024,
  udpMaxResponseBytes: 64 * UDP_FRAGMENT_PAYLOAD,
  maxPipelined: 16,
};

export interface NativeStats {
  tcpConnections: number;
  tcpRequests: number;
  udpRequests: number;
  errors: number;
  dropped: number;
}

export interface NativeServer {
  tcpPort: number;
  udpPort: number;
  stats(): NativeStats;
  close(): Promise<void>;
}

/** Starts the TCP and UDP listeners on one port number. */
export async function startNative(handler: NativeHandler, o: NativeOptions): Promise<NativeServer> {
  const stats: NativeStats = { tcpConnections: 0, tcpRequests: 0, udpRequests: 0, errors: 0, dropped: 0 };
  const tcp = createServer({ noDelay: true });
  tcp.maxConnections = o.maxConnections;
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(o.port, o.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  const addr = tcp.address();
  const tcpPort = typeof addr === 'object' && addr !== null ? addr.port : o.port;
  const udp = createSocket({ type: isIPv6(o.host) ? 'udp6' : 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(tcpPort, o.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((r) => tcp.close(() => r()));
    throw err;
  }
  udp.on('error', () => {
    stats.errors++;
  });
  const sockets = new Set<Socket>();
  tcp.on('connection', (s) => {
    sockets.add(s);
    stats.tcpConnections++;
    s.once('close', () => sockets.delete(s));
    serveTcp(s, handler, o, stats);
  });
  tcp.on('error', () => {
    stats.errors++;
  });
  serveUdp(udp, handler, o, stats);

  let closing: Promise<void> | null = null;
  return {
    tcpPort,
    udpPort: tcpPort,
    stats: () => ({ ...stats }),
    close() {
      closing ??= (async () => {
        udp.close();
        await new Promise<void>((r) => {
          tcp.close(() => r());
          for (const s of sockets) s.destroy();
        });
      })();
      return closing;
    },
  };
}

