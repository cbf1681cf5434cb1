// Tests for handle/wire/site.ts: the HS_SITE record, its Handle.Net JSON form, and server addresses (parsed and formatted).
import { describe, expect, it } from 'vitest';
import { HandleError, RC } from '../../../handle/codes.js';
import {
  decodeSiteInfo,
  encodeSiteInfo,
  formatServerAddress,
  parseServerAddress,
  type SiteInfo,
  siteInfoFromJson,
  siteInfoToJson,
} from '../../../handle/wire/site.js';
import { expectWireError, hex, RSA_KEY_JSON, RSA_KEY_RECORD, SITE, SITE_JSON, SITE_RECORD } from './fixtures.js';

describe('site info (binary)', () => {
  it('decodes the hand-built record and encodes it back byte for byte', () => {
    expect(decodeSiteInfo(SITE_RECORD)).toEqual(SITE);
    expect(hex(encodeSiteInfo(SITE))).toBe(hex(SITE_RECORD));
  });

  it('round-trips flags, hash filter, several servers, IPv6 and a public key', () => {
    const s: SiteInfo = {
      ...SITE,
      serialNumber: 0xffff,
      primary: false,
      multiPrimary: true,
      hashOption: 2,
      hashFilter: Uint8Array.from([1, 2, 3]),
      attributes: [],
      servers: [
        { ...SITE.servers[0]!, publicKey: RSA_KEY_RECORD },
        { serverId: 0xffffffff, address: parseServerAddress('2001:db8::1')!, publicKey: new Uint8Array(0), interfaces: [{ type: 'out-of-service', protocol: 'https', port: 443 }, { type: 'admin', protocol: 'udp', port: 0 }] },
      ],
    };
    const b = encodeSiteInfo(s);
    expect(b[6]).toBe(0x40); // MULTI_PRIMARY only
    expect(decodeSiteInfo(b)).toEqual(s);
  });

  it('right-aligns a 4-byte address as Handle.Net does', () => {
    const b = encodeSiteInfo({ ...SITE, servers: [{ ...SITE.servers[0]!, address: Uint8Array.from([127, 0, 0, 1]) }] });
    expect(hex(b)).toBe(hex(SITE_RECORD));
  });

  it('rejects unknown interface types and protocols, truncation and trailing bytes', () => {
    const typeAt = SITE_RECORD.length - 12; // first interface's type byte
    const badType = Uint8Array.from(SITE_RECORD);
    badType[typeAt] = 4;
    expectWireError(() => decodeSiteInfo(badType));
    const badProtocol = Uint8Array.from(SITE_RECORD);
    badProtocol[typeAt + 1] = 4;
    expectWireError(() => decodeSiteInfo(badProtocol));
    for (let n = 0; n < SITE_RECORD.length; n++) expectWireError(() => decodeSiteInfo(SITE_RECORD.subarray(0, n)));
    expectWireError(() => decodeSiteInfo(Buffer.concat([SITE_RECORD, Buffer.from([0])])));
    const badAttr = Uint8Array.from(SITE_RECORD);
    badAttr[20] = 0xfe; // inside "desc"
    expectWireError(() => decodeSiteInfo(badAttr));
  });

  it('refuses to encode what does not fit', () => {
    expect(() => encodeSiteInfo({ ...SITE, serialNumber: 0x10000 })).toThrow(RangeError);
    expect(() => encodeSiteInfo({ ...SITE, servers: [{ ...SITE.servers[0]!, address: new Uint8Array(17) }] })).toThrow(RangeError);
  });
});

