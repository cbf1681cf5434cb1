// The metrics of this process as a prom-client registry: the node's metrics defined once, read at scrape time from the stats the node keeps.
import type { ReplicaStats } from '../../../registry/replicas.js';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Aggregator, type Histogram } from 'prom-client';
import type { ResolverStats } from '../../../resolver/types.js';
import type { NativeStats } from '../native/options.js';

/** What the metrics read at scrape time. */
export interface MetricsSources {
  stats(): ResolverStats;
  /** the native face's counters, once it runs */
  nativeStats(): NativeStats | undefined;
  /** the read replicas' counters (DATABASE_REPLICA_URLS), when there are any */
  replicaStats?: () => ReplicaStats | undefined;
  /** the sampled HTTP request-latency histogram (latency.ts), when LATENCY_SAMPLE is not 0 */
  latency?: Histogram<'face'> | null;
}

/** One metric's samples at scrape time: label values (none for an unlabelled metric) and the value. */
type Samples = [Record<string, string>, number][];

interface Definition {
  name: string;
  help: string;
  labelNames?: string[];
  /**
   * How the cluster primary combines the workers' values (prom-client's aggregators): counters and the cache's
   * gauges sum to the node's figure; a gauge labelled per process keeps one sample per worker.
   */
  aggregator?: Aggregator;
  read: () => Samples;
}

/** A counter whose value is the count the node already keeps (it is never incremented here). */
function counter(registry: Registry, d: Definition): void {
  new Counter({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames ?? [],
    aggregator: d.aggregator ?? 'sum',
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of d.read()) this.inc(labels, v);
    },
  });
}

function gauge(registry: Registry, d: Definition): void {
  new Gauge({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames ?? [],
    aggregator: d.aggregator ?? 'sum',
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of d.read()) this.set(labels, v);
    },
  });
}

const one = (v: number): Samples => [[{}, v]];

let processMetrics: Registry | undefined;

/**
 * This process's own metrics, registered once per process however many nodes it opens (tests open several):
 * prom-client's default process metrics (CPU, resident memory, heap, handles, event-loop lag, GC) plus the
 * `nodejs_heap_used_bytes` and `idnode_process_info` the node has always given.
 */
function processRegistry(): Registry {
  if (processMetrics !== undefined) return processMetrics;
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  gauge(r, { name: 'nodejs_heap_used_bytes', help: 'V8 heap in use.', read: () => one(process.memoryUsage().heapUsed) });
  gauge(r, {
    name: 'idnode_process_info',
    help: 'The processes this view counts (one per worker with WORKERS>1).',
    labelNames: ['pid'],
    read: () => [[{ pid: String(process.pid) }, 1]],
  });
  processMetrics = r;
  return r;
}

