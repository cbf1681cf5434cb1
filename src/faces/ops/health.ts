// Liveness and readiness: /healthz answers while the process runs (naming it in x-idnode-worker), /readyz only while the store answers.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../../registry/store.js';
import type { Resolver } from '../../../resolver/types.js';

/** What the health face needs, and nothing else. */
export interface HealthDeps {
  store: Pick<Store, 'ping' | 'kind'>;
  resolver: Pick<Resolver, 'stats'>;
}

export default async function healthFace(app: FastifyInstance, d: HealthDeps): Promise<void> {
  // the pid of the process that answered: with WORKERS>1, which worker took the connection
  const pid = String(process.pid);
  app.get('/healthz', async (_req, reply) => reply.header('x-idnode-worker', pid).send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await Promise.race([
        d.store.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('store ping timed out')), 2000).unref()),
      ]);
      return reply.send({ status: 'ready', store: d.store.kind, cache: d.resolver.stats() });
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', store: d.store.kind, error: (err as Error).message });
    }
  });
}
