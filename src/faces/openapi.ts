// The node's API description: @fastify/swagger builds one OpenAPI 3.1 document from every face's zod route schemas, served at /openapi.json; swagger-ui shows it at /docs from assets shipped in node_modules, none from another host.
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { serializerCompiler, validatorCompiler } from './schema-compilers.js';

/** The faces as the document groups them. */
export const TAG = { handleRest: 'Handle REST', proxy: 'Proxy', snms: 'SNMS', operator: 'Operator', ops: 'Operations', console: 'Console' } as const;

const TAGS = [
  {
    name: TAG.handleRest,
    description:
      'The Handle.Net v9 REST API: resolve, register, modify and delete handles. Errors are Handle JSON `{responseCode, handle, message}` with the HTTP status Handle.Net gives the code. Writes take Basic auth with a handle credential or a Bearer token of an enterprise.',
  },
  {
    name: TAG.proxy,
    description:
      'Proxy-style resolution as at hdl.handle.net: `GET /{prefix}/{suffix}` redirects to the handle\'s URL, or shows its values as a page (Handle JSON with `Accept: application/json`).',
  },
  {
    name: TAG.snms,
    description:
      '二级节点 SNMS 兼容接口：令牌、标识注册（单个与批量）、模板、前缀、企业申请。所有应答均为 HTTP 200 的 `{status, message, data}`：1 成功，-1 未登录，-2 业务错误（原因见 message），-3 无权限，-4 内部错误。\n\n' +
      'The SNMS-compatible face: tokens, identifier registration (single and batch), templates, prefixes, applications. Every answer is `{status, message, data}` with HTTP 200: 1 success, -1 not logged in, -2 business error (the reason in `message`), -3 forbidden, -4 internal error.',
  },
  {
    name: TAG.operator,
    description:
      '运营接口：企业审核、批准、驳回、停用与启用，账号，审计日志，规划进度；应答格式同 SNMS。\n\nThe operator face: review, approve, reject, suspend and enable enterprises; accounts; the audit log; plan progress. Answers as on the SNMS face.',
  },
  { name: TAG.ops, description: 'Liveness, readiness, Prometheus metrics, and this document.' },
  { name: TAG.console, description: '网页控制台 / The web console: a client of the faces above, with the same authorization.' },
];

/** Security requirements of the routes (OpenAPI `security`). */
export const AUTH = {
  none: [] as Record<string, string[]>[],
  /** a handle credential (Basic) or an enterprise's Bearer token */
  handle: [{ handleBasic: [] }, { bearer: [] }] as Record<string, string[]>[],
  /** anonymous, or authenticated to see restricted values */
  handleOptional: [{}, { handleBasic: [] }, { bearer: [] }] as Record<string, string[]>[],
  bearer: [{ bearer: [] }] as Record<string, string[]>[],
};

/** A documented answer with its media types (fastify checks a non-string payload against the one of its type). */
export interface JsonAnswer {
  description: string;
  content: Record<string, { schema: z.ZodType }>;
}

export function media(description: string, content: Record<string, z.ZodType>): JsonAnswer {
  return { description, content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])) };
}

export function json(description: string, schema: z.ZodType): JsonAnswer {
  return media(description, { 'application/json': schema });
}

/** An answer without a body (a redirect). */
export const noBody = (description: string) => z.null().describe(description);

/** A route that takes no parameters at all. */
export const NoQuery = z.object({});

function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (p.name === 'idnode' && typeof p.version === 'string') return p.version;
    } catch {
      // not there: the next candidate (src/ under vitest, dist/src/ when built)
    }
  }
  return '0.0.0';
}

type Doc = { paths?: unknown; components?: { schemas?: Record<string, unknown> } } & Record<string, unknown>;

