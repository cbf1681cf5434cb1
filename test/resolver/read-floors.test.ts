// ReadFloors: where each key may be read with replicas (positions of recent writes, the floor, suspension, lease).
import { describe, expect, it } from 'vitest';
import { ReadFloors } from '../../resolver/read-floors.js';
import { parseLsn } from '../../registry/replicas.js';
import { ConfigError, loadConfig, replicaUrls } from '../../src/config.js';

describe('ReadFloors', () => {
  it('a written key needs its position; others the floor', () => {
    const f = new ReadFloors(false);
    f.note(['A'], 100n);
    f.note(['A'], 50n); // never lowered
    expect(f.positions(['A', 'B'])).toEqual([100n, 0n]);
    f.raise(70n);
    expect(f.positions(['A', 'B'])).toEqual([100n, 70n]);
    f.raise(120n);
    expect(f.positions(['A', 'B'])).toEqual([120n, 120n]);
  });

  it('prunes keys every replica has replayed, and only those', () => {
    const f = new ReadFloors(false);
    f.note(['A'], 100n);
    f.note(['B'], 200n);
    f.prune(150n);
    expect(f.size).toBe(1);
    expect(f.positions(['A', 'B'])).toEqual([0n, 200n]);
  });

  it('an unknown position keeps the key off replicas until a position is learned', () => {
    const f = new ReadFloors(false);
    f.note(['A'], undefined);
    const [p] = f.positions(['A'])!;
    expect(p! > 1n << 62n).toBe(true);
    f.prune(1n << 40n);
    expect(f.positions(['A'])![0]! > 1n << 62n).toBe(true);
    f.raise(300n);
    expect(f.positions(['A'])).toEqual([300n]);
  });

  it('with coherence: no replica reads until raised after the subscription, nor while untrusting or past the lease', () => {
    const f = new ReadFloors(true);
    expect(f.positions(['A'])).toBeNull();
    f.raiseAndTrust(10n);
    expect(f.positions(['A'])).toEqual([10n]);
    f.setTrusting(false);
    expect(f.positions(['A'])).toBeNull();
    f.setTrusting(true);
    f.setLease(Date.now() - 1);
    expect(f.positions(['A'])).toBeNull();
    f.setLease(Date.now() + 60_000);
    f.suspend();
    expect(f.positions(['A'])).toBeNull();
    f.raise(20n);
    expect(f.positions(['A'])).toBeNull();
    f.raiseAndTrust(30n);
    expect(f.positions(['A'])).toEqual([30n]);
  });

  it('too many keys: the highest position becomes the floor', () => {
    const f = new ReadFloors(false, 3);
    f.note(['A', 'B', 'C'], 10n);
    f.note(['D'], 40n);
    expect(f.size).toBe(0);
    expect(f.positions(['A', 'Z'])).toEqual([40n, 40n]);
  });
});

describe('WAL positions and DATABASE_REPLICA_URLS', () => {
  it('parses PostgreSQL positions in order', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(() => parseLsn('16-B3')).toThrow();
  });

  it('takes a comma-separated list and needs DATABASE_URL', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://p/db', DATABASE_REPLICA_URLS: 'postgres://r1/db, postgresql://r2:5433/db' });
    expect(replicaUrls(c)).toEqual(['postgres://r1/db', 'postgresql://r2:5433/db']);
    expect(replicaUrls(loadConfig({}))).toEqual([]);
    expect(() => loadConfig({ DATABASE_REPLICA_URLS: 'postgres://r1/db' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://p/db', DATABASE_REPLICA_URLS: 'mysql://r1/db' })).toThrow(ConfigError);
  });
});