describe('site info (JSON)', () => {
  it('shows a site in Handle.Net’s Gson shape', () => {
    expect(siteInfoToJson(SITE)).toEqual(SITE_JSON);
    expect(Object.keys(siteInfoToJson(SITE))).toEqual(['version', 'protocolVersion', 'serialNumber', 'primarySite', 'multiPrimary', 'hashOption', 'attributes', 'servers']);
  });

  it('leaves out hashOption 2 and shows a hash filter and a public key', () => {
    const json = siteInfoToJson({ ...SITE, hashOption: 2, hashFilter: Buffer.from('abc'), servers: [{ ...SITE.servers[0]!, publicKey: RSA_KEY_RECORD }] });
    expect(json.hashOption).toBeUndefined();
    expect(json.hashFilter).toBe('abc');
    expect((json.servers as { publicKey: unknown }[])[0]!.publicKey).toEqual({ format: 'key', value: RSA_KEY_JSON });
  });

  it('reads its own JSON back', () => {
    expect(siteInfoFromJson(SITE_JSON)).toEqual(SITE);
    const withKey = siteInfoToJson({ ...SITE, servers: [{ ...SITE.servers[0]!, publicKey: RSA_KEY_RECORD }] });
    expect(hex(siteInfoFromJson(withKey).servers[0]!.publicKey)).toBe(hex(RSA_KEY_RECORD));
  });

  it('takes Handle.Net’s defaults for absent fields', () => {
    expect(siteInfoFromJson({})).toEqual({
      dataVersion: 1,
      protocolMajor: 2,
      protocolMinor: 11,
      serialNumber: 0,
      primary: false,
      multiPrimary: false,
      hashOption: 2,
      hashFilter: new Uint8Array(0),
      attributes: [],
      servers: [],
    });
  });

  it('accepts the forms Gson accepts: legacy capitalised keys, serverList, attribute maps, strings for numbers', () => {
    const legacy = {
      Version: '1',
      ProtocolVersion: '2.5',
      SerialNumber: '7',
      PrimarySite: 'TRUE',
      MultiPrimary: false,
      ServerList: [
        {
          ServerId: 2,
          Address: '192.0.2.1',
          PublicKey: '0102ff',
          InterfaceList: [{ Query: true, Admin: true, Protocol: 'TCP', Port: '2641' }],
        },
      ],
      Attributes: { desc: 'legacy', alt_addr: ['198.51.100.1', '198.51.100.2'] },
    };
    const s = siteInfoFromJson(legacy);
    expect([s.protocolMajor, s.protocolMinor, s.serialNumber, s.primary]).toEqual([2, 5, 7, true]);
    expect(s.attributes).toEqual([
      { name: 'desc', value: 'legacy' },
      { name: 'alt_addr', value: '198.51.100.1' },
      { name: 'alt_addr', value: '198.51.100.2' },
    ]);
    expect(s.servers[0]).toEqual({
      serverId: 2,
      address: parseServerAddress('192.0.2.1'),
      publicKey: Uint8Array.from([1, 2, 0xff]), // legacy: a hex string
      interfaces: [{ type: 'both', protocol: 'tcp', port: 2641 }],
    });
  });

  it('reads public keys given as string, base64, hex or key data, and interface protocols by number', () => {
    const server = (publicKey: unknown) => siteInfoFromJson({ servers: [{ serverId: 1, address: '::1', publicKey, interfaces: [{ query: true, admin: false, protocol: 3, port: 443 }] }] }).servers[0]!;
    expect(Buffer.from(server('abc').publicKey).toString()).toBe('abc');
    expect(hex(server({ format: 'base64', value: 'AQI=' }).publicKey)).toBe('0102');
    expect(hex(server({ format: 'hex', value: '0a0B' }).publicKey)).toBe('0a0b');
    expect(hex(server({ format: 'string', value: 'k' }).publicKey)).toBe('6b');
    expect(hex(server({ format: 'key', value: RSA_KEY_JSON }).publicKey)).toBe(hex(RSA_KEY_RECORD));
    expect(server(null).publicKey.length).toBe(0);
    expect(server(null).interfaces).toEqual([{ type: 'query', protocol: 'https', port: 443 }]);
  });

  it('rejects what Handle.Net could not read, with RC 202', () => {
    const bad: unknown[] = [
      { servers: {} },
      { servers: [{ address: '10.0.0.1' }] }, // no serverId
      { servers: [{ serverId: 1, address: 'handle.example.org' }] }, // host names are not resolved here
      { servers: [{ serverId: 1, address: '10.0.0.256' }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', publicKey: { format: 'key', value: { kty: 'EC' } } }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', publicKey: { format: 'vlist', value: [] } }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', publicKey: { format: 'hex', value: 'abc' } }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: true, protocol: 'FTP', port: 21 }] }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: 1, protocol: 'TCP', port: 21 }] }] },
      { servers: [{ serverId: 1, address: '10.0.0.1', interfaces: [{ query: true, protocol: 'TCP', port: -1 }] }] },
      { protocolVersion: 'two' },
      { serialNumber: 70000 },
      { attributes: [{ name: 'x' }] },
      { attributes: 'x' },
    ];
    for (const b of bad) {
      try {
        siteInfoFromJson(b as Record<string, unknown>);
        throw new Error(`accepted ${JSON.stringify(b)}`);
      } catch (e) {
        expect(e).toBeInstanceOf(HandleError);
        expect((e as HandleError).code).toBe(RC.INVALID_VALUE);
      }
    }
  });
});

describe('server addresses', () => {
  it('stores IPv4 as 12 zero bytes + 4, IPv4-mapped IPv6 too (Java makes it an Inet4Address)', () => {
    const v4 = '00000000000000000000000001020304';
    expect(hex(parseServerAddress('1.2.3.4')!)).toBe(v4);
    expect(hex(parseServerAddress('::ffff:1.2.3.4')!)).toBe(v4);
    expect(hex(parseServerAddress('::FFFF:102:304')!)).toBe(v4);
    expect(hex(parseServerAddress('[2001:db8::1]')!)).toBe('20010db8000000000000000000000001');
    expect(hex(parseServerAddress('fe80::1%eth0')!)).toBe('fe800000000000000000000000000001');
    expect(hex(parseServerAddress('1:2:3:4:5:6:7:8')!)).toBe('00010002000300040005000600070008');
  });

  it('returns null for what is not an address literal', () => {
    for (const s of ['', 'localhost', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '12345::', ':::', '1:2:3:4:5:6:7::8']) {
      expect(parseServerAddress(s)).toBeNull();
    }
  });

  it('reads literals with ipaddr.js exactly as the hand-written parser did', () => {
    const v4 = '00000000000000000000000001020304';
    expect(hex(parseServerAddress('::1')!)).toBe('00000000000000000000000000000001');
    expect(hex(parseServerAddress('[fe80::1%eth0]')!)).toBe('fe800000000000000000000000000001');
    expect(hex(parseServerAddress('fe80::1%en0.5')!)).toBe('fe800000000000000000000000000001'); // any zone text is dropped
    expect(hex(parseServerAddress('[::ffff:1.2.3.4]')!)).toBe(v4);
    expect(hex(parseServerAddress('::1.2.3.4')!)).toBe(v4); // IPv4-compatible: 12 zero bytes + 4 as well
    expect(hex(parseServerAddress('1.2.3.4%eth0')!)).toBe(v4);
    expect(hex(parseServerAddress(' 10.0.0.1 ')!)).toBe('0000000000000000000000000a000001');
    expect(hex(parseServerAddress('010.0.0.1')!)).toBe('0000000000000000000000000a000001'); // leading zeros are decimal, not octal
    // ipaddr.js alone would take inet_aton's forms and hex or long parts in an embedded quad; this parser never did
    for (const s of ['1.2.3', '256.1.1.1', 'example.com', '127.1', '0x7f.0.0.1', '16909060', '::ffff:0x7f.0.0.1', '::ffff:0001.2.3.4', '::ffff:256.1.1.1', '[::1']) {
      expect(parseServerAddress(s)).toBeNull();
    }
  });

  it('formats as ServerInfo.getAddressString / Util.rfcIpRepr do, quirks included', () => {
    const f = (s: string) => formatServerAddress(parseServerAddress(s)!);
    expect(f('127.0.0.1')).toBe('127.0.0.1');
    expect(f('2001:db8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(f('2001:0db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first of two equal runs
    expect(f('fe80:0:0:1:0:0:0:1')).toBe('fe80:0:0:1::1'); // the longest run
    expect(f('1:0:2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7'); // a single zero is not shortened
    expect(f('1::')).toBe('1:0:0:0:0:0:0:0'); // a run reaching the end is never chosen
    expect(f('::1')).toBe('0.0.0.1'); // first 12 bytes zero: shown as IPv4
    expect(formatServerAddress(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]))).toBe('::ffff:102:304');
    expect(formatServerAddress(Uint8Array.from([10, 0, 0, 1]))).toBe('10.0.0.1');
  });
});