/** Drops the component schemas nothing refers to (the type provider emits an input and an output copy of each). */
function pruneComponents<T extends Doc>(doc: T): T {
  const all = doc.components?.schemas;
  if (all === undefined) return doc;
  const refs = (x: unknown) => [...JSON.stringify(x).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
  const keep = new Set<string>();
  const todo = refs({ ...doc, components: { ...doc.components, schemas: {} } });
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (keep.has(name) || all[name] === undefined) continue;
    keep.add(name);
    todo.push(...refs(all[name]));
  }
  return { ...doc, components: { ...doc.components, schemas: Object.fromEntries(Object.entries(all).filter(([k]) => keep.has(k))) } };
}

/** Drops the bounds zod gives every integer (±2^53−1): they say nothing a reader needs. */
function dropSafeIntegerBounds(x: unknown): void {
  if (Array.isArray(x)) for (const e of x) dropSafeIntegerBounds(e);
  else if (x !== null && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    if (o.minimum === Number.MIN_SAFE_INTEGER) delete o.minimum;
    if (o.maximum === Number.MAX_SAFE_INTEGER) delete o.maximum;
    for (const v of Object.values(o)) dropSafeIntegerBounds(v);
  }
}

/**
 * The zod transform of fastify-type-provider-zod, and a name for wildcard paths: `/api/handles/*` is documented as
 * `/api/handles/{handle}`, named by the `title` of the `*` parameter's schema.
 */
const transform: typeof jsonSchemaTransform = (doc) => {
  const out = jsonSchemaTransform(doc);
  const params = (out.schema as { params?: { properties?: Record<string, { title?: string }>; required?: string[] } } | undefined)?.params;
  const star = params?.properties?.['*'];
  if (params?.properties === undefined || star === undefined) return out;
  const name = star.title ?? 'path';
  const { title: _title, ...rest } = star;
  params.properties = Object.fromEntries(Object.entries(params.properties).map(([k, v]) => (k === '*' ? [name, rest] : [k, v])));
  if (params.required) params.required = params.required.map((k) => (k === '*' ? name : k));
  return { ...out, url: out.url.replace(/\*$/, `:${name}`) };
};

/**
 * Makes zod the schema language of every route registered after it (request and response compilers), and collects
 * their schemas for the document. Call it on the app before registering the faces.
 */
export async function describeRoutes(app: FastifyInstance, o: { nodePrefix: string }): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `idnode ${o.nodePrefix}`,
        version: packageVersion(),
        description:
          'A secondary node of the industrial-internet identifier resolution system (Handle-compatible). 工业互联网标识解析二级节点。\n\n' +
          'Besides HTTP, the node answers the native Handle protocol (RFC 3652) on TCP and UDP; that face is not described here.',
      },
      tags: TAGS,
      components: {
        securitySchemes: {
          handleBasic: {
            type: 'http',
            scheme: 'basic',
            description: 'A handle credential: username `index%3Ahandle` (the node admin is `300%3A0.NA/<NODE_PREFIX>`), password its secret key.',
          },
          bearer: { type: 'http', scheme: 'bearer', description: '登录令牌 / a token from `POST /identity/token` (24 h).' },
        },
      },
    },
    transform,
    transformObject: (doc) => {
      const out = pruneComponents(jsonSchemaTransformObject(doc) as Doc);
      dropSafeIntegerBounds(out);
      return out as ReturnType<typeof jsonSchemaTransformObject>;
    },
  });
}

const OpenApiDocument = z
  .looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })
  .describe('The OpenAPI 3.1 document of every HTTP route of this node.');

// Swagger UI from this node only: the browser may load nothing from another origin.
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/** GET /openapi.json and the docs UI at /docs (the OpenAPI document as swagger-ui shows it). */
export async function docsFace(app: FastifyInstance): Promise<void> {
  app.get(
    '/openapi.json',
    { schema: { tags: [TAG.ops], summary: 'This OpenAPI document', security: AUTH.none, querystring: NoQuery, response: { 200: json('The document', OpenApiDocument) } } },
    async (_req, reply) => reply.send(app.swagger()),
  );
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    theme: { title: 'idnode API' },
    uiConfig: { deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0 },
  });
}
