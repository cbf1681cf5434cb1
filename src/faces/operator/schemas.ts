// Zod schemas of the operator face, route by route: queries and bodies, which the routes check themselves (status -2 with the reason), and the `data` of each answer in the SNMS envelope.
import { z } from 'zod';
import { AUTH, media, NoQuery, TAG } from '../openapi.js';
import { routeChecked } from '../schema-compilers.js';
import { freeText, plainText } from '../text-fields.js';
import { Done, Enterprise, EnterpriseEvent, envelope, envelopeOf, HandleCredential } from '../snms/schemas.js';

// ---- requests (checked by the routes) ------------------------------------------------------------------------------

// text fields: no control characters (NUL included), refused before the route runs, naming the field
const optionalText = (description: string) => plainText().optional().describe(description);

const EnterpriseId = routeChecked(z.object({ id: z.int().min(1).describe('企业 ID / enterprise id') }));

const EnterpriseQuery = routeChecked(
  z.object({
    status: optionalText('0 停用 disabled, 1 启用 enabled, 2 待删除 pending deletion, 3 已驳回 rejected, 4 待审核 pending review, 5 审核中 under review'),
    town: optionalText('镇 / town'),
    name: optionalText('名称包含 / name contains'),
    currentPage: optionalText('页码，从 1 开始 / page, from 1'),
    pageSize: optionalText('每页条数 / page size (default 20, at most 500)'),
  }),
);

const ApproveBody = routeChecked(
  z.object({ prefix: optionalText('指定前缀（默认下一个空闲的 <NODE_PREFIX>.<n>） / the prefix to delegate (default: the next free <NODE_PREFIX>.<n>)') }).describe('可省略 / may be omitted'),
);
const ReasonBody = routeChecked(z.object({ reason: freeText().describe('原因 / the reason (≤ 500)') }));
const UserBody = routeChecked(
  z.object({
    username: plainText().describe('用户名 / user name (≤ 50)'),
    password: plainText().describe('密码 / password'),
    role: z.enum(['reviewer', 'operator']).describe('reviewer 审核员, operator 运营'),
  }),
);

const AuditQuery = routeChecked(
  z.object({
    enterpriseId: optionalText('企业 ID：企业本身及其前缀下标识的变更 / the enterprise, and changes under its prefixes'),
    handle: optionalText('标识 / one identifier'),
    actor: optionalText('操作者，如 user:admin / who, e.g. user:admin'),
    action: optionalText('操作，精确匹配；以 * 结尾时按前缀匹配，如 enterprise.* / the action exactly, e.g. user.role; ending in `*` a prefix, e.g. `enterprise.*`'),
    entity: optionalText('对象类型 / the entity: handle, enterprise, prefix, template, user'),
    since: optionalText('起始时间（含），ISO-8601 / from (inclusive)'),
    until: optionalText('截止时间（不含），ISO-8601 / until (exclusive)'),
    beforeId: optionalText('只要 id 小于此值的记录：传上一页最后一条的 id 向前翻页 / entries with a smaller id: the last id of the previous page, to page back'),
    limit: optionalText('条数 / how many (default 100, at most 500)'),
  }),
);

const PrefixParam = routeChecked(z.object({ prefix: plainText().describe('企业前缀，如 88.320924.17 / the delegated prefix, e.g. 88.320924.17') }));
const HostingBody = routeChecked(
  z
    .object({
      mode: z.enum(['here', 'self']).describe('here 托管在本节点, self 企业自建节点 / here: served by this node; self: by the enterprise\'s own node'),
      address: z.string().max(64).optional().describe('企业节点 IP 地址（self 必填） / the enterprise node\'s IP address (self)'),
      tcpPort: z.int().min(1).max(65535).optional().describe('TCP 端口（self 必填，通常 2641） / its native TCP port (self; usually 2641)'),
      udpPort: z.int().min(1).max(65535).optional().describe('UDP 端口（self 必填，通常 2641） / its native UDP port (self; usually 2641)'),
      httpPort: z.int().min(1).max(65535).nullable().optional().describe('HTTP 端口（可选） / its HTTP port (optional)'),
    })
    .describe('前缀托管方式 / where the prefix is served'),
);
const SelfHostedNodeData = z.object({ address: z.string(), tcpPort: z.int(), udpPort: z.int(), httpPort: z.int().nullable() });
const PrefixHostingData = z.object({
  prefix: z.string(),
  enterpriseId: z.int().nullable(),
  mode: z.enum(['here', 'self']),
  node: SelfHostedNodeData.nullable().describe('企业节点（mode=self） / the enterprise node (mode self)'),
});

