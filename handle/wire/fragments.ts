// The native protocol over UDP: a message split into ≤ 512-byte datagrams (fragmentForUdp) and put back together (UdpReassembler).
import { Writer } from './bytes.js';
import { ENVELOPE_SIZE, MAX_MESSAGE_LENGTH, UDP_FRAGMENT_PAYLOAD, writeEnvelope, type Envelope } from './envelope.js';

/**
 * A message split for UDP: one datagram per ≤ 492 bytes, each with the envelope (sequence numbers 0, 1, …). As Handle.Net
 * does (HandleResolver.getUdpPacketsForRequest, HdlUdpRequestHandler.handleResponse): every fragment carries the same
 * request id and messageLength = the length of the whole message; fragment i holds bytes i·492 … i·492+491; truncated
 * (TC) is set when there is more than one fragment (the client sets it so; Handle.Net's server decides by it, its
 * client by messageLength). An empty message gives one envelope-only datagram.
 */
export function fragmentForUdp(env: Omit<Envelope, 'sequenceNumber' | 'messageLength' | 'truncated'>, message: Uint8Array): Buffer[] {
  const count = Math.max(1, Math.ceil(message.byteLength / UDP_FRAGMENT_PAYLOAD));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const payload = message.subarray(i * UDP_FRAGMENT_PAYLOAD, Math.min((i + 1) * UDP_FRAGMENT_PAYLOAD, message.byteLength));
    const w = new Writer(ENVELOPE_SIZE + payload.byteLength);
    writeEnvelope(w, { ...env, truncated: count > 1, sequenceNumber: i, messageLength: message.byteLength });
    w.raw(payload);
    out.push(w.finish());
  }
  return out;
}

export interface UdpReassemblerOptions {
  /** Most messages being reassembled at once (default 256). */
  maxMessages?: number;
  /** Most bytes buffered over all messages in progress (default 4 MiB). */
  maxBytes?: number;
  /** Longest message accepted in fragments (default MAX_MESSAGE_LENGTH). */
  maxMessageBytes?: number;
  /** A message not complete this many ms after its first fragment is dropped (default 5000, HdlUdpInterface's wait). */
  ttlMs?: number;
}

/** What one fragment did (UdpReassembler.offer). */
export type UdpReassembly =
  | { status: 'complete'; envelope: Envelope; message: Buffer }
  | { status: 'pending' }
  | { status: 'duplicate' }
  | { status: 'invalid'; reason: string }
  | { status: 'dropped'; reason: 'too-many-messages' | 'too-many-bytes' | 'too-long' };

interface PendingMessage {
  envelope: Envelope;
  message: Buffer;
  got: Uint8Array;
  missing: number;
  startedMs: number;
}

/**
 * Reassembles messages that arrive in several datagrams (Handle.Net HdlUdpInterface.addMultiPacketListener /
 * HdlUdpPendingRequest), pure: no timers, the caller passes the time. Messages are keyed by (sender, request id) —
 * Handle.Net keys by "requestId@client IP"; pass the address, with or without the port. Fragment i is copied to offset
 * i·492 of a buffer of the envelope's messageLength; every fragment but the last must be exactly 492 bytes and the last
 * exactly the rest, its sequence number below the fragment count, and its messageLength that of the first fragment —
 * anything else is 'invalid' (Handle.Net checks none of it). A fragment that is a whole message comes straight back.
 * Bounded: maxMessages in progress, maxBytes buffered, maxMessageBytes each; a message is dropped ttlMs after its
 * first fragment (checked on every offer and by expire; `nowMs` must not go backwards). Never throws.
 */
export class UdpReassembler {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxMessageBytes: number;
  readonly ttlMs: number;
  private readonly pending = new Map<string, PendingMessage>();
  private buffered = 0;

  constructor(options: UdpReassemblerOptions = {}) {
    this.maxMessages = options.maxMessages ?? 256;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_LENGTH;
    this.ttlMs = options.ttlMs ?? 5000;
    for (const [name, v] of Object.entries({ maxMessages: this.maxMessages, maxBytes: this.maxBytes, maxMessageBytes: this.maxMessageBytes, ttlMs: this.ttlMs })) {
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer (got ${v})`);
    }
  }

  /** Messages in progress. */
  get size(): number {
    return this.pending.size;
  }

  /** Bytes allocated for messages in progress. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** One fragment: its decoded envelope and the datagram bytes after the envelope. The whole message once complete, else null. */
  add(sender: string, env: Envelope, payload: Uint8Array, nowMs: number): Buffer | null {
    const r = this.offer(sender, env, payload, nowMs);
    return r.status === 'complete' ? r.message : null;
  }

  /** As add, saying what the fragment did. */
  offer(sender: string, env: Envelope, payload: Uint8Array, nowMs: number): UdpReassembly {
    this.expire(nowMs);
    const total = env.messageLength;
    const count = Math.max(1, Math.ceil(total / UDP_FRAGMENT_PAYLOAD));
    const seq = env.sequenceNumber;
    if (seq >= count) return { status: 'invalid', reason: `sequence number ${seq} beyond the ${count} fragments of a ${total}-byte message` };
    const expected = seq < count - 1 ? UDP_FRAGMENT_PAYLOAD : total - UDP_FRAGMENT_PAYLOAD * (count - 1);
    if (payload.byteLength !== expected) return { status: 'invalid', reason: `fragment ${seq} has ${payload.byteLength} message bytes, expected ${expected}` };
    if (total > this.maxMessageBytes) return { status: 'dropped', reason: 'too-long' };
    if (count === 1) return { status: 'complete', envelope: env, message: Buffer.from(payload) };

    const key = `${env.requestId}@${sender}`;
    let p = this.pending.get(key);
    if (p === undefined) {
      if (this.pending.size >= this.maxMessages) return { status: 'dropped', reason: 'too-many-messages' };
      if (this.buffered + total > this.maxBytes) return { status: 'dropped', reason: 'too-many-bytes' };
      p = { envelope: { ...env, sequenceNumber: 0 }, message: Buffer.alloc(total), got: new Uint8Array(count), missing: count, startedMs: nowMs };
      this.pending.set(key, p);
      this.buffered += total;
    } else if (p.message.length !== total) {
      return { status: 'invalid', reason: `message length ${total} differs from the ${p.message.length} of the fragments before it` };
    }
    if (p.got[seq] === 1) return { status: 'duplicate' };
    p.got[seq] = 1;
    p.message.set(payload, seq * UDP_FRAGMENT_PAYLOAD);
    p.missing--;
    if (p.missing > 0) return { status: 'pending' };
    this.pending.delete(key);
    this.buffered -= total;
    return { status: 'complete', envelope: p.envelope, message: p.message };
  }

  /** Drops messages whose first fragment came ttlMs or more before `nowMs`; returns how many. */
  expire(nowMs: number): number {
    let dropped = 0;
    for (const [key, p] of this.pending) {
      if (nowMs - p.startedMs < this.ttlMs) break; // insertion order is start order
      this.pending.delete(key);
      this.buffered -= p.message.length;
      dropped++;
    }
    return dropped;
  }
}
