// Zod schemas of the SNMS-compatible face, route by route (the envelope is shared with the operator face): bodies and queries, which the routes check themselves (status -2 with the reason), and the `data` of each answer.
import { z } from 'zod';
import { AUTH, json, NoQuery, TAG, type JsonAnswer } from '../openapi.js';
import { routeChecked } from '../schema-compilers.js';
import { freeText, plainText } from '../text-fields.js';

// ---- the envelope --------------------------------------------------------------------------------------------------

/**
 * An answer in the SNMS envelope, HTTP 200 whatever happened: `data` as given on success, null otherwise. The
 * envelope is checked when it is sent (it is an object), so `data` must describe every success answer of the route.
 */
export function envelope(description: string, data: z.ZodType): JsonAnswer {
  return json(`${description}\n\n出错时 status 为 -1/-2/-3/-4，data 为 null / on errors status is -1, -2, -3 or -4 and data is null.`, envelopeOf(data));
}

/** The envelope object around `data` (null when status is not 1). */
export function envelopeOf(data: z.ZodType) {
  return z.object({
    status: z.int().describe('1 成功 success, -1 未登录 not logged in, -2 业务错误 business error, -3 无权限 forbidden, -4 内部错误 internal error'),
    message: z.string().describe('"success", or the reason (中文 / English)'),
    data: data.nullable(),
  });
}

/** `data: true`: done. */
export const Done = z.literal(true);

// ---- requests (checked by the routes) ------------------------------------------------------------------------------

// text fields: no control characters (NUL included), refused before the route runs, naming the field
const text = (description: string) => plainText().describe(description);
const optionalText = (description: string) => plainText().optional().describe(description);

export const TokenBody = routeChecked(
  z.object({ username: text('用户名 / user name (≤ 50)'), password: text('密码 / password (≤ 128); on /v1 sha256hex(sha256hex(password) + "yyyy-MM-dd"), China date') }),
);

const SnmsValueIn = z.object({
  index: z.int().describe('模板项索引 / the template item idIndex (≥ 2000)'),
  type: plainText().describe('模板项类型 / the template item idType'),
  data: z.object({ format: z.literal('string'), value: freeText() }),
});

const IdentifierIn = z.object({
  handle: text('标识 / the identifier `prefix/suffix`'),
  templateVersion: text('模板版本 / the template version'),
  value: z.array(SnmsValueIn),
});

export const IdentifierBody = routeChecked(IdentifierIn.describe('一个标识 / one identifier'));
export const HandleBody = routeChecked(z.object({ handle: text('标识 / the identifier') }));
export const BatchBody = routeChecked(z.array(IdentifierIn).max(2000).describe('至多 2000 个标识 / at most 2000 identifiers, each checked on its own'));
export const BatchDeleteBody = routeChecked(z.array(plainText()).max(2000).describe('至多 2000 个标识 / at most 2000 handles'));
export const DetailQuery = routeChecked(z.object({ handle: text('标识 / the identifier') }));

export const TemplateQuery = routeChecked(z.object({ prefix: text('企业前缀 / the prefix'), version: text('模板版本 / the template version') }));

const TemplateItemIn = z.object({
  name: text('名称 / name'),
  idType: text('类型 / value type (letters, digits, _ . : -)'),
  idIndex: z.int().min(2000).optional().describe('索引 / value index ≥ 2000 (default: the lowest free)'),
  required: z.boolean().optional(),
  state: z.union([z.literal(0), z.literal(1)]).optional().describe('1 启用 enabled, 0 停用 disabled'),
  metadata: z.looseObject({ type: plainText(), minLength: z.int().optional(), maxLength: z.int().optional() }).optional(),
});

