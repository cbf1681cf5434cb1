// Zod schemas of the Handle REST face, route by route, and the Handle JSON shared with the proxy face: Handle.Net query parameters, the handle in the path, the PUT body and the Handle JSON answers.
import { z } from 'zod';
import { AUTH, json, TAG, type JsonAnswer } from '../openapi.js';
import { routeChecked } from '../schema-compilers.js';
import { freeText, plainText } from '../text-fields.js';

// ---- request -------------------------------------------------------------------------------------------------------
// The query string gives every parameter as a string, or a list when it is repeated: these schemas say exactly that,
// so fastify never refuses a query; the route reads the values and answers a bad one with its Handle responseCode.

/** A query parameter as the query string gives it: one value, or a list when repeated (the route uses the first). */
export const param = (description: string) => z.union([plainText(), z.array(plainText())]).optional().describe(description);

const pretty = param('Indent the JSON answer (`pretty`, `pretty=true`).');
const callback = param('JSONP: wrap the answer in a call of this function (`application/javascript`).');
const typeParam = param('Repeatable. Only values of this type (ASCII case-insensitive); `URL.` means URL and its subtypes.');
const indexParam = param('Repeatable. Only the value at this index (an integer); a union with `type`. Anything else answers responseCode 4.');

export const ResolveQuery = z.looseObject({
  type: typeParam,
  index: indexParam,
  publicOnly: param('`true`: only values with public read, even for an authenticated admin (default: true when anonymous).'),
  auth: param('`true`: an authoritative resolution that bypasses the caches.'),
  pretty,
  callback,
});

export const ListQuery = z.looseObject({
  prefix: param('List the handles under this prefix (`88.320924` or `0.NA/88.320924`); needs authentication.'),
  page: param('0-based page number (an integer; with `pageSize`).'),
  pageSize: param('Handles per page (an integer; with `page`).'),
  pretty,
  callback,
});

export const ResolvePostBody = routeChecked(
  z
    .looseObject({
      type: z.union([plainText(), z.array(plainText())]).optional(),
      index: z.union([plainText(), z.number(), z.array(z.union([plainText(), z.number()]))]).optional(),
      publicOnly: z.union([z.boolean(), z.string()]).optional(),
      auth: z.union([z.boolean(), z.string()]).optional(),
      pretty: z.union([z.boolean(), z.string()]).optional(),
    })
    .describe('The resolution parameters of GET as a JSON object (Content-Type: application/json); they add to the query string.'),
);

export const WriteQuery = z.looseObject({
  overwrite: param('`false`: create only (201; 409 when the handle exists). Default true.'),
  index: param('Repeatable. Add or replace only the values at these indexes (the body must carry exactly them); `various`: the indexes of the body.'),
  mintNewSuffix: param('`true`: append a new UUID to the path as the suffix.'),
  pretty,
  callback,
});

export const DeleteQuery = z.looseObject({
  index: param('Repeatable. Delete only the values at these indexes; without it the whole handle.'),
  pretty,
  callback,
});

export const FormatQuery = z.looseObject({ pretty, callback });

/** The rest of a wildcard path, named in the OpenAPI document by its `title`. */
export const pathRest = (title: string, description: string) => z.object({ '*': z.string().meta({ title, description }) });

export const HandlePath = pathRest('handle', 'The handle `prefix/suffix`, percent-encoded as UTF-8 (`+` stays `+`).');

const ValueDataIn = z.union([
  freeText().describe('A bare string: the same as `{format: "string", value}`.'),
  z.object({
    format: z.enum(['string', 'base64', 'hex', 'admin', 'vlist', 'site', 'key']),
    value: z.unknown().describe('string for string/base64/hex; {handle, index, permissions} for admin; [{handle, index}] for vlist; an object for site and key'),
  }),
]);

