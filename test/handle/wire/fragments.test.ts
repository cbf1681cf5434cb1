// Tests for handle/wire/fragments.ts: UDP fragments and their reassembly (order, duplicates, bounds, expiry).
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, ENVELOPE_SIZE, UDP_FRAGMENT_PAYLOAD, UDP_PACKET_MAX } from '../../../handle/wire/envelope.js';
import { decodeMessage, encodeMessage, OC } from '../../../handle/wire/message.js';
import { decodeResolutionRequest, encodeResolutionRequest } from '../../../handle/wire/body.js';
import { fragmentForUdp, UdpReassembler } from '../../../handle/wire/fragments.js';
import { HANDLE, hex, NOW } from './fixtures.js';

describe('UDP fragments', () => {
  const base = { major: 2, minor: 10, suggestedMajor: 2, suggestedMinor: 11, compressed: false, encrypted: false, sessionId: 5, requestId: 0xabcdef };
  const message = Buffer.from(Array.from({ length: 1200 }, (_, i) => i % 251));

  it('sends a message that fits as one datagram, not truncated', () => {
    const small = message.subarray(0, 100);
    const [d, ...rest] = fragmentForUdp(base, small);
    expect(rest).toEqual([]);
    expect(d!.length).toBe(ENVELOPE_SIZE + 100);
    expect(decodeEnvelope(d!)).toEqual({ ...base, truncated: false, sequenceNumber: 0, messageLength: 100 });
    expect(hex(d!.subarray(ENVELOPE_SIZE))).toBe(hex(small));
  });

  it('splits into ≤ 512-byte datagrams with the same request id, sequence numbers 0…n−1 and the whole length', () => {
    const ds = fragmentForUdp(base, message);
    expect(ds.map((d) => d.length)).toEqual([UDP_PACKET_MAX, UDP_PACKET_MAX, ENVELOPE_SIZE + 1200 - 2 * UDP_FRAGMENT_PAYLOAD]);
    ds.forEach((d, i) => {
      expect(decodeEnvelope(d)).toEqual({ ...base, truncated: true, sequenceNumber: i, messageLength: 1200 });
      expect(hex(d.subarray(ENVELOPE_SIZE))).toBe(hex(message.subarray(i * UDP_FRAGMENT_PAYLOAD, (i + 1) * UDP_FRAGMENT_PAYLOAD)));
    });
    expect(Array.from(ds[1]!.subarray(0, ENVELOPE_SIZE))).toEqual([
      0x02, 0x0a, // version 2.10
      0x22, 0x0b, // TC 0x20 | suggested major 2, suggested minor 11
      0x00, 0x00, 0x00, 0x05, // SessionId 5
      0x00, 0xab, 0xcd, 0xef, // RequestId
      0x00, 0x00, 0x00, 0x01, // SequenceNumber 1
      0x00, 0x00, 0x04, 0xb0, // MessageLength 1200: the whole message, in every fragment
    ]);
  });

  it('handles exact multiples of 492 and the empty message', () => {
    expect(fragmentForUdp(base, message.subarray(0, 492)).length).toBe(1);
    expect(fragmentForUdp(base, message.subarray(0, 984)).map((d) => d.length)).toEqual([512, 512]);
    const empty = fragmentForUdp(base, new Uint8Array(0));
    expect(empty.length).toBe(1);
    expect(decodeEnvelope(empty[0]!).messageLength).toBe(0);
  });
});

