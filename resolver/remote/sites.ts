// Where a prefix's service is (pure): sites from HS_SITE / HS_SITE.PREFIX values, service handles, the protocol's server hash, the endpoints to try in order.
import { createHash } from 'node:crypto';
import { asciiUpper } from '../../handle/identifier.js';
import type { HandleValue } from '../../handle/types.js';
import { formatServerAddress, oneServerSite, parseServerAddress, siteInfoFromJson, type ServerInfo, type SiteInfo } from '../../handle/wire/site.js';
import type { Endpoint } from './wire-client.js';

/** Value types naming sites responsible for a prefix itself, and for prefixes derived from it (Handle.Net Common). */
const SITE_TYPES = ['HS_SITE', 'HS_SITE.6'];
const PREFIX_SITE_TYPES = ['HS_SITE.PREFIX', 'HS_NA_DELEGATE'];
/** Value types naming service handles whose own HS_SITE values are the sites. */
const SERVICE_TYPES = ['HS_SERV'];
const PREFIX_SERVICE_TYPES = ['HS_SERV.PREFIX'];

/** Every type a service lookup needs from a prefix record. */
export const SERVICE_VALUE_TYPES: readonly string[] = [...SITE_TYPES, ...PREFIX_SITE_TYPES, ...SERVICE_TYPES, ...PREFIX_SERVICE_TYPES];

export type SiteKind = 'site' | 'prefix';

const typeOf = (v: HandleValue) => asciiUpper(v.type);

/** The sites a record's values name, for the prefix itself (`site`) or for prefixes derived from it (`prefix`); unreadable ones skipped. */
export function sitesFromValues(values: readonly HandleValue[], kind: SiteKind): SiteInfo[] {
  const types = kind === 'site' ? SITE_TYPES : PREFIX_SITE_TYPES;
  const out: SiteInfo[] = [];
  for (const v of values) {
    if (!types.includes(typeOf(v)) || v.data.format !== 'site') continue;
    try {
      const s = siteInfoFromJson(v.data.value);
      if (s.servers.length > 0) out.push(s);
    } catch {
      // a site that does not parse names nothing
    }
  }
  // primary sites first, otherwise in the record's order (Handle.Net prefers primaries for what must be current)
  return out.sort((a, b) => Number(b.primary) - Number(a.primary));
}

/** The service handles (HS_SERV, or HS_SERV.PREFIX for derived prefixes) a record's values name. */
export function serviceHandles(values: readonly HandleValue[], kind: SiteKind): string[] {
  const types = kind === 'site' ? SERVICE_TYPES : PREFIX_SERVICE_TYPES;
  const out: string[] = [];
  for (const v of values) if (types.includes(typeOf(v)) && v.data.format === 'string' && v.data.value.length > 0) out.push(v.data.value);
  return out;
}

/** Handle.Net's SiteInfo.getHandleHash: MD5 of the hashed part (ASCII upper-cased), its last four bytes as a signed int, made positive. */
export function handleHash(handle: string, hashOption: number): number {
  const slash = handle.indexOf('/');
  const part = hashOption === 0 ? (slash < 0 ? handle : handle.slice(0, slash)) : hashOption === 1 ? (slash < 0 ? '' : handle.slice(slash + 1)) : handle;
  const digest = createHash('md5').update(asciiUpper(part), 'utf8').digest();
  return Math.abs(digest.readInt32BE(digest.length - 4));
}

/** A site's servers in the order to try them for `handle`: the one the protocol's hash picks, then the others (failover). */
export function serverOrder(site: SiteInfo, handle: string): ServerInfo[] {
  const n = site.servers.length;
  if (n <= 1) return site.servers;
  const first = handleHash(handle, site.hashOption) % n;
  return [...site.servers.slice(first), ...site.servers.slice(0, first)];
}

/** A server's resolution endpoints: UDP first, then TCP (the interfaces that answer queries; HTTP is not spoken here). */
export function endpointsOf(server: ServerInfo): Endpoint[] {
  let host: string;
  try {
    host = formatServerAddress(server.address);
  } catch {
    return [];
  }
  const out: Endpoint[] = [];
  for (const protocol of ['udp', 'tcp'] as const) {
    for (const i of server.interfaces) {
      if (i.protocol === protocol && (i.type === 'query' || i.type === 'both') && i.port > 0 && i.port < 65536) out.push({ host, port: i.port, protocol });
    }
  }
  return out;
}

/** A one-server site answering on UDP and TCP at `host:port` (how UPSTREAM_SITES lists servers); hashed by whole handle. */
export function siteOfAddress(host: string, port: number): SiteInfo {
  const address = parseServerAddress(host);
  if (address === null) throw new RangeError(`not an IP address: ${host}`);
  return oneServerSite({
    address,
    hashOption: 2,
    interfaces: [
      { type: 'query', protocol: 'udp', port },
      { type: 'query', protocol: 'tcp', port },
    ],
  });
}

/**
 * UPSTREAM_SITES as configured: a comma- or space-separated list of `host:port` (`[v6]:port`), each a one-server site
 * tried in order, or Handle.Net's JSON of one HS_SITE value (an object) or several (an array). Throws RangeError
 * saying what is wrong.
 */
export function parseUpstreamSites(text: string): SiteInfo[] {
  const s = text.trim();
  if (s === '') return [];
  if (s.startsWith('{') || s.startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(s);
    } catch {
      throw new RangeError('UPSTREAM_SITES looks like JSON but does not parse');
    }
    const list = Array.isArray(json) ? json : [json];
    return list.map((d, i) => {
      const value = d !== null && typeof d === 'object' && 'data' in d ? ((d as { data: { value?: unknown } }).data.value ?? (d as { data: unknown }).data) : d;
      let site: SiteInfo;
      try {
        site = siteInfoFromJson(value as never);
      } catch (e) {
        throw new RangeError(`UPSTREAM_SITES site ${i + 1} is not an HS_SITE value: ${(e as Error).message}`);
      }
      if (site.servers.length === 0) throw new RangeError(`UPSTREAM_SITES site ${i + 1} lists no servers`);
      return site;
    });
  }
  return s.split(/[\s,]+/).map((item) => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(item);
    const port = m === null ? NaN : Number(m[3]);
    if (m === null || port < 1 || port > 65535) throw new RangeError(`UPSTREAM_SITES entry "${item}" is not host:port (an IP address and a port, [v6]:port for IPv6)`);
    return siteOfAddress(m[1] ?? m[2]!, port);
  });
}
