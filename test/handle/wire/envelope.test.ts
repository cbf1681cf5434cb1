// Tests for handle/wire/envelope.ts: both envelope layouts from hand-built bytes, limits, and the protocol version rules.
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  MAX_MESSAGE_LENGTH,
  PROTOCOL_VERSION,
  responseVersion,
  versionAtLeast,
} from '../../../handle/wire/envelope.js';
import { ENVELOPE_NEW, ENVELOPE_OLD, expectWireError, hex } from './fixtures.js';

describe('envelope', () => {
  it('decodes and re-encodes the ≥ 2.5 layout (suggested version in bytes 2–3)', () => {
    const env = decodeEnvelope(ENVELOPE_NEW);
    expect(env).toEqual({
      major: 2,
      minor: 10,
      suggestedMajor: 2,
      suggestedMinor: 11,
      compressed: false,
      encrypted: false,
      truncated: false,
      sessionId: 0,
      requestId: 0x12345678,
      sequenceNumber: 0,
      messageLength: 64,
    });
    expect(hex(encodeEnvelope(env))).toBe(hex(ENVELOPE_NEW));
  });

  it('decodes and re-encodes the 2.1–2.4 layout (MessageFlag only: suggested 0.0 = none)', () => {
    const env = decodeEnvelope(ENVELOPE_OLD);
    expect(env).toEqual({
      major: 2,
      minor: 3,
      suggestedMajor: 0,
      suggestedMinor: 0,
      compressed: false,
      encrypted: false,
      truncated: true,
      sessionId: 7,
      requestId: 1,
      sequenceNumber: 2,
      messageLength: 1000,
    });
    expect(hex(encodeEnvelope(env))).toBe(hex(ENVELOPE_OLD));
  });

  it('reads the CP, EC and TC flags next to the suggested major', () => {
    const b = Uint8Array.from(ENVELOPE_NEW);
    b[2] = 0x80 | 0x40 | 0x20 | 0x03; // CP, EC, TC, suggested major 3
    const env = decodeEnvelope(b);
    expect([env.compressed, env.encrypted, env.truncated, env.suggestedMajor, env.suggestedMinor]).toEqual([true, true, true, 3, 11]);
    expect(hex(encodeEnvelope(env))).toBe(hex(b));
  });

  it('ignores byte 3 when no suggested major is set, and the reserved bits 0x1c of byte 2', () => {
    const b = Uint8Array.from(ENVELOPE_OLD);
    b[2] = 0x20 | 0x1c; // TC + reserved bits
    b[3] = 0x55; // reserved in the old layout
    const env = decodeEnvelope(b);
    expect([env.truncated, env.suggestedMajor, env.suggestedMinor]).toEqual([true, 0, 0]);
    // encoding an envelope without a suggestion writes the old layout exactly
    expect(Array.from(encodeEnvelope(env).subarray(2, 4))).toEqual([0x20, 0x00]);
  });

  it('reads only the first 20 bytes of a longer datagram', () => {
    const d = Buffer.concat([ENVELOPE_NEW, Buffer.alloc(64, 0xaa)]);
    expect(decodeEnvelope(d).messageLength).toBe(64);
  });

  it('rejects short envelopes and message lengths over Handle.Net’s limit', () => {
    expectWireError(() => decodeEnvelope(new Uint8Array(0)));
    expectWireError(() => decodeEnvelope(ENVELOPE_NEW.subarray(0, 19)));
    const b = Buffer.from(ENVELOPE_NEW);
    b.writeUInt32BE(MAX_MESSAGE_LENGTH, 16);
    expect(decodeEnvelope(b).messageLength).toBe(MAX_MESSAGE_LENGTH);
    b.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 16);
    expectWireError(() => decodeEnvelope(b));
    b.writeUInt32BE(0xffffffff, 16); // negative in Java
    expectWireError(() => decodeEnvelope(b));
  });

  it('refuses to encode fields that do not fit', () => {
    const env = decodeEnvelope(ENVELOPE_NEW);
    expect(() => encodeEnvelope({ ...env, suggestedMajor: 4 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...env, major: 256 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...env, requestId: -1 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...env, messageLength: 2 ** 32 })).toThrow(RangeError);
  });

  it('encodes unsigned 32-bit ids in full', () => {
    const env: Envelope = { ...decodeEnvelope(ENVELOPE_NEW), sessionId: 0xffffffff, requestId: 0x80000001 };
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });
});

describe('protocol versions', () => {
  it('compares versions as AbstractMessage.hasEqualOrGreaterVersion does, 5.x quirk included', () => {
    expect(versionAtLeast(2, 10, 2, 7)).toBe(true);
    expect(versionAtLeast(2, 6, 2, 7)).toBe(false);
    expect(versionAtLeast(3, 0, 2, 11)).toBe(true);
    expect(versionAtLeast(1, 99, 2, 0)).toBe(false);
    expect(versionAtLeast(5, 0, 2, 1)).toBe(false); // very old clients said 5.0
    expect(versionAtLeast(5, 3, 5, 2)).toBe(true);
    expect(versionAtLeast(2, 0, 5, 0)).toBe(true);
  });

  it('answers in the suggested version, else the request’s own, capped at 2.11', () => {
    const v = (major: number, minor: number, suggestedMajor: number, suggestedMinor: number) =>
      responseVersion({ major, minor, suggestedMajor, suggestedMinor });
    expect(PROTOCOL_VERSION).toEqual({ major: 2, minor: 11 });
    expect(v(2, 10, 2, 10)).toEqual({ major: 2, minor: 10 }); // ID-SDK
    expect(v(2, 3, 2, 11)).toEqual({ major: 2, minor: 11 }); // CNRI client: compatibility 2.3, suggests 2.11
    expect(v(2, 10, 2, 5)).toEqual({ major: 2, minor: 5 }); // the suggestion wins even when lower
    expect(v(2, 4, 0, 0)).toEqual({ major: 2, minor: 4 }); // old layout: no suggestion
    expect(v(2, 12, 2, 12)).toEqual({ major: 2, minor: 11 }); // capped
    expect(v(3, 0, 3, 0)).toEqual({ major: 2, minor: 11 });
    expect(v(5, 0, 0, 0)).toEqual({ major: 5, minor: 0 }); // not ≥ 2.11 by the 5.x rule
    expect(responseVersion(decodeEnvelope(ENVELOPE_NEW))).toEqual({ major: 2, minor: 11 });
    expect(responseVersion(decodeEnvelope(ENVELOPE_OLD))).toEqual({ major: 2, minor: 3 });
  });
});