describe('UdpReassembler', () => {
  const base = { major: 2, minor: 10, suggestedMajor: 2, suggestedMinor: 10, compressed: false, encrypted: false, sessionId: 0, requestId: 77 };
  const message = Buffer.from(Array.from({ length: 1300 }, (_, i) => (i * 7) % 256));
  const frags = fragmentForUdp(base, message);
  const offer = (r: UdpReassembler, d: Buffer, now = 0, sender = '192.0.2.1') => r.offer(sender, decodeEnvelope(d), d.subarray(ENVELOPE_SIZE), now);

  it('puts fragments together in order', () => {
    const r = new UdpReassembler();
    expect(offer(r, frags[0]!).status).toBe('pending');
    expect(offer(r, frags[1]!).status).toBe('pending');
    expect(r.size).toBe(1);
    expect(r.bufferedBytes).toBe(1300);
    const done = offer(r, frags[2]!);
    expect(done.status).toBe('complete');
    if (done.status !== 'complete') return;
    expect(hex(done.message)).toBe(hex(message));
    expect(done.envelope).toEqual({ ...base, truncated: true, sequenceNumber: 0, messageLength: 1300 });
    expect([r.size, r.bufferedBytes]).toEqual([0, 0]);
  });

  it('puts fragments together out of order, ignoring duplicates', () => {
    const r = new UdpReassembler();
    expect(offer(r, frags[2]!).status).toBe('pending');
    expect(offer(r, frags[2]!).status).toBe('duplicate');
    expect(offer(r, frags[0]!).status).toBe('pending');
    expect(offer(r, frags[0]!).status).toBe('duplicate');
    const done = offer(r, frags[1]!);
    expect(done.status === 'complete' && hex(done.message)).toBe(hex(message));
  });

  it('gives the message through add, null until it is whole', () => {
    const r = new UdpReassembler();
    const add = (d: Buffer) => r.add('h', decodeEnvelope(d), d.subarray(ENVELOPE_SIZE), 0);
    expect(add(frags[1]!)).toBeNull();
    expect(add(frags[0]!)).toBeNull();
    expect(hex(add(frags[2]!)!)).toBe(hex(message));
    const whole = fragmentForUdp(base, message.subarray(0, 50))[0]!;
    expect(hex(add(whole)!)).toBe(hex(message.subarray(0, 50))); // a whole message comes straight back
  });

  it('keeps messages apart by sender and by request id', () => {
    const r = new UdpReassembler();
    const other = fragmentForUdp({ ...base, requestId: 78 }, message);
    expect(offer(r, frags[0]!, 0, 'a').status).toBe('pending');
    expect(offer(r, frags[0]!, 0, 'b').status).toBe('pending');
    expect(offer(r, other[0]!, 0, 'a').status).toBe('pending');
    expect(r.size).toBe(3);
    offer(r, frags[1]!, 0, 'a');
    expect(offer(r, frags[2]!, 0, 'a').status).toBe('complete');
    expect(offer(r, frags[2]!, 0, 'b').status).toBe('pending');
    expect(r.size).toBe(2);
  });

  it('decodes the reassembled message', () => {
    const m = Buffer.from(encodeMessage({ opCode: OC.RESOLUTION, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: NOW }, encodeResolutionRequest({ handle: HANDLE, indexes: [], types: Array.from({ length: 80 }, (_, i) => `TYPE_${i}`) })));
    expect(m.length).toBeGreaterThan(UDP_FRAGMENT_PAYLOAD);
    const r = new UdpReassembler();
    let got: Buffer | null = null;
    for (const d of fragmentForUdp(base, m).reverse()) got = r.add('h', decodeEnvelope(d), d.subarray(ENVELOPE_SIZE), 0) ?? got;
    expect(decodeResolutionRequest(decodeMessage(got!).body).types.length).toBe(80);
  });

  it('rejects malformed fragments without throwing', () => {
    const r = new UdpReassembler();
    const env = decodeEnvelope(frags[0]!);
    expect(r.offer('h', { ...env, sequenceNumber: 3 }, frags[0]!.subarray(ENVELOPE_SIZE), 0).status).toBe('invalid'); // beyond 3 fragments
    expect(r.offer('h', env, frags[0]!.subarray(ENVELOPE_SIZE, 100), 0).status).toBe('invalid'); // short non-last fragment
    expect(r.offer('h', { ...env, sequenceNumber: 2 }, frags[0]!.subarray(ENVELOPE_SIZE), 0).status).toBe('invalid'); // last fragment too long
    expect(r.offer('h', { ...env, truncated: false, messageLength: 10 }, Buffer.alloc(12), 0).status).toBe('invalid'); // single datagram, wrong length
    expect(r.offer('h', env, frags[0]!.subarray(ENVELOPE_SIZE), 0).status).toBe('pending');
    expect(r.offer('h', { ...decodeEnvelope(frags[1]!), messageLength: 1400 }, frags[1]!.subarray(ENVELOPE_SIZE), 0).status).toBe('invalid'); // length changed
    expect(r.size).toBe(1);
  });

  it('bounds the messages in progress, the bytes buffered and each message', () => {
    const r = new UdpReassembler({ maxMessages: 2, maxBytes: 3000, maxMessageBytes: 1300 });
    const firstOf = (requestId: number, m: Buffer = message) => fragmentForUdp({ ...base, requestId }, m)[0]!;
    expect(offer(r, firstOf(1)).status).toBe('pending');
    expect(offer(r, firstOf(2)).status).toBe('pending');
    expect(offer(r, firstOf(3))).toEqual({ status: 'dropped', reason: 'too-many-messages' });
    expect(offer(r, firstOf(4, Buffer.alloc(1301)))).toEqual({ status: 'dropped', reason: 'too-long' });
    const bytes = new UdpReassembler({ maxBytes: 2000 });
    expect(offer(bytes, firstOf(1)).status).toBe('pending');
    expect(offer(bytes, firstOf(2))).toEqual({ status: 'dropped', reason: 'too-many-bytes' });
    expect(bytes.bufferedBytes).toBe(1300);
    expect(() => new UdpReassembler({ ttlMs: 0 })).toThrow(RangeError);
  });

  it('drops a message its ttl after the first fragment, on offer and on expire', () => {
    const r = new UdpReassembler({ ttlMs: 5000 });
    expect(offer(r, frags[0]!, 1000).status).toBe('pending');
    expect(offer(r, frags[1]!, 5999).status).toBe('pending'); // still within 5 s of the first fragment
    expect(offer(r, frags[2]!, 6000).status).toBe('pending'); // expired first: this starts a new message
    expect(r.size).toBe(1);
    expect(r.expire(10999)).toBe(0);
    expect(r.expire(11000)).toBe(1);
    expect([r.size, r.bufferedBytes]).toEqual([0, 0]);
    // an expired slot is free again
    const full = new UdpReassembler({ maxMessages: 1, ttlMs: 100 });
    expect(offer(full, frags[0]!, 0).status).toBe('pending');
    expect(offer(full, fragmentForUdp({ ...base, requestId: 9 }, message)[0]!, 50).status).toBe('dropped');
    expect(offer(full, fragmentForUdp({ ...base, requestId: 9 }, message)[0]!, 100).status).toBe('pending');
  });
});
