// The configuration loader and the CLI's handling of bad settings (exit code 2 with a clear message).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to the embedded store on port 8000 under 88.320924', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8000);
    expect(c.NODE_PREFIX).toBe('88.320924');
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.DATA_DIR).toBe('./data');
    expect(c.CASE_SENSITIVE_SUFFIX).toBe(false);
    expect(c.CACHE_MAX_BYTES).toBe(128 * 1024 * 1024);
  });

  it('reads and coerces settings; empty strings count as unset', () => {
    const c = loadConfig({ PORT: '9000', CASE_SENSITIVE_SUFFIX: 'true', CACHE_MAX_BYTES: '0', DATABASE_URL: '' });
    expect(c.PORT).toBe(9000);
    expect(c.CASE_SENSITIVE_SUFFIX).toBe(true);
    expect(c.CACHE_MAX_BYTES).toBe(0);
    expect(c.DATABASE_URL).toBeUndefined();
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ NODE_PREFIX: '88..1' }, 'NODE_PREFIX'],
    [{ NODE_PREFIX: '88.1/x' }, 'NODE_PREFIX'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ ADMIN_SECRET: 'short' }, 'ADMIN_SECRET'],
    [{ CASE_SENSITIVE_SUFFIX: 'maybe' }, 'CASE_SENSITIVE_SUFFIX'],
    [{ CACHE_MIN_TTL: '100', CACHE_MAX_TTL: '10' }, 'CACHE_MIN_TTL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('refuses %o naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message).toContain(name);
    }
  });
});

describe('idnode CLI', () => {
  const cli = 'dist/src/cli.js';
  it('is built (npm run build) so the tests below exercise the shipped entry point', () => {
    expect(existsSync(cli)).toBe(true);
  });

  it('exits 2 with a clear message on bad settings', () => {
    const r = spawnSync(process.execPath, [cli, 'serve'], { env: { ...process.env, PORT: 'nope' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PORT');
  });

  it('exits 2 on an unknown command and prints usage with --help', () => {
    expect(spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' }).status).toBe(2);
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('serve');
  });
});

describe('idnode CLI on the embedded store', () => {
  const cli = 'dist/src/cli.js';
  // Each command boots embedded PostgreSQL (PGlite) from the data folder: seconds each, more on a loaded machine.
  // A child gets its own deadline (so a hung one fails with its output instead of hanging the run) and the test a
  // budget that covers three such boots with room; the assertions do not depend on timing.
  const CHILD_MS = 60_000;
  it('resolve on a fresh data folder migrates and bootstraps it; a generated admin secret is printed once only', { timeout: 3 * CHILD_MS + 10_000 }, async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'idnode-cli-'));
    const env = { ...process.env, DATA_DIR: dir, DATABASE_URL: '', REDIS_URL: '', ADMIN_SECRET: '' };
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: CHILD_MS });
      if (r.error) throw new Error(`idnode ${args.join(' ')}: ${r.error.message}\n${r.stderr}`);
      return r;
    };
    try {
      // a first command on a fresh data folder migrates it, bootstraps the admin and prints the generated secret
      const first = run(['resolve', '0.NA/88.320924']);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/generated the node admin secret[\s\S]*secret [A-Za-z0-9_-]{20,}/);
      const body = JSON.parse(first.stdout);
      expect(body.responseCode).toBe(1);
      expect(body.values.map((v: { type: string }) => v.type)).toEqual(['HS_SITE', 'HS_ADMIN', 'HS_PUBKEY']); // HS_PUBKEY: the server key, not stored
      // migrate on it again is harmless; the secret is never printed again
      const m = run(['migrate']);
      expect(m.status, m.stderr).toBe(0);
      expect(m.stderr).not.toContain('generated');
      const second = run(['resolve', '88.320924/none']);
      expect(second.status, second.stderr).toBe(1);
      expect(second.stderr).not.toContain('generated');
      expect(JSON.parse(second.stdout).responseCode).toBe(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
