// Site info in the native protocol (RFC 3651 §3.2.2, HS_SITE): the binary record, its JSON form, and server addresses.
import ipaddr from 'ipaddr.js';
import { HandleError, RC } from '../codes.js';
import type { SiteData } from '../types.js';
import { EMPTY, Reader, WireError, Writer } from './bytes.js';
import { PROTOCOL_VERSION } from './envelope.js';
import { decodePublicKey, publicKeyBytesFromJson } from './keys.js';

/** The site of this node, as HS_SITE carries it (RFC 3651 §3.2.2). */
export interface SiteInfo {
  /** data format version: 1 */
  dataVersion: number;
  /** protocol version the site speaks */
  protocolMajor: number;
  protocolMinor: number;
  serialNumber: number;
  primary: boolean;
  multiPrimary: boolean;
  /**
   * Hash option (0 by prefix, 1 by suffix, 2 by whole handle) and filter. Handle.Net's default, and what its JSON
   * leaves out, is 2 (SiteInfo.HASH_TYPE_BY_ALL); the filter is normally empty. Neither matters for one server.
   */
  hashOption: number;
  hashFilter: Uint8Array;
  attributes: { name: string; value: string }[];
  servers: ServerInfo[];
}

export interface ServerInfo {
  serverId: number;
  /**
   * 16 bytes: IPv6, or IPv4 as 12 zero bytes + the 4 address bytes (::a.b.c.d), which is how Handle.Net stores IPv4
   * (ServerInfo.isIPv4 tests the first 12 bytes; an IPv4-mapped ::ffff:a.b.c.d JSON address also becomes ::a.b.c.d).
   */
  address: Uint8Array;
  /** the server's public key record (may be empty) */
  publicKey: Uint8Array;
  interfaces: { type: 'admin' | 'query' | 'both' | 'out-of-service'; protocol: 'udp' | 'tcp' | 'http' | 'https'; port: number }[];
}

/**
 * A site of one primary server, serial 1, protocol 2.10 (what CAICT's ID-SDK speaks and Handle.Net 9 accepts): how
 * this node, an enterprise's own node and a `host:port` upstream are described. Hash by prefix unless told.
 */
export function oneServerSite(o: { address: Uint8Array; interfaces: ServerInfo['interfaces']; publicKey?: Uint8Array; hashOption?: number; desc?: string }): SiteInfo {
  return {
    dataVersion: 1,
    protocolMajor: 2,
    protocolMinor: 10,
    serialNumber: 1,
    primary: true,
    multiPrimary: false,
    hashOption: o.hashOption ?? 0,
    hashFilter: new Uint8Array(0),
    attributes: o.desc === undefined ? [] : [{ name: 'desc', value: o.desc }],
    servers: [{ serverId: 1, address: o.address, publicKey: o.publicKey ?? new Uint8Array(0), interfaces: o.interfaces }],
  };
}

// Site info (Encoder.encodeSiteInfoRecord / decodeSiteInfoRecord).

const SITE_PRIMARY = 0x80;
const SITE_MULTI_PRIMARY = 0x40;
const HASH_TYPE_BY_ALL = 2;
const IP_ADDRESS_LENGTH = 16;
const INTERFACE_TYPES = ['out-of-service', 'admin', 'query', 'both'] as const; // Interface.ST_*: 0, 1, 2, 3
const INTERFACE_PROTOCOLS = ['udp', 'tcp', 'http', 'https'] as const; // Interface.SP_HDL_*: 0, 1, 2, 3
type InterfaceInfo = ServerInfo['interfaces'][number];

/**
 * dataVersion u16, protocol major u8, minor u8, serialNumber u16, flags u8 (primary 0x80, multi-primary 0x40),
 * hashOption u8, hashFilter (byte array), attributes (u32 count + name string, value string), servers (u32 count +
 * serverId u32, 16 address bytes, public key byte array, interfaces (u32 count + type u8, protocol u8, port u32)).
 * An address shorter than 16 bytes is right-aligned, as Handle.Net does.
 */
