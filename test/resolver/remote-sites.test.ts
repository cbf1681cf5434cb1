// The recursion's pure parts: Handle's server hash (fixtures computed by CNRI's SiteInfo.getHandleHash), server order, endpoints, sites from values, UPSTREAM_SITES.
import { describe, expect, it } from 'vitest';
import { siteInfoToJson } from '../../handle/wire/site.js';
import { endpointsOf, handleHash, parseUpstreamSites, serverOrder, serviceHandles, siteOfAddress, sitesFromValues } from '../../resolver/remote/sites.js';
import { value } from '../helpers/values.js';

describe('handleHash', () => {
  // printed by Handle.Net 9's SiteInfo.getHandleHash (HASH_TYPE_BY_PREFIX, BY_SUFFIX, BY_ALL) for these handles
  const JAVA: [string, number, number, number][] = [
    ['0.NA/88.100', 36223079, 1248849512, 647383543],
    ['88.320924/PUMP-1', 534832626, 1073820276, 1450043592],
    ['88.320924.17/abc', 795173243, 891676978, 85141418],
    ['0.NA/0.NA', 36223079, 36223079, 1989612480],
    ['88.1/Ärger', 1937118296, 294181280, 2142329595],
  ];
  it.each(JAVA)('%s hashes as CNRI hashes it', (h, byPrefix, bySuffix, byAll) => {
    expect([handleHash(h, 0), handleHash(h, 1), handleHash(h, 2)]).toEqual([byPrefix, bySuffix, byAll]);
  });
  it('ignores ASCII case, as the protocol does', () => {
    expect(handleHash('88.320924/pump-1', 2)).toBe(handleHash('88.320924/PUMP-1', 2));
  });
});

describe('servers and endpoints', () => {
  const a = siteOfAddress('127.0.0.1', 2641).servers[0]!;
  const b = { ...siteOfAddress('2001:db8::7', 2642).servers[0]!, serverId: 2 };
  const site = { ...siteOfAddress('127.0.0.1', 1), hashOption: 2, servers: [a, b] };
  it('puts the hashed server first, the others after it in order', () => {
    const pick = handleHash('88.1/X', 2) % 2;
    const order = serverOrder(site, '88.1/X');
    expect(order[0]).toBe(site.servers[pick]);
    expect(order).toHaveLength(2);
  });
  it('tries UDP, then TCP, query interfaces only', () => {
    expect(endpointsOf(a)).toEqual([
      { host: '127.0.0.1', port: 2641, protocol: 'udp' },
      { host: '127.0.0.1', port: 2641, protocol: 'tcp' },
    ]);
    expect(endpointsOf(b).map((e) => e.host)).toEqual(['2001:db8::7', '2001:db8::7']);
    const adminOnly = { ...a, interfaces: [{ type: 'admin' as const, protocol: 'tcp' as const, port: 1 }, { type: 'both' as const, protocol: 'http' as const, port: 80 }] };
    expect(endpointsOf(adminOnly)).toEqual([]);
  });
});

describe('sites from values', () => {
  const siteValue = (type: string, port: number, primary = true) => value(1, type, { format: 'site', value: siteInfoToJson({ ...siteOfAddress('127.0.0.1', port), primary }) });
  it('takes HS_SITE for the prefix, HS_SITE.PREFIX for derived ones, primaries first', () => {
    const values = [siteValue('HS_SITE', 1, false), siteValue('hs_site', 2), siteValue('HS_SITE.PREFIX', 3), value(4, 'URL', { format: 'string', value: 'x' })];
    expect(sitesFromValues(values, 'site').map((s) => s.servers[0]!.interfaces[0]!.port)).toEqual([2, 1]);
    expect(sitesFromValues(values, 'prefix').map((s) => s.servers[0]!.interfaces[0]!.port)).toEqual([3]);
  });
  it('skips a site that does not parse, and reads service handles', () => {
    expect(sitesFromValues([value(1, 'HS_SITE', { format: 'site', value: { nonsense: true } as never })], 'site')).toEqual([]);
    const serv = [value(1, 'HS_SERV', { format: 'string', value: '0.NA/88.SERVICE' }), value(2, 'HS_SERV.PREFIX', { format: 'string', value: '0.NA/88.P' })];
    expect(serviceHandles(serv, 'site')).toEqual(['0.NA/88.SERVICE']);
    expect(serviceHandles(serv, 'prefix')).toEqual(['0.NA/88.P']);
  });
});

describe('UPSTREAM_SITES', () => {
  it('reads host:port lists (IPv6 in brackets), one site each', () => {
    const sites = parseUpstreamSites('10.0.0.1:2641, [2001:db8::1]:2642 10.0.0.2:2641');
    expect(sites).toHaveLength(3);
    expect(endpointsOf(sites[1]!.servers[0]!)[0]).toEqual({ host: '2001:db8::1', port: 2642, protocol: 'udp' });
    expect(parseUpstreamSites('  ')).toEqual([]);
  });
  it('reads HS_SITE JSON, one value or several, bare or as a handle value', () => {
    const json = siteInfoToJson(siteOfAddress('10.1.2.3', 2641));
    expect(parseUpstreamSites(JSON.stringify(json))).toHaveLength(1);
    expect(parseUpstreamSites(JSON.stringify([json, { index: 1, type: 'HS_SITE', data: { format: 'site', value: json } }]))).toHaveLength(2);
  });
  it('refuses what is neither, saying why', () => {
    expect(() => parseUpstreamSites('top.example.cn:2641')).toThrow(/host:port/);
    expect(() => parseUpstreamSites('10.0.0.1:70000')).toThrow(/host:port/);
    expect(() => parseUpstreamSites('{"servers": ')).toThrow(/JSON/);
    expect(() => parseUpstreamSites('{"version":1,"servers":[]}')).toThrow(/no servers/);
  });
});
