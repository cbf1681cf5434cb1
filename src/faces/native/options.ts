// The native face's settings, counters and running handle (what its listeners share).
import { UDP_FRAGMENT_PAYLOAD } from '../../../handle/wire/envelope.js';

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

