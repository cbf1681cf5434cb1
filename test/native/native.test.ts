// The native Handle protocol face over real TCP and UDP sockets: resolution, filters, digests, keep-alive, fragments, site info, errors, limits.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { encodeEnvelope, ENVELOPE_SIZE, UDP_FRAGMENT_PAYLOAD } from '../../handle/wire/envelope.js';
import { OC, OPFLAG } from '../../handle/wire/message.js';
import { decodeErrorBody, decodeResolutionResponse } from '../../handle/wire/body.js';
import { decodeSiteInfo } from '../../handle/wire/site.js';
import { fragmentForUdp } from '../../handle/wire/fragments.js';
import { admin, NODE_PREFIX, startTestServer, type Backend, type TestServer } from '../helpers/node.js';
import { hasPostgres, hasRedis, tempPostgres } from '../helpers/services.js';
import { requestBytes, tcpConnect, tcpRequest, udpExchange, udpRequest, type Answer } from '../helpers/native-client.js';

const P = NODE_PREFIX;
const backends: Backend[] = ['pglite', ...(hasPostgres && hasRedis ? (['postgres+redis'] as const) : [])];

function values(a: Answer, withDigest = false) {
  expect(a.message.header.responseCode).toBe(RC.SUCCESS);
  return decodeResolutionResponse(a.message.body, withDigest);
}

function errorOf(a: Answer): { code: number; message: string } {
  return { code: a.message.header.responseCode, message: decodeErrorBody(a.message.body, (a.message.header.opFlags & OPFLAG.RETURN_DIGEST) !== 0).message };
}

