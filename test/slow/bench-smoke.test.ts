// Smoke run of the bench suite (bench/run.ts --smoke: tiny sizes, one second per run): the report is produced and well-formed; figures are never asserted.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';

// the report's rows: the native scenario has one per transport (Handle protocol over TCP and UDP, next to HTTP hot)
const SCENARIOS = ['hot', 'warm', 'cold', 'negative', 'filtered', 'proxy', 'mixed', 'registration', 'native-tcp', 'native-tcp-new', 'native-udp'];
const JSON_FILE = 'bench/results/bench.json';
const MD_FILE = 'bench/results/bench.md';

describe.skipIf(!hasPostgres || !hasRedis)('bench smoke (npm run bench -- --smoke)', () => {
  it('runs every scenario against its ceiling and writes bench/results/bench.{json,md}', () => {
    rmSync(JSON_FILE, { force: true });
    rmSync(MD_FILE, { force: true });
    const r = spawnSync(process.execPath, ['dist/bench/run.js', '--smoke'], { encoding: 'utf8', timeout: 110_000 });
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    expect(existsSync(JSON_FILE)).toBe(true);

    const json = JSON.parse(readFileSync(JSON_FILE, 'utf8'));
    expect(json.settings).toMatchObject({ smoke: true, seconds: 1, connections: 10, keys: 200 });
    for (const name of SCENARIOS) {
      const s = json.scenarios[name];
      expect(s, name).toBeDefined();
      expect(typeof s.rps, name).toBe('number');
      expect(s.rps, name).toBeGreaterThan(0);
      expect(s.errors, name).toBe(0);
      expect(s.non2xx, name).toBe(0);
      expect(Number.isFinite(s.ratio), name).toBe(true);
      for (const k of ['p50', 'p99', 'p999']) expect(typeof s[k], `${name}.${k}`).toBe('number');
      if (name !== 'registration') {
        expect(typeof s.cpuUsPerReq, name).toBe('number');
        expect(s.hits.resolutions, name).toBeGreaterThan(0);
      }
    }
    for (const c of ['const', 'redis', 'pg', 'http hot (next to native-tcp)', 'node:net floor (tcp-new)', 'http hot (next to native-udp)']) expect(json.ceilings[c]?.rps, c).toBeGreaterThan(0);
    expect(json.settings.nativePort).toBeGreaterThan(0);
    expect(json.verdicts.length).toBeGreaterThanOrEqual(7);
    for (const v of json.verdicts) {
      expect(typeof v.goal).toBe('string');
      expect(['PASS', 'FAIL', 'n/a']).toContain(v.result);
    }

    const md = readFileSync(MD_FILE, 'utf8');
    for (const name of SCENARIOS) expect(md).toMatch(new RegExp(`^\\| ${name} \\| [\\d,]+`, 'm'));
    expect(md).toMatch(/\| hot resolve vs bare fastify \|.*\| (PASS|FAIL) \|/);
    expect(md).toMatch(/\| native beats HTTP per core \|.*\| (PASS|FAIL) \|/);
  }, 120_000);
});
