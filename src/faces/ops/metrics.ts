// GET /metrics: the node's Prometheus metrics, one view over all workers with WORKERS>1 (metrics-registry.ts, metrics-cluster.ts).
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { AUTH, media, NoQuery, TAG } from '../openapi.js';
import { metricsView } from './metrics-cluster.js';
import { nodeRegistry, type MetricsSources } from './metrics-registry.js';

const METRICS = {
  schema: {
    tags: [TAG.ops],
    summary: 'Prometheus metrics of the node (every worker summed)',
    security: AUTH.none,
    querystring: NoQuery,
    response: {
      200: media('Prometheus text exposition format', { 'text/plain': z.string() }),
      503: media('A worker did not answer within 3 s: no partial sum', { 'text/plain': z.string() }),
    },
  },
};

export default async function metricsFace(app: FastifyInstance, d: MetricsSources): Promise<void> {
  const view = metricsView(nodeRegistry(d));
  app.get('/metrics', METRICS, async (_req, reply) => {
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
