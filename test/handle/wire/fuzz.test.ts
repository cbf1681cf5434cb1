// Every wire decoder under seeded random and mutated input: each throws nothing but WireError; valueDataFromWire and UdpReassembler never throw.
import { describe, expect, it } from 'vitest';
import { WireError } from '../../../handle/wire/bytes.js';
import { decodeEnvelope, type Envelope, UDP_FRAGMENT_PAYLOAD } from '../../../handle/wire/envelope.js';
import { decodeMessage } from '../../../handle/wire/message.js';
import { decodeErrorBody, decodeResolutionRequest, decodeResolutionResponse, DIGEST, encodeErrorBody, requestDigest } from '../../../handle/wire/body.js';
import { decodeHandleValue, encodeHandleValue, valueDataFromWire } from '../../../handle/wire/values.js';
import { decodeSiteInfo } from '../../../handle/wire/site.js';
import { UdpReassembler } from '../../../handle/wire/fragments.js';
import { seededRandom } from '../../../bench/lib.js';
import { valueOf } from '../../helpers/values.js';
import { ENVELOPE_NEW, ENVELOPE_OLD, hex, NOW, REQUEST_BODY, REQUEST_MESSAGE, RESPONSE_BODY, RSA_KEY_JSON, RSA_KEY_RECORD, SITE_JSON, SITE_RECORD } from './fixtures.js';

describe('decoders under random input', () => {
  const keyValue = encodeHandleValue(valueOf({ timestamp: NOW, index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: RSA_KEY_JSON } }));
  const siteValue = encodeHandleValue(valueOf({ timestamp: NOW, index: 1, type: 'HS_SITE', data: { format: 'site', value: SITE_JSON } }));
  const seeds: Uint8Array[] = [
    ENVELOPE_NEW,
    ENVELOPE_OLD,
    REQUEST_MESSAGE,
    Uint8Array.from(REQUEST_BODY),
    RESPONSE_BODY,
    // a response body with a digest section (SHA-256, code 3, and 32 bytes) first: without it, no input the digest
    // decoder is given gets past the digest
    Uint8Array.from([0x03, ...new Uint8Array(32).fill(0xa5), ...RESPONSE_BODY]),
    SITE_RECORD,
    RSA_KEY_RECORD,
    keyValue,
    siteValue,
    encodeErrorBody('nope', requestDigest(DIGEST.SHA256, decodeMessage(REQUEST_MESSAGE))),
  ];

  function mutate(next: () => number, src: Uint8Array): Uint8Array {
    const b = Array.from(src);
    const edits = 1 + Math.floor(next() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * (b.length + 1));
      const kind = next();
      if (kind < 0.4 && b.length > 0) b[at % b.length] = Math.floor(next() * 256);
      else if (kind < 0.55) b.splice(at, 0, Math.floor(next() * 256));
      else if (kind < 0.7) b.splice(at, 1);
      else if (kind < 0.8) b.length = at; // truncate
      else if (kind < 0.9 && b.length >= 4) b.splice(at % (b.length - 3), 4, 0xff, 0xff, 0xff, Math.floor(next() * 256)); // a huge length
      else b.splice(at, 0, ...Array.from({ length: Math.floor(next() * 8) }, () => Math.floor(next() * 256)));
    }
    return Uint8Array.from(b);
  }

  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['decodeEnvelope', decodeEnvelope],
    ['decodeMessage', decodeMessage],
    ['decodeResolutionRequest', decodeResolutionRequest],
    ['decodeSiteInfo', decodeSiteInfo],
    ['decodeResolutionResponse', (b) => decodeResolutionResponse(b, false)],
    ['decodeResolutionResponse+digest', (b) => decodeResolutionResponse(b, true)],
    ['decodeErrorBody', (b) => decodeErrorBody(b, true)],
    ['decodeHandleValue', decodeHandleValue],
  ];

  it.each(decoders)('%s throws nothing but WireError', (_name, decode) => {
    const next = seededRandom(0x5eed1234);
    let accepted = 0;
    let rejected = 0;
    const attempt = (input: Uint8Array) => {
      try {
        decode(input);
        accepted++;
      } catch (e) {
        if (!(e instanceof WireError)) throw new Error(`${String(e)} for input ${hex(input)}`);
        rejected++;
      }
    };
    for (let i = 0; i < 1500; i++) {
      const len = Math.floor(next() * 96);
      attempt(Uint8Array.from({ length: len }, () => Math.floor(next() * 256)));
      attempt(mutate(next, seeds[i % seeds.length]!));
    }
    // both outcomes reached: the inputs get past the first checks as well as being refused
    expect(accepted, 'inputs decoded').toBeGreaterThan(0);
    expect(rejected, 'inputs refused').toBeGreaterThan(0);
  });

  it('valueDataFromWire and UdpReassembler.offer never throw', () => {
    const next = seededRandom(42);
    const types = ['HS_ADMIN', 'HS_VLIST', 'HS_SITE', 'HS_PUBKEY', 'URL', 'hs_site.prefix'];
    const r = new UdpReassembler({ maxMessages: 8, ttlMs: 50 });
    for (let i = 0; i < 3000; i++) {
      const b = mutate(next, seeds[i % seeds.length]!);
      const shown = valueDataFromWire(types[i % types.length]!, b);
      expect(['string', 'base64', 'admin', 'vlist', 'site', 'key']).toContain(shown.format);
      const env: Envelope = {
        ...base(),
        sequenceNumber: Math.floor(next() * 4),
        messageLength: Math.floor(next() * 2000),
        requestId: Math.floor(next() * 4),
      };
      const payload = next() < 0.5 ? b : new Uint8Array(next() < 0.5 ? UDP_FRAGMENT_PAYLOAD : Math.floor(next() * 600));
      const out = r.offer(`s${Math.floor(next() * 3)}`, env, payload, i);
      expect(['complete', 'pending', 'duplicate', 'invalid', 'dropped']).toContain(out.status);
      expect(r.size).toBeLessThanOrEqual(8);
    }
    function base(): Envelope {
      return decodeEnvelope(ENVELOPE_NEW);
    }
  });
});
