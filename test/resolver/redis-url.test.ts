// REDIS_URL's forms (one server, Sentinel, Cluster): parsing, the settings check, and passwords masked in logs.
import { describe, expect, it } from 'vitest';
import { parseRedisUrl, RedisUrlError } from '../../resolver/redis-url.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { redactUrl } from '../../src/log-redact.js';

describe('REDIS_URL forms', () => {
  it('hands redis:// and rediss:// to the client as they are', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(parseRedisUrl('rediss://:pw@cache.example:6380/2')).toEqual({ kind: 'standalone', url: 'rediss://:pw@cache.example:6380/2' });
  });

  it('reads redis-sentinel:// : sentinels, master name, credentials, db, the sentinels\' own password', () => {
    expect(parseRedisUrl('redis-sentinel://10.0.0.1:26379,10.0.0.2,[::1]:26380/mymaster')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      db: 0,
    });
    expect(parseRedisUrl('redis-sentinel://app:p%40ss%2Fw@s1:26379/cache%20one?db=3&sentinelPassword=sp')).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'cache one',
      db: 3,
      username: 'app',
      password: 'p@ss/w',
      sentinelPassword: 'sp',
    });
    expect(parseRedisUrl('redis-sentinel://:secret@s1/m')).toMatchObject({ password: 'secret', name: 'm' });
    expect(parseRedisUrl('redis-sentinel://token@s1/m')).toMatchObject({ password: 'token' });
  });

  it('reads redis-cluster:// : seed nodes and credentials', () => {
    expect(parseRedisUrl('redis-cluster://:pw@127.0.0.1:7000,127.0.0.1:7001,node3')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
        { host: 'node3', port: 6379 },
      ],
      password: 'pw',
    });
    expect(parseRedisUrl('redis-cluster://h:7000/')).toMatchObject({ kind: 'cluster' });
  });

  it('refuses what it cannot use, saying why', () => {
    const bad: [string, RegExp][] = [
      ['http://x', /redis:\/\/, rediss:\/\/, redis-sentinel:\/\/ or redis-cluster:\/\//],
      ['redis-sentinel://s1:26379', /master name/],
      ['redis-sentinel://s1:26379/a/b', /master name/],
      ['redis-sentinel://s1:26379/m?password=x', /parameter "password"/],
      ['redis-sentinel://s1:26379/m?db=x', /db must be/],
      ['redis-sentinel:///m', /at least one host/],
      ['redis-cluster://h:7000/1', /no path/],
      ['redis-cluster://h:7000?x=1', /no parameters/],
      ['redis-cluster://h:99999', /port must be/],
      ['redis-cluster://h:7000,h:x', /not host:port/],
      ['redis-cluster://:%zz@h:7000', /percent-encoding/],
      ['redis-cluster://h:7000#frag', /fragment/],
    ];
    for (const [url, why] of bad) expect(() => parseRedisUrl(url), url).toThrow(why);
    expect(() => parseRedisUrl('redis-cluster://')).toThrow(RedisUrlError);
  });

  it('is checked by the settings loader, with the namespace free of braces for a cluster', () => {
    expect(loadConfig({ REDIS_URL: 'redis-cluster://127.0.0.1:7000' }).REDIS_URL).toBe('redis-cluster://127.0.0.1:7000');
    expect(loadConfig({ REDIS_URL: 'redis-sentinel://127.0.0.1:26379/m' }).REDIS_URL).toBe('redis-sentinel://127.0.0.1:26379/m');
    expect(() => loadConfig({ REDIS_URL: 'redis-sentinel://127.0.0.1:26379' })).toThrow(/REDIS_URL: .*master name/);
    expect(() => loadConfig({ REDIS_URL: 'redis-cluster://127.0.0.1:7000', REDIS_NAMESPACE: 'app{1}:' })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_URL: 'redis-cluster://127.0.0.1:7000', REDIS_NAMESPACE: 'app{1}:' })).toThrow(/REDIS_NAMESPACE: .*\{ or \}/);
    // one server: braces mean nothing there
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1', REDIS_NAMESPACE: 'app{1}:' }).REDIS_NAMESPACE).toBe('app{1}:');
  });

  it('masks passwords in every form for logs, keeping the hosts and the master name', () => {
    expect(redactUrl('redis-sentinel://app:s3cret@10.0.0.1:26379,10.0.0.2:26379/mymaster?db=1&sentinelPassword=t0p')).toBe(
      'redis-sentinel://app:***@10.0.0.1:26379,10.0.0.2:26379/mymaster?db=1&sentinelPassword=***',
    );
    expect(redactUrl('redis-sentinel://:s3cret@10.0.0.1:26379/m')).toBe('redis-sentinel://:***@10.0.0.1:26379/m');
    expect(redactUrl('redis-sentinel://tok3n@10.0.0.1:26379/m')).toBe('redis-sentinel://***@10.0.0.1:26379/m');
    expect(redactUrl('redis-cluster://:s3cret@127.0.0.1:7000,127.0.0.1:7001')).toBe('redis-cluster://:***@127.0.0.1:7000,127.0.0.1:7001');
    expect(redactUrl('redis-cluster://:s3cret@127.0.0.1:7000')).not.toContain('s3cret');
    expect(redactUrl('redis://:s3cret@127.0.0.1:6379')).toBe('redis://:***@127.0.0.1:6379');
    // not parseable: nothing after the scheme survives
    expect(redactUrl('redis-cluster://:s3cret@h:notaport,x')).toBe('redis-cluster://***');
  });
});