export function encodeSiteInfo(s: SiteInfo): Buffer {
  const w = new Writer(256);
  w.u16(s.dataVersion, 'site data version');
  w.u8(s.protocolMajor, 'site protocol major version');
  w.u8(s.protocolMinor, 'site protocol minor version');
  w.u16(s.serialNumber, 'site serial number');
  w.u8((s.primary ? SITE_PRIMARY : 0) | (s.multiPrimary ? SITE_MULTI_PRIMARY : 0), 'site flags');
  w.u8(s.hashOption, 'hash option');
  w.byteArray(s.hashFilter, 'hash filter');
  w.u32(s.attributes.length, 'attribute count');
  for (const a of s.attributes) {
    w.string(a.name, 'attribute name');
    w.string(a.value, 'attribute value');
  }
  w.u32(s.servers.length, 'server count');
  for (const srv of s.servers) {
    w.u32(srv.serverId, 'server id');
    if (srv.address.byteLength > IP_ADDRESS_LENGTH) throw new RangeError(`server address must be at most 16 bytes (got ${srv.address.byteLength})`);
    const addr = new Uint8Array(IP_ADDRESS_LENGTH);
    addr.set(srv.address, IP_ADDRESS_LENGTH - srv.address.byteLength);
    w.raw(addr);
    w.byteArray(srv.publicKey, 'server public key');
    w.u32(srv.interfaces.length, 'interface count');
    for (const itf of srv.interfaces) {
      const type = INTERFACE_TYPES.indexOf(itf.type);
      const protocol = INTERFACE_PROTOCOLS.indexOf(itf.protocol);
      if (type < 0) throw new RangeError(`unknown interface type ${String(itf.type)}`);
      if (protocol < 0) throw new RangeError(`unknown interface protocol ${String(itf.protocol)}`);
      w.u8(type, 'interface type');
      w.u8(protocol, 'interface protocol');
      w.u32(itf.port, 'interface port');
    }
  }
  return w.finish();
}

/** The inverse. Unknown interface types (> 3) and protocols (> 3) are WireErrors; so are bytes after the record. */
export function decodeSiteInfo(bytes: Uint8Array): SiteInfo {
  const r = new Reader(bytes, 'site info');
  const dataVersion = r.u16('data version');
  const protocolMajor = r.u8('protocol major version');
  const protocolMinor = r.u8('protocol minor version');
  const serialNumber = r.u16('serial number');
  const flags = r.u8('flags');
  const hashOption = r.u8('hash option');
  const hashFilter = Uint8Array.from(r.byteArray('hash filter'));
  const attrCount = r.count('attribute count', 8);
  const attributes: SiteInfo['attributes'] = [];
  for (let i = 0; i < attrCount; i++) {
    const name = r.string(`attribute ${i} name`);
    attributes.push({ name, value: r.string(`attribute ${i} value`) });
  }
  const serverCount = r.count('server count', 4 + IP_ADDRESS_LENGTH + 4 + 4);
  const servers: ServerInfo[] = [];
  for (let i = 0; i < serverCount; i++) {
    const serverId = r.u32(`server ${i} id`);
    const address = Uint8Array.from(r.bytes(IP_ADDRESS_LENGTH, `server ${i} address`));
    const publicKey = Uint8Array.from(r.byteArray(`server ${i} public key`));
    const intfCount = r.count(`server ${i} interface count`, 6);
    const interfaces: InterfaceInfo[] = [];
    for (let j = 0; j < intfCount; j++) {
      const typeByte = r.u8(`server ${i} interface ${j} type`);
      const protocolByte = r.u8(`server ${i} interface ${j} protocol`);
      const port = r.u32(`server ${i} interface ${j} port`);
      const type = INTERFACE_TYPES[typeByte];
      const protocol = INTERFACE_PROTOCOLS[protocolByte];
      if (type === undefined) throw r.fail(`server ${i} interface ${j} has unknown type ${typeByte}`);
      if (protocol === undefined) throw r.fail(`server ${i} interface ${j} has unknown protocol ${protocolByte}`);
      interfaces.push({ type, protocol, port });
    }
    servers.push({ serverId, address, publicKey, interfaces });
  }
  r.end();
  return {
    dataVersion,
    protocolMajor,
    protocolMinor,
    serialNumber,
    primary: (flags & SITE_PRIMARY) !== 0,
    multiPrimary: (flags & SITE_MULTI_PRIMARY) !== 0,
    hashOption,
    hashFilter,
    attributes,
    servers,
  };
}