/** The registry /metrics gives for `node` in this process: the node's metrics, then the process's. */
export function nodeRegistry(src: MetricsSources): Registry {
  const r = new Registry();
  const stats = () => src.stats();
  counter(r, {
    name: 'idnode_resolutions_total',
    help: 'Resolutions answered, by the tier that answered.',
    labelNames: ['tier'],
    read: () => {
      const s = stats();
      return [
        [{ tier: 'memory' }, s.hits],
        [{ tier: 'redis' }, s.redisHits],
        [{ tier: 'store' }, s.storeReads],
        [{ tier: 'remote' }, s.remoteLookups - s.remoteFailures],
      ];
    },
  });
  counter(r, { name: 'idnode_recursion_failures_total', help: 'Resolutions at other nodes (recursion) that failed: no answer in time, no reachable server, a referral loop.', read: () => one(stats().remoteFailures) });
  counter(r, { name: 'idnode_recursion_exchanges_total', help: 'Requests this node sent to other servers while resolving recursively.', read: () => one(stats().remoteExchanges) });
  counter(r, { name: 'idnode_cache_misses_total', help: 'Resolutions the in-process cache could not answer.', read: () => one(stats().misses) });
  counter(r, { name: 'idnode_cache_negative_hits_total', help: 'In-process cache hits on "not found" entries.', read: () => one(stats().negativeHits) });
  counter(r, { name: 'idnode_cache_stale_served_total', help: 'Expired entries served because the store failed.', read: () => one(stats().staleServed) });
  counter(r, { name: 'idnode_cache_evictions_total', help: 'Entries evicted to stay within CACHE_MAX_BYTES.', read: () => one(stats().evictions) });
  counter(r, { name: 'idnode_cache_prefetches_total', help: 'Entries refreshed from the store shortly before they expired.', read: () => one(stats().prefetches) });
  counter(r, { name: 'idnode_redis_misses_total', help: 'Shared-cache misses.', read: () => one(stats().redisMisses) });
  counter(r, { name: 'idnode_redis_errors_total', help: 'Shared-cache commands that failed or timed out.', read: () => one(stats().redisErrors) });
  counter(r, {
    name: 'idnode_cache_epoch_changes_total',
    help: 'Times the cache epoch moved on (an invalidation that could not be confirmed, or another Redis server): every cache entry held went stale.',
    read: () => one(stats().epochChanges),
  });
  const replicas = () => src.replicaStats?.();
  counter(r, {
    name: 'idnode_replica_reads_total',
    help: 'Store reads of resolution (keys): from a read replica, or from the primary because no replica had replayed the key\'s last write (or none answered).',
    labelNames: ['source'],
    read: () => {
      const x = replicas();
      return [
        [{ source: 'replica' }, x?.replicaKeys ?? 0],
        [{ source: 'primary' }, x?.lagKeys ?? 0],
      ];
    },
  });
  counter(r, { name: 'idnode_replica_errors_total', help: 'Read-replica queries that failed (their keys were read from the primary).', read: () => one(replicas()?.replicaErrors ?? 0) });
  // per worker each; summed they are the node's cache and its budget (so bytes / max stays the fill)
  gauge(r, { name: 'idnode_cache_entries', help: 'Entries in the in-process cache.', read: () => one(stats().entries) });
  gauge(r, { name: 'idnode_cache_bytes', help: 'Estimated bytes held by the in-process cache.', read: () => one(stats().bytes) });
  gauge(r, { name: 'idnode_cache_max_bytes', help: "The in-process cache's budget: CACHE_MAX_BYTES less the faces' request memos' share (1/4), per process, summed over the workers.", read: () => one(stats().maxBytes) });
  // the native face starts after the routes are registered; until then (or without it) its counters read 0
  const native = () => src.nativeStats();
  counter(r, {
    name: 'idnode_native_requests_total',
    help: 'Native Handle protocol requests, by transport.',
    labelNames: ['transport'],
    read: () => {
      const n = native();
      return [
        [{ transport: 'tcp' }, n?.tcpRequests ?? 0],
        [{ transport: 'udp' }, n?.udpRequests ?? 0],
      ];
    },
  });
  counter(r, { name: 'idnode_native_connections_total', help: 'Native TCP connections accepted.', read: () => one(native()?.tcpConnections ?? 0) });
  counter(r, {
    name: 'idnode_native_dropped_total',
    help: 'Native datagrams dropped (undecodable, oversized, or over the in-flight bound).',
    read: () => one(native()?.dropped ?? 0),
  });
  counter(r, {
    name: 'idnode_native_refused_per_address_total',
    help: 'Native TCP connections closed at accept: their address had NATIVE_MAX_CONNECTIONS_PER_ADDRESS open.',
    read: () => one(native()?.refusedPerAddress ?? 0),
  });
  counter(r, {
    name: 'idnode_native_message_timeouts_total',
    help: 'Native TCP connections closed: a request did not arrive whole within NATIVE_MESSAGE_TIMEOUT of its first byte.',
    read: () => one(native()?.messageTimeouts ?? 0),
  });
  counter(r, { name: 'idnode_native_errors_total', help: 'Native protocol errors answered and socket errors.', read: () => one(native()?.errors ?? 0) });
  // observed as requests are answered (a sample of them); its buckets sum over the workers
  if (src.latency) r.registerMetric(src.latency);
  return Registry.merge([r, processRegistry()]);
}