const UserId = routeChecked(z.object({ id: z.int().min(1).describe('用户 ID / user id') }));

const UserQuery = routeChecked(
  z.object({
    role: optionalText('operator 运营, reviewer 审核员, enterprise 企业'),
    q: optionalText('用户名包含（不区分大小写） / username contains (case-insensitive)'),
    currentPage: optionalText('页码，从 1 开始 / page, from 1'),
    pageSize: optionalText('每页条数 / page size (default 20, at most 100)'),
  }),
);
const PasswordBody = routeChecked(z.object({ password: plainText().describe('新密码，8–128 位 / the new password, 8–128 characters') }));
const RoleBody = routeChecked(z.object({ role: z.enum(['reviewer', 'operator']).describe('reviewer 审核员, operator 运营') }));

// ---- answers' data -------------------------------------------------------------------------------------------------



const EnterpriseDetail = Enterprise.extend({
  history: z.array(EnterpriseEvent).describe('申请历史，最早在前：驳回、重新申请及其修改 / the application\'s history, oldest first: rejections, re-applications and what they changed'),
});

const EnterprisePage = z.looseObject({ total: z.int(), items: z.array(Enterprise) });


const UserPage = z.looseObject({
  total: z.int(),
  items: z.array(
    z.looseObject({
      id: z.int(),
      username: z.string(),
      role: z.enum(['operator', 'reviewer', 'enterprise']),
      enterpriseId: z.int().nullable(),
      enterpriseName: z.string().nullable(),
      disabled: z.boolean(),
      createdAt: z.date(),
    }),
  ),
});

const AuditEntries = z.array(
  z.looseObject({
    id: z.int(),
    at: z.date(),
    actor: z.string(),
    address: z.string().nullable(),
    action: z.string(),
    entity: z.string().describe('handle, enterprise, prefix, template, user'),
    handle: z.string().nullable(),
    entityId: z.string().nullable(),
    enterpriseId: z.int().nullable(),
    before: z.unknown(),
    after: z.unknown(),
  }),
);

const byYear = z.record(z.string(), z.number()).describe('按年份 / by year');
const Progress = {
  aboveScale2021: z.int(),
  target: byYear,
  registered: byYear,
  coverage: z.number().nullable(),
  current: z.int(),
};
const PlanProgress = z.looseObject({
  county: z.string(),
  asOf: z.date(),
  years: z.array(z.int()),
  towns: z.array(z.looseObject({ town: z.string(), ...Progress })),
  totals: z.looseObject(Progress),
  unplanned: z.looseObject({ registered: byYear, current: z.int(), towns: z.array(z.string()) }),
});

// ---- the routes ----------------------------------------------------------------------------------------------------

const opRoute = (summary: string, parts: Record<string, unknown>) => ({ schema: { tags: [TAG.operator], summary, security: AUTH.bearer, ...parts } });

