// Recursion between real nodes on loopback: a top-level node homing 88, this county node, an enterprise node self-hosting its prefix — every face, the referral, a cached miss, self-hosting there and back. (Failover, a deadline, a loop: test/slow/recursion-failures.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { decodeResolutionResponse } from '../../handle/wire/body.js';
import { OPFLAG } from '../../handle/wire/message.js';
import { adminOf, PARTNER, partnerRecord, TOP, url } from '../helpers/recursion.js';
import { startTestServer, type TestServer } from '../helpers/node.js';
import { tcpRequest, udpRequest } from '../helpers/native-client.js';
import { bearer, okData, onboard, operatorLogin } from '../helpers/snms.js';

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