export const TemplateBody = routeChecked(
  z
    .object({
      prefix: text('企业前缀 / the prefix'),
      version: text('模板版本 / the version (the key, with the prefix)'),
      industryCategory: optionalText('GB/T 4754 门类 / section, e.g. C (required on create)'),
      industrySpecific: optionalText('大类 / division, e.g. 34'),
      industryTrade: optionalText('中类 / group'),
      industrySubclass: optionalText('小类 / class'),
      type: z.union([z.literal(1), z.literal(2)]).optional().describe('1 主动标识载体 active identification carrier, 2 其他 other'),
      description: freeText().optional().describe('说明 / description'),
      items: z.array(TemplateItemIn).describe('模板项；更新时只增改不删 / items; an update adds or changes, never removes'),
    })
    .describe('模板 / a template'),
);
export const TemplateKeyBody = routeChecked(z.object({ prefix: text('企业前缀 / the prefix'), version: text('模板版本 / the version') }));

export const IdentifierPageQuery = routeChecked(
  z.object({
    prefix: text('前缀 / the prefix'),
    keyword: optionalText('后缀包含（不区分大小写） / suffix contains (case-insensitive)'),
    currentPage: optionalText('页码，从 1 开始 / page, from 1'),
    pageSize: optionalText('每页条数 / page size (default 20, at most 100)'),
  }),
);

export const PrefixQuery = routeChecked(z.object({ prefix: text('前缀 / the prefix') }));
export const PrefixPageQuery = routeChecked(
  z.object({
    entName: optionalText('企业名称包含 / enterprise name contains'),
    entPrefix: optionalText('前缀包含 / prefix contains'),
    startDate: optionalText('创建时间起 / created from, `yyyy-MM-dd[ HH:mm:ss]` China time'),
    endDate: optionalText('创建时间止 / created until'),
    currentPage: optionalText('页码，从 1 开始 / page, from 1'),
    pageSize: optionalText('每页条数 / page size (default 10)'),
  }),
);

export const ApplyBody = routeChecked(
  z
    .object({
      sysUser: z
        .object({
          userName: text('登录名 / login name'),
          password: text('密码，明文或 sha256 十六进制 / password, plain or its sha256 hex'),
          email: optionalText('邮箱 / email'),
          mobile: optionalText('手机 / mobile'),
        })
        .optional()
        .describe('首次申请必填；重新申请（带原账号令牌）时省略 / required on a first application; omitted when applying again with the account\'s token'),
      entBasicInfo: z.object({
        orgName: text('企业名称 / enterprise name'),
        orgCrtCode: text('统一社会信用代码 / unified social credit code (GB 32100)'),
        town: optionalText('所在镇 / town (one of the plan\'s towns)'),
        industryCategory: optionalText('GB/T 4754 门类 / section'),
        industrySpecific: optionalText('大类 / division'),
        industryTrade: optionalText('中类 / group'),
        industrySubclass: optionalText('小类 / class'),
        industry: optionalText('行业代码 / industry code, when the four fields are not given'),
        orgAddr: text('地址 / address'),
        contactName: text('联系人 / contact'),
        contactPhone: text('联系电话 / phone'),
        contactEmail: optionalText('联系邮箱 / email'),
      }),
      town: optionalText('所在镇（也可放在 entBasicInfo） / town, if not in entBasicInfo'),
    })
    .describe('企业申请 / an application'),
);

// ---- answers' data -------------------------------------------------------------------------------------------------

export const Token = z.object({ token: z.string().describe('Bearer 令牌，24 小时有效 / Bearer token, valid 24 h') });
export const Me = z.object({
  userId: z.int(),
  username: z.string(),
  role: z.enum(['operator', 'reviewer', 'enterprise']).describe('operator 运营, reviewer 审核, enterprise 企业'),
  enterpriseId: z.int().nullable().describe('企业用户所属企业 / the enterprise of an enterprise user'),
});

const SnmsValueOut = z.looseObject({
  index: z.int(),
  type: z.string(),
  auth: z.string().optional(),
  data: z.object({ format: z.string(), value: z.string() }),
});

