// Native TCP abuse limits: a request trickled a byte at a time is closed by its message deadline (whatever the idle
// timeout), and one client address cannot take every connection slot (NATIVE_MAX_CONNECTIONS_PER_ADDRESS).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { defaultPerAddress } from '../../src/faces/native/options.js';
import { loadConfig } from '../../src/config.js';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { OPFLAG, requestBytes, tcpConnect, tcpRequest, type TcpReader } from '../helpers/native-client.js';

const P = NODE_PREFIX;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('native TCP limits (PGlite)', () => {
  let s: TestServer;
  let port = 0;

  beforeAll(async () => {
    s = await startTestServer(
      'pglite',
      // idle timeout far longer than the test: only the message deadline can close a trickling connection
      { NATIVE_IDLE_TIMEOUT: '60', NATIVE_MESSAGE_TIMEOUT: '2', NATIVE_MAX_CONNECTIONS: '20', NATIVE_MAX_CONNECTIONS_PER_ADDRESS: '5' },
      undefined,
      { native: true },
    );
    port = s.native!.tcpPort;
    expect((await s.send('PUT', `/api/handles/${P}/LIM-1`, [{ index: 1, type: 'URL', data: 'https://example.com/lim-1' }], admin())).status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
  });

  const resolves = async (from?: string) => {
    const a = await tcpRequest(port, { handle: `${P}/LIM-1` }, from);
    expect(a.message.header.responseCode).toBe(RC.SUCCESS);
  };

  it('a request dripped one byte every 500 ms is closed by the message deadline; others resolve meanwhile', async () => {
    const drip = await tcpConnect(port);
    const bytes = requestBytes({ handle: `${P}/LIM-1` }).bytes;
    const started = Date.now();
    let sent = 0;
    const dripping = (async () => {
      while (!drip.closed && sent < bytes.length - 1) {
        drip.socket.write(bytes.subarray(sent, sent + 1));
        sent++;
        await sleep(500);
      }
    })();
    await resolves();
    await drip.whenClosed(6000);
    const took = Date.now() - started;
    await dripping;
    // not the idle timeout (60 s, and reset by every byte) and not a refusal at accept: the 2 s deadline
    expect(sent).toBeGreaterThanOrEqual(3);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(5000);
    expect(s.native!.stats().messageTimeouts).toBeGreaterThanOrEqual(1);
    // a request that arrives whole in time, even in pieces, is answered
    const slow = await tcpConnect(port);
    slow.socket.write(bytes.subarray(0, 10));
    await sleep(300);
    slow.socket.write(bytes.subarray(10));
    expect((await slow.next()).message.header.responseCode).toBe(RC.SUCCESS);
    slow.socket.destroy();
  });

  it('one address cannot take every slot: a flood from 127.0.0.1 leaves room for a client on 127.0.0.2', async () => {
    const flood: TcpReader[] = await Promise.all(Array.from({ length: 20 }, () => tcpConnect(port)));
    await sleep(300);
    const open = flood.filter((c) => !c.closed && !c.socket.destroyed);
    expect(open.length).toBe(5);
    expect(s.native!.stats().refusedPerAddress).toBeGreaterThanOrEqual(15);
    // another address connects and resolves while the flood holds its five slots
    await resolves('127.0.0.2');
    // the flooding address still has its own five, no more
    for (const c of open) {
      c.socket.write(requestBytes({ handle: `${P}/LIM-1`, opFlags: OPFLAG.KEEP_ALIVE }).bytes);
      expect((await c.next()).message.header.responseCode).toBe(RC.SUCCESS);
    }
    for (const c of flood) c.socket.destroy();
    await sleep(100);
    await resolves();
  });

  it('the per-address cap defaults to an eighth of NATIVE_MAX_CONNECTIONS', () => {
    expect(defaultPerAddress(1024)).toBe(128);
    expect(defaultPerAddress(100)).toBe(13);
    expect(defaultPerAddress(3)).toBe(1);
    const c = loadConfig({});
    expect(c.NATIVE_MAX_CONNECTIONS_PER_ADDRESS).toBeUndefined();
    expect(c.NATIVE_MESSAGE_TIMEOUT).toBe(5);
    expect(loadConfig({ NATIVE_MAX_CONNECTIONS_PER_ADDRESS: '7' }).NATIVE_MAX_CONNECTIONS_PER_ADDRESS).toBe(7);
  });
});
