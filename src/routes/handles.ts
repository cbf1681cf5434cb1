// The Handle.Net v9 REST face: /api/handles, /api/prefixes, /api/site.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminOp } from '../../handle/admin.js';
import { HandleError, httpStatusFor, RC, type RequestKind } from '../../handle/codes.js';
import { decodeUrlPath, parseHandle, parsePrefix, prefixRecordHandle, type HandleId } from '../../handle/identifier.js';
import { valuesFromBody } from '../../handle/json.js';
import { siteInfoToJson } from '../../handle/wire/site.js';
import type { Identity } from '../auth.js';
import { first, flag, indexes, paramsOf, rawPathAfter, sendHandleError, sendHandleJson, type Params } from '../http.js';
import { resolutionBody } from '../hot.js';
import type { IdNode } from '../node.js';

const BASE = '/api/handles/';

export function hasJsonContentType(req: FastifyRequest): boolean {
  const ct = (req.headers['content-type'] ?? '').trim().toLowerCase();
  return ct === 'application/json' || /^application\/json\s*;/.test(ct);
}

export default async function handleRoutes(app: FastifyInstance, opts: { node: IdNode }): Promise<void> {
  const node = opts.node;

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

  async function requireIdentity(req: FastifyRequest): Promise<Identity> {
    const who = await node.auth.authenticate(req.headers.authorization);
    if (who === null) throw new HandleError(RC.AUTHENTICATION_NEEDED, 'Authentication needed');
    return who;
  }

  function requireHomed(id: HandleId): void {
    if (!node.isHomed(id)) throw new HandleError(RC.SERVER_NOT_RESP, `Server not responsible for handle ${id.handle}`);
  }

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
      const id = parseHandle(raw, node.policy);
      const types = p.type ?? [];
      const idx = indexes(p);
      requireHomed(id);
      const who = await node.auth.authenticate(req.headers.authorization);
      const publicOnly = p.publicOnly !== undefined ? flag(p, 'publicOnly') : who === null;
      const res = await node.resolver.resolve(id.key, { authoritative: flag(p, 'auth') });
      if (!res.found) throw new HandleError(RC.HANDLE_NOT_FOUND, 'Handle Not Found');
      const rec = res.record;
      const restricted = !publicOnly && (await node.auth.mayReadRestricted(who, id));
      return sendHandleJson(reply, p, 200, resolutionBody(id.handle, rec, { types, indexes: idx, publicOnly: !restricted }));
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
    const holder = parseHandle(prefixRecordHandle(prefix.prefix), node.policy);
    await node.auth.authorize(who, { ...holder, prefix: prefix.prefix, prefixKey: prefix.prefixKey }, 'listHandles', true);
    const page = intParam(p, 'page');
    const pageSize = intParam(p, 'pageSize');
    const paged = page !== undefined && pageSize !== undefined && page >= 0 && pageSize >= 0;
    const { total, handles } = await node.store.listHandles(prefix.prefixKey, paged ? { page, pageSize } : {});
    const body: Record<string, unknown> = { responseCode: RC.SUCCESS, prefix: prefixParam, totalCount: String(total) };
    if (paged) Object.assign(body, { page, pageSize });
    body.handles = handles;
    return sendHandleJson(reply, p, 200, body);
  }

  // Cache hits of anonymous GETs are answered by the front door (src/hot.ts) before routing; this is the full path.
  app.get('/api/handles/*', (req, reply) => resolve(req, reply, paramsOf(req)));
  app.get('/api/handles', (req, reply) => resolve(req, reply, paramsOf(req)));
  app.post('/api/handles/*', (req, reply) => resolve(req, reply, paramsOf(req, hasJsonContentType(req) ? req.body : undefined)));

  // ---- writes ----
  app.put('/api/handles/*', async (req, reply) => {
    const p = paramsOf(req);
    const overwrite = p.overwrite !== undefined ? /^true$/i.test(first(p, 'overwrite')!) : true;
    let raw: string | undefined;
    return guarded(reply, p, () => raw, 'create', async () => {
      raw = handleFromPath(req);
      if (flag(p, 'mintNewSuffix')) raw = raw.includes('/') ? raw + randomUUID() : `${raw}/${randomUUID()}`;
      const id = parseHandle(raw, node.policy);
      if (!hasJsonContentType(req)) {
        throw new HandleError(RC.PROTOCOL_ERROR, `Unsupported media type ${req.headers['content-type'] ?? '(none)'}: use application/json`);
      }
      const various = first(p, 'index') === 'various';
      const idx = various ? [] : indexes(p);
      const who = await requireIdentity(req);
      requireHomed(id);
      const values = valuesFromBody(req.body, id, node.policy, Math.floor(Date.now() / 1000));
      const actor = { id: who.id, address: req.ip };
      if (!various && idx.length === 0) {
        const exists = (await node.resolver.resolve(id.key, { authoritative: true })).found;
        await node.auth.authorize(who, id, exists ? 'modifyValue' : 'addHandle', !exists);
        await node.handles.create(id, values, overwrite, actor);
      } else {
        if (!various) {
          const want = new Set(idx);
          const got = new Set(values.map((v) => v.index));
          if (want.size !== got.size || [...want].some((i) => !got.has(i))) {
            throw new HandleError(RC.PROTOCOL_ERROR, 'Mismatched indexes in PUT request');
          }
        }
        await node.auth.authorize(who, id, 'addValue', false);
        await node.handles.addValues(id, values, overwrite, actor);
      }
      return sendHandleJson(reply, p, httpStatusFor(RC.SUCCESS, 'create', overwrite), { responseCode: RC.SUCCESS, handle: id.handle });
    });
  });

  app.delete('/api/handles/*', async (req, reply) => {
    const p = paramsOf(req);
    let raw: string | undefined;
    return guarded(reply, p, () => raw, 'write', async () => {
      raw = handleFromPath(req);
      const id = parseHandle(raw, node.policy);
      const idx = indexes(p);
      const who = await requireIdentity(req);
      requireHomed(id);
      const actor = { id: who.id, address: req.ip };
      const op: AdminOp = idx.length > 0 ? 'removeValue' : 'deleteHandle';
      await node.auth.authorize(who, id, op, false);
      if (idx.length > 0) await node.handles.removeValues(id, idx, actor);
      else await node.handles.delete(id, actor);
      return sendHandleJson(reply, p, 200, { responseCode: RC.SUCCESS, handle: id.handle });
    });
  });

  // ---- prefixes and site ----
  app.get('/api/prefixes', async (req, reply) => {
    const p = paramsOf(req);
    return sendHandleJson(reply, p, 200, { responseCode: RC.SUCCESS, totalCount: '1', prefixes: [node.prefix] });
  });
  const homingNotSupported = async (req: FastifyRequest, reply: FastifyReply) =>
    sendHandleError(reply, paramsOf(req), new HandleError(RC.OPERATION_NOT_SUPPORTED, 'Homing and unhoming prefixes is not supported: this node homes NODE_PREFIX and its derived prefixes'), undefined, 'other');
  app.post('/api/prefixes', homingNotSupported);
  app.post('/api/prefixes/*', homingNotSupported);
  app.delete('/api/prefixes', homingNotSupported);
  app.delete('/api/prefixes/*', homingNotSupported);

  app.get('/api/site', async (req, reply) => {
    const p = paramsOf(req);
    return sendHandleJson(reply, p, 200, { responseCode: RC.SUCCESS, site: siteInfo(node) });
  });
}

function intParam(p: Params, name: string): number | undefined {
  const v = first(p, name);
  if (v === undefined) return undefined;
  if (!/^-?\d{1,9}$/.test(v)) throw new HandleError(RC.PROTOCOL_ERROR, `${name} must be an integer`);
  return Number(v);
}

/** The node's site information in Handle.Net's JSON form (the same record native clients and HS_SITE values get). */
export function siteInfo(node: IdNode): Record<string, unknown> {
  return siteInfoToJson(node.site());
}
