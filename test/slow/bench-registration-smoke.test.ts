// Smoke run of the registration bench (bench/registration.ts, tiny sizes): the curve for 1, 2 and 4 in flight with its ceilings is produced and well-formed; figures are never asserted.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasPostgres } from '../helpers/services.js';

describe.skipIf(!hasPostgres)('registration bench smoke (npm run bench:registration -- --items 600 --batch 200)', () => {
  it('writes the curve next to the COPY and raw-insert ceilings, and the single-call rows', () => {
    const r = spawnSync(process.execPath, ['dist/bench/registration.js', '--items', '600', '--batch', '200', '--repeat', '1', '--in-flight', '1,2,4'], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    const json = JSON.parse(readFileSync('bench/results/registration.json', 'utf8'));
    expect(json).toMatchObject({ backend: 'postgresql', items: 600, batch: 200, repeat: 1, inFlight: [1, 2, 4] });
    expect(json.curve.map((p: { inFlight: number }) => p.inFlight)).toEqual([1, 2, 4]);
    for (const p of json.curve) {
      for (const k of ['copy', 'raw', 'http']) expect(p[k].median, `${p.inFlight} ${k}`).toBeGreaterThan(0);
      expect(Number.isFinite(p.httpToRaw)).toBe(true);
      expect(Number.isFinite(p.httpToCopy)).toBe(true);
      expect(p.runs.http[0].items).toBe(600);
    }
    for (const k of ['rawUnnest', 'rawRecordset', 'registry', 'registry2', 'cliImport']) expect(json[k].perSecond, k).toBeGreaterThan(0);
    const md = readFileSync('bench/results/registration.md', 'utf8');
    for (const n of [1, 2, 4]) expect(md).toMatch(new RegExp(`^\\| ${n} \\| [\\d,]+ \\(`, 'm'));
    expect(md).toContain('HTTP / COPY');
  }, 200_000);

  it('refuses a malformed --in-flight with its usage', () => {
    const r = spawnSync(process.execPath, ['dist/bench/registration.js', '--in-flight', '1,x'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--in-flight');
  });
});
