// Liveness and readiness: /healthz answers while the process runs (naming it in x-idnode-worker), /readyz only while the store answers.
import type { FastifyInstance } from 'fastify';
import type { IdNode } from '../node.js';

export default async function healthRoutes(app: FastifyInstance, opts: { node: IdNode }): Promise<void> {
  const node = opts.node;
  // the pid of the process that answered: with WORKERS>1, which worker took the connection
  const pid = String(process.pid);
  app.get('/healthz', async (_req, reply) => reply.header('x-idnode-worker', pid).send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await Promise.race([
        node.store.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('store ping timed out')), 2000).unref()),
      ]);
      return reply.send({ status: 'ready', store: node.store.kind, cache: node.resolver.stats() });
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', store: node.store.kind, error: (err as Error).message });
    }
  });
}
