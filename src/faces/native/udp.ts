// The native face over UDP: one datagram per request (or a request in fragments, reassembled), answers fragmented.
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { RC } from '../../../handle/codes.js';
import { encodeErrorBody } from '../../../handle/wire/body.js';
import { decodeEnvelope, ENVELOPE_AT, ENVELOPE_SIZE, PROTOCOL_VERSION, UDP_FRAGMENT_PAYLOAD, type Envelope } from '../../../handle/wire/envelope.js';
import { fragmentForUdp, UdpReassembler } from '../../../handle/wire/fragments.js';
import { encodeMessage, OC } from '../../../handle/wire/message.js';
import { withEnvelope, type NativeHandler, type Reply } from './handler.js';
import { addressKey, type NativeOptions, type NativeStats } from './options.js';

/** Envelope byte 2's truncated flag: a request in several datagrams. */
const ENV_TC = 0x20;
const nowSec = () => Math.floor(Date.now() / 1000);

/** UDP: one datagram per request (or a request in fragments, reassembled); answers over 492 bytes go in fragments. */
export function serveUdp(udp: UdpSocket, handler: NativeHandler, o: NativeOptions, stats: NativeStats): void {
  const reassembler = new UdpReassembler({ maxMessages: 1024, maxMessageBytes: o.maxMessageBytes, ttlMs: 5000 });
  let inFlight = 0;
  const send = (bufs: Buffer[], to: RemoteInfo) => {
    for (const b of bufs) udp.send(b, to.port, to.address);
  };
  const reply = (env: Envelope, r: Reply, to: RemoteInfo) => {
    const message = r.bytes.subarray(ENVELOPE_SIZE);
    if (message.length <= UDP_FRAGMENT_PAYLOAD) {
      send([r.bytes], to);
    } else if (message.length <= o.udpMaxResponseBytes) {
      // the answer's own session id (a new session's, or a challenge's), not the request's
      const base = { major: r.version.major, minor: r.version.minor, suggestedMajor: PROTOCOL_VERSION.major, suggestedMinor: PROTOCOL_VERSION.minor, compressed: false, encrypted: false, sessionId: r.bytes.readUInt32BE(ENVELOPE_AT.sessionId), requestId: env.requestId };
      send(fragmentForUdp(base, message), to);
    } else {
      // too big for UDP: the truncated flag tells the client to ask again over TCP
      const text = encodeMessage(
        { opCode: OC.RESOLUTION, responseCode: RC.ERROR, opFlags: 0, siteInfoSerial: 1, recursionCount: 0, expiration: nowSec() + 60 },
        encodeErrorBody(`Answer of ${message.length} bytes is too large for UDP; retry over TCP`, null),
      );
      send([withEnvelope(env, r.version, text, true)], to);
    }
  };
  udp.on('message', (dgram: Buffer, rinfo: RemoteInfo) => {
    if (dgram.length < ENVELOPE_SIZE) {
      stats.dropped++;
      return;
    }
    const length = dgram.readUInt32BE(ENVELOPE_AT.messageLength);
    if ((dgram[ENVELOPE_AT.flags]! & ENV_TC) === 0 && length <= dgram.length - ENVELOPE_SIZE) {
      const quick = handler.fast(dgram, 0, length);
      if (quick !== null && quick.length - ENVELOPE_SIZE <= UDP_FRAGMENT_PAYLOAD) {
        stats.udpRequests++;
        udp.send(quick, rinfo.port, rinfo.address);
        return;
      }
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(dgram.subarray(0, ENVELOPE_SIZE));
    } catch {
      stats.dropped++;
      return;
    }
    let message: Buffer;
    if (env.truncated) {
      // one fragment of a request sent in several datagrams
      const whole = reassembler.add(`${rinfo.address}|${rinfo.port}`, env, dgram.subarray(ENVELOPE_SIZE), Date.now());
      if (whole === null) return;
      message = whole;
    } else {
      if (env.messageLength > o.maxMessageBytes || dgram.length - ENVELOPE_SIZE < env.messageLength) {
        stats.dropped++;
        return;
      }
      message = dgram.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + env.messageLength);
    }
    if (inFlight >= 10_000) {
      stats.dropped++;
      return;
    }
    inFlight++;
    stats.udpRequests++;
    void handler.answer(env, dgram.subarray(0, ENVELOPE_SIZE), message, { address: addressKey(rinfo.address) }).then((r) => {
      inFlight--;
      reply(env, r, rinfo);
    });
  });
}