export const Detail = z.looseObject({
  code: z.string(),
  prefix: z.string(),
  handle: z.string(),
  templateVersion: z.string().describe('"" 若未按模板注册 / "" when not registered over a template'),
  value: z.array(SnmsValueOut).describe('字符串值（含 1001 TEMPLATE） / string values, TEMPLATE at 1001 included'),
});

export const ItemResults = z
  .array(z.object({ handle: z.string(), msg: z.string().describe('"success" 或原因 / or the reason') }))
  .describe('逐项结果 / one result per item, in order');
export const DeleteResults = z
  .array(z.object({ handle: z.string(), code: z.union([z.literal(1), z.literal(-2)]), msg: z.string() }))
  .describe('逐项结果 / one result per handle, in order');

export const Template = z.looseObject({
  prefix: z.string(),
  version: z.string(),
  industryCategory: z.string(),
  industrySpecific: z.string(),
  industryTrade: z.string(),
  industrySubclass: z.string(),
  type: z.int(),
  description: z.string(),
  items: z.array(
    z.looseObject({
      name: z.string(),
      idType: z.string(),
      idIndex: z.int(),
      required: z.boolean(),
      state: z.int(),
      metadata: z.looseObject({ type: z.string(), minLength: z.int().optional(), maxLength: z.int().optional() }),
    }),
  ),
});

export const PrefixDetail = z.looseObject({
  prefix: z.string(),
  createDate: z.string(),
  ghrName: z.string(),
  status: z.int(),
  entNameCn: z.string(),
  entWebSite: z.string(),
  entIndustry: z.string(),
  entAddrCn: z.string(),
  entDesc: z.string(),
});

export const PrefixPage = z
  .looseObject({
    first: z.boolean(),
    last: z.boolean(),
    totalPages: z.int(),
    totalElements: z.int(),
    number: z.int().describe('从 0 开始 / 0-based'),
    size: z.int(),
    sort: z.null(),
    numberOfElements: z.int(),
    content: z.array(
      z.looseObject({
        id: z.int(),
        createDate: z.string(),
        updateDate: z.string(),
        entPrefix: z.string(),
        entId: z.int().nullable(),
        state: z.int(),
        status: z.int(),
        entName: z.string(),
        proxyState: z.int(),
      }),
    ),
  })
  .describe('Spring Data 分页 / a Spring Data page');

export const Applied = z.object({ enterpriseId: z.int(), status: z.literal(4).describe('4 待审核 / pending review') });

/** An enterprise as the operator face and its own accounts see it (shared with the operator face). */
export const Enterprise = z.looseObject({
  id: z.int(),
  name: z.string(),
  creditCode: z.string(),
  town: z.string(),
  industry: z.string().describe('GB/T 4754, e.g. C3441'),
  address: z.string(),
  contactName: z.string(),
  contactPhone: z.string(),
  contactEmail: z.string().nullable(),
  status: z.int().describe('0 停用, 1 启用, 2 待删除, 3 已驳回, 4 待审核, 5 审核中'),
  statusName: z.string().describe('状态名称 / the status in words, e.g. 已驳回/rejected'),
  reason: z.string().nullable().describe('驳回或停用原因 / why it was rejected or suspended'),
  reviewedBy: z.string().nullable(),
  approvedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
  prefixes: z.array(z.looseObject({ prefix: z.string(), prefixKey: z.string(), status: z.int() })),
});

/** One step of an application's history (shared with the operator face). */
export const EnterpriseEvent = z.looseObject({
  at: z.date(),
  action: z.string().describe('enterprise.apply / review / approve / reject / reapply / suspend / enable / rotate-secret / reveal-secret'),
  actor: z.string(),
  status: z.int().nullable().describe('该步之后的状态 / the status after the step'),
  reason: z.string().nullable().describe('驳回或停用原因（重新申请时为被清除的原因） / the reason recorded (on re-application: the one it cleared)'),
  changes: z.record(z.string(), z.looseObject({ from: z.unknown(), to: z.unknown() })).describe('重新申请修改的字段 / fields a re-application changed'),
});

