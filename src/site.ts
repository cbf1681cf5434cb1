// This node's site (HS_SITE): one server, its advertised address, and the native TCP/UDP and HTTP interfaces.
import { isIP } from 'node:net';
import type { SiteData } from '../handle/types.js';
import { oneServerSite, parseServerAddress, siteInfoToJson, type SiteInfo } from '../handle/wire/site.js';
import type { Config } from './config.js';

/** The address clients are told to use: ADVERTISED_HOST, else HOST unless it is a wildcard, else loopback. */
export function advertisedAddress(c: Pick<Config, 'ADVERTISED_HOST' | 'HOST'>): string {
  if (c.ADVERTISED_HOST !== undefined) return c.ADVERTISED_HOST;
  return c.HOST === '0.0.0.0' || c.HOST === '::' || isIP(c.HOST) === 0 ? '127.0.0.1' : c.HOST;
}

/** 16 bytes as HS_SITE carries addresses (IPv4 as 12 zero bytes and the 4 address bytes, as Handle.Net writes it). */
export function addressBytes(ip: string): Uint8Array {
  const b = parseServerAddress(ip);
  if (b === null) throw new RangeError(`not an IP address: ${ip}`);
  return b;
}

/** The ports a node listens on: HTTP, and the native TCP/UDP pair when that face runs. */
export interface ListenerPorts {
  http: number;
  native: { tcp: number; udp: number } | null;
}

/**
 * The site record of this node. Native interfaces are listed only when the native listeners run, the HTTP
 * interface always; each answers resolutions and administration ('both': the native face's challenge-response is
 * src/faces/native/admin.ts). `publicKey` is the server key (Handle's public-key record), with which clients verify
 * certified answers.
 */
export function siteOf(c: Config, ports: ListenerPorts, publicKey: Uint8Array = new Uint8Array(0)): SiteInfo {
  const interfaces: SiteInfo['servers'][number]['interfaces'] = [];
  if (ports.native !== null) {
    interfaces.push({ type: 'both', protocol: 'tcp', port: ports.native.tcp }, { type: 'both', protocol: 'udp', port: ports.native.udp });
  }
  interfaces.push({ type: 'both', protocol: 'http', port: ports.http });
  return oneServerSite({ address: addressBytes(advertisedAddress(c)), publicKey, interfaces, desc: `idnode secondary node for ${c.NODE_PREFIX}` });
}

/**
 * This node's site as every face gives it (/api/site, native site queries, the HS_SITE of every homed prefix
 * record): the configuration plus the ports really listened on, set once the listeners are up.
 */
export class NodeSite {
  info: SiteInfo;
  /** the same, in Handle.Net's JSON form (the HS_SITE value's data) */
  json: SiteData;

  constructor(
    private readonly config: Config,
    private readonly publicKey: Uint8Array = new Uint8Array(0),
  ) {
    this.info = siteOf(config, { http: config.PORT, native: null }, publicKey);
    this.json = siteInfoToJson(this.info);
  }

  setPorts(ports: ListenerPorts): void {
    this.info = siteOf(this.config, ports, this.publicKey);
    this.json = siteInfoToJson(this.info);
  }
}
