// The SNMS-compatible face: tokens, identifier registration (single and batch) and listing, templates, prefixes, applications and their follow-up.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseHandle, parsePrefix } from '../../../handle/identifier.js';
import { revealHandleSecret } from '../../../registry/enterprise-secret.js';
import { applyEnterprise, enterpriseHistory, getDelegatedPrefix, getEnterprise, listDelegatedPrefixes, reapplyEnterprise } from '../../../registry/enterprises.js';
import { listIdentifiers } from '../../../registry/identifier-list.js';
import { deleteBatch, deleteOne, identifierDetail, registerBatch, registerOne } from '../../../registry/identifiers.js';
import type { Plan } from '../../../registry/plan.js';
import type { Actor } from '../../../registry/store.js';
import { normaliseTemplateInput } from '../../../registry/template-rules.js';
import { createTemplate, deleteTemplate, getTemplate, listTemplates, updateTemplate } from '../../../registry/templates.js';
import { login } from '../../../registry/users/tokens.js';
import { currentScope, type Access } from '../../../registry/access.js';
import type { Principal, RegistryContext } from '../../../registry/context.js';
import { arrayBody, errorToSnms, useSnmsErrors, objectBody, ok, principalOf, requireRole, SNMS, SnmsError, str } from './envelope.js';
import { SNMS_ROUTES as S } from './schemas.js';
import { batchDeleteData, batchWriteData, detailData, parseShanghaiDateTime, prefixDetailData, prefixPageData, singleWriteResult } from './shapes.js';

const forbiddenPrefix = () => new SnmsError(SNMS.FORBIDDEN, '无权操作该前缀 / no permission for this prefix');

/** What the SNMS face needs, and nothing else. */
export interface SnmsDeps {
  registry: RegistryContext;
  /** the county plan: its towns are those an application may name, with their targets */
  plan: Pick<Plan, 'county' | 'towns'>;
}

