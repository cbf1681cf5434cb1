// Recursion between real nodes on loopback: a top-level node homing 88, this county node, an enterprise node self-hosting its prefix — every face, referrals, failover, a loop, a deadline.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { decodeErrorBody, decodeResolutionResponse } from '../../handle/wire/body.js';
import { OPFLAG } from '../../handle/wire/message.js';
import { siteInfoToJson, type SiteInfo } from '../../handle/wire/site.js';
import { handleHash, siteOfAddress } from '../../resolver/remote/sites.js';
import { freePort } from '../helpers/child-node.js';
import { ADMIN_SECRET, basic, startTestServer, type TestServer } from '../helpers/node.js';
import { tcpRequest, udpRequest } from '../helpers/native-client.js';
import { bearer, okData, onboard, operatorLogin } from '../helpers/snms.js';

const TOP = '88';
const PARTNER = '88.100';
const adminOf = (prefix: string) => basic(`300:0.NA/${prefix}`, ADMIN_SECRET);
const url = (s: string) => ({ index: 1, type: 'URL', data: { format: 'string', value: s } });

/** `0.NA/88.100` at the top-level node: a prefix record (its HS_SITE is the node's own, added when read). */
async function partnerRecord(top: TestServer): Promise<void> {
  const r = await top.send('PUT', `/api/handles/0.NA/${PARTNER}`, { values: [{ index: 2, type: 'DESC', data: 'partner county' }] }, adminOf(TOP));
  expect(r.status).toBe(200);
}

