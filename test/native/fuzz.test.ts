// Fuzzing the native listeners: random and mutated messages over TCP and UDP; the node must keep answering valid requests.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { OPFLAG } from '../../handle/wire/message.js';
import { admin, NODE_PREFIX, startTestServer, type TestServer } from '../helpers/node.js';
import { requestBytes, tcpRequest, udpRequest } from '../helpers/native-client.js';
import { seededRandom } from '../../bench/lib.js';

/** A valid request with some bytes flipped, cut short, or grown; or plain noise. */
function mutant(r: () => number, valid: Buffer): Buffer {
  const kind = Math.floor(r() * 5);
  if (kind === 0) return Buffer.from(Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256)));
  const b = Buffer.from(valid);
  if (kind === 1) return b.subarray(0, Math.floor(r() * b.length));
  if (kind === 2) {
    const n = 1 + Math.floor(r() * 6);
    for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    return b;
  }
  if (kind === 3) {
    // lengths are the interesting fields: write a random u32 somewhere after the envelope's length field
    const at = 16 + Math.floor(r() * Math.max(1, b.length - 20));
    b.writeUInt32BE(Math.floor(r() * 0xffffffff), Math.min(at, b.length - 4));
    return b;
  }
  return Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)))]);
}

describe('native listeners under random and mutated input', () => {
  let s: TestServer;
  let port = 0;
  const P = NODE_PREFIX;

  beforeAll(async () => {
    s = await startTestServer('pglite', { NATIVE_IDLE_TIMEOUT: '1' }, undefined, { native: true });
    port = s.native!.tcpPort;
    expect((await s.send('PUT', `/api/handles/${P}/FUZZ-1`, [{ index: 1, type: 'URL', data: 'https://example.com/f' }], admin())).status).toBe(200);
  });

  afterAll(async () => {
    await s?.close();
  });

  const seeds = [
    requestBytes({ handle: `${P}/fuzz-1`, opFlags: OPFLAG.KEEP_ALIVE | OPFLAG.RETURN_DIGEST, types: ['URL'], indexes: [1] }).bytes,
    requestBytes({ handle: `${P}/fuzz-1`, opCode: 2, body: Buffer.alloc(0) }).bytes,
    requestBytes({ handle: `0.NA/${P}`, version: { major: 2, minor: 11, suggestedMajor: 2, suggestedMinor: 11 } }).bytes,
  ];

  it('1,000 mutated messages over UDP: no crash, and valid requests are still answered', async () => {
    const r = seededRandom(0x1d0e);
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    for (let i = 0; i < 1000; i++) {
      sock.send(mutant(r, seeds[i % seeds.length]!), port, '127.0.0.1');
      if (i % 100 === 0) await new Promise((res) => setTimeout(res, 5));
    }
    await new Promise((res) => setTimeout(res, 200));
    sock.close();
    const a = await udpRequest(port, { handle: `${P}/fuzz-1` });
    expect(a.message.header.responseCode).toBe(RC.SUCCESS);
  });

  it('300 connections of mutated bytes over TCP: no crash, and valid requests are still answered', async () => {
    const r = seededRandom(0xbeef);
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.concat([mutant(r, seeds[i % seeds.length]!), r() < 0.3 ? mutant(r, seeds[(i + 1) % seeds.length]!) : Buffer.alloc(0)]);
      runs.push(
        new Promise<void>((resolve) => {
          const c = connect({ port, host: '127.0.0.1' }, () => {
            c.end(bytes);
          });
          c.on('data', () => {});
          c.on('error', () => resolve());
          c.on('close', () => resolve());
          // a connection the server keeps waiting on (half a message) is closed by the idle timeout
          setTimeout(() => c.destroy(), 3000).unref();
        }),
      );
      if (runs.length % 50 === 0) await Promise.all(runs.splice(0));
    }
    await Promise.all(runs);
    const a = await tcpRequest(port, { handle: `${P}/fuzz-1` });
    expect(a.message.header.responseCode).toBe(RC.SUCCESS);
  }, 60_000);
});