export const HandleValueIn = z
  .object({
    index: z.int32().min(1),
    type: plainText().min(1).describe('e.g. URL, EMAIL, HS_ADMIN'),
    data: ValueDataIn,
    ttl: z.union([z.int32().min(0), plainText()]).optional().describe('seconds to cache (default 86400), or an ISO-8601 absolute expiry'),
    permissions: plainText().optional().describe("up to 4 '0'/'1' (adminRead adminWrite publicRead publicWrite), or '*'; default 1110"),
    timestamp: z.string().optional().describe('ignored: the node stamps the time of the write'),
    references: z.array(z.object({ handle: z.string(), index: z.int32() })).optional(),
  })
  .describe('One handle value, as Handle.Net v9 REST clients send it.');

export const PutBody = routeChecked(
  z
    .union([
      z.array(HandleValueIn),
      z.object({ handle: plainText().optional().describe('must be the handle of the path'), values: z.array(HandleValueIn) }),
      HandleValueIn,
    ])
    .describe(
      'Content-Type: application/json. A value list, `{"values": [...]}` or one value; at most 1000 values. The node checks it and answers responseCode 4 or 202 (HTTP 400) with the reason.',
    ),
);

// ---- answers -------------------------------------------------------------------------------------------------------
// The Handle REST face sends every answer as a pre-serialised string, so these describe the answers without being
// applied to them; the proxy face's JSON errors are objects and are checked against HandleError.

export const HandleValueOut = z
  .object({
    index: z.int32(),
    type: z.string(),
    data: z.object({ format: z.enum(['string', 'base64', 'admin', 'vlist', 'site', 'key']), value: z.unknown() }),
    permissions: z.string().optional().describe('only when not the default 1110'),
    ttl: z.union([z.int32(), z.string()]).describe('seconds, or the ISO-8601 absolute expiry'),
    timestamp: z.string().optional().describe('ISO-8601 seconds with Z'),
    references: z.array(z.object({ handle: z.string(), index: z.int32() })).optional(),
  })
  .meta({ id: 'HandleValue' });

export const Resolution = z
  .object({
    responseCode: z.union([z.literal(1), z.literal(200)]).describe('1 found; 200 when no value matches the filter (values: [])'),
    handle: z.string(),
    values: z.array(HandleValueOut),
  })
  .meta({ id: 'HandleResolution', description: 'The handle and its values (only public ones unless the caller administers it).' });

export const HandleError = z
  .object({
    responseCode: z.int().describe('Handle.Net response code: 2 error, 3 busy, 4 protocol error, 5 not supported, 100 handle not found, 101 exists, 102 invalid handle, 200 values not found, 202 invalid value, 301 not homed here, 402 authentication needed, 400/401/403/404 no permission'),
    handle: z.string().optional(),
    message: z.string(),
  })
  .meta({ id: 'HandleError', description: 'A Handle JSON error.' });

export const WriteDone = z.object({ responseCode: z.literal(1), handle: z.string() }).describe('Done.');

export const HandleList = z
  .object({
    responseCode: z.literal(1),
    prefix: z.string(),
    totalCount: z.string().describe('a string, as Handle.Net sends it'),
    page: z.int().optional(),
    pageSize: z.int().optional(),
    handles: z.array(z.string()),
  })
  .describe('The handles under the prefix.');

export const PrefixList = z
  .object({ responseCode: z.literal(1), totalCount: z.string(), prefixes: z.array(z.string()) })
  .describe('The prefix this node homes (and with it every derived prefix).');

export const SiteAnswer = z
  .object({
    responseCode: z.literal(1),
    site: z
      .looseObject({
        version: z.int(),
        protocolVersion: z.string(),
        serialNumber: z.int(),
        primarySite: z.boolean(),
        multiPrimary: z.boolean(),
        attributes: z.array(z.object({ name: z.string(), value: z.string() })),
        servers: z.array(z.looseObject({ serverId: z.int(), address: z.string(), interfaces: z.array(z.looseObject({})) })),
      })
      .describe('HS_SITE data: the addresses and ports (TCP, UDP, HTTP) a Handle client reaches this node at'),
  })
  .describe('This node as a Handle site.');