/** A server that takes requests and never answers: a UDP socket and a TCP listener on one port. */
async function blackhole(): Promise<{ port: number; close(): Promise<void>; hits: () => number }> {
  const port = await freePort();
  let hits = 0;
  const sockets: Socket[] = [];
  const tcp: Server = createServer((s) => {
    hits++;
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', r));
  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', () => hits++);
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', r));
  return {
    port,
    hits: () => hits,
    close: async () => {
      for (const s of sockets) s.destroy();
      udp.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

describe('recursion through three nodes', () => {
  let top: TestServer;
  let county: TestServer;
  let ent: TestServer;
  let entPrefix: string;
  let opToken: string;

  beforeAll(async () => {
    top = await startTestServer('pglite', { NODE_PREFIX: TOP }, undefined, { native: true });
    // the partner county's prefix record (the top-level node adds its own HS_SITE to it) and identifier, homed there
    await partnerRecord(top);
    expect((await top.send('PUT', `/api/handles/${PARTNER}/P1`, { values: [url('https://partner.example/p1'), { index: 2, type: 'NAME', data: 'pump' }] }, adminOf(TOP))).status).toBe(200);
    county = await startTestServer('pglite', { UPSTREAM_SITES: `127.0.0.1:${top.native!.tcpPort}` }, undefined, { native: true });
    opToken = await operatorLogin(county);
    const o = await onboard(county, opToken, { n: 501, username: 'selfhost1', password: 'Passw0rd!x' });
    entPrefix = o.prefix;
    ent = await startTestServer('pglite', { NODE_PREFIX: entPrefix }, undefined, { native: true });
    expect((await ent.send('PUT', `/api/handles/${entPrefix}/DEV-1`, { values: [url('https://ent.example/dev-1')] }, adminOf(entPrefix))).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([top?.close(), county?.close(), ent?.close()]);
  });

  it('resolves a partner prefix through the upstream on every face', async () => {
    const rest = await county.get(`/api/handles/${PARTNER}/P1`);
    expect(rest.status).toBe(200);
    expect(rest.json.handle).toBe(`${PARTNER}/P1`);
    expect(rest.json.values.map((v: { type: string }) => v.type)).toEqual(['URL', 'NAME']);
    const proxy = await county.get(`/${PARTNER}/P1`);
    expect(proxy.status).toBe(302);
    expect(proxy.headers.location).toBe('https://partner.example/p1');
    for (const ask of [tcpRequest, udpRequest]) {
      const a = await ask(county.native!.tcpPort, { handle: `${PARTNER}/p1`, opFlags: OPFLAG.RECURSIVE });
      expect(a.message.header.responseCode).toBe(RC.SUCCESS);
      const body = decodeResolutionResponse(a.message.body, false);
      expect(body.handle).toBe(`${PARTNER}/p1`);
      expect(body.values[0]!.data).toEqual({ format: 'string', value: 'https://partner.example/p1' });
      // not this node's own: no authoritative flag
      expect(a.message.header.opFlags & OPFLAG.AUTH).toBe(0);
    }
    // the prefix record came from the upstream too, and is served as any record
    const record = await county.get(`/api/handles/0.NA/${PARTNER}`);
    expect(record.status).toBe(200);
    expect(record.json.values.some((v: { type: string }) => v.type === 'HS_SITE')).toBe(true);
    expect(county.node.resolver.stats().remoteLookups).toBeGreaterThan(0);
  });

  it('a client that asks for no recursion gets a service referral it can follow', async () => {
    const a = await tcpRequest(county.native!.tcpPort, { handle: `${PARTNER}/P1` });
    expect(a.message.header.responseCode).toBe(RC.SERVICE_REFERRAL);
    const ref = decodeResolutionResponse(a.message.body, false);
    expect(ref.handle).toBe(`0.NA/${PARTNER}`);
    const site = ref.values.find((v) => v.type === 'HS_SITE');
    expect(site?.data.format).toBe('site');
    // the referral names the top-level node, which answers the handle itself
    const port = (site!.data.value as { servers: { interfaces: { port: number }[] }[] }).servers[0]!.interfaces[0]!.port;
    expect(port).toBe(top.native!.tcpPort);
    const direct = await tcpRequest(port, { handle: `${PARTNER}/P1` });
    expect(direct.message.header.responseCode).toBe(RC.SUCCESS);
    expect((direct.message.header.opFlags & OPFLAG.AUTH) >>> 0).toBe(OPFLAG.AUTH);
  });

  it('an identifier the service does not have is not found (and the miss is cached)', async () => {
    const before = county.node.resolver.stats().remoteExchanges;
    expect((await county.get(`/api/handles/${PARTNER}/NOPE`)).json.responseCode).toBe(RC.HANDLE_NOT_FOUND);
    const after = county.node.resolver.stats().remoteExchanges;
    expect(after).toBeGreaterThan(before);
    expect((await county.get(`/api/handles/${PARTNER}/NOPE`)).json.responseCode).toBe(RC.HANDLE_NOT_FOUND);
    expect(county.node.resolver.stats().remoteExchanges).toBe(after);
    // a prefix nobody has: the upstream does not know its record
    expect((await county.get('/api/handles/88.999/X')).json.responseCode).toBe(RC.HANDLE_NOT_FOUND);
  });

  it('a prefix self-hosted at the enterprise node is published and resolved there', async () => {
    // hosted here: the enterprise node's identifier is not known here
    expect((await county.get(`/api/handles/${entPrefix}/DEV-1`)).json.responseCode).toBe(RC.HANDLE_NOT_FOUND);
    const set = okData(
      await county.send('PUT', `/operator/prefixes/${entPrefix}/hosting`, { mode: 'self', address: '127.0.0.1', tcpPort: ent.native!.tcpPort, udpPort: ent.native!.tcpPort }, bearer(opToken)),
    );
    expect(set).toMatchObject({ prefix: entPrefix, mode: 'self', node: { address: '127.0.0.1', tcpPort: ent.native!.tcpPort, httpPort: null } });
    const rest = await county.get(`/api/handles/${entPrefix}/DEV-1`);
    expect(rest.status).toBe(200);
    expect(rest.json.values[0].data.value).toBe('https://ent.example/dev-1');
    expect((await county.get(`/${entPrefix}/DEV-1`)).headers.location).toBe('https://ent.example/dev-1');
    const native = await udpRequest(county.native!.tcpPort, { handle: `${entPrefix}/DEV-1`, opFlags: OPFLAG.RECURSIVE });
    expect(native.message.header.responseCode).toBe(RC.SUCCESS);
    // the prefix record here publishes the enterprise node's site (not this node's)
    const record = await county.get(`/api/handles/0.NA/${entPrefix}`);
    const sites = record.json.values.filter((v: { type: string }) => v.type === 'HS_SITE');
    expect(sites).toHaveLength(1);
    expect(sites[0].data.value.servers[0].interfaces.map((i: { port: number }) => i.port)).toContain(ent.native!.tcpPort);
    // and the top-level node, asking the county for 0.NA/<prefix>, would be referred there: a non-recursive ask is referred
    const referral = await tcpRequest(county.native!.tcpPort, { handle: `${entPrefix}/DEV-1` });
    expect(referral.message.header.responseCode).toBe(RC.SERVICE_REFERRAL);
    // audited
    const audit = okData(await county.get(`/operator/audit?action=prefix.hosting`, bearer(opToken)));
    expect(audit.items?.length ?? audit.length).toBeGreaterThan(0);
    // back home: served here again (the county holds no DEV-1)
    okData(await county.send('PUT', `/operator/prefixes/${entPrefix}/hosting`, { mode: 'here' }, bearer(opToken)));
    expect((await county.get(`/api/handles/${entPrefix}/DEV-1`)).json.responseCode).toBe(RC.HANDLE_NOT_FOUND);
    const home = await county.get(`/api/handles/0.NA/${entPrefix}`);
    const homeSite = home.json.values.find((v: { type: string }) => v.type === 'HS_SITE');
    expect(homeSite.data.value.servers[0].interfaces.map((i: { port: number }) => i.port)).toContain(county.native!.tcpPort);
  });

  it('refuses a bad enterprise node and non-operators', async () => {
    const bad = await county.send('PUT', `/operator/prefixes/${entPrefix}/hosting`, { mode: 'self', address: 'ent.example.com', tcpPort: 2641, udpPort: 2641 }, bearer(opToken));
    expect(bad.json.status).toBe(-2);
    expect(bad.json.message).toMatch(/IP/);
    const port = await county.send('PUT', `/operator/prefixes/${entPrefix}/hosting`, { mode: 'self', address: '127.0.0.1', tcpPort: 0, udpPort: 2641 }, bearer(opToken));
    expect(port.json.status).toBe(-2);
    const notOurs = await county.send('PUT', `/operator/prefixes/77.1/hosting`, { mode: 'here' }, bearer(opToken));
    expect(notOurs.json.status).toBe(-2);
    const anonymous = await county.send('PUT', `/operator/prefixes/${entPrefix}/hosting`, { mode: 'here' });
    expect(anonymous.json.status).toBe(-1);
  });
});

describe('recursion failures', () => {
  let top: TestServer;
  const others: TestServer[] = [];
  beforeAll(async () => {
    top = await startTestServer('pglite', { NODE_PREFIX: TOP }, undefined, { native: true });
    await partnerRecord(top);
    expect((await top.send('PUT', `/api/handles/${PARTNER}/P1`, { values: [url('https://partner.example/p1')] }, adminOf(TOP))).status).toBe(200);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([top?.close(), ...others.map((o) => o.close())]);
  });

  it('fails over to the next server of a two-server site when the one the hash picks is down', async () => {
    const dead = await freePort(); // nothing listens there
    const live = siteOfAddress('127.0.0.1', top.native!.tcpPort).servers[0]!;
    const down = { ...siteOfAddress('127.0.0.1', dead).servers[0]!, serverId: 2 };
    // every 0.NA/… record hashes by its prefix (0.NA) under hash option 0: put the dead server where the hash points
    const first = handleHash(`0.NA/${PARTNER}`, 0) % 2;
    const site: SiteInfo = { ...siteOfAddress('127.0.0.1', 1), hashOption: 0, servers: first === 0 ? [down, live] : [live, down] };
    const county = await startTestServer('pglite', { UPSTREAM_SITES: JSON.stringify(siteInfoToJson(site)) }, undefined, { native: true });
    others.push(county);
    const r = await county.get(`/api/handles/${PARTNER}/P1`);
    expect(r.status).toBe(200);
    // the dead server was asked (UDP and TCP) before the live one answered
    expect(county.node.resolver.stats().remoteExchanges).toBeGreaterThanOrEqual(3);
  });

  it('a site that never answers fails within the deadline, in each face\'s own format', async () => {
    const hole = await blackhole();
    try {
      const county = await startTestServer('pglite', { UPSTREAM_SITES: `127.0.0.1:${hole.port}`, RECURSION_TIMEOUT_MS: '900', RECURSION_ATTEMPT_MS: '300' }, undefined, { native: true });
      others.push(county);
      const t0 = Date.now();
      const rest = await county.get(`/api/handles/${PARTNER}/P1`);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(rest.json.responseCode).toBe(RC.ERROR);
      expect(rest.json.message).toMatch(/within 900 ms|answered/);
      const proxy = await county.get(`/${PARTNER}/P2`);
      expect(proxy.status).toBe(502);
      const native = await tcpRequest(county.native!.tcpPort, { handle: `${PARTNER}/P3`, opFlags: OPFLAG.RECURSIVE });
      expect(native.message.header.responseCode).toBe(RC.ERROR);
      expect(decodeErrorBody(native.message.body, false).message).toMatch(/900 ms|answered/);
      expect(hole.hits()).toBeGreaterThan(0);
      expect(await county.get('/healthz')).toMatchObject({ status: 200 });
    } finally {
      await hole.close();
    }
  });

  it('a referral loop between two nodes (A → B → A) is detected, not followed forever', async () => {
    // B homes 77 and says 77.1 is served by A; A's upstream is B
    const b = await startTestServer('pglite', { NODE_PREFIX: '77' }, undefined, { native: true });
    others.push(b);
    const a = await startTestServer('pglite', { UPSTREAM_SITES: `127.0.0.1:${b.native!.tcpPort}`, RECURSION_TIMEOUT_MS: '3000' }, undefined, { native: true });
    others.push(a);
    const aSite = siteInfoToJson(a.node.site.info);
    expect((await b.send('PUT', '/api/handles/0.NA/77.1', { values: [{ index: 1, type: 'HS_SITE', data: { format: 'site', value: aSite } }] }, adminOf('77'))).status).toBe(200);
    const t0 = Date.now();
    const r = await a.get('/api/handles/77.1/X');
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(r.json.responseCode).toBe(RC.ERROR);
    expect(r.json.message).toMatch(/loop/i);
    expect(a.node.resolver.stats().remoteExchanges).toBeLessThan(10);
  });

  it('RECURSION=off keeps the node to what it homes (RC 301), and no upstream means the same', async () => {
    const off = await startTestServer('pglite', { UPSTREAM_SITES: `127.0.0.1:${top.native!.tcpPort}`, RECURSION: 'off' }, undefined, { native: true });
    others.push(off);
    expect((await off.get(`/api/handles/${PARTNER}/P1`)).json.responseCode).toBe(RC.SERVER_NOT_RESP);
    const native = await tcpRequest(off.native!.tcpPort, { handle: `${PARTNER}/P1`, opFlags: OPFLAG.RECURSIVE });
    expect(native.message.header.responseCode).toBe(RC.SERVER_NOT_RESP);
    const none = await startTestServer('pglite', {}, undefined, { native: true });
    others.push(none);
    expect((await none.get(`/api/handles/${PARTNER}/P1`)).json.responseCode).toBe(RC.SERVER_NOT_RESP);
    expect((await none.get(`/${PARTNER}/P1`)).status).toBe(404);
  });
});
