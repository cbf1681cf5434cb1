// The console's client of the node's public faces: SNMS and operator envelopes ({status, message, data}), Handle REST.
import { session } from './session.js';

/** A failed call: the face's own status (SNMS: -1 not logged in, -2 business, -3 forbidden, -4 internal) and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (query === undefined) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s === '' ? path : `${path}?${s}`;
}

function headers(json: boolean, given?: string): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json' };
  if (json) h['content-type'] = 'application/json';
  const token = given ?? session.token();
  if (token !== null) h.authorization = `Bearer ${token}`;
  return h;
}

/**
 * One call to an SNMS or operator endpoint: resolves to `data` on status 1, else throws ApiError. A -1 (token
 * expired or missing) ends the session, so the console asks for a login again.
 */
export async function call<T>(
  method: string,
  path: string,
  opts: { query?: Query; body?: unknown; signal?: AbortSignal; /** instead of the session's (a login not yet complete) */ token?: string } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method,
      headers: headers(opts.body !== undefined, opts.token),
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(-4, '无法连接节点，请检查网络后重试 / cannot reach the node: check the network and try again');
  }
  let env: { status?: number; message?: string; data?: unknown };
  try {
    env = (await res.json()) as typeof env;
  } catch {
    throw new ApiError(-4, `节点返回了无法解析的应答 (HTTP ${res.status}) / the node sent an unreadable answer`);
  }
  if (env.status === 1) return env.data as T;
  const status = typeof env.status === 'number' ? env.status : -4;
  if (status === -1 && session.token() !== null) session.expired();
  throw new ApiError(status, env.message ?? `HTTP ${res.status}`);
}

export const get = <T>(path: string, query?: Query) => call<T>('GET', path, { query });
export const post = <T>(path: string, body?: unknown, query?: Query) => call<T>('POST', path, { body: body ?? {}, query });
export const put = <T>(path: string, body?: unknown) => call<T>('PUT', path, { body: body ?? {} });
export const del = <T>(path: string, body?: unknown, query?: Query) => call<T>('DELETE', path, { body, query });

/** A Handle value as the Handle REST API answers it. */
export interface HandleValue {
  index: number;
  type: string;
  data: { format: string; value: unknown };
  ttl?: number;
  timestamp?: string;
}

export interface HandleAnswer {
  responseCode: number;
  handle: string;
  values?: HandleValue[];
  message?: string;
}

/** Public resolution over the Handle REST face (no credentials: what anyone sees). */
export async function resolveHandle(handle: string, signal?: AbortSignal): Promise<HandleAnswer> {
  const path = `/api/handles/${handle.split('/').map(encodeURIComponent).join('/')}`;
  const res = await fetch(path, { headers: { accept: 'application/json' }, signal: signal ?? null });
  try {
    return (await res.json()) as HandleAnswer;
  } catch {
    return { responseCode: 2, handle, message: `HTTP ${res.status}` };
  }
}
