// Prometheus metrics: resolution counts per cache tier, cache size, process memory (this process or worker).
import type { FastifyInstance } from 'fastify';
import type { IdNode } from '../node.js';

export default async function metricsRoutes(app: FastifyInstance, opts: { node: IdNode }): Promise<void> {
  const node = opts.node;
  app.get('/metrics', async (_req, reply) => {
    const s = node.resolver.stats();
    const mem = process.memoryUsage();
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    metric('idnode_resolutions_total', 'counter', 'Resolutions answered, by the tier that answered.', [
      ['{tier="memory"}', s.hits],
      ['{tier="redis"}', s.redisHits],
      ['{tier="store"}', s.storeReads],
    ]);
    metric('idnode_cache_misses_total', 'counter', 'Resolutions the in-process cache could not answer.', [['', s.misses]]);
    metric('idnode_cache_negative_hits_total', 'counter', 'In-process cache hits on "not found" entries.', [['', s.negativeHits]]);
    metric('idnode_cache_stale_served_total', 'counter', 'Expired entries served because the store failed.', [['', s.staleServed]]);
    metric('idnode_cache_evictions_total', 'counter', 'Entries evicted to stay within CACHE_MAX_BYTES.', [['', s.evictions]]);
    metric('idnode_cache_prefetches_total', 'counter', 'Entries refreshed from the store shortly before they expired.', [['', s.prefetches]]);
    metric('idnode_redis_misses_total', 'counter', 'Shared-cache misses.', [['', s.redisMisses]]);
    metric('idnode_redis_errors_total', 'counter', 'Shared-cache commands that failed or timed out.', [['', s.redisErrors]]);
    metric('idnode_cache_entries', 'gauge', 'Entries in the in-process cache.', [['', s.entries]]);
    metric('idnode_cache_bytes', 'gauge', 'Estimated bytes held by the in-process cache.', [['', s.bytes]]);
    metric('idnode_cache_max_bytes', 'gauge', 'The in-process cache budget (CACHE_MAX_BYTES).', [['', s.maxBytes]]);
    const n = node.nativeStats?.();
    if (n !== undefined) {
      metric('idnode_native_requests_total', 'counter', 'Native Handle protocol requests, by transport.', [
        ['{transport="tcp"}', n.tcpRequests],
        ['{transport="udp"}', n.udpRequests],
      ]);
      metric('idnode_native_connections_total', 'counter', 'Native TCP connections accepted.', [['', n.tcpConnections]]);
      metric('idnode_native_dropped_total', 'counter', 'Native datagrams dropped (undecodable, oversized, or over the in-flight bound).', [['', n.dropped]]);
      metric('idnode_native_errors_total', 'counter', 'Native protocol errors answered and socket errors.', [['', n.errors]]);
    }
    metric('process_resident_memory_bytes', 'gauge', 'Resident set size.', [['', mem.rss]]);
    metric('idnode_process_info', 'gauge', 'The process answering (one per worker with WORKERS>1).', [[`{pid="${process.pid}"}`, 1]]);
    metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.', [['', mem.heapUsed]]);
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(`${lines.join('\n')}\n`);
  });
}
