// Smoke run of the balancer curve (bench/instances.ts: 1 and 2 instances behind HAProxy, tiny sizes): the report is produced and every request answered; figures are never asserted.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';

const JSON_FILE = 'bench/results/instances.json';

describe.skipIf(!hasPostgres || !hasRedis)('bench:instances smoke', () => {
  it('measures one instance directly and 1 and 2 behind HAProxy, with no failed request', () => {
    rmSync(JSON_FILE, { force: true });
    const r = spawnSync(process.execPath, ['dist/bench/instances.js', '--counts', '1,2', '--seconds', '1', '--keys', '100', '--rounds', '1', '--connections', '8'], {
      encoding: 'utf8',
      timeout: 150_000,
    });
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    expect(existsSync(JSON_FILE)).toBe(true);
    const json = JSON.parse(readFileSync(JSON_FILE, 'utf8')) as { rows: { label: string; instances: number; rps: number; errors: number; non2xx: number; haproxyCpuUs: number }[] };
    expect(json.rows.map((x) => x.instances)).toEqual([1, 1, 2]);
    for (const row of json.rows) {
      expect(row.rps, row.label).toBeGreaterThan(0);
      expect(row.errors, row.label).toBe(0);
      expect(row.non2xx, row.label).toBe(0);
    }
    expect(json.rows[2]!.haproxyCpuUs).toBeGreaterThan(0);
    expect(r.stdout).toContain('| 2 instances behind HAProxy |');
  });
});