describe.each(backends)('native Handle protocol on %s', (backend) => {
  let s: TestServer;
  let port = 0;
  let db: { url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    if (backend === 'postgres+redis') db = await tempPostgres();
    s = await startTestServer(backend, { NATIVE_IDLE_TIMEOUT: '1', NATIVE_MAX_CONNECTIONS: '50', NATIVE_MAX_CONNECTIONS_PER_ADDRESS: '50' }, db ? { databaseUrl: db.url, namespace: `t-${Math.random()}:` } : undefined, { native: true });
    port = s.native!.tcpPort;
    const put = (suffix: string, body: unknown) => s.send('PUT', `/api/handles/${P}/${suffix}`, body, admin());
    expect(
      (
        await put('NAT-1', [
          { index: 1, type: 'URL', data: 'https://example.com/nat-1' },
          { index: 2, type: 'EMAIL', data: 'ops@example.com' },
          { index: 3, type: 'URL.mirror', data: 'https://mirror.example.com/nat-1' },
          { index: 4, type: 'SECRET_NOTE', data: 'hidden', permissions: '1100' },
        ])
      ).status,
    ).toBe(200);
    // an answer far over one UDP datagram, and one too large for UDP at all
    const big = Array.from({ length: 12 }, (_, i) => ({ index: i + 1, type: `DESC.${i}`, data: `${'x'.repeat(150)}-${i}` }));
    expect((await put('NAT-BIG', big)).status).toBe(200);
    const huge = Array.from({ length: 40 }, (_, i) => ({ index: i + 1, type: `PART.${i}`, data: `${'y'.repeat(1000)}-${i}` }));
    expect((await put('NAT-HUGE', huge)).status).toBe(200);
    expect((await put('NAT-PRIVATE', [{ index: 1, type: 'NOTE', data: 'p', permissions: '1100' }])).status).toBe(200);
  });

  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  it('resolves over TCP: the handle as asked, public values only, header and envelope as the protocol has them', async () => {
    const a = await tcpRequest(port, { handle: `${P}/nat-1` });
    expect(a.envelope.major).toBe(2);
    expect(a.envelope.minor).toBe(10);
    expect(a.message.header.opCode).toBe(OC.RESOLUTION);
    const r = values(a);
    expect(r.handle).toBe(`${P}/nat-1`);
    expect(r.values.map((v) => [v.index, v.type])).toEqual([
      [1, 'URL'],
      [2, 'EMAIL'],
      [3, 'URL.mirror'],
    ]);
    expect(r.values[0]!.data).toEqual({ format: 'string', value: 'https://example.com/nat-1' });
    expect(r.values[0]!.permissions.publicRead).toBe(true);
  });

  it('the same answer over UDP, and the HTTP face agrees', async () => {
    const u = values(await udpRequest(port, { handle: `${P}/NAT-1` }));
    const t = values(await tcpRequest(port, { handle: `${P}/NAT-1` }));
    expect(u).toEqual(t);
    const http = await s.get(`/api/handles/${P}/NAT-1`);
    expect(http.json.values.map((v: { index: number }) => v.index)).toEqual(u.values.map((v) => v.index));
  });

  it('type and index lists filter as on the REST face (URL. matches URL and URL.*); nothing left → 200', async () => {
    expect(values(await tcpRequest(port, { handle: `${P}/nat-1`, types: ['URL'] })).values.map((v) => v.index)).toEqual([1]);
    expect(values(await tcpRequest(port, { handle: `${P}/nat-1`, types: ['url.'] })).values.map((v) => v.index)).toEqual([1, 3]);
    expect(values(await tcpRequest(port, { handle: `${P}/nat-1`, indexes: [2] })).values.map((v) => v.index)).toEqual([2]);
    expect(values(await udpRequest(port, { handle: `${P}/nat-1`, types: ['email'], indexes: [1] })).values.map((v) => v.index)).toEqual([1, 2]);
    expect(errorOf(await tcpRequest(port, { handle: `${P}/nat-1`, types: ['NOPE'] })).code).toBe(RC.VALUES_NOT_FOUND);
    // a value without public read is never sent, asked for or not
    expect(errorOf(await tcpRequest(port, { handle: `${P}/nat-1`, indexes: [4] })).code).toBe(RC.VALUES_NOT_FOUND);
    expect(errorOf(await tcpRequest(port, { handle: `${P}/nat-private` })).code).toBe(RC.VALUES_NOT_FOUND);
  });

  it('error codes: 100 not found, 301 not homed here, 102 invalid handle, 5 unsupported opcodes, 4 unknown opcode or a bad body', async () => {
    expect(errorOf(await tcpRequest(port, { handle: `${P}/none-such` }))).toMatchObject({ code: RC.HANDLE_NOT_FOUND });
    expect(errorOf(await udpRequest(port, { handle: `${P}/none-such` })).code).toBe(RC.HANDLE_NOT_FOUND);
    expect(errorOf(await tcpRequest(port, { handle: '20.500/elsewhere' })).code).toBe(RC.SERVER_NOT_RESP);
    expect(errorOf(await tcpRequest(port, { handle: 'no-slash-here' })).code).toBe(RC.INVALID_HANDLE);
    for (const op of [OC.LIST_HANDLES, OC.HOME_NA]) {
      const a = await tcpRequest(port, { opCode: op, handle: `${P}/nat-1` });
      expect(a.message.header.opCode).toBe(op);
      expect(errorOf(a).code, `opCode ${op}`).toBe(RC.OPERATION_NOT_SUPPORTED);
    }
    // sessions (test/native/sessions.test.ts) with a resolution request's body: no key exchange they can do
    const setup = await tcpRequest(port, { opCode: OC.SESSION_SETUP, handle: `${P}/nat-1` });
    expect([RC.SESSION_FAILED, RC.PROTOCOL_ERROR]).toContain(errorOf(setup).code);
    // administration (test/native/admin.test.ts) with a resolution request's body: not its body, a protocol error
    for (const op of [OC.CREATE_HANDLE, OC.DELETE_HANDLE, OC.ADD_VALUE, OC.REMOVE_VALUE, OC.MODIFY_VALUE, OC.CHALLENGE_RESPONSE]) {
      const a = await tcpRequest(port, { opCode: op, handle: `${P}/nat-1` });
      expect(a.message.header.opCode).toBe(op);
      expect(errorOf(a).code, `opCode ${op}`).toBe(RC.PROTOCOL_ERROR);
    }
    expect(errorOf(await tcpRequest(port, { opCode: 0, handle: `${P}/nat-1` })).code).toBe(RC.PROTOCOL_ERROR);
    expect(errorOf(await tcpRequest(port, { body: Buffer.from([0, 0, 0, 99, 1]) })).code).toBe(RC.PROTOCOL_ERROR);
    expect(errorOf(await udpRequest(port, { body: Buffer.from([0xff, 0xff, 0xff, 0xff]) })).code).toBe(RC.PROTOCOL_ERROR);
  });

  it('returns the request digest when asked, with the algorithm the version calls for', async () => {
    for (const v of [
      { major: 2, minor: 10 },
      { major: 2, minor: 11 },
    ]) {
      const req = requestBytes({ handle: `${P}/nat-1`, opFlags: OPFLAG.RETURN_DIGEST, version: v });
      const c = await tcpConnect(port);
      c.socket.write(req.bytes);
      const a = await c.next();
      c.socket.destroy();
      expect(a.message.header.opFlags & OPFLAG.RETURN_DIGEST).toBe(OPFLAG.RETURN_DIGEST);
      const r = values(a, true);
      // worked out apart from the codec: SHA-256 (hash code 3, what Handle.Net uses from protocol 2.7 on) of the request's
      // 24-byte header and its body (BodyLength at bytes 20-23), not of the envelope or the credential after them
      const headerAndBody = req.message.subarray(0, 24 + req.message.readUInt32BE(20));
      expect(Buffer.from(r.digest!).toString('hex')).toBe('03' + createHash('sha256').update(headerAndBody).digest('hex'));
      expect(r.values).toHaveLength(3);
      // errors carry it too
      const e = await tcpRequest(port, { handle: `${P}/none-such`, opFlags: OPFLAG.RETURN_DIGEST, version: v });
      expect(decodeErrorBody(e.message.body, true).digest).not.toBeNull();
    }
  });

  it('keep-alive: several requests on one connection, answered in order; without the flag the connection stays open for the client to close', async () => {
    const c = await tcpConnect(port);
    const reqs = [1, 2, 3].map((i) => requestBytes({ handle: i === 2 ? `${P}/none-such` : `${P}/nat-1`, opFlags: OPFLAG.KEEP_ALIVE }));
    c.socket.write(Buffer.concat(reqs.map((r) => r.bytes))); // pipelined in one write
    const answers = [await c.next(), await c.next(), await c.next()];
    expect(answers.map((a) => a.envelope.requestId)).toEqual(reqs.map((r) => r.requestId));
    expect(answers.map((a) => a.message.header.responseCode)).toEqual([RC.SUCCESS, RC.HANDLE_NOT_FOUND, RC.SUCCESS]);
    // byte by byte still works
    const slow = requestBytes({ handle: `${P}/nat-1`, opFlags: OPFLAG.KEEP_ALIVE });
    for (const b of slow.bytes) c.socket.write(Buffer.from([b]));
    expect((await c.next()).envelope.requestId).toBe(slow.requestId);
    expect(c.closed).toBe(false);
    c.socket.destroy();

    // every answer, found or not, carries the authoritative flag of a primary server (as Handle.Net's does)
    expect(answers.every((a) => (a.message.header.opFlags & OPFLAG.AUTH) !== 0)).toBe(true);

    // CAICT's ID-SDK: a site request without keep-alive, then a resolution on the same connection (it would read
    // end-of-file if the node closed after the first answer); the connection ends when the client ends it
    const sdk = await tcpConnect(port);
    sdk.socket.write(requestBytes({ opCode: OC.GET_SITE_INFO }).bytes);
    const site = await sdk.next();
    expect(site.message.header.responseCode).toBe(RC.SUCCESS);
    expect(site.message.header.opFlags & OPFLAG.AUTH).not.toBe(0);
    const second = requestBytes({ handle: `${P}/nat-1` });
    sdk.socket.write(second.bytes);
    const resolved = await sdk.next();
    expect(resolved.envelope.requestId).toBe(second.requestId);
    expect(resolved.message.header.responseCode).toBe(RC.SUCCESS);
    expect(sdk.closed).toBe(false);
    sdk.socket.end();
    await sdk.whenClosed();
  });

  it('UDP: a large answer comes in 492-byte fragments that reassemble to the TCP answer; a fragmented request is reassembled', async () => {
    const u = await udpRequest(port, { handle: `${P}/nat-big` });
    expect(u.datagrams).toBeGreaterThan(1);
    const t = await tcpRequest(port, { handle: `${P}/nat-big` });
    expect(values(u)).toEqual(values(t));
    expect(values(u).values).toHaveLength(12);

    // a request split over datagrams (a long type list makes it > 492 bytes)
    const types = Array.from({ length: 60 }, (_, i) => `DESC.${i}`);
    const r = requestBytes({ handle: `${P}/nat-big`, types });
    expect(r.message.length).toBeGreaterThan(UDP_FRAGMENT_PAYLOAD);
    const frags = fragmentForUdp(
      { major: 2, minor: 10, suggestedMajor: 2, suggestedMinor: 10, compressed: false, encrypted: false, sessionId: 0, requestId: r.requestId },
      r.message,
    );
    expect(frags.length).toBeGreaterThan(1);
    const a = await udpExchange(port, frags.reverse(), r.requestId); // out of order on purpose
    expect(values(a).values).toHaveLength(12);
  });

  it('UDP: an answer too large for UDP comes back as one truncated error datagram; TCP gives it whole', async () => {
    const u = await udpRequest(port, { handle: `${P}/nat-huge` });
    expect(u.datagrams).toBe(1);
    expect(u.envelope.truncated).toBe(true);
    expect(errorOf(u).code).toBe(RC.ERROR);
    expect(errorOf(u).message).toMatch(/retry over TCP/);
    expect(values(await tcpRequest(port, { handle: `${P}/nat-huge` })).values).toHaveLength(40);
    // the counters show on /metrics
    const m = await s.get('/metrics');
    expect(m.text).toMatch(/idnode_native_requests_total\{transport="udp"\} [1-9]/);
    expect(m.text).toMatch(/idnode_native_connections_total [1-9]/);
  });

  it('site info (opcode 2) over TCP and UDP lists this node: its address and the native and HTTP ports', async () => {
    for (const a of [await tcpRequest(port, { opCode: OC.GET_SITE_INFO, body: Buffer.alloc(0) }), await udpRequest(port, { opCode: OC.GET_SITE_INFO, body: Buffer.alloc(0) })]) {
      expect(a.message.header.responseCode).toBe(RC.SUCCESS);
      const site = decodeSiteInfo(a.message.body);
      expect(site.primary).toBe(true);
      const ifs = site.servers[0]!.interfaces;
      expect(ifs).toContainEqual(expect.objectContaining({ protocol: 'tcp', port }));
      expect(ifs).toContainEqual(expect.objectContaining({ protocol: 'udp', port }));
      expect(ifs).toContainEqual(expect.objectContaining({ protocol: 'http', port: Number(new URL(s.url).port) }));
      expect([...site.servers[0]!.address]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1]);
    }
  });

  it('the node prefix record carries an HS_SITE value pointing here, natively and over HTTP', async () => {
    const r = values(await tcpRequest(port, { handle: `0.NA/${P}`, types: ['HS_SITE'] }));
    expect(r.values).toHaveLength(1);
    expect(r.values[0]!.data.format).toBe('site');
    const http = await s.get(`/api/handles/0.NA/${P}?type=HS_SITE`);
    expect(http.json.values[0].type).toBe('HS_SITE');
    const ports = http.json.values[0].data.value.servers[0].interfaces.map((i: { port: number }) => i.port);
    expect(ports).toContain(port);
  });

  it('sees a change made over HTTP at once (its cached wire answer goes with the record)', async () => {
    expect(values(await tcpRequest(port, { handle: `${P}/nat-1`, indexes: [1] })).values[0]!.data.value).toBe('https://example.com/nat-1');
    expect((await s.send('PUT', `/api/handles/${P}/NAT-1?index=1`, [{ index: 1, type: 'URL', data: 'https://example.com/v2' }], admin())).status).toBe(200);
    expect(values(await tcpRequest(port, { handle: `${P}/nat-1` })).values[0]!.data.value).toBe('https://example.com/v2');
    expect(values(await udpRequest(port, { handle: `${P}/nat-1` })).values[0]!.data.value).toBe('https://example.com/v2');
  });

  it('limits: an oversized message gets a protocol error and the connection closes; idle connections close; a stalled peer stalls nobody', async () => {
    const c = await tcpConnect(port);
    const env = encodeEnvelope({ major: 2, minor: 10, suggestedMajor: 2, suggestedMinor: 10, compressed: false, encrypted: false, truncated: false, sessionId: 0, requestId: 7, sequenceNumber: 0, messageLength: 50 * 1024 * 1024 });
    c.socket.write(env);
    expect(errorOf(await c.next()).code).toBe(RC.PROTOCOL_ERROR);
    await c.whenClosed();

    // half an envelope, then silence: closed after NATIVE_IDLE_TIMEOUT (1 s); others are served meanwhile
    const stalled = await tcpConnect(port);
    stalled.socket.write(Buffer.alloc(ENVELOPE_SIZE / 2));
    expect(values(await tcpRequest(port, { handle: `${P}/nat-1` })).values.length).toBeGreaterThan(0);
    await stalled.whenClosed(4000);
  });

  it('caps open connections (NATIVE_MAX_CONNECTIONS)', async () => {
    const open = await Promise.all(Array.from({ length: 50 }, () => tcpConnect(port)));
    const extra = connect({ port, host: '127.0.0.1' });
    const closed = await new Promise<boolean>((resolve) => {
      extra.on('close', () => resolve(true));
      extra.on('error', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    expect(closed).toBe(true);
    for (const o of open) o.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(values(await tcpRequest(port, { handle: `${P}/nat-1` })).values.length).toBeGreaterThan(0);
  });
});
