// The native ceiling for the benches: bare node:net and node:dgram answering every request with one canned answer (the node's own, request id patched) — node's floor for the native rows, a new TCP connection per request above all.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { ENVELOPE_AT, ENVELOPE_SIZE } from '../handle/wire/envelope.js';

const answer = Buffer.from(process.env.NATIVE_ANSWER ?? '', 'hex');
if (answer.length < ENVELOPE_SIZE) throw new Error('NATIVE_ANSWER must hold one whole answer (envelope and message) in hex');
const ID_AT = ENVELOPE_AT.sessionId; // session id and request id, copied from the request
const ID_END = ENVELOPE_AT.requestId + 4;

/** The canned answer with the request's ids. */
function reply(req: Buffer, at: number): Buffer {
  const out = Buffer.allocUnsafe(answer.length);
  answer.copy(out, 0);
  req.copy(out, ID_AT, at + ID_AT, at + ID_END);
  return out;
}

// TCP as a server without any limits or timers would do it: every whole request in a chunk answered at once
const tcp = createServer({ noDelay: true }, (s) => {
  let rest: Buffer | null = null;
  s.on('error', () => {});
  s.on('data', (chunk: Buffer) => {
    const b = rest === null ? chunk : Buffer.concat([rest, chunk]);
    rest = null;
    let at = 0;
    while (b.length - at >= ENVELOPE_SIZE) {
      const end = at + ENVELOPE_SIZE + b.readUInt32BE(at + ENVELOPE_AT.messageLength);
      if (b.length < end) break;
      s.write(reply(b, at));
      at = end;
    }
    if (at < b.length) rest = b.subarray(at);
  });
});
const udp = createSocket('udp4');
udp.on('message', (m, from) => {
  if (m.length >= ENVELOPE_SIZE) udp.send(reply(m, 0), from.port, from.address);
});

tcp.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const addr = tcp.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  udp.bind(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
});
const stop = () => {
  udp.close();
  tcp.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