/** The enterprise's Handle credential (approve, rotate-secret, and the enterprise's own one-time reveal). */
export const HandleCredential = z.looseObject({
  prefix: z.string().describe('分配的前缀 / the delegated prefix'),
  handleAdmin: z.string().describe('Handle 凭据 / the Handle credential, 300:0.NA/<prefix>'),
  handleSecret: z.string().describe(
    '凭据密钥：节点只保存其散列；企业账号还可通过 GET /snms/api/v3/ent/handle-secret 查看一次 / the secret: the node keeps only its hash; the enterprise\'s accounts can also read it once at GET /snms/api/v3/ent/handle-secret',
  ),
});

export const EnterpriseMine = z.looseObject({
  enterprise: Enterprise.describe('企业及其状态、驳回或停用原因 / the enterprise, its status and the rejection or suspension reason'),
  prefixes: z.array(z.looseObject({ prefix: z.string(), prefixKey: z.string(), status: z.int() })),
  history: z.array(EnterpriseEvent).describe('申请历史，最早在前 / the application\'s history, oldest first'),
});

export const Towns = z.looseObject({
  county: z.string().describe('县 / the county'),
  towns: z.array(
    z.looseObject({
      name: z.string(),
      targets: z.record(z.string(), z.number()).nullable().describe('各年底累计注册企业目标，如 {"2022": 12}；无目标为 null / registered-enterprise targets by year end, cumulative; null: no target'),
    }),
  ),
});

const ListedValue = z.looseObject({
  index: z.int(),
  type: z.string(),
  data: z.looseObject({ format: z.string(), value: z.unknown() }),
});

export const IdentifierPage = z.looseObject({
  total: z.int().describe('匹配的标识数（最多计到 100000） / matching identifiers, counted up to 100000'),
  totalCapped: z.boolean().describe('实际多于 total / there are more than total'),
  items: z.array(
    z.looseObject({
      handle: z.string(),
      updatedAt: z.date(),
      values: z.array(ListedValue).describe('按索引，不含 HS_SECKEY；运营与审核员只见公开值 / by index, never HS_SECKEY; operators and reviewers see the public values only'),
    }),
  ),
});

// ---- the routes ----------------------------------------------------------------------------------------------------

const snmsRoute = (summary: string, security: Record<string, string[]>[], parts: Record<string, unknown>) => ({
  schema: { tags: [TAG.snms], summary, security, ...parts },
});