/** The schema options of each route of the face (operator.ts passes them to fastify). */
export const OPERATOR_ROUTES = {
  list: opRoute('企业列表（审核员、运营） / Applications and enterprises (reviewer, operator)', {
    querystring: EnterpriseQuery,
    response: { 200: envelope('一页企业 / a page', EnterprisePage) },
  }),
  get: opRoute('企业详情及申请历史 / One enterprise with its prefixes and history (reviewer, operator)', {
    params: EnterpriseId,
    response: { 200: envelope('企业及申请历史 / the enterprise and its history', EnterpriseDetail) },
  }),
  review: opRoute('开始审核 / Start the review (reviewer, operator)', { params: EnterpriseId, response: { 200: envelope('审核中 / under review', Done) } }),
  approve: opRoute('批准并分配前缀 / Approve: delegate a prefix and create 0.NA/<prefix> (reviewer, operator)', {
    params: EnterpriseId,
    body: ApproveBody,
    response: { 200: envelope('已批准 / approved', HandleCredential) },
  }),
  reject: opRoute('驳回 / Reject (reviewer, operator)', { params: EnterpriseId, body: ReasonBody, response: { 200: envelope('已驳回 / rejected', Done) } }),
  suspend: opRoute('停用：其标识在所有接口停止解析 / Suspend: its identifiers stop resolving everywhere (operator)', {
    params: EnterpriseId,
    body: ReasonBody,
    response: { 200: envelope('已停用 / suspended', Done) },
  }),
  enable: opRoute('启用 / Enable again (operator)', { params: EnterpriseId, response: { 200: envelope('已启用 / enabled', Done) } }),
  rotateSecret: opRoute('重置已批准企业（启用或停用中）的 Handle 凭据：旧密钥立即失效 / Rotate an approved (enabled or suspended) enterprise\'s Handle credential: the old secret stops working at once (operator)', {
    params: EnterpriseId,
    response: { 200: envelope('新凭据 / the new credential', HandleCredential) },
  }),
  getHosting: opRoute('前缀托管方式 / Where a delegated prefix is served (reviewer, operator)', {
    params: PrefixParam,
    response: { 200: envelope('托管方式 / the hosting', PrefixHostingData) },
  }),
  setHosting: opRoute(
    '设置前缀托管：本节点，或企业自建节点（发布其 HS_SITE，解析转到该节点） / Serve a delegated prefix here, or at the enterprise\'s own node (its HS_SITE is published and resolution goes there) (operator)',
    { params: PrefixParam, body: HostingBody, response: { 200: envelope('新的托管方式 / the hosting now', PrefixHostingData) } },
  ),
  listUsers: opRoute('账号列表，按 ID 排序 / Accounts, by id (operator)', {
    querystring: UserQuery,
    response: { 200: envelope('一页账号 / a page', UserPage) },
  }),
  disableUser: opRoute('停用账号：不能登录，已有令牌失效；不能停用自己 / Disable an account: no login, its tokens end; not your own (operator)', {
    params: UserId,
    response: { 200: envelope('已停用 / disabled', Done) },
  }),
  enableUser: opRoute('启用账号（停用前的令牌仍然无效） / Enable an account again (tokens from before the disable stay ended) (operator)', {
    params: UserId,
    response: { 200: envelope('已启用 / enabled', Done) },
  }),
  userPassword: opRoute('重置密码：该账号已有的令牌全部失效 / Reset a password: every token the account holds ends (operator)', {
    params: UserId,
    body: PasswordBody,
    response: { 200: envelope('已重置 / reset', Done) },
  }),
  userRole: opRoute('更改运营/审核员账号的角色（企业账号与自己的账号除外） / Change the role of an operator or reviewer account (not enterprise accounts, not your own) (operator)', {
    params: UserId,
    body: RoleBody,
    response: { 200: envelope('已更改 / changed', Done) },
  }),
  createUser: opRoute('创建账号 / Create a reviewer or operator account (operator)', {
    body: UserBody,
    response: { 200: envelope('账号 / the account', z.looseObject({ id: z.int() })) },
  }),
  audit: opRoute('审计日志，最新在前（按 id），用 beforeId 向前翻页 / The audit log, newest first (by id); page back with beforeId (operator)', {
    querystring: AuditQuery,
    response: { 200: envelope('审计记录 / entries', AuditEntries) },
  }),
  plan: opRoute('规划进度 / Plan progress per town and year (reviewer, operator)', {
    querystring: NoQuery,
    response: { 200: envelope('规划进度 / progress', PlanProgress) },
  }),
  planCsv: opRoute('规划进度 CSV / Plan progress as CSV (reviewer, operator)', {
    querystring: NoQuery,
    response: {
      200: media('CSV（附件）；出错时为 JSON 信封 / CSV as an attachment; on errors the JSON envelope', {
        'text/csv': z.string(),
        'application/json': envelopeOf(z.null()),
      }),
    },
  }),
};
