// The native face's listeners: TCP and UDP on one port number, their limits, counters and shutdown.
import { createSocket } from 'node:dgram';
import { createServer, isIPv6, type Socket } from 'node:net';
import type { NativeHandler } from './handler.js';
import { addressKey, type NativeOptions, type NativeServer, type NativeStats } from './options.js';
import { serveTcp } from './tcp.js';
import { serveUdp } from './udp.js';

/** Starts the TCP and UDP listeners on one port number. */
export async function startNative(handler: NativeHandler, o: NativeOptions): Promise<NativeServer> {
  const stats: NativeStats = { tcpConnections: 0, tcpRequests: 0, udpRequests: 0, errors: 0, dropped: 0, refusedPerAddress: 0, messageTimeouts: 0 };
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
  /** open connections per client address (loopback counts like any other) */
  const perAddress = new Map<string, number>();
  tcp.on('connection', (s) => {
    const key = addressKey(s.remoteAddress);
    const open = perAddress.get(key) ?? 0;
    if (open >= o.maxConnectionsPerAddress) {
      stats.refusedPerAddress++;
      s.on('error', () => {});
      s.destroy();
      return;
    }
    perAddress.set(key, open + 1);
    sockets.add(s);
    stats.tcpConnections++;
    s.once('close', () => {
      sockets.delete(s);
      const n = (perAddress.get(key) ?? 1) - 1;
      if (n <= 0) perAddress.delete(key);
      else perAddress.set(key, n);
    });
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

