// The prefix-record layer: homed prefix records without an HS_SITE answer with this node's site; everything else as stored.
import { describe, expect, it } from 'vitest';
import { RecordError } from '../../../handle/record-json.js';
import { ManualClock } from '../../../resolver/clock.js';
import { createResolver } from '../../../resolver/pipeline.js';
import type { Resolver } from '../../../resolver/types.js';
import { val } from '../../helpers/values.js';
import { TestSource } from '../helpers.js';

const SITE = { version: 1, protocolVersion: '2.11', serialNumber: 1, primarySite: true, servers: [] };

async function resolver(source: TestSource): Promise<Resolver> {
  return createResolver({ source, clock: new ManualClock(1_700_000_123_000), cache: { maxBytes: 1 << 20 }, site: { nodePrefixKey: '88.1', siteData: () => SITE } });
}

describe('PrefixSiteLayer', () => {
  it('adds this node\'s HS_SITE to a homed prefix record without one, at the lowest free index', async () => {
    const source = new TestSource();
    source.put('0.NA/88.1', '0.NA/88.1', [val(1, 'DESC', 'root'), val(100, 'HS_ADMIN', 'x')]);
    source.put('0.NA/88.1.7', '0.NA/88.1.7', [val(2, 'DESC', 'derived')]);
    const r = await resolver(source);
    try {
      for (const [key, index] of [['0.NA/88.1', 2], ['0.NA/88.1.7', 1]] as const) {
        const got = await r.resolve(key);
        expect(got.found).toBe(true);
        if (!got.found) continue;
        const site = got.record.values.find((v) => v.type === 'HS_SITE');
        expect(site).toMatchObject({ index, data: { format: 'site', value: SITE }, ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_123 });
        expect(got.record.values.map((v) => v.index)).toEqual([...got.record.values.map((v) => v.index)].sort((a, b) => a - b));
        expect(got.record.publicJson).toContain('"HS_SITE"');
      }
    } finally {
      await r.close();
    }
  });

  it('answers as stored: a record with its own HS_SITE, an unhomed prefix record, any other handle', async () => {
    const source = new TestSource();
    const own = { ...val(3, 'HS_SITE', ''), data: { format: 'site' as const, value: { mine: true } } };
    source.put('0.NA/88.1.2', '0.NA/88.1.2', [val(1, 'DESC', 'd'), own]);
    source.put('0.NA/99.9', '0.NA/99.9', [val(1, 'DESC', 'other')]);
    source.put('0.NA/88.10', '0.NA/88.10', [val(1, 'DESC', 'shares characters only')]);
    source.put('88.1/X', '88.1/x', [val(1, 'URL', 'u')]);
    const r = await resolver(source);
    try {
      const withOwn = await r.resolve('0.NA/88.1.2');
      expect(withOwn.found && withOwn.record.values.filter((v) => v.type === 'HS_SITE').map((v) => v.data.value)).toEqual([{ mine: true }]);
      for (const k of ['0.NA/99.9', '0.NA/88.10', '88.1/X']) {
        const got = await r.resolve(k);
        expect(got.found && got.record.values.some((v) => v.type === 'HS_SITE')).toBe(false);
      }
      expect(await r.resolve('0.NA/88.1.404')).toMatchObject({ found: false });
    } finally {
      await r.close();
    }
  });

  it('a homed prefix record whose stored values are corrupt resolves as stored (RecordError only when read)', async () => {
    const source = new TestSource();
    source.putText('0.NA/88.1.3', { handle: '0.NA/88.1.3', valuesJson: '[{"index":1}]', publicJson: '[]' });
    const r = await resolver(source);
    try {
      const got = await r.resolve('0.NA/88.1.3');
      expect(got.found).toBe(true);
      if (!got.found) return;
      expect(got.record.publicJson).toBe('[]');
      expect(() => got.record.values).toThrow(RecordError);
    } finally {
      await r.close();
    }
  });
});
