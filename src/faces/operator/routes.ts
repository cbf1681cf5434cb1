// The operator face: enterprise review (approve / reject / suspend / enable, credential rotation), accounts, audit queries, plan progress.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseHandle } from '../../../handle/identifier.js';
import type { Principal, RegistryContext } from '../../../registry/context.js';
import type { Plan } from '../../../registry/plan.js';
import {
  approveEnterprise,
  enableEnterprise,
  enterpriseHistory,
  getEnterprise,
  listEnterprises,
  rejectEnterprise,
  startReview,
  suspendEnterprise,
} from '../../../registry/enterprises.js';
import { rotateHandleSecret } from '../../../registry/enterprise-secret.js';
import { prefixHosting, setPrefixHosting, type PrefixHosting } from '../../../registry/prefix-hosting.js';
import { planProgress, progressToCsv } from '../../../registry/plan.js';
import type { Actor } from '../../../registry/store.js';
import { createUser, listUsers, setPassword, setUserDisabled, setUserRole } from '../../../registry/users/accounts.js';
import { OPERATOR_ROUTES as S } from './schemas.js';
import { errorToSnms, useSnmsErrors, objectBody, ok, principalOf, requireRole, SNMS, SnmsError, str } from '../snms/envelope.js';

/** What the operator face needs, and nothing else. */
export interface OperatorDeps {
  registry: RegistryContext;
  plan: Plan;
}

