// Helpers of the recursion tests: the top-level node's partner prefix, values, admin credentials, a server that never answers.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { expect } from 'vitest';
import { freePort } from './child-node.js';
import { ADMIN_SECRET, basic, type TestServer } from './node.js';

export const TOP = '88';
export const PARTNER = '88.100';
export const adminOf = (prefix: string) => basic(`300:0.NA/${prefix}`, ADMIN_SECRET);
export const url = (s: string) => ({ index: 1, type: 'URL', data: { format: 'string', value: s } });

/** `0.NA/88.100` at the top-level node: a prefix record (its HS_SITE is the node's own, added when read). */
export async function partnerRecord(top: TestServer): Promise<void> {
  const r = await top.send('PUT', `/api/handles/0.NA/${PARTNER}`, { values: [{ index: 2, type: 'DESC', data: 'partner county' }] }, adminOf(TOP));
  expect(r.status).toBe(200);
}

/** A server that takes requests and never answers: a UDP socket and a TCP listener on one port. */
export async function blackhole(): Promise<{ port: number; close(): Promise<void>; hits: () => number }> {
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