// --- addresses (ServerInfo.getAddressString / Util.rfcIpRepr; GsonUtility's InetAddress.getByName + fill16) ----------

/** ServerInfo.getAddressString: first 12 bytes zero → dotted IPv4 of the last 4; else Util.rfcIpRepr. */
export function formatServerAddress(address: Uint8Array): string {
  if (address.byteLength === 4) return Array.from(address).join('.');
  if (address.byteLength !== IP_ADDRESS_LENGTH) throw new RangeError(`server address must be 16 bytes (got ${address.byteLength})`);
  if (address.subarray(0, 12).every((b) => b === 0)) return Array.from(address.subarray(12)).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((address[i] as number) << 8) | (address[i + 1] as number));
  // Util.integerIPv6AddressToString: the longest run (first of equal ones) of ≥ 2 zero groups becomes "::"; its quirk
  // is that a run reaching the last group is never chosen, kept here so the output matches byte for byte.
  let runStart = 0;
  let runLength = 0;
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; i++) {
    if (groups[i] === 0) {
      if (runLength === 0) runStart = i;
      runLength++;
    } else {
      if (runLength > bestLength) {
        bestStart = runStart;
        bestLength = runLength;
      }
      runLength = 0;
    }
  }
  if (bestLength === 1) bestStart = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i !== bestStart) {
      out += (groups[i] as number).toString(16);
      if (i < 7) out += ':';
    } else {
      if (i === 0) out += ':';
      i += bestLength - 1;
      out += ':';
    }
  }
  return out;
}

/**
 * The literal forms parseServerAddress reads: a dotted-decimal quad, or colons and hex groups that may end in one.
 * ipaddr.js alone also takes inet_aton's forms (1.2.3, 127.1, 0x7f.0.0.1, 0177.0.0.1 as octal) and hex or 4+-digit
 * parts in an embedded quad, none of which this codec has ever accepted. Within these shapes ipaddr.js does the
 * parsing: group counts, "::", ranges.
 */
const IPV4_LITERAL = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6_LITERAL = /^[0-9A-Fa-f:]*:(?:[0-9A-Fa-f]*|\d{1,3}(?:\.\d{1,3}){3})$/;

/**
 * An IP address literal → 16 bytes, as Handle.Net's Gson adapter stores it: fill16(InetAddress.getByName(s).getAddress()),
 * so IPv4 (and IPv4-mapped IPv6, which Java turns into IPv4) becomes 12 zero bytes + 4. Host names are not resolved
 * (this codec does no I/O): null. Brackets and a %zone are accepted (and the zone dropped); a quad's leading zeros
 * are decimal (010 is 10, where ipaddr.js would read octal). Parsed by ipaddr.js.
 */
export function parseServerAddress(input: string): Uint8Array | null {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const out = new Uint8Array(IP_ADDRESS_LENGTH);
  if (IPV4_LITERAL.test(s)) {
    const decimal = s.replace(/\b0+(?=\d)/g, '');
    if (!ipaddr.IPv4.isValid(decimal)) return null;
    out.set(ipaddr.IPv4.parse(decimal).toByteArray(), 12);
    return out;
  }
  if (!IPV6_LITERAL.test(s) || !ipaddr.IPv6.isValid(s)) return null;
  const v6 = ipaddr.IPv6.parse(s);
  // IPv4-mapped (::ffff:a.b.c.d): Java's InetAddress.getByName returns an Inet4Address, so fill16 zero-pads it.
  if (v6.isIPv4MappedAddress()) out.set(v6.toIPv4Address().toByteArray(), 12);
  else out.set(v6.toByteArray());
  return out;
}

