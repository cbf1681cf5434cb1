// The Handle.Net v9 REST face: /api/handles, /api/prefixes, /api/site — resolution through the resolver, writes
// through the registry's one write path, authorization by the registry's one decision.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError, httpStatusFor, RC, type RequestKind } from '../../../handle/codes.js';
import { decodeUrlPath, parseHandle, parsePrefix, prefixRecordHandle, type CasePolicy, type HandleId } from '../../../handle/identifier.js';
import { valuesFromBody } from '../../../handle/json.js';
import { actorId, authorizeNow, isHomed, mayReadRestricted, type Requester } from '../../../registry/access.js';
import type { RegistryContext } from '../../../registry/context.js';
import { changeHandle, type HandleChange } from '../../../registry/handle-changes.js';
import type { Resolver } from '../../../resolver/types.js';
import type { Credentials } from '../../credentials.js';
import { resolutionBody } from '../../edge/answers.js';
import { classify } from '../errors.js';
import type { NodeSite } from '../../site.js';
import { first, flag, indexes, paramsOf, rawPathAfter, sendHandleError, sendHandleJson, type Params } from './params.js';
import { HANDLE_REST_ROUTES as S } from './schemas.js';

const BASE = '/api/handles/';

/** What the Handle REST face needs, and nothing else. */
export interface HandleRestDeps {
  /** whether resolutions of `id` are answered (homed here, or recursion on) */
  resolvable(id: HandleId): boolean;
  resolver: Resolver;
  registry: RegistryContext;
  credentials: Credentials;
  site: NodeSite;
  policy: CasePolicy;
}

export function hasJsonContentType(req: FastifyRequest): boolean {
  const ct = (req.headers['content-type'] ?? '').trim().toLowerCase();
  return ct === 'application/json' || /^application\/json\s*;/.test(ct);
}

function intParam(p: Params, name: string): number | undefined {
  const v = first(p, name);
  if (v === undefined) return undefined;
  if (!/^-?\d{1,9}$/.test(v)) throw new HandleError(RC.PROTOCOL_ERROR, `${name} must be an integer`);
  return Number(v);
}

/** An unknown /api/ path: Handle JSON with HTTP 404, as Handle.Net answers. */
export function handleRestNotFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const message = `Unknown HTTP API endpoint ${req.method} ${(req.raw.url ?? '').split('?')[0]}`;
  return sendHandleJson(reply, paramsOf(req), 404, { responseCode: RC.PROTOCOL_ERROR, message });
}

