// GET /metrics: the node's Prometheus metrics, one view over all workers with WORKERS>1 (src/metrics.ts, src/metrics-cluster.ts).
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { metricsView } from '../metrics-cluster.js';
import { nodeRegistry } from '../metrics.js';
import type { IdNode } from '../node.js';

export default async function metricsRoutes(app: FastifyInstance, opts: { node: IdNode }): Promise<void> {
  const view = metricsView(nodeRegistry(opts.node));
  app.get('/metrics', async (_req, reply) => {
    let text: string;
    try {
      text = await view();
    } catch (err) {
      // a partial view would make the summed counters drop: no answer rather than a wrong one
      app.log.warn({ err: (err as Error).message }, 'metrics unavailable');
      return reply.code(503).type('text/plain; charset=utf-8').send(`metrics unavailable: ${(err as Error).message}\n`);
    }
    return reply.type(Registry.PROMETHEUS_CONTENT_TYPE).send(text);
  });
}
