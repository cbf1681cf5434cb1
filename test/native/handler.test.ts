// The native face's handler over a real resolver: the fast path for a repeated request, its memo and templates inside the budget, corrupt records.
import { describe, expect, it } from 'vitest';
import { RC } from '../../handle/codes.js';
import { isUnderPrefix } from '../../handle/identifier.js';
import { RecordError } from '../../handle/record-json.js';
import { decodeErrorBody, decodeResolutionResponse } from '../../handle/wire/body.js';
import { decodeEnvelope, ENVELOPE_SIZE } from '../../handle/wire/envelope.js';
import { decodeMessage, HEADER_SIZE, OPFLAG } from '../../handle/wire/message.js';
import type { SiteInfo } from '../../handle/wire/site.js';
import { NativeHandler } from '../../src/faces/native/handler.js';
import { DERIVED_OVERHEAD_BYTES, MAX_DERIVED_PER_ENTRY } from '../../resolver/memory-cache.js';
import { createResolver } from '../../resolver/pipeline.js';
import type { Resolver } from '../../resolver/types.js';
import { requestBytes } from '../helpers/native-client.js';
import { val } from '../helpers/values.js';
import { TestSource } from '../resolver/helpers.js';

const SITE: SiteInfo = {
  dataVersion: 1,
  protocolMajor: 2,
  protocolMinor: 11,
  serialNumber: 1,
  primary: true,
  multiPrimary: false,
  hashOption: 2,
  hashFilter: new Uint8Array(0),
  attributes: [],
  servers: [],
};

async function setup(o: { maxBytes?: number; memoBytes?: number } = {}) {
  const source = new TestSource();
  const resolver: Resolver = await createResolver({ source, cache: { maxBytes: o.maxBytes ?? 1 << 20 } });
  const errors: unknown[] = [];
  const handler = new NativeHandler({
    resolver,
    policy: { caseSensitiveSuffix: false },
    isHomed: (id) => isUnderPrefix(id.prefixKey, '88.1'),
    site: () => SITE,
    memoBytes: o.memoBytes ?? 1 << 20,
    onError: (e) => errors.push(e),
  });
  type Ask = Parameters<typeof requestBytes>[0];
  /** The fast path's answer to a request, or null. */
  const fast = (r: Ask) => {
    const req = requestBytes(r);
    return handler.fast(req.bytes, 0, decodeEnvelope(req.bytes).messageLength);
  };
  /** The full path's answer to a request. */
  const full = (r: Ask) => {
    const req = requestBytes(r);
    return handler.answer(decodeEnvelope(req.bytes), req.bytes.subarray(0, ENVELOPE_SIZE), req.message);
  };
  return { source, resolver, handler, errors, fast, full };
}

function decoded(bytes: Buffer) {
  const envelope = decodeEnvelope(bytes);
  const message = decodeMessage(bytes.subarray(ENVELOPE_SIZE));
  return { envelope, message };
}