export default async function handleRestFace(app: FastifyInstance, d: HandleRestDeps): Promise<void> {
  const ctx = d.registry;

  // this face's errors in its own format: Handle JSON with a responseCode and the HTTP status Handle.Net gives it
  app.setErrorHandler((err, req, reply) => {
    const f = classify(err);
    let he: HandleError;
    if (f.kind === 'handle') he = f.error;
    else if (f.kind === 'client' || f.kind === 'too-large') he = new HandleError(RC.PROTOCOL_ERROR, f.message);
    else if (f.kind === 'unavailable') he = new HandleError(RC.SERVER_TOO_BUSY, f.message);
    else {
      req.log.error({ err, url: req.raw.url, method: req.method }, 'request failed');
      he = new HandleError(RC.ERROR, f.message);
    }
    if (f.kind === 'unavailable') {
      req.log.warn({ err: (err as Error).message, url: req.raw.url }, 'store unavailable');
      reply.header('retry-after', '5'); // responseCode 3 (HTTP 503): the client may retry
    }
    return sendHandleError(reply, paramsOf(req), he, undefined, 'other');
  });

  /** Runs a route body, turning HandleErrors into Handle JSON replies (anything else goes to the error handler). */
  async function guarded(reply: FastifyReply, p: Params, handle: () => string | undefined, kind: RequestKind, fn: () => Promise<FastifyReply>) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof HandleError) return sendHandleError(reply, p, err, handle(), kind);
      throw err;
    }
  }

  function handleFromPath(req: FastifyRequest): string {
    return decodeUrlPath(rawPathAfter(req, BASE));
  }

  async function requireIdentity(req: FastifyRequest): Promise<Requester> {
    const who = await d.credentials.authenticate(req.headers.authorization, req.ip);
    if (who === null) throw new HandleError(RC.AUTHENTICATION_NEEDED, 'Authentication needed');
    return who;
  }

  /** Values of a handle as the resolver has them (for read decisions). */
  const readValues = async (key: string) => {
    const r = await d.resolver.resolve(key);
    return r.found ? r.record.values : null;
  };

  // ---- resolution (GET, HEAD, and POST = GET with JSON parameters) ----
  async function resolve(req: FastifyRequest, reply: FastifyReply, p: Params) {
    let raw: string | undefined;
    return guarded(reply, p, () => raw, 'resolve', async () => {
      raw = handleFromPath(req);
      if (raw === '') {
        const prefix = first(p, 'prefix');
        if (prefix !== undefined) return listHandles(req, reply, p, prefix);
        throw new HandleError(RC.INVALID_HANDLE, 'Empty handle invalid');
      }
      const id = parseHandle(raw, d.policy);
      const filter = { types: p.type ?? [], indexes: indexes(p) };
      if (!d.resolvable(id)) throw new HandleError(RC.SERVER_NOT_RESP, `Server not responsible for handle ${id.handle}`);
      const who = await d.credentials.authenticate(req.headers.authorization, req.ip);
      const publicOnly = p.publicOnly !== undefined ? flag(p, 'publicOnly') : who === null;
      const res = await d.resolver.resolve(id.key, { authoritative: flag(p, 'auth') });
      if (!res.found) throw new HandleError(RC.HANDLE_NOT_FOUND, 'Handle Not Found');
      const restricted = !publicOnly && (await mayReadRestricted(ctx, who, id, readValues));
      return sendHandleJson(reply, p, 200, resolutionBody(id.handle, res.record, filter, !restricted));
    });
  }

  async function listHandles(req: FastifyRequest, reply: FastifyReply, p: Params, prefixParam: string) {
    const who = await requireIdentity(req);
    const prefixText = prefixParam.toUpperCase().startsWith('0.NA/') ? prefixParam.slice(5) : prefixParam;
    let prefix: { prefix: string; prefixKey: string };
    try {
      prefix = parsePrefix(prefixText);
    } catch (err) {
      throw err instanceof HandleError ? err : new HandleError(RC.INVALID_HANDLE, 'Invalid prefix');
    }
    const holder = parseHandle(prefixRecordHandle(prefix.prefix), d.policy);
    await authorizeNow(ctx, who, { ...holder, prefix: prefix.prefix, prefixKey: prefix.prefixKey }, 'listHandles', {
      onPrefixRecord: true,
      read: readValues,
    });
    const page = intParam(p, 'page');
    const pageSize = intParam(p, 'pageSize');
    const paged = page !== undefined && pageSize !== undefined && page >= 0 && pageSize >= 0;
    const { total, handles } = await ctx.store.listHandles(prefix.prefixKey, paged ? { page, pageSize } : {});
    const body: Record<string, unknown> = { responseCode: RC.SUCCESS, prefix: prefixParam, totalCount: String(total) };
    if (paged) Object.assign(body, { page, pageSize });
    body.handles = handles;
    return sendHandleJson(reply, p, 200, body);
  }

  // Cache hits of anonymous GETs are answered by the front door (src/edge/front-door.ts) before routing; this is the
  // full path.
  app.get('/api/handles/*', S.resolve, (req, reply) => resolve(req, reply, paramsOf(req)));
  app.get('/api/handles', S.list, (req, reply) => resolve(req, reply, paramsOf(req)));
  app.post('/api/handles/*', S.resolvePost, (req, reply) => resolve(req, reply, paramsOf(req, hasJsonContentType(req) ? req.body : undefined)));

  // ---- writes: the registry decides create-versus-modify and authorizes inside the write's transaction ----
  async function write(req: FastifyRequest, reply: FastifyReply, p: Params, kind: RequestKind, build: (raw: string) => { raw: string; change: () => HandleChange }) {
    let raw: string | undefined;
    return guarded(reply, p, () => raw, kind, async () => {
      const b = build(handleFromPath(req));
      raw = b.raw;
      const id = parseHandle(raw, d.policy);
      const change = b.change();
      const who = await requireIdentity(req);
      if (!isHomed(ctx, id)) throw new HandleError(RC.SERVER_NOT_RESP, `Server not responsible for handle ${id.handle}`);
      await changeHandle(ctx, id, change, who, { id: actorId(who), address: req.ip });
      const overwrite = change.op === 'create' || change.op === 'add' ? change.overwrite : true;
      return sendHandleJson(reply, p, httpStatusFor(RC.SUCCESS, kind, overwrite), { responseCode: RC.SUCCESS, handle: id.handle });
    });
  }

  app.put('/api/handles/*', S.put, async (req, reply) => {
    const p = paramsOf(req);
    const overwrite = p.overwrite !== undefined ? /^true$/i.test(first(p, 'overwrite')!) : true;
    return write(req, reply, p, 'create', (path) => {
      const raw = flag(p, 'mintNewSuffix') ? (path.includes('/') ? path + randomUUID() : `${path}/${randomUUID()}`) : path;
      return {
        raw,
        change: (): HandleChange => {
          if (!hasJsonContentType(req)) {
            throw new HandleError(RC.PROTOCOL_ERROR, `Unsupported media type ${req.headers['content-type'] ?? '(none)'}: use application/json`);
          }
          const various = first(p, 'index') === 'various';
          const idx = various ? [] : indexes(p);
          const values = valuesFromBody(req.body, parseHandle(raw, d.policy), d.policy, Math.floor(Date.now() / 1000));
          if (!various && idx.length === 0) return { op: 'create', values, overwrite };
          if (!various) {
            const want = new Set(idx);
            const got = new Set(values.map((v) => v.index));
            if (want.size !== got.size || [...want].some((i) => !got.has(i))) throw new HandleError(RC.PROTOCOL_ERROR, 'Mismatched indexes in PUT request');
          }
          return { op: 'add', values, overwrite };
        },
      };
    });
  });

  app.delete('/api/handles/*', S.remove, async (req, reply) => {
    const p = paramsOf(req);
    return write(req, reply, p, 'write', (raw) => ({
      raw,
      change: (): HandleChange => {
        const idx = indexes(p);
        return idx.length > 0 ? { op: 'remove', indexes: idx } : { op: 'delete' };
      },
    }));
  });

  // ---- prefixes and site ----
  app.get('/api/prefixes', S.prefixes, async (req, reply) =>
    sendHandleJson(reply, paramsOf(req), 200, { responseCode: RC.SUCCESS, totalCount: '1', prefixes: [ctx.nodePrefix] }),
  );
  const homingNotSupported = async (req: FastifyRequest, reply: FastifyReply) =>
    sendHandleError(
      reply,
      paramsOf(req),
      new HandleError(RC.OPERATION_NOT_SUPPORTED, 'Homing and unhoming prefixes is not supported: this node homes NODE_PREFIX and its derived prefixes'),
      undefined,
      'other',
    );
  app.post('/api/prefixes', S.homePrefix, homingNotSupported);
  app.post('/api/prefixes/*', S.homePrefixPath, homingNotSupported);
  app.delete('/api/prefixes', S.unhomePrefix, homingNotSupported);
  app.delete('/api/prefixes/*', S.unhomePrefixPath, homingNotSupported);

  app.get('/api/site', S.site, async (req, reply) => sendHandleJson(reply, paramsOf(req), 200, { responseCode: RC.SUCCESS, site: d.site.json }));
}
