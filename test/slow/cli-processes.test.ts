// The idnode CLI as processes: exit codes and messages on bad settings, usage, a first start on a fresh data folder, and a bad server key file (each a node process start: seconds, so out of npm test).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

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
  it('resolve on a fresh data folder migrates and bootstraps it; a generated admin secret is printed once only', { timeout: 3 * CHILD_MS + 10_000 }, () => {
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

describe('idnode serve and the server key file', () => {
  it('`idnode serve` exits 2 on a malformed key file, before it listens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idnode-cli-key-'));
    const bad = join(dir, 'cli-bad.pem');
    writeFileSync(bad, 'garbage', { mode: 0o600 });
    const r = spawnSync(process.execPath, ['dist/src/cli.js', 'serve'], {
      env: { ...process.env, DATA_DIR: ':memory:', SERVER_KEY_FILE: bad, PORT: '0', NATIVE_PORT: '0', DATABASE_URL: '', REDIS_URL: '', WORKERS: '1', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('SERVER_KEY_FILE=');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