describe('native handler', () => {
  it('answers a repeat of a request from its kept template: the same answer with the new request ids and flags', async () => {
    const { source, resolver, fast, full, errors } = await setup();
    source.put('88.1/NAT', '88.1/nat', [val(1, 'URL', 'https://n.example'), val(2, 'EMAIL', 'e@x'), val(3, 'S', 's', 60, false)]);
    const ask = { handle: '88.1/nat', types: ['URL'] };
    expect(fast({ ...ask, requestId: 1 })).toBeNull(); // nothing kept yet

    const first = await full({ ...ask, requestId: 1 });
    const a = decoded(first.bytes);
    expect(a.message.header.responseCode).toBe(RC.SUCCESS);
    const res = decodeResolutionResponse(a.message.body, false);
    expect(res.handle).toBe('88.1/nat');
    expect(res.values.map((v) => [v.index, v.type, v.data.value])).toEqual([[1, 'URL', 'https://n.example']]);

    const again = fast({ ...ask, requestId: 77, opFlags: OPFLAG.KEEP_ALIVE | OPFLAG.PUBLIC_ONLY });
    expect(again).not.toBeNull();
    const b = decoded(again!);
    expect(b.envelope.requestId).toBe(77);
    // the request's flags echoed, and the authoritative flag of a primary server's answer
    expect(b.message.header.opFlags).toBe((OPFLAG.KEEP_ALIVE | OPFLAG.PUBLIC_ONLY | OPFLAG.AUTH) >>> 0);
    expect(b.message.body).toEqual(a.message.body);
    expect(b.message.header.responseCode).toBe(RC.SUCCESS);
    // byte for byte the first answer, apart from the request id and the echoed flags
    const patched = Buffer.from(first.bytes);
    patched.writeUInt32BE(77, 8);
    patched.writeUInt32BE((OPFLAG.KEEP_ALIVE | OPFLAG.PUBLIC_ONLY | OPFLAG.AUTH) >>> 0, ENVELOPE_SIZE + 8);
    expect(again!.equals(patched)).toBe(true);

    // another request (other types, other case, a digest asked for) is not answered from it
    expect(fast({ handle: '88.1/nat', types: ['EMAIL'], requestId: 2 })).toBeNull();
    expect(fast({ handle: '88.1/NAT', types: ['URL'], requestId: 2 })).toBeNull();
    expect(fast({ ...ask, requestId: 2, opFlags: OPFLAG.RETURN_DIGEST })).toBeNull();

    // a change makes the kept answer stale: the full path answers anew
    source.put('88.1/NAT', '88.1/nat', [val(1, 'URL', 'https://changed.example')]);
    await resolver.invalidate({ keys: ['88.1/NAT'] });
    expect(fast({ ...ask, requestId: 3 })).toBeNull();
    const changed = decodeResolutionResponse(decoded((await full({ ...ask, requestId: 3 })).bytes).message.body, false);
    expect(changed.values[0]!.data.value).toBe('https://changed.example');
    expect(decodeResolutionResponse(decoded(fast({ ...ask, requestId: 4 })!).message.body, false).values[0]!.data.value).toBe('https://changed.example');
    expect(errors).toEqual([]);
    await resolver.close();
  });

  it('keeps a template and the wire values in the cache budget, counted with the entry', async () => {
    const { source, resolver, full } = await setup();
    source.put('88.1/CNT', '88.1/cnt', [val(1, 'URL', 'https://c.example')]);
    await resolver.resolve('88.1/CNT');
    const before = resolver.stats().bytes;
    const reply = await full({ handle: '88.1/cnt', requestId: 5 });
    const m = decoded(reply.bytes).message;
    const valuesBytes = m.body.length - 4 - Buffer.byteLength('88.1/cnt');
    const grown = resolver.stats().bytes - before;
    // the template (the whole answer) and the values' wire form, each with its variant name and the fixed overhead
    expect(grown).toBeGreaterThanOrEqual(reply.bytes.length + valuesBytes + 2 * DERIVED_OVERHEAD_BYTES);
    expect(grown).toBeLessThanOrEqual(reply.bytes.length + valuesBytes + 2 * DERIVED_OVERHEAD_BYTES + 4 * (HEADER_SIZE + 64));
    await resolver.close();
  });

  it('distinct requests of one handle stay inside the budget: templates pushed out are released and no longer sent', async () => {
    const { source, resolver, handler, fast, full, errors } = await setup({ maxBytes: 512 * 1024, memoBytes: 16 * 1024 });
    const values = Array.from({ length: 40 }, (_, i) => val(i + 1, `DESC.${i}`, `${'v'.repeat(40)}-${i}`));
    source.put('88.1/MANY', '88.1/many', values);
    const asks = Array.from({ length: 60 }, (_, i) => ({ handle: '88.1/many', indexes: [i % 40 + 1, (i * 7) % 40 + 1, i + 100] }));
    for (const [i, ask] of asks.entries()) {
      const r = decoded((await full({ ...ask, requestId: i + 1 })).bytes);
      expect(r.message.header.responseCode).toBe(RC.SUCCESS);
      expect(resolver.stats().bytes).toBeLessThanOrEqual(512 * 1024);
    }
    // each request keeps its answer's template with the record: only the last MAX_DERIVED_PER_ENTRY stay
    const kept = asks.map((ask, i) => fast({ ...ask, requestId: 1000 + i }) !== null);
    const stillKept = MAX_DERIVED_PER_ENTRY;
    expect(kept.slice(-stillKept)).toEqual(Array(stillKept).fill(true));
    expect(kept.slice(0, asks.length - stillKept)).toEqual(Array(asks.length - stillKept).fill(false));
    // the memo of parsed requests holds at most its bytes
    const memo = (handler as unknown as { memo: { usedBytes: number; maxBytes: number } }).memo;
    expect(memo.maxBytes).toBe(16 * 1024);
    expect(memo.usedBytes).toBeLessThanOrEqual(memo.maxBytes);
    // a pushed-out request is answered whole by the full path, and kept again for its next repeat
    const again = decoded((await full({ ...asks[0]!, requestId: 9999 })).bytes);
    expect(decodeResolutionResponse(again.message.body, false).values.map((v) => v.index)).toEqual([1]);
    expect(fast({ ...asks[0]!, requestId: 10_000 })).not.toBeNull();
    expect(errors).toEqual([]);
    await resolver.close();
  });

  it('templates of evicted entries are released: the fast path declines, the full path answers', async () => {
    const { source, resolver, fast, full } = await setup({ maxBytes: 64 * 1024 });
    for (let i = 0; i < 200; i++) source.put(`88.1/E${i}`, `88.1/e${i}`, [val(1, 'URL', `https://e${i}.example/${'p'.repeat(100)}`)]);
    for (let i = 0; i < 200; i++) {
      const r = decoded((await full({ handle: `88.1/e${i}`, requestId: i + 1 })).bytes);
      expect(r.message.header.responseCode).toBe(RC.SUCCESS);
      expect(resolver.stats().bytes).toBeLessThanOrEqual(64 * 1024);
    }
    expect(resolver.stats().evictions).toBeGreaterThan(0);
    expect(fast({ handle: '88.1/e0', requestId: 500 })).toBeNull();
    expect(fast({ handle: '88.1/e199', requestId: 501 })).not.toBeNull();
    const r = decodeResolutionResponse(decoded((await full({ handle: '88.1/e0', requestId: 502 })).bytes).message.body, false);
    expect(r.values[0]!.data.value).toBe(`https://e0.example/${'p'.repeat(100)}`);
    await resolver.close();
  });

  it('a record whose stored values are corrupt answers RC 2 (and is reported), and the next request is answered', async () => {
    const { source, resolver, fast, full, errors } = await setup();
    source.putText('88.1/BAD', { handle: '88.1/bad', valuesJson: '[{"index":1,"type":null}]', publicJson: '[]' });
    source.put('88.1/GOOD', '88.1/good', [val(1, 'URL', 'https://good.example')]);
    for (const ask of [{ handle: '88.1/bad' }, { handle: '88.1/bad', types: ['URL'] }, { handle: '88.1/BAD', indexes: [1] }]) {
      const reply = await full({ ...ask, requestId: 10 });
      const m = decoded(reply.bytes).message;
      expect(m.header.responseCode).toBe(RC.ERROR);
      expect(decodeErrorBody(m.body, false).message).toBe('Server error processing request');
      expect(reply.close).toBe(true);
      expect(fast({ ...ask, requestId: 11 })).toBeNull();
    }
    expect(errors).toHaveLength(3);
    for (const e of errors) expect(e).toBeInstanceOf(RecordError);
    const good = decoded((await full({ handle: '88.1/good', requestId: 12 })).bytes).message;
    expect(good.header.responseCode).toBe(RC.SUCCESS);
    await resolver.close();
  });
});