/** The schema options of each route of the face (routes.ts passes them to fastify). */
export const SNMS_ROUTES = {
  token: (v1: boolean) =>
    snmsRoute(v1 ? '登录（v1 摘要口令） / Log in with the v1 password digest' : '登录 / Log in', AUTH.none, {
      body: TokenBody,
      response: { 200: envelope('令牌 / the token', Token) },
    }),
  me: snmsRoute('当前账号 / The account this token belongs to', AUTH.bearer, {
    querystring: NoQuery,
    response: { 200: envelope('账号 / the account', Me) },
  }),
  detail: snmsRoute('查询标识 / An identifier and its values', AUTH.bearer, {
    querystring: DetailQuery,
    response: { 200: envelope('标识详情 / the identifier', Detail) },
  }),
  create: snmsRoute('注册标识 / Register one identifier', AUTH.bearer, { body: IdentifierBody, response: { 200: envelope('已注册 / registered', Done) } }),
  update: snmsRoute('修改标识 / Update one identifier (its template values)', AUTH.bearer, {
    body: IdentifierBody,
    response: { 200: envelope('已修改 / updated', Done) },
  }),
  remove: snmsRoute('删除标识 / Delete one identifier', AUTH.bearer, { body: HandleBody, response: { 200: envelope('已删除 / deleted', Done) } }),
  batchCreate: snmsRoute('批量注册 / Register identifiers, item by item', AUTH.bearer, {
    body: BatchBody,
    response: { 200: envelope('逐项结果 / per item', ItemResults) },
  }),
  batchUpdate: snmsRoute('批量修改 / Update identifiers, item by item', AUTH.bearer, {
    body: BatchBody,
    response: { 200: envelope('逐项结果 / per item', ItemResults) },
  }),
  batchDelete: snmsRoute('批量删除 / Delete identifiers, item by item', AUTH.bearer, {
    body: BatchDeleteBody,
    response: { 200: envelope('逐项结果 / per item', DeleteResults) },
  }),
  templateList: snmsRoute('模板列表 / Every template of a prefix, by version', AUTH.bearer, {
    querystring: PrefixQuery,
    response: { 200: envelope('模板 / the templates', z.array(Template)) },
  }),
  templateGet: (v3: boolean) =>
    snmsRoute(`查询模板 / A template${v3 ? ' (v3 path, as v5)' : ''}`, AUTH.bearer, {
      querystring: TemplateQuery,
      response: { 200: envelope('模板 / the template', Template) },
    }),
  templateCreate: (v3: boolean) =>
    snmsRoute(`创建模板 / Create a template${v3 ? ' (v3 path, as v5)' : ''}`, AUTH.bearer, {
      body: TemplateBody,
      response: { 200: envelope('已创建 / created', Done) },
    }),
  templateUpdate: (v3: boolean) =>
    snmsRoute(`修改模板 / Update a template: add or change items${v3 ? ' (v3 path, as v5)' : ''}`, AUTH.bearer, {
      body: TemplateBody,
      response: { 200: envelope('已修改 / updated', Done) },
    }),
  templateDelete: (v3: boolean) =>
    snmsRoute(`删除模板 / Delete a template not in use${v3 ? ' (v3 path, as v5)' : ''}`, AUTH.bearer, {
      body: TemplateKeyBody,
      response: { 200: envelope('已删除 / deleted', Done) },
    }),
  page: snmsRoute('标识列表：某前缀下的标识，按标识排序，可按后缀搜索 / The identifiers under a prefix, by handle, searchable by suffix', AUTH.bearer, {
    querystring: IdentifierPageQuery,
    response: { 200: envelope('一页标识 / a page', IdentifierPage) },
  }),
  mine: snmsRoute('本企业的申请：状态、原因、前缀与历史（任何状态的企业账号） / The account\'s own enterprise: status, reason, prefixes and history (enterprise accounts, whatever the status)', AUTH.bearer, {
    querystring: NoQuery,
    response: { 200: envelope('本企业 / the enterprise', EnterpriseMine) },
  }),
  handleSecret: snmsRoute('查看一次本企业的 Handle 凭据（批准或重置时生成），之后清除 / The enterprise\'s Handle credential made at approval or by the last rotation, shown once, then cleared (enterprise accounts)', AUTH.bearer, {
    querystring: NoQuery,
    response: { 200: envelope('凭据；再次查看为 -2 / the credential; a second call gets -2', HandleCredential) },
  }),
  towns: snmsRoute('规划中的镇及其目标（无需登录） / The plan\'s towns and their targets (no login)', AUTH.none, {
    querystring: NoQuery,
    response: { 200: envelope('县与镇 / the county and its towns', Towns) },
  }),
  prefixQuery: snmsRoute('查询前缀 / A delegated prefix and its enterprise', AUTH.bearer, {
    querystring: PrefixQuery,
    response: { 200: envelope('前缀 / the prefix', PrefixDetail) },
  }),
  prefixPage: snmsRoute('前缀分页 / A page of delegated prefixes (reviewers, operators)', AUTH.bearer, {
    querystring: PrefixPageQuery,
    response: { 200: envelope('一页前缀 / a page', PrefixPage) },
  }),
  apply: snmsRoute('企业申请前缀（无需登录；被驳回后用原账号令牌重新申请） / An enterprise applies for a prefix (no login; after a rejection, again with its own account\'s token)', AUTH.none, {
    body: ApplyBody,
    response: { 200: envelope('申请已提交，待审核 / submitted, pending review', Applied) },
  }),
};
