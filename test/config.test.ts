// The configuration loader: defaults, coercion, and refusals naming the setting (the CLI processes are in test/slow/cli-processes.test.ts).
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
