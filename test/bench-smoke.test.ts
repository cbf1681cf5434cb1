// Smoke run of the benchmark (tiny sizes, seconds): the report is produced and well-formed; figures are not asserted.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('bench smoke', () => {
  it('runs the node and the ceiling and writes bench/results/smoke.{json,md}', () => {
    const r = spawnSync(process.execPath, ['dist/bench/smoke.js', '--handles', '20', '--seconds', '1', '--connections', '4'], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync('bench/results/smoke.json', 'utf8'));
    expect(json.handles).toBe(20);
    for (const s of [json.ceiling, json.hot]) {
      expect(s.rps).toBeGreaterThan(0);
      expect(s.errors).toBe(0);
      expect(s.non2xx).toBe(0);
    }
    expect(json.ratio).toBeCloseTo(json.hot.rps / json.ceiling.rps, 6);
    expect(readFileSync('bench/results/smoke.md', 'utf8')).toMatch(/\| idnode hot resolve \| \d+ \|/);
  }, 120_000);
});
