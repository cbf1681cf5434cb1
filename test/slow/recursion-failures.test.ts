// Recursion when things go wrong, between real nodes on loopback: failover in a two-server site, a site that never answers (the deadline), a referral loop A → B → A, recursion off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { decodeErrorBody } from '../../handle/wire/body.js';
import { OPFLAG } from '../../handle/wire/message.js';
import { siteInfoToJson, type SiteInfo } from '../../handle/wire/site.js';
import { handleHash, siteOfAddress } from '../../resolver/remote/sites.js';
import { freePort } from '../helpers/child-node.js';
import { adminOf, blackhole, PARTNER, partnerRecord, TOP, url } from '../helpers/recursion.js';
import { startTestServer, type TestServer } from '../helpers/node.js';
import { tcpRequest } from '../helpers/native-client.js';

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
