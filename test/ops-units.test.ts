// Operations, the parts without a process: TRUST_PROXY's client address, URL and query redaction, the Redis loss log
// (once per loss, rate-limited, password masked), the start-up warnings, the access log's sampling, the new settings.
import { describe, expect, it } from 'vitest';
import { AccessLog, faceOf, requestId } from '../src/access-log.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { redactTarget, redactUrl } from '../src/log-redact.js';
import { RedisConnectionLog } from '../src/redis-log.js';
import { startupWarnings } from '../src/startup.js';
import { clientAddress, parseTrustProxy } from '../src/trust-proxy.js';

describe('TRUST_PROXY', () => {
  it('trusts nobody by default: the socket peer is the client, whatever X-Forwarded-For says', () => {
    expect(parseTrustProxy(undefined)).toBeNull();
    expect(clientAddress('10.0.0.5', '203.0.113.7', null)).toBe('10.0.0.5');
  });

  it('with addresses/CIDRs: walks back past trusted proxies only', () => {
    const t = parseTrustProxy('10.0.0.0/8, 127.0.0.1')!;
    expect(clientAddress('10.1.2.3', '198.51.100.1, 203.0.113.7', t)).toBe('203.0.113.7');
    expect(clientAddress('10.1.2.3', '198.51.100.1, 10.9.9.9', t)).toBe('198.51.100.1');
    expect(clientAddress('::ffff:127.0.0.1', '203.0.113.7', t)).toBe('203.0.113.7');
    expect(clientAddress('192.0.2.1', '203.0.113.7', t)).toBe('192.0.2.1'); // an untrusted peer cannot forge it
  });

  it('with a hop count: that many nearest hops are proxies', () => {
    const t = parseTrustProxy('1')!;
    expect(clientAddress('192.0.2.1', '198.51.100.1, 203.0.113.7', t)).toBe('203.0.113.7');
  });

  it('refuses what is neither', () => {
    expect(parseTrustProxy('yes please')).toBeUndefined();
    expect(() => loadConfig({ TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
  });
});

describe('redaction', () => {
  it('masks passwords in DATABASE_URL and REDIS_URL', () => {
    expect(redactUrl('postgres://idnode:hunter2@db:5432/idnode')).toBe('postgres://idnode:***@db:5432/idnode');
    expect(redactUrl('redis://:s3cret@cache:6379')).not.toContain('s3cret');
    expect(redactUrl('redis://cache:6379')).toBe('redis://cache:6379');
  });

  it('masks credential-like query values in logged targets, keeps the rest', () => {
    expect(redactTarget('/api/handles/88.1/X?type=URL&token=abc&Password=p')).toBe('/api/handles/88.1/X?type=URL&token=***&Password=***');
    expect(redactTarget('/88.1/X')).toBe('/88.1/X');
  });
});

describe('Redis loss and recovery log', () => {
  function harness() {
    const lines: string[] = [];
    let now = 1_000_000;
    const log = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const r = new RedisConnectionLog('redis://:topsecret@cache:6379', log, () => now);
    return { lines, r, advance: (ms: number) => (now += ms) };
  }

  it('logs once on loss and once on recovery, password masked', () => {
    const { lines, r, advance } = harness();
    r.change(false, 'connect ECONNREFUSED');
    r.change(false, 'connect ECONNREFUSED'); // every failed reconnect: no new line
    advance(5000);
    r.change(true, '');
    r.close();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^warn Redis unreachable at REDIS_URL=redis:\/\/.*\*\*\*.*ECONNREFUSED/);
    expect(lines[1]).toMatch(/^info Redis reachable again .* after 5 s/);
    expect(lines.join('\n')).not.toContain('topsecret');
  });

  it('a connection that flaps is reported at most once a minute', () => {
    const { lines, r, advance } = harness();
    for (let i = 0; i < 10; i++) {
      r.change(false, 'reset');
      advance(1000);
      r.change(true, '');
    }
    r.close();
    expect(lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
  });
});

describe('start-up warnings', () => {
  it('a wildcard HOST without ADVERTISED_HOST says what is advertised and how to set it', () => {
    const w = startupWarnings(loadConfig({ HOST: '0.0.0.0' }));
    expect(w.join('\n')).toMatch(/advertises 127\.0\.0\.1.*Set ADVERTISED_HOST/s);
    expect(w.join('\n')).toMatch(/plain HTTP.*TLS_CERT and TLS_KEY.*TRUST_PROXY/s);
    expect(startupWarnings(loadConfig({ HOST: '0.0.0.0', ADVERTISED_HOST: '192.0.2.10', TRUST_PROXY: '127.0.0.1' }))).toEqual([]);
    expect(startupWarnings(loadConfig({ HOST: '127.0.0.1' }))).toEqual([]);
  });
});

describe('settings', () => {
  it('TLS_CERT and TLS_KEY go together; ACCESS_LOG and DB_CONNECT_TIMEOUT are checked', () => {
    expect(() => loadConfig({ TLS_CERT: '/x.pem' })).toThrow(ConfigError);
    expect(() => loadConfig({ TLS_CERT: '/x.pem' })).toThrow(/TLS_KEY/);
    expect(() => loadConfig({ ACCESS_LOG: 'sometimes' })).toThrow(/ACCESS_LOG/);
    expect(loadConfig({}).ACCESS_LOG).toBe('on');
    expect(loadConfig({}).DB_CONNECT_TIMEOUT).toBe(30);
  });
});

describe('access log', () => {
  const logger = (level: string) => ({ level, info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child() { return this; }, silent() {} });

  it('samples one request in N, and is off with ACCESS_LOG=off or a level above info', () => {
    const s = new AccessLog('sample:3', logger('info') as never, null);
    expect([1, 2, 3, 4, 5, 6].map(() => s.take())).toEqual([false, false, true, false, false, true]);
    expect(new AccessLog('off', logger('info') as never, null).take()).toBe(false);
    expect(new AccessLog('on', logger('warn') as never, null).enabled).toBe(false);
  });

  it('keeps a sane client request id and replaces anything else', () => {
    expect(requestId('abc-123')).toBe('abc-123');
    expect(requestId('bad id\n{"forged":1}')).not.toContain('forged');
    expect(faceOf('/identity/token')).toBe('snms');
    expect(faceOf('/88.320924/X')).toBe('proxy');
  });
});