/** The Handle JSON error answers of the given HTTP statuses, for a route's `response`. */
export function handleErrors(...statuses: number[]): Record<number, JsonAnswer> {
  const out: Record<number, JsonAnswer> = {};
  for (const s of statuses) out[s] = json(ERROR_TEXT[s] ?? 'Error', HandleError);
  return out;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid handle, parameter or body (responseCode 4, 102, 202), or a prefix not homed here (301)',
  401: 'Authentication needed (responseCode 402; WWW-Authenticate: Basic realm="handle")',
  403: 'Not permitted (responseCode 400 … 404)',
  404: 'Handle not found (responseCode 100)',
  409: 'Handle or value already exists (responseCode 101, 201)',
  500: 'Internal error (responseCode 2)',
  501: 'Not supported (responseCode 5)',
  503: 'Store unavailable, try again later (responseCode 3)',
};

// ---- the routes ----------------------------------------------------------------------------------------------------

const restRoute = (summary: string, security: Record<string, string[]>[], parts: Record<string, unknown>) => ({
  schema: { tags: [TAG.handleRest], summary, security, ...parts },
});

const PrefixPath = pathRest('prefix', 'A prefix.');
const notSupported = { 501: json('Homing and unhoming prefixes is not supported (responseCode 5)', HandleError) };

/** The schema options of each route of the face (routes.ts passes them to fastify). */
export const HANDLE_REST_ROUTES = {
  resolve: restRoute('Resolve a handle', AUTH.handleOptional, {
    description:
      'The values of the handle, filtered by `type` and `index`. Anonymous callers see public values only; the handle\'s admins (Basic or Bearer) also see restricted ones unless `publicOnly=true`. A path ending in `/` with `prefix=` lists handles as `GET /api/handles` does.',
    params: HandlePath,
    querystring: ResolveQuery,
    response: { 200: json('The handle and its values (responseCode 1; 200 with `values: []` when nothing matches the filter)', Resolution), ...handleErrors(400, 401, 403, 404, 500, 503) },
  }),
  resolvePost: restRoute('Resolve a handle, parameters as a JSON body', AUTH.handleOptional, {
    params: HandlePath,
    querystring: ResolveQuery,
    body: ResolvePostBody,
    response: { 200: json('The handle and its values', Resolution), ...handleErrors(400, 401, 403, 404, 500, 503) },
  }),
  list: restRoute('List the handles under a prefix', AUTH.handle, {
    querystring: ListQuery,
    response: { 200: json('The handles (all, or one page)', HandleList), ...handleErrors(400, 401, 403, 500, 503) },
  }),
  put: restRoute('Create or replace a handle, or add and replace some of its values', AUTH.handle, {
    description:
      'Without `index`: the handle gets exactly the values of the body (created, or replaced unless `overwrite=false`). With `index=N…` or `index=various`: those values are added or replaced. A write under a prefix this node does not home answers responseCode 301.',
    params: HandlePath,
    querystring: WriteQuery,
    body: PutBody,
    response: {
      200: json('Written (responseCode 1)', WriteDone),
      201: json('Created (with `overwrite=false`)', WriteDone),
      ...handleErrors(400, 401, 403, 404, 409, 500, 503),
    },
  }),
  remove: restRoute('Delete a handle, or some of its values', AUTH.handle, {
    params: HandlePath,
    querystring: DeleteQuery,
    response: { 200: json('Deleted (responseCode 1)', WriteDone), ...handleErrors(400, 401, 403, 404, 500, 503) },
  }),
  prefixes: restRoute('The prefixes this node homes', AUTH.none, {
    querystring: FormatQuery,
    response: { 200: json('The homed prefix', PrefixList) },
  }),
  homePrefix: restRoute('Home a prefix (not supported)', AUTH.none, { querystring: FormatQuery, response: notSupported }),
  homePrefixPath: restRoute('Home a prefix (not supported)', AUTH.none, { params: PrefixPath, querystring: FormatQuery, response: notSupported }),
  unhomePrefix: restRoute('Unhome a prefix (not supported)', AUTH.none, { querystring: FormatQuery, response: notSupported }),
  unhomePrefixPath: restRoute('Unhome a prefix (not supported)', AUTH.none, { params: PrefixPath, querystring: FormatQuery, response: notSupported }),
  site: restRoute('This node as a Handle site (HS_SITE)', AUTH.none, {
    querystring: FormatQuery,
    response: { 200: json('The site information', SiteAnswer) },
  }),
};
