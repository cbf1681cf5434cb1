// Liveness and readiness: /healthz answers while the process runs (naming it in x-idnode-worker), /readyz only while the
// process is not stopping and the store answers — with details (store kind, Redis, workers, cache counters, the error) only for the node admin and operators.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '../../../registry/store.js';
import type { Resolver } from '../../../resolver/types.js';
import { AUTH, json, NoQuery, TAG } from '../openapi.js';

/** What the health face needs, and nothing else. */
export interface HealthDeps {
  store: Pick<Store, 'ping' | 'kind'>;
  resolver: Pick<Resolver, 'stats'>;
  /** the shared cache's connection: 'off' without REDIS_URL */
  redis(): 'ready' | 'down' | 'off';
  /** the HTTP processes serving the node */
  workers: number;
  /** true once the process is stopping (SIGTERM, DRAIN_SECONDS): it still serves, but a balancer should send no more */
  draining(): boolean;
  /** whether these credentials (an Authorization header) may see the details: the node admin or an operator */
  mayInspect(authorization: string | undefined, address: string): Promise<boolean>;
}

const HEALTHZ = {
  schema: {
    tags: [TAG.ops],
    summary: 'Liveness: answers while the process runs',
    description: 'The `x-idnode-worker` header names the process (its pid) that answered.',
    security: AUTH.none,
    querystring: NoQuery,
    response: { 200: json('Alive', z.object({ status: z.literal('ok') })) },
  },
};

const Redis = z.enum(['ready', 'down', 'off']).describe('the shared cache (Redis): ready, down, or off (no REDIS_URL)');
const Workers = z.int().describe('HTTP worker processes serving the node');

const READYZ = {
  schema: {
    tags: [TAG.ops],
    summary: 'Readiness: 200 only while the store answers and the process is not stopping',
    description:
      'From a SIGTERM on (for `DRAIN_SECONDS`, then the process closes) the answer is 503 with status `draining`, while every other route is served as before, so a balancer takes the process out before it stops. Anonymous callers get the status only; the node admin (Basic) and operators (Bearer) also get the store kind, the shared cache\'s connection (`redis`: ready, down — resolutions go on from the store —, or off without REDIS_URL), the number of worker processes, the cache counters and the error.',
    security: AUTH.none,
    querystring: NoQuery,
    response: {
      200: json(
        'Ready',
        z.object({
          status: z.literal('ready'),
          store: z.string().optional(),
          redis: Redis.optional(),
          workers: Workers.optional(),
          cache: z.record(z.string(), z.number()).optional().describe('the cache tiers\' counters'),
        }),
      ),
      503: json(
        'The store does not answer (within 2 s), or the process is stopping (draining)',
        z.object({ status: z.enum(['unavailable', 'draining']), store: z.string().optional(), redis: Redis.optional(), workers: Workers.optional(), error: z.string().optional() }),
      ),
    },
  },
};

export default async function healthFace(app: FastifyInstance, d: HealthDeps): Promise<void> {
  // the pid of the process that answered: with WORKERS>1, which worker took the connection
  const pid = String(process.pid);
  app.get('/healthz', HEALTHZ, async (_req, reply) => reply.header('x-idnode-worker', pid).send({ status: 'ok' }));
  app.get('/readyz', READYZ, async (req, reply) => {
    if (d.draining()) return reply.code(503).header('connection', 'close').send({ status: 'draining' });
    const details = await d.mayInspect(req.headers.authorization, req.ip).catch(() => false);
    try {
      await Promise.race([
        d.store.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('store ping timed out')), 2000).unref()),
      ]);
      return reply.send(details ? { status: 'ready', store: d.store.kind, redis: d.redis(), workers: d.workers, cache: d.resolver.stats() } : { status: 'ready' });
    } catch (err) {
      return reply
        .code(503)
        .send(details ? { status: 'unavailable', store: d.store.kind, redis: d.redis(), workers: d.workers, error: (err as Error).message } : { status: 'unavailable' });
    }
  });
}
