// The native face's settings, counters and running handle (what its listeners share).
import { UDP_FRAGMENT_PAYLOAD } from '../../../handle/wire/envelope.js';

export interface NativeOptions {
  /** 0 = any free port (TCP first; UDP then takes the same number) */
  port: number;
  host: string;
  /** open TCP connections at most; more are refused at accept */
  maxConnections: number;
  /** open TCP connections from one client address at most (so one address cannot take every slot) */
  maxConnectionsPerAddress: number;
  /** a TCP connection with no complete request for this long is closed */
  idleTimeoutMs: number;
  /** a request must arrive whole within this long of its first byte, however steadily it trickles; else the connection closes */
  messageTimeoutMs: number;
  /** largest request message (envelope excluded) accepted; larger ones get a protocol error and the connection closes */
  maxMessageBytes: number;
  /** largest response sent over UDP (fragmented); larger answers tell the client to retry over TCP */
  udpMaxResponseBytes: number;
  /** requests waiting on one TCP connection before it stops reading (pipelining bound) */
  maxPipelined: number;
}

export const NATIVE_DEFAULTS: Omit<NativeOptions, 'port' | 'host'> = {
  maxConnections: 1024,
  maxConnectionsPerAddress: 128,
  idleTimeoutMs: 30_000,
  messageTimeoutMs: 5_000,
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
  /** TCP connections closed at accept: their address had maxConnectionsPerAddress open already */
  refusedPerAddress: number;
  /** TCP connections closed because a request did not arrive whole within messageTimeoutMs */
  messageTimeouts: number;
}

/** The default per-address cap: an eighth of all connections (at least 1). */
export function defaultPerAddress(maxConnections: number): number {
  return Math.max(1, Math.ceil(maxConnections / 8));
}

/** The address a connection counts under: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as plain IPv4. */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress.toLowerCase();
}

export interface NativeServer {
  tcpPort: number;
  udpPort: number;
  stats(): NativeStats;
  close(): Promise<void>;
}

