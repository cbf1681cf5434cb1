// One /metrics per node with WORKERS>1: the primary aggregates every worker's registry (prom-client's AggregatorRegistry) and a worker's /metrics asks it over IPC.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * A scrape's round trip: the worker that took it asks the primary (message REQUEST), the primary asks every worker
 * for its registry (prom-client's own messages, answered by the listener installed below), aggregates them and
 * answers the asking worker (ANSWER). Each leg has a deadline, so a worker that is stuck or gone fails the scrape
 * (503) within WORKER_TIMEOUT_MS instead of hanging it.
 */
const REQUEST = 'idnode:metrics-request';
const ANSWER = 'idnode:metrics-answer';
/** How long the primary waits for all workers' registries (prom-client's own deadline is a fixed 5 s, later). */
export const PRIMARY_TIMEOUT_MS = 3000;
/** How long a worker waits for the primary's answer (longer than the primary's wait, whose failure it relays). */
export const WORKER_TIMEOUT_MS = 4000;
/** Set by the primary before it forks: workers of `idnode serve` ask it; another cluster manager's would not answer. */
const VIA_PRIMARY = 'IDNODE_METRICS_VIA_PRIMARY';

interface Request {
  type: typeof REQUEST;
  id: number;
}
interface Answer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

const isMessage = <T extends { type: string }>(m: unknown, type: T['type']): m is T =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;

// A worker answers the primary's requests for its registry from the moment it loads this module (constructing an
// AggregatorRegistry in a worker installs prom-client's listener), so a worker still opening its node answers
// with what it has rather than stalling the node's scrape until the deadline.
if (cluster.isWorker) new AggregatorRegistry();

/** Rejects with `what` after `ms` unless `p` settles first. */
function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * In the cluster primary, before it forks: answers the workers' requests for the node's metrics with every
 * worker's registry aggregated (counters and the cache gauges summed; `idnode_process_info` one sample per worker).
 * Requests arriving while a round is under way share it.
 */
export function serveClusterMetrics(): void {
  process.env[VIA_PRIMARY] = '1';
  const aggregator = new AggregatorRegistry();
  let round: Promise<string> | null = null;
  const gather = () =>
    (round ??= deadline(aggregator.clusterMetrics(), PRIMARY_TIMEOUT_MS, 'not every worker gave its metrics').finally(() => {
      round = null;
    }));
  const answer = (worker: Worker, a: Answer) => {
    // the worker may have gone meanwhile: the error reaches the callback instead of an 'error' event
    if (worker.isConnected()) worker.send(a, undefined, undefined, () => {});
  };
  cluster.on('message', (worker, m: unknown) => {
    if (!isMessage<Request>(m, REQUEST)) return;
    gather().then(
      (text) => answer(worker, { type: ANSWER, id: m.id, text }),
      (err: Error) => answer(worker, { type: ANSWER, id: m.id, error: err.message }),
    );
  });
}

let nextId = 0;
const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

function settle(id: number, text: string | undefined, err: Error | undefined): void {
  const w = waiting.get(id);
  if (w === undefined) return;
  waiting.delete(id);
  clearTimeout(w.timer);
  if (err !== undefined || text === undefined) w.reject(err ?? new Error('the cluster primary answered without metrics'));
  else w.resolve(text);
}

let listening = false;

/** A worker's request for the node's aggregated metrics. */
function askPrimary(): Promise<string> {
  if (!listening) {
    listening = true;
    process.on('message', (m: unknown) => {
      if (isMessage<Answer>(m, ANSWER)) settle(m.id, m.text, m.error === undefined ? undefined : new Error(m.error));
    });
  }
  const id = nextId++;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => settle(id, undefined, new Error(`no metrics from the cluster primary within ${WORKER_TIMEOUT_MS} ms`)), WORKER_TIMEOUT_MS);
    timer.unref();
    waiting.set(id, { resolve, reject, timer });
    const req: Request = { type: REQUEST, id };
    process.send!(req, undefined, undefined, (err: Error | null) => {
      if (err) settle(id, undefined, err);
    });
  });
}

/**
 * What /metrics answers in this process, as a function to call per scrape: in a worker of `idnode serve`, every
 * worker's metrics aggregated by the primary (and `registry` is what this worker gives to it); otherwise
 * `registry`'s own.
 */
export function metricsView(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker || process.env[VIA_PRIMARY] !== '1') return () => registry.metrics();
  AggregatorRegistry.setRegistries(registry);
  return askPrimary;
}
