// The native face over TCP: envelope-framed requests, pipelined and answered in order, bounded per connection.
import type { Socket } from 'node:net';
import { decodeEnvelope, ENVELOPE_AT, ENVELOPE_SIZE, type Envelope } from '../../../handle/wire/envelope.js';
import { protocolErrorReply, type NativeHandler } from './handler.js';
import { addressKey, type NativeOptions, type NativeStats } from './options.js';

/**
 * One TCP connection: envelope, then the message it announces; answers go out in request order. Reading pauses while
 * `maxPipelined` answers are owed or the peer does not read them, so a slow or hostile peer holds at most one
 * message of buffer; an idle one is closed after `idleTimeoutMs`, and one whose request has not arrived whole within
 * `messageTimeoutMs` of its first byte is closed too (a byte now and then keeps a connection from being idle, not
 * from this deadline). A request without the keep-alive flag does not end the connection: CAICT's ID-SDK sends its
 * site request without it and then resolves on the same connection, and CNRI's client closes its end itself; the
 * connection ends when the peer closes it, when it is idle, or after the answer to a message we could not trust.
 */
export function serveTcp(s: Socket, handler: NativeHandler, o: NativeOptions, stats: NativeStats): void {
  s.setTimeout(o.idleTimeoutMs, () => s.destroy());
  const client = { address: addressKey(s.remoteAddress) };
  s.on('error', () => {});
  /** bytes of a request not complete yet */
  let rest: Buffer | null = null;
  /** answers owed, in request order (bytes null while the resolver works) */
  const owed: { bytes: Buffer | null; close: boolean }[] = [];
  let last = false; // a message we could not trust arrived: nothing after it is read
  let blocked = false; // the peer is not reading
  /** the deadline of the request under way (armed at its first byte, cleared when it is complete) */
  let deadline: NodeJS.Timeout | null = null;
  const expire = () => {
    deadline = null;
    if (s.destroyed) return;
    // reading paused on our side (answers owed): the rest may be waiting in the socket; the idle timeout still holds
    if (s.isPaused()) {
      deadline = setTimeout(expire, o.messageTimeoutMs);
      return;
    }
    stats.messageTimeouts++;
    s.destroy();
  };
  s.once('close', () => {
    if (deadline !== null) clearTimeout(deadline);
  });

  const flush = () => {
    if (s.destroyed) return;
    const out: Buffer[] = [];
    let end = false;
    while (owed.length > 0 && owed[0]!.bytes !== null) {
      const a = owed.shift()!;
      out.push(a.bytes!);
      if (a.close) {
        end = true;
        owed.length = 0;
        break;
      }
    }
    if (out.length === 0) return;
    const data = out.length === 1 ? out[0]! : Buffer.concat(out);
    if (end) {
      last = true;
      s.end(data);
      return;
    }
    if (!s.write(data) && !blocked) {
      blocked = true;
      s.pause();
      s.once('drain', () => {
        blocked = false;
        if (owed.length < o.maxPipelined && !last) s.resume();
      });
    } else if (!blocked && owed.length < o.maxPipelined && s.isPaused() && !last) s.resume();
  };

  const fail = (text: string, requestId: number) => {
    // an envelope we cannot trust: answer once, in 2.10, and close
    stats.errors++;
    owed.push({ bytes: protocolErrorReply(text, requestId), close: true });
    last = true;
    flush();
  };

  s.on('data', (chunk: Buffer) => {
    if (last) return;
    const buf: Buffer = rest === null ? chunk : Buffer.concat([rest, chunk]);
    rest = null;
    let at = 0;
    while (buf.length - at >= ENVELOPE_SIZE) {
      const length = buf.readUInt32BE(at + ENVELOPE_AT.messageLength);
      if (length > o.maxMessageBytes) {
        fail(`message length ${length} exceeds ${o.maxMessageBytes}`, buf.readUInt32BE(at + ENVELOPE_AT.requestId));
        return;
      }
      if (buf.length - at - ENVELOPE_SIZE < length) break;
      stats.tcpRequests++;
      const quick = handler.fast(buf, at, length);
      if (quick !== null) {
        owed.push({ bytes: quick, close: false });
      } else {
        let env: Envelope;
        try {
          env = decodeEnvelope(buf.subarray(at, at + ENVELOPE_SIZE));
        } catch (e) {
          fail(e instanceof Error ? e.message : 'bad envelope', buf.readUInt32BE(at + ENVELOPE_AT.requestId));
          return;
        }
        const slot: { bytes: Buffer | null; close: boolean } = { bytes: null, close: false };
        owed.push(slot);
        void handler.answer(env, buf.subarray(at, at + ENVELOPE_SIZE), buf.subarray(at + ENVELOPE_SIZE, at + ENVELOPE_SIZE + length), client).then((r) => {
          slot.bytes = r.bytes;
          slot.close = r.close;
          flush();
        });
      }
      at += ENVELOPE_SIZE + length;
    }
    // a partial request is copied out, so the chunk it came in can go
    if (!last && at < buf.length) rest = Buffer.from(buf.subarray(at));
    // a request completed in this chunk: the deadline is the next one's, from its first byte (here)
    if (deadline !== null && (rest === null || at > 0)) {
      clearTimeout(deadline);
      deadline = null;
    }
    if (rest !== null && deadline === null) deadline = setTimeout(expire, o.messageTimeoutMs);
    if (owed.length >= o.maxPipelined) s.pause();
    flush();
  });
}