// --- JSON (GsonUtility.SiteInfoGsonTypeAdapter, ServerInfoGsonTypeAdapter, InterfaceGsonTypeAdapter) ----------------

const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function keyOrBinaryJson(publicKey: Uint8Array): { format: string; value: unknown } {
  try {
    return { format: 'key', value: decodePublicKey(publicKey) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
  return { format: 'base64', value: Buffer.from(publicKey).toString('base64') };
}

/**
 * The JSON form of a site (Handle.Net's Gson shape, as HS_SITE values are stored and shown over HTTP):
 * {version, protocolVersion: "2.10", serialNumber, primarySite, multiPrimary, hashOption (only when not 2),
 * hashFilter (only when not empty), attributes: [{name, value}], servers: [{serverId, address, publicKey:
 * {format: "key", value: {kty, …}} or {format: "base64", value}, interfaces: [{query, admin, protocol: "TCP", port}]}]}.
 */
export function siteInfoToJson(s: SiteInfo): SiteData {
  const out: SiteData = {
    version: s.dataVersion,
    protocolVersion: `${s.protocolMajor}.${s.protocolMinor}`,
    serialNumber: s.serialNumber,
    primarySite: s.primary,
    multiPrimary: s.multiPrimary,
  };
  if (s.hashOption !== HASH_TYPE_BY_ALL) out.hashOption = s.hashOption;
  if (s.hashFilter.byteLength > 0) out.hashFilter = lenientUtf8.decode(s.hashFilter);
  out.attributes = s.attributes.map((a) => ({ name: a.name, value: a.value }));
  out.servers = s.servers.map((srv) => ({
    serverId: srv.serverId,
    address: formatServerAddress(srv.address),
    publicKey: keyOrBinaryJson(srv.publicKey),
    interfaces: srv.interfaces.map((itf) => ({
      query: itf.type === 'query' || itf.type === 'both',
      admin: itf.type === 'admin' || itf.type === 'both',
      protocol: itf.protocol.toUpperCase(),
      port: itf.port,
    })),
  }));
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** GsonUtility.lowerCaseIfNeeded: legacy objects (with ServerList, Address or Port) get lower-cased first letters. */
function lowerCaseIfNeeded(o: Record<string, unknown>): { obj: Record<string, unknown>; legacy: boolean } {
  if (!('ServerList' in o) && !('Address' in o) && !('Port' in o)) return { obj: o, legacy: false };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.length === 0 ? k : k.charAt(0).toLowerCase() + k.slice(1)] = v;
  return { obj: out, legacy: true };
}

function siteError(field: string, problem: string, value?: unknown): HandleError {
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 60) ?? String(value)})`;
  return new HandleError(RC.INVALID_VALUE, `Site data: ${field} ${problem}${shown}`);
}

/** Gson getAsInt: a JSON number or a numeric string. */
function jsonInt(raw: unknown, field: string, max: number): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw siteError(field, `must be an integer 0 … ${max}`, raw);
  return n;
}

/** Gson getAsBoolean: a boolean, or a string that is "true" ignoring case; absent → false. */
function jsonBool(raw: unknown, field: string): boolean {
  if (raw === undefined || raw === null) return false;
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') return raw.toLowerCase() === 'true';
  throw siteError(field, 'must be a boolean', raw);
}

function jsonString(raw: unknown, field: string): string {
  if (typeof raw !== 'string') throw siteError(field, 'must be a string', raw);
  return raw;
}

function bytesOfEncoding(value: string, encoding: 'base64' | 'hex', field: string): Uint8Array {
  const ok = encoding === 'hex' ? /^([0-9A-Fa-f]{2})*$/.test(value) : /^[A-Za-z0-9+/_-]*={0,2}$/.test(value.replace(/\s+/g, ''));
  if (!ok) throw siteError(field, `is not valid ${encoding}`, value);
  const clean = encoding === 'hex' ? value : value.replace(/\s+/g, '').replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  return new Uint8Array(Buffer.from(clean, encoding));
}

/** GsonUtility.deserializeData, for a server's publicKey: "text" (hex when legacy), or {format, value}. */
function publicKeyFromJson(raw: unknown, legacy: boolean, field: string): Uint8Array {
  if (raw === undefined || raw === null) return EMPTY;
  if (typeof raw === 'string') return legacy ? bytesOfEncoding(raw, 'hex', field) : new Uint8Array(Buffer.from(raw, 'utf8'));
  if (!isObject(raw) || typeof raw.format !== 'string') throw siteError(field, 'must be a string or {format, value}', raw);
  const format = raw.format.toLowerCase();
  const value = raw.value;
  switch (format) {
    case 'string':
      return new Uint8Array(Buffer.from(jsonString(value, `${field}.value`), 'utf8'));
    case 'base64':
    case 'hex':
      return bytesOfEncoding(jsonString(value, `${field}.value`), format, `${field}.value`);
    case 'key': {
      if (!isObject(value)) throw siteError(`${field}.value`, 'must be a key object {kty, …}', value);
      const bytes = publicKeyBytesFromJson(value);
      if (bytes === null) throw siteError(`${field}.value`, 'is not an RSA or DSA public key', value);
      return new Uint8Array(bytes);
    }
    default:
      throw siteError(`${field}.format`, 'must be string, base64, hex or key', raw.format);
  }
}

function interfaceFromJson(raw: unknown, field: string): InterfaceInfo {
  if (!isObject(raw)) throw siteError(field, 'must be an object {query, admin, protocol, port}', raw);
  const { obj } = lowerCaseIfNeeded(raw);
  const query = jsonBool(obj.query, `${field}.query`);
  const admin = jsonBool(obj.admin, `${field}.admin`);
  const type: InterfaceInfo['type'] = query ? (admin ? 'both' : 'query') : admin ? 'admin' : 'out-of-service';
  let protocol: InterfaceInfo['protocol'] | undefined;
  const p = obj.protocol;
  if (typeof p === 'string' && !/^\d+$/.test(p.trim())) {
    protocol = INTERFACE_PROTOCOLS.find((name) => name === p.trim().toLowerCase());
  } else if (typeof p === 'number' || typeof p === 'string') {
    protocol = INTERFACE_PROTOCOLS[Number(p)];
  }
  if (protocol === undefined) throw siteError(`${field}.protocol`, 'must be UDP, TCP, HTTP or HTTPS', p);
  return { type, protocol, port: jsonInt(obj.port, `${field}.port`, 0xffffffff) };
}

function serverFromJson(raw: unknown, field: string): ServerInfo {
  if (!isObject(raw)) throw siteError(field, 'must be a server object', raw);
  const { obj, legacy } = lowerCaseIfNeeded(raw);
  const serverId = jsonInt(obj.serverId, `${field}.serverId`, 0xffffffff);
  const addressText = jsonString(obj.address, `${field}.address`);
  const address = parseServerAddress(addressText);
  if (address === null) throw siteError(`${field}.address`, 'must be an IPv4 or IPv6 address literal', addressText);
  const publicKey = publicKeyFromJson(obj.publicKey, legacy, `${field}.publicKey`);
  const intfs = obj.interfaces !== undefined ? obj.interfaces : obj.interfaceList;
  if (intfs !== undefined && intfs !== null && !Array.isArray(intfs)) throw siteError(`${field}.interfaces`, 'must be an array', intfs);
  const interfaces = (intfs ?? []).map((it: unknown, j: number) => interfaceFromJson(it, `${field}.interfaces[${j}]`));
  return { serverId, address, publicKey, interfaces };
}

/** Attributes as an array of {name, value}, or an object {name: value | [values]} (both accepted by Handle.Net). */
function attributesFromJson(raw: unknown): SiteInfo['attributes'] {
  if (raw === undefined || raw === null) return [];
  const out: SiteInfo['attributes'] = [];
  if (Array.isArray(raw)) {
    raw.forEach((a: unknown, i: number) => {
      if (!isObject(a)) throw siteError(`attributes[${i}]`, 'must be an object {name, value}', a);
      out.push({ name: jsonString(a.name, `attributes[${i}].name`), value: jsonString(a.value, `attributes[${i}].value`) });
    });
    return out;
  }
  if (!isObject(raw)) throw siteError('attributes', 'must be an array or an object', raw);
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) value.forEach((v: unknown, i: number) => out.push({ name, value: jsonString(v, `attributes.${name}[${i}]`) }));
    else out.push({ name, value: jsonString(value, `attributes.${name}`) });
  }
  return out;
}

/**
 * A site from its JSON form (GsonUtility.SiteInfoGsonTypeAdapter.deserialize, as lenient): legacy capitalised keys and
 * serverList / interfaceList are accepted; absent fields take Handle.Net's SiteInfo defaults (version 1, protocol
 * 2.11, serial 0, not primary, hashOption 2, no filter, no attributes, no servers). Server addresses must be IP
 * literals (Handle.Net would also resolve host names). Throws HandleError(RC.INVALID_VALUE) naming the field.
 */
export function siteInfoFromJson(d: SiteData): SiteInfo {
  if (!isObject(d)) throw siteError('site', 'must be an object', d);
  const { obj } = lowerCaseIfNeeded(d);
  let protocolMajor: number = PROTOCOL_VERSION.major;
  let protocolMinor: number = PROTOCOL_VERSION.minor;
  if (obj.protocolVersion !== undefined && obj.protocolVersion !== null) {
    const text = typeof obj.protocolVersion === 'number' ? String(obj.protocolVersion) : jsonString(obj.protocolVersion, 'protocolVersion');
    const m = /^\s*(\d{1,3})\.(\d{1,3})\s*$/.exec(text);
    if (m === null || Number(m[1]) > 255 || Number(m[2]) > 255) throw siteError('protocolVersion', 'must be "major.minor"', obj.protocolVersion);
    protocolMajor = Number(m[1]);
    protocolMinor = Number(m[2]);
  }
  const servers = obj.servers !== undefined ? obj.servers : obj.serverList;
  if (servers !== undefined && servers !== null && !Array.isArray(servers)) throw siteError('servers', 'must be an array', servers);
  return {
    dataVersion: obj.version === undefined || obj.version === null ? 1 : jsonInt(obj.version, 'version', 0xffff),
    protocolMajor,
    protocolMinor,
    serialNumber: obj.serialNumber === undefined || obj.serialNumber === null ? 0 : jsonInt(obj.serialNumber, 'serialNumber', 0xffff),
    primary: jsonBool(obj.primarySite, 'primarySite'),
    multiPrimary: jsonBool(obj.multiPrimary, 'multiPrimary'),
    hashOption: obj.hashOption === undefined || obj.hashOption === null ? HASH_TYPE_BY_ALL : jsonInt(obj.hashOption, 'hashOption', 0xff),
    hashFilter:
      obj.hashFilter === undefined || obj.hashFilter === null ? EMPTY : new Uint8Array(Buffer.from(jsonString(obj.hashFilter, 'hashFilter'), 'utf8')),
    attributes: attributesFromJson(obj.attributes),
    servers: (servers ?? []).map((srv: unknown, i: number) => serverFromJson(srv, `servers[${i}]`)),
  };
}
