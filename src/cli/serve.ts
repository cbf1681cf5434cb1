// `idnode serve`: runs the node in this process, or as the cluster primary that forks the workers; stops gracefully on SIGINT/SIGTERM.
import { serveClusterMetrics } from '../faces/ops/metrics-cluster.js';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { workerCount, type Config } from '../config.js';
import { prepareSharedServerKey } from '../server-key.js';
import { startServer } from '../server.js';
import { StartupError, startupWarnings } from '../startup.js';
import { parseCommandArgs, type Command } from './args.js';
import { stderrLog } from './log.js';

const USAGE = 'usage: idnode serve';

export const serveCommand: Command = (args) => {
  parseCommandArgs(args, {}, false, USAGE);
  return async (config) => {
    try {
      await serve(config);
    } catch (err) {
      // the configuration cannot work (the message says what to check): exit 2, as for a bad setting
      if (!(err instanceof StartupError)) throw err;
      stderrLog.error(`idnode: ${err.message}`);
      return 2;
    }
    return -1; // keep running
  };
};

/** The environment variable by which the primary tells a worker its slot (not a setting: only fork sets it). */
const WORKER_SLOT = 'IDNODE_WORKER_SLOT';

/** Worker logs: warnings and errors only (the primary says what is being served). */
const quietInfo = { ...stderrLog, info: () => {} };

/** Calls stop once per SIGINT or SIGTERM with the signal's name. */
function onStopSignals(stop: (signal: string) => void): void {
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function serve(config: Config): Promise<void> {
  const workers = workerCount(config, availableParallelism());
  if (cluster.isPrimary) for (const w of startupWarnings(config)) stderrLog.warn(`warning: ${w}`);
  if (workers > 1 && cluster.isPrimary) {
    // the workers share one server key (they read the same file): made, or a bad one refused, before they start
    const key = await prepareSharedServerKey(config);
    if (key.warning !== null) stderrLog.warn(`warning: ${key.warning}`);
    if (key.created) stderrLog.info(`created the server key ${key.path} (mode 0600): back it up; clients verify certified answers with its public key`);
    return servePrimary(config, workers);
  }
  // a worker's slot (0 … WORKERS-1, kept by its replacement) is handed over by the primary at fork; the first
  // NATIVE_WORKERS slots serve the native face
  const slot = cluster.isWorker ? Number(process.env[WORKER_SLOT] ?? '0') : 0;
  const running = await startServer(config, cluster.isWorker ? quietInfo : stderrLog, { nativeListeners: slot < config.NATIVE_WORKERS });
  const where = running.node.store.kind === 'pglite' ? `embedded PGlite in ${config.DATA_DIR}` : 'PostgreSQL';
  if (cluster.isWorker) process.send?.({ listening: running.url, where, native: running.native?.tcpPort });
  else stderrLog.info(`idnode ${running.node.registry.nodePrefix} serving on ${running.url} (${where}${config.REDIS_URL ? ' + Redis' : ''})`);
  if (running.native !== null && !cluster.isWorker) stderrLog.info(`native Handle protocol on tcp/udp port ${running.native.tcpPort}`);
  let stopping = false;
  onStopSignals((signal) => {
    if (stopping) return;
    stopping = true;
    // SIGTERM (a service manager, a rolling restart) drains: /readyz turns 503 and the node serves on for
    // DRAIN_SECONDS, so a balancer's health check takes it out first; SIGINT (a terminal) stops at once
    const drainMs = drainMsFor(signal, config);
    if (!cluster.isWorker) stderrLog.info(`${signal}: ${drainMs > 0 ? `draining for ${config.DRAIN_SECONDS} s, then ` : ''}shutting down`);
    const force = setTimeout(() => process.exit(1), drainMs + 10_000);
    force.unref();
    running.drain(drainMs).then(
      () => process.exit(0),
      (err) => {
        stderrLog.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  });
}

/**
 * How long a stop signal leaves the node serving with /readyz at 503: SIGTERM (a service manager, a rolling restart)
 * drains for DRAIN_SECONDS, so a balancer's health check takes it out first; SIGINT (a terminal) stops at once.
 */
function drainMsFor(signal: string, config: Config): number {
  return signal === 'SIGTERM' ? config.DRAIN_SECONDS * 1000 : 0;
}

/**
 * The cluster primary: forks the workers (they share the listening socket), restarts one that dies, and on
 * SIGINT/SIGTERM stops them all gracefully. Workers keep their caches in step through Redis, like separate hosts.
 */
function servePrimary(config: Config, workers: number): Promise<void> {
  serveClusterMetrics(); // before forking: the workers' /metrics ask the primary for all workers' metrics
  // The workers accept connections themselves from the shared listening sockets, instead of the primary accepting
  // each and handing it over by IPC (node's round-robin default): with a new TCP connection per request — how CNRI's
  // client library resolves — the handover cost 2 workers more than one process did (bench native-tcp-new, WORKERS=2:
  // 4.8 k req/s at 258 µs of server CPU each, against 7.1 k at 134 µs for one process; shared accept: 8.8 k at 107 µs).
  // NODE_CLUSTER_SCHED_POLICY=rr, node's own setting, keeps the handover.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  let announced = false;
  let announcedNative = false;
  /** the slot of each running worker, by cluster id: a worker that dies is replaced in its slot */
  const slots = new Map<number, number>();
  const fork = (slot: number) => {
    const w = cluster.fork({ [WORKER_SLOT]: String(slot) });
    slots.set(w.id, slot);
    w.on('message', (m: { listening?: string; where?: string; native?: number }) => {
      if (m.listening !== undefined && !announced) {
        announced = true;
        stderrLog.info(`idnode ${config.NODE_PREFIX} serving on ${m.listening} (${m.where} + Redis, ${workers} workers)`);
      }
      if (m.native !== undefined && !announcedNative) {
        announcedNative = true;
        const n = Math.min(config.NATIVE_WORKERS, workers);
        stderrLog.info(`native Handle protocol on tcp/udp port ${m.native} (${n === 1 ? 'one worker' : `${n} workers`})`);
      }
    });
  };
  for (let i = 0; i < workers; i++) fork(i);
  cluster.on('exit', (w, code, signal) => {
    const slot = slots.get(w.id) ?? 0;
    slots.delete(w.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    stderrLog.warn(`worker ${w.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(() => fork(slot), 1000).unref();
  });
  onStopSignals((signal) => {
    if (stopping) return;
    stopping = true;
    const drainMs = drainMsFor(signal, config);
    stderrLog.info(`${signal}: ${drainMs > 0 ? `draining for ${config.DRAIN_SECONDS} s, then ` : ''}shutting down ${workers} workers`);
    // each worker gets the same signal, so drains as one process would
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal as NodeJS.Signals);
    setTimeout(() => process.exit(1), drainMs + 12_000).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  return Promise.resolve();
}
