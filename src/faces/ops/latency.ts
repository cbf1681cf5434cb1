// Sampled HTTP latency: one request in N timed from its arrival to the last byte of its answer (front door and routes alike), into the `idnode_http_request_duration_seconds` histogram by face.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Histogram } from 'prom-client';
import { faceOf } from '../../access-log.js';

/** 100 µs (a front-door answer from the cache) … 5 s (a slow batch), in 1–2.5–5 steps. */
export const LATENCY_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const LATENCY_METRIC = 'idnode_http_request_duration_seconds';

/**
 * Times one request in `every` (LATENCY_SAMPLE). `arrived` is called for every request before anything answers it:
 * an unsampled request costs one increment and one comparison — no clock read, closure or listener; a sampled one
 * reads the clock and listens for its response's `finish`. The histogram is registered with the node's other metrics
 * (metrics-registry.ts), so with WORKERS>1 the primary sums the workers' buckets like every other counter.
 */
export class LatencySampler {
  readonly histogram: Histogram<'face'>;
  private seen = 0;

  constructor(private readonly every: number) {
    if (!Number.isInteger(every) || every < 1) throw new Error(`LatencySampler: every must be a whole number ≥ 1, not ${every}`);
    this.histogram = new Histogram({
      name: LATENCY_METRIC,
      help: `HTTP requests from arrival to the last byte of the answer, by face; one request in ${every} is timed (LATENCY_SAMPLE).`,
      labelNames: ['face'],
      buckets: [...LATENCY_BUCKETS],
      registers: [],
    });
  }

  arrived(req: IncomingMessage, res: ServerResponse): void {
    if (++this.seen < this.every) return;
    this.seen = 0;
    const started = performance.now();
    // a request whose connection dies before the answer is complete never finishes: it is not timed
    res.once('finish', () => this.histogram.observe({ face: faceOf(req.url ?? '') }, (performance.now() - started) / 1000));
  }
}
