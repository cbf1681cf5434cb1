// What logs may say about secrets: URLs with their passwords masked, query strings without credential values, and
// the pino redaction paths (headers, password/secret/token fields) every HTTP log line goes through.
import { redactMultiHostRedisUrl } from '../resolver/redis-url.js';

const MASK = '***';

/** A connection URL with its password (and a token-like username when there is no password) masked: for logs and errors. */
export function redactUrl(url: string): string {
  // redis-sentinel:// and redis-cluster:// name several hosts, which URL cannot take apart
  const multi = redactMultiHostRedisUrl(url);
  if (multi !== null) return multi;
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = MASK;
    else if (u.username !== '' && u.protocol.startsWith('redis')) u.username = MASK; // redis://:pw@ or redis://token@
    for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, MASK);
    return u.toString();
  } catch {
    // not a URL we can take apart: keep the scheme only
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
    return scheme === null ? MASK : `${scheme[0]}${MASK}`;
  }
}

/** Query parameter names whose values are never logged. */
const SECRET_PARAM = /token|passw|pwd|secret|session|signature|^sig$|api[-_]?key|access[-_]?key|credential|authorization|cookie/i;

/** A request target (path and query) with the values of credential-like query parameters masked. */
export function redactTarget(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const query = target.slice(q + 1);
  if (!SECRET_PARAM.test(query)) return target;
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    let name = eq < 0 ? p : p.slice(0, eq);
    try {
      name = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // an undecodable name is checked as sent
    }
    if (eq >= 0 && SECRET_PARAM.test(name)) parts[i] = `${p.slice(0, eq)}=${MASK}`;
  }
  return `${target.slice(0, q)}?${parts.join('&')}`;
}

/** pino `redact` paths: credentials in headers and in any logged body or object, one or two levels down. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'password',
  'secret',
  'token',
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.*.password',
  '*.*.secret',
  '*.*.token',
];