export default async function snmsFace(app: FastifyInstance, d: SnmsDeps): Promise<void> {
  const ctx = d.registry;
  const towns = d.plan.towns.map((t) => t.name);
  // the plan's towns with their targets: the same for every request
  const townsData = {
    county: d.plan.county.name,
    towns: d.plan.towns.map((t) => ({ name: t.name, targets: t.identifierRegisteredEnterprises ?? null })),
  };
  useSnmsErrors(app);
  const scopeOf = (p: Principal, access: Access) => currentScope(ctx, p, access);
  /** The query's `prefix`, when the principal may read under it (else -3). */
  const readablePrefix = async (q: Record<string, unknown>, p: Principal): Promise<{ prefix: string; prefixKey: string }> => {
    const prefix = parsePrefix(str(q, 'prefix', 64)!);
    if (!(await scopeOf(p, 'read'))(prefix.prefixKey)) throw forbiddenPrefix();
    return prefix;
  };

  /** Runs a handler with the envelope around it; `auth` handlers get the token's principal. */
  function route(fn: (req: FastifyRequest, reply: FastifyReply, p: Principal) => Promise<unknown>) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const p = await principalOf(ctx, req);
        return ok(reply, await fn(req, reply, p));
      } catch (err) {
        return errorToSnms(reply, err, (e) => req.log.error({ err: e }, 'SNMS request failed'));
      }
    };
  }
  function open(fn: (req: FastifyRequest) => Promise<unknown>) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return ok(reply, await fn(req));
      } catch (err) {
        return errorToSnms(reply, err, (e) => req.log.error({ err: e }, 'SNMS request failed'));
      }
    };
  }
  const actorOf = (p: Principal, req: FastifyRequest): Actor => ({ id: `user:${p.username}`, address: req.ip });

  // ---- tokens ----
  for (const [path, mode] of [['/identity/token', 'plain'], ['/identity/token/v1', 'v1']] as const) {
    app.post(path, S.token(mode === 'v1'), open(async (req) => {
      const b = objectBody(req);
      const username = str(b, 'username', 50)!;
      const password = str(b, 'password', 128)!;
      const { token } = await login(ctx, { username, password, mode, address: req.ip });
      return { token };
    }));
  }

  // who a token belongs to (the console asks after logging in)
  app.get('/identity/me', S.me, route(async (_req, _reply, p) => ({ userId: p.userId, username: p.username, role: p.role, enterpriseId: p.enterpriseId })));

  // ---- identifiers ----
  app.get('/identityv2/data/detail', S.detail, route(async (req, _reply, p) => {
    const q = req.query as Record<string, unknown>;
    const handle = str(q, 'handle', 255)!;
    const id = parseHandle(handle, ctx.policy);
    if (!(await scopeOf(p, 'read'))(id.prefixKey)) throw forbiddenPrefix();
    const d = await identifierDetail(ctx, id);
    if (d === null) throw new SnmsError(SNMS.BUSINESS, '没有找到标识 / handle not found');
    return detailData(d);
  }));

  app.get('/identityv2/data/page', S.page, route(async (req, _reply, p) => {
    const q = req.query as Record<string, unknown>;
    const prefix = await readablePrefix(q, p);
    const pageSize = pageNumber(q.pageSize, 20);
    if (pageSize > 100) throw new SnmsError(SNMS.BUSINESS, '每页最多100条 / pageSize must be at most 100');
    return listIdentifiers(ctx, {
      prefixKey: prefix.prefixKey,
      keyword: str(q, 'keyword', 255, false),
      page: pageNumber(q.currentPage, 1),
      pageSize,
      // values not publicly readable: for the prefix's own enterprise only (operators and reviewers see public ones)
      restricted: p.role === 'enterprise',
    });
  }));

  async function writeOne(req: FastifyRequest, p: Principal, mode: 'create' | 'update') {
    const b = objectBody(req);
    const handle = str(b, 'handle', 255)!;
    const id = parseHandle(handle, ctx.policy);
    if (!(await scopeOf(p, 'write'))(id.prefixKey)) throw forbiddenPrefix();
    singleWriteResult(await registerOne(ctx, { handle, templateVersion: str(b, 'templateVersion', 128)!, value: b.value }, mode, actorOf(p, req), { principal: p }), mode);
    return true;
  }
  app.post('/identityv2/data', S.create, route((req, _r, p) => writeOne(req, p, 'create')));
  app.put('/identityv2/data', S.update, route((req, _r, p) => writeOne(req, p, 'update')));
  app.delete('/identityv2/data', S.remove, route(async (req, _r, p) => {
    const handle = str(objectBody(req), 'handle', 255)!;
    const id = parseHandle(handle, ctx.policy);
    if (!(await scopeOf(p, 'write'))(id.prefixKey)) throw forbiddenPrefix();
    singleWriteResult(await deleteOne(ctx, handle, actorOf(p, req), { principal: p }), 'delete');
    return true;
  }));

  app.post('/identityv2/data/batchCreate', S.batchCreate, route(async (req, _r, p) =>
    batchWriteData(await registerBatch(ctx, arrayBody(req), 'create', actorOf(p, req), { principal: p }))));
  app.put('/identityv2/data/batchUpdate', S.batchUpdate, route(async (req, _r, p) =>
    batchWriteData(await registerBatch(ctx, arrayBody(req), 'update', actorOf(p, req), { principal: p }))));
  app.delete('/identityv2/data/batchDelete', S.batchDelete, route(async (req, _r, p) =>
    batchDeleteData(await deleteBatch(ctx, arrayBody(req), actorOf(p, req), { principal: p }))));

  // ---- templates (v5; v3 paths answer the same) ----
  app.get('/snms/api/v5/template/list', S.templateList, route(async (req, _r, p) => {
    const prefix = await readablePrefix(req.query as Record<string, unknown>, p);
    return listTemplates(ctx, prefix.prefix);
  }));
  for (const base of ['/snms/api/v5/template', '/snms/api/v3/template']) {
    app.get(base, S.templateGet(base.includes('/v3/')), route(async (req, _r, p) => {
      const q = req.query as Record<string, unknown>;
      const prefix = await readablePrefix(q, p);
      const t = await getTemplate(ctx, prefix.prefix, str(q, 'version', 128)!);
      if (t === null) throw new SnmsError(SNMS.BUSINESS, '模板不存在 / template not found');
      return t;
    }));
    const write = (mode: 'create' | 'update') =>
      route(async (req, _r, p) => {
        const input = normaliseTemplateInput(objectBody(req), mode);
        if (!(await scopeOf(p, 'write'))(parsePrefix(input.prefix).prefixKey)) throw forbiddenPrefix();
        await (mode === 'create' ? createTemplate : updateTemplate)(ctx, input, actorOf(p, req));
        return true;
      });
    app.post(base, S.templateCreate(base.includes('/v3/')), write('create'));
    app.put(base, S.templateUpdate(base.includes('/v3/')), write('update'));
    app.delete(base, S.templateDelete(base.includes('/v3/')), route(async (req, _r, p) => {
      const b = objectBody(req);
      const prefix = parsePrefix(str(b, 'prefix', 64)!);
      if (!(await scopeOf(p, 'write'))(prefix.prefixKey)) throw forbiddenPrefix();
      await deleteTemplate(ctx, prefix.prefix, str(b, 'version', 128)!, actorOf(p, req));
      return true;
    }));
  }

  // ---- prefixes ----
  app.get('/snms/api/prefix/query', S.prefixQuery, route(async (req, _r, p) => {
    const prefix = await readablePrefix(req.query as Record<string, unknown>, p);
    const r = await getDelegatedPrefix(ctx, prefix.prefix);
    if (r === null) throw new SnmsError(SNMS.BUSINESS, '前缀不存在 / prefix not found');
    return prefixDetailData(r);
  }));
  app.get('/snms/api/prefix/page', S.prefixPage, route(async (req, _r, p) => {
    requireRole(p, 'operator', 'reviewer');
    const q = req.query as Record<string, unknown>;
    const entName = str(q, 'entName', 255, false);
    const entPrefix = str(q, 'entPrefix', 64, false);
    const startDate = str(q, 'startDate', 32, false);
    const endDate = str(q, 'endDate', 32, false);
    const page = pageNumber(q.currentPage, 1);
    const pageSize = pageNumber(q.pageSize, 10);
    return prefixPageData(await listDelegatedPrefixes(ctx, {
      enterpriseName: entName,
      prefixContains: entPrefix,
      createdFrom: parseShanghaiDateTime(startDate, 'startDate', false),
      createdUntil: parseShanghaiDateTime(endDate, 'endDate', true),
      page,
      pageSize,
    }));
  }));

  // ---- an enterprise's own account: its application and credential, whatever its status ----
  app.get('/snms/api/v3/ent/mine', S.mine, route(async (_req, _r, p) => {
    const id = ownEnterprise(p);
    const e = await getEnterprise(ctx, id);
    if (e === null) throw new SnmsError(SNMS.BUSINESS, '企业不存在 / enterprise not found');
    return { enterprise: e, prefixes: e.prefixes, history: await enterpriseHistory(ctx, id) };
  }));
  app.get('/snms/api/v3/ent/handle-secret', S.handleSecret, route(async (req, _r, p) => {
    ownEnterprise(p);
    return revealHandleSecret(ctx, p, actorOf(p, req));
  }));
  app.get('/snms/api/v3/ent/towns', S.towns, open(async () => townsData));

  // ---- applications: an enterprise applies for a prefix (no login; reviewed by the node's reviewers). A rejected
  // enterprise applies again with its own account's token: the same application goes back to review, no user added.
  app.post('/snms/api/v3/ent/apply', S.apply, open(async (req) => {
    const b = objectBody(req);
    const account = req.headers.authorization === undefined ? null : await principalOf(ctx, req);
    const ent = sub(b, 'entBasicInfo');
    const industry = ent.industryCategory !== undefined
      ? {
          category: str(ent, 'industryCategory', 8)!,
          specific: str(ent, 'industrySpecific', 8, false),
          trade: str(ent, 'industryTrade', 8, false),
          subclass: str(ent, 'industrySubclass', 8, false),
        }
      : str(ent, 'industry', 16)!;
    const details = {
      name: str(ent, 'orgName', 255)!,
      creditCode: str(ent, 'orgCrtCode', 32)!,
      town: str(ent, 'town', 64, false) ?? str(b, 'town', 64)!,
      industry,
      address: str(ent, 'orgAddr', 255)!,
      contactName: str(ent, 'contactName', 128)!,
      contactPhone: str(ent, 'contactPhone', 32)!,
      contactEmail: str(ent, 'contactEmail', 128, false),
    };
    const actor = account === null ? { id: 'applicant', address: req.ip } : actorOf(account, req);
    if (account !== null) {
      const named = b.sysUser === undefined || b.sysUser === null ? undefined : str(sub(b, 'sysUser'), 'userName', 50, false);
      if (named !== undefined && named.toLowerCase() !== account.username.toLowerCase()) {
        throw new SnmsError(SNMS.BUSINESS, `重新申请不能新增或更换用户：sysUser.userName 须为登录账号 ${account.username}，或省略 sysUser / a re-application cannot add users: omit sysUser or name the logged-in account`);
      }
      const r = await reapplyEnterprise(ctx, account, details, actor, towns);
      return { enterpriseId: r.enterpriseId, status: 4 };
    }
    const user = sub(b, 'sysUser');
    const password = str(user, 'password', 128)!;
    const r = await applyEnterprise(
      ctx,
      {
        ...details,
        username: str(user, 'userName', 50)!,
        password: /^[0-9a-f]{64}$/i.test(password) ? { sha256: password.toLowerCase() } : { plain: password },
      },
      actor,
      towns,
    );
    return { enterpriseId: r.enterpriseId, status: 4 };
  }));
}

/** The enterprise of an enterprise account; -3 for every other account. */
function ownEnterprise(p: Principal): number {
  if (p.role !== 'enterprise' || p.enterpriseId === null) throw new SnmsError(SNMS.FORBIDDEN, '仅限企业账号 / for enterprise accounts only');
  return p.enterpriseId;
}

function sub(o: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = o[name];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SnmsError(SNMS.BUSINESS, `缺少必要的请求参数: ${name} / missing object ${name}`);
  return v as Record<string, unknown>;
}

function pageNumber(v: unknown, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new SnmsError(SNMS.BUSINESS, '分页参数错误 / currentPage and pageSize must be positive integers');
  return n;
}
