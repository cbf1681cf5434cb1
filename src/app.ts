// The HTTP application as a fastify plugin: content parsing, zod schemas for every route (and the OpenAPI document made
// from them), and every face registered with exactly the parts it needs (each answers its own errors in its own
// format); a path no face knows gets the 404 of the face it is under.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Histogram } from 'prom-client';
import type { HandleId } from '../handle/identifier.js';
import { isNodeAdmin } from '../registry/access.js';
import handleRestFace, { handleRestNotFound } from './faces/handle-rest/routes.js';
import consoleFace from './faces/console/routes.js';
import { classify } from './faces/errors.js';
import { useCheckedJson } from './faces/json-body.js';
import { describeRoutes, docsFace } from './faces/openapi.js';
import type { NativeStats } from './faces/native/options.js';
import operatorFace from './faces/operator/routes.js';
import healthFace from './faces/ops/health.js';
import metricsFace from './faces/ops/metrics.js';
import proxyFace from './faces/proxy/routes.js';
import { snmsNotFound } from './faces/snms/envelope.js';
import snmsFace from './faces/snms/routes.js';
import { resolvable, type Node } from './node.js';

/** What the app hands its faces: the node's parts, and the native face's counters once it runs. */
export interface AppOptions {
  node: Node;
  nativeStats(): NativeStats | undefined;
  /** true from a SIGTERM on: /readyz says draining */
  draining?: () => boolean;
  /** the sampled request-latency histogram the server fills (null: LATENCY_SAMPLE=0) */
  latency?: Histogram<'face'> | null;
}

/** The 404 of whichever face a path belongs to. */
export function notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const url = req.raw.url ?? '';
  if (url.startsWith('/api/') || url === '/api') return handleRestNotFound(req, reply);
  if (/^\/(identity|identityv2|snms|operator)(\/|\?|$)/.test(url)) return snmsNotFound(req, reply);
  return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
}

export default async function app(fastify: FastifyInstance, o: AppOptions): Promise<void> {
  const node = o.node;
  // JSON bodies: valid UTF-8 (fastify would otherwise substitute U+FFFD silently), bounded depth, no NUL.
  useCheckedJson(fastify);
  // Any other media type is accepted here and refused by the route with the face's own error.
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  fastify.setNotFoundHandler(notFound);
  // What escapes outside every face: a body refused on the way to a path no face knows (bad JSON, too deep, NUL,
  // too large) is still a path no face knows; anything else is ours, logged without reaching the client.
  fastify.setErrorHandler((err, req, reply) => {
    if (classify(err).kind !== 'internal') return notFound(req, reply);
    req.log.error({ err, url: req.raw.url, method: req.method }, 'request failed');
    return reply.code(500).type('text/plain; charset=utf-8').send('Internal error\n');
  });

  const answerable = (id: HandleId) => resolvable(node, id);
  // before the faces: their routes are declared in zod, and the OpenAPI document collects them as they register
  await describeRoutes(fastify, { nodePrefix: node.registry.nodePrefix });
  // /readyz details for the node admin and operators only (bad or missing credentials see the status alone)
  const mayInspect = async (authorization: string | undefined, address: string) => {
    const who = await node.credentials.authenticate(authorization, address);
    return who !== null && isNodeAdmin(node.registry, who);
  };
  await fastify.register(healthFace, { store: node.store, resolver: node.resolver, redis: () => node.redisState(), workers: node.workers, mayInspect, draining: o.draining ?? (() => false) });
  await fastify.register(metricsFace, { stats: () => node.resolver.stats(), nativeStats: o.nativeStats, replicaStats: () => node.replicas?.stats, latency: o.latency ?? null });
  await fastify.register(handleRestFace, { resolvable: answerable, resolver: node.resolver, registry: node.registry, credentials: node.credentials, site: node.site, policy: node.policy });
  await fastify.register(snmsFace, { registry: node.registry, plan: node.plan });
  await fastify.register(operatorFace, { registry: node.registry, plan: node.plan });
  await fastify.register(consoleFace, { nodePrefix: node.registry.nodePrefix });
  await fastify.register(proxyFace, { resolver: node.resolver, policy: node.policy, nodePrefix: node.registry.nodePrefix, isHomed: answerable, notFound });
  await fastify.register(docsFace);
}