export default async function operatorFace(app: FastifyInstance, d: OperatorDeps): Promise<void> {
  const ctx = d.registry;
  useSnmsErrors(app);

  function route(fn: (req: FastifyRequest, p: Principal, reply: FastifyReply) => Promise<unknown>) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const p = await principalOf(ctx, req);
        const data = await fn(req, p, reply);
        return reply.sent ? reply : ok(reply, data);
      } catch (err) {
        return errorToSnms(reply, err, (e) => req.log.error({ err: e }, 'operator request failed'));
      }
    };
  }
  const actorOf = (p: Principal, req: FastifyRequest): Actor => ({ id: `user:${p.username}`, address: req.ip });
  /** the `:id` of the path: a positive integer, or -2 with `message` */
  const idParam = (req: FastifyRequest, message = '企业ID无效 / invalid enterprise id'): number => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isSafeInteger(id) || id < 1) throw new SnmsError(SNMS.BUSINESS, message);
    return id;
  };
  const body = (req: FastifyRequest): Record<string, unknown> => (req.body === undefined || req.body === null ? {} : objectBody(req));

  app.get('/operator/enterprises', S.list, route(async (req, p) => {
    requireRole(p, 'operator', 'reviewer');
    const q = req.query as Record<string, unknown>;
    const status = q.status === undefined || q.status === '' ? undefined : Number(q.status);
    if (status !== undefined && ![0, 1, 2, 3, 4, 5].includes(status)) throw new SnmsError(SNMS.BUSINESS, 'status must be 0–5');
    return listEnterprises(ctx, {
      status,
      town: str(q, 'town', 64, false),
      name: str(q, 'name', 255, false),
      page: positive(q.currentPage, 1),
      pageSize: Math.min(positive(q.pageSize, 20), 500),
    });
  }));
  app.get('/operator/enterprises/:id', S.get, route(async (req, p) => {
    requireRole(p, 'operator', 'reviewer');
    const id = idParam(req);
    const e = await getEnterprise(ctx, id);
    if (e === null) throw new SnmsError(SNMS.BUSINESS, '企业不存在 / enterprise not found');
    return { ...e, history: await enterpriseHistory(ctx, id) };
  }));
  app.post('/operator/enterprises/:id/review', S.review, route(async (req, p) => {
    requireRole(p, 'operator', 'reviewer');
    await startReview(ctx, idParam(req), actorOf(p, req));
    return true;
  }));
  app.post('/operator/enterprises/:id/approve', S.approve, route(async (req, p) => {
    requireRole(p, 'operator', 'reviewer');
    const prefix = str(body(req), 'prefix', 64, false);
    const r = await approveEnterprise(ctx, idParam(req), prefix === undefined ? {} : { prefix }, actorOf(p, req));
    return { prefix: r.prefix, handleAdmin: `300:0.NA/${r.prefix}`, handleSecret: r.handleSecret };
  }));
  app.post('/operator/enterprises/:id/reject', S.reject, route(async (req, p) => {
    requireRole(p, 'operator', 'reviewer');
    await rejectEnterprise(ctx, idParam(req), str(body(req), 'reason', 500)!, actorOf(p, req));
    return true;
  }));
  app.post('/operator/enterprises/:id/suspend', S.suspend, route(async (req, p) => {
    requireRole(p, 'operator');
    await suspendEnterprise(ctx, idParam(req), str(body(req), 'reason', 500)!, actorOf(p, req));
    return true;
  }));
  app.post('/operator/enterprises/:id/enable', S.enable, route(async (req, p) => {
    requireRole(p, 'operator');
    await enableEnterprise(ctx, idParam(req), actorOf(p, req));
    return true;
  }));

  app.post('/operator/enterprises/:id/rotate-secret', S.rotateSecret, route(async (req, p) => {
    requireRole(p, 'operator');
    return rotateHandleSecret(ctx, idParam(req), actorOf(p, req));
  }));

  // ---- where a delegated prefix is served ----
  const hostingData = (h: PrefixHosting) => ({ prefix: h.prefix, enterpriseId: h.enterpriseId, mode: h.hosting === null ? 'here' : 'self', node: h.hosting });
  const prefixParam = (req: FastifyRequest): string => (req.params as { prefix: string }).prefix;
  app.get('/operator/prefixes/:prefix/hosting', S.getHosting, route(async (req, p) => {
    requireRole(p, 'reviewer', 'operator');
    return hostingData(await prefixHosting(ctx, prefixParam(req)));
  }));
  app.put('/operator/prefixes/:prefix/hosting', S.setHosting, route(async (req, p) => {
    requireRole(p, 'operator');
    const b = objectBody(req);
    if (b.mode !== 'here' && b.mode !== 'self') throw new SnmsError(SNMS.BUSINESS, 'mode 应为 here 或 self / mode must be here or self');
    const node =
      b.mode === 'here'
        ? null
        : { address: str(b, 'address', 64)!, tcpPort: b.tcpPort as number, udpPort: b.udpPort as number, httpPort: (b.httpPort as number | null | undefined) ?? null };
    return hostingData(await setPrefixHosting(ctx, prefixParam(req), node, actorOf(p, req)));
  }));

  // ---- accounts ----
  const userParam = (req: FastifyRequest): number => idParam(req, '用户ID无效 / invalid user id: a positive integer');
  const notSelf = (p: Principal, id: number, zh: string, en: string) => {
    if (p.userId === id) throw new SnmsError(SNMS.BUSINESS, `${zh}，请由另一位运营人员操作 / you cannot ${en} your own account: ask another operator`);
  };
  app.get('/operator/users', S.listUsers, route(async (req, p) => {
    requireRole(p, 'operator');
    const q = req.query as Record<string, unknown>;
    const role = str(q, 'role', 16, false);
    if (role !== undefined && role !== 'operator' && role !== 'reviewer' && role !== 'enterprise') {
      throw new SnmsError(SNMS.BUSINESS, 'role 应为 operator、reviewer 或 enterprise / role must be operator, reviewer or enterprise');
    }
    const pageSize = positive(q.pageSize, 20);
    if (pageSize > 100) throw new SnmsError(SNMS.BUSINESS, '每页最多100条 / pageSize must be at most 100');
    return listUsers(ctx, { role, q: str(q, 'q', 50, false), page: positive(q.currentPage, 1), pageSize });
  }));
  for (const [path, disabled] of [['/operator/users/:id/disable', true], ['/operator/users/:id/enable', false]] as const) {
    app.post(path, disabled ? S.disableUser : S.enableUser, route(async (req, p) => {
      requireRole(p, 'operator');
      const id = userParam(req);
      if (disabled) notSelf(p, id, '不能停用自己的账号', 'disable');
      await setUserDisabled(ctx, id, disabled, actorOf(p, req));
      return true;
    }));
  }
  app.post('/operator/users/:id/password', S.userPassword, route(async (req, p) => {
    requireRole(p, 'operator');
    const id = userParam(req);
    await setPassword(ctx, id, { plain: str(body(req), 'password', 128)! }, actorOf(p, req));
    return true;
  }));
  app.post('/operator/users/:id/role', S.userRole, route(async (req, p) => {
    requireRole(p, 'operator');
    const id = userParam(req);
    const role = str(body(req), 'role', 16)!;
    if (role !== 'reviewer' && role !== 'operator') throw new SnmsError(SNMS.BUSINESS, 'role 应为 reviewer 或 operator / role must be reviewer or operator');
    notSelf(p, id, '不能更改自己账号的角色', 'change the role of');
    await setUserRole(ctx, id, role, actorOf(p, req));
    return true;
  }));

  app.post('/operator/users', S.createUser, route(async (req, p) => {
    requireRole(p, 'operator');
    const b = body(req);
    const role = str(b, 'role', 16)!;
    if (role !== 'reviewer' && role !== 'operator') throw new SnmsError(SNMS.BUSINESS, 'role must be reviewer or operator');
    const r = await createUser(ctx, { username: str(b, 'username', 50)!, password: { plain: str(b, 'password', 128)! }, role, enterpriseId: null }, actorOf(p, req));
    return { id: r.id };
  }));

  app.get('/operator/audit', S.audit, route(async (req, p) => {
    requireRole(p, 'operator');
    const q = req.query as Record<string, unknown>;
    const handle = str(q, 'handle', 255, false);
    const enterpriseId = q.enterpriseId === undefined || q.enterpriseId === '' ? undefined : positive(q.enterpriseId, 0);
    const action = str(q, 'action', 100, false);
    const entity = str(q, 'entity', 32, false);
    if (entity !== undefined && !AUDIT_ENTITIES.includes(entity)) {
      throw new SnmsError(SNMS.BUSINESS, `entity 应为 ${AUDIT_ENTITIES.join('、')} 之一 / entity must be one of ${AUDIT_ENTITIES.join(', ')}`);
    }
    const beforeId = q.beforeId === undefined || q.beforeId === '' ? undefined : positive(q.beforeId, 0);
    return ctx.store.listAudit({
      handleKey: handle === undefined ? undefined : parseHandle(handle, ctx.policy).key,
      enterpriseId,
      actor: str(q, 'actor', 255, false),
      // `enterprise.*`: every action starting `enterprise.`; otherwise the action exactly
      ...(action === undefined ? {} : action.endsWith('*') ? { actionPrefix: action.slice(0, -1) } : { action }),
      entity,
      since: date(q.since, 'since'),
      until: date(q.until, 'until'),
      beforeId,
      limit: Math.min(positive(q.limit, 100), AUDIT_MAX_PAGE),
    });
  }));

  app.get('/operator/plan', S.plan, route(async (_req, p) => {
    requireRole(p, 'operator', 'reviewer');
    return planProgress(ctx, d.plan);
  }));
  app.get('/operator/plan.csv', S.planCsv, route(async (_req, p, reply) => {
    requireRole(p, 'operator', 'reviewer');
    // a byte-order mark first: Excel, which officials open it with, reads the Chinese town names as UTF-8 only then
    const csv = `\ufeff${progressToCsv(await planProgress(ctx, d.plan))}`;
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="plan-progress.csv"').send(csv);
  }));
}

/** What the audit log's `entity` can be. */
const AUDIT_ENTITIES = ['handle', 'enterprise', 'prefix', 'template', 'user'];
/** The most audit entries one request gets (a larger `limit` is cut to it). */
const AUDIT_MAX_PAGE = 500;

function positive(v: unknown, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new SnmsError(SNMS.BUSINESS, 'paging and id parameters must be positive integers');
  return n;
}

function date(v: unknown, name: string): Date | undefined {
  if (v === undefined || v === '') return undefined;
  const d = new Date(String(v));
  if (Number.isNaN(d.getTime())) throw new SnmsError(SNMS.BUSINESS, `${name} 须为 ISO 日期时间 / ${name} must be an ISO date-time`);
  // PostgreSQL's timestamptz spans 4713 BC to 294276 AD; the audit log spans far less: years 1–9999 are asked as given
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) throw new SnmsError(SNMS.BUSINESS, `${name} 的年份须在 1–9999 之间 / ${name} must fall in the years 1 to 9999`);
  return d;
}
