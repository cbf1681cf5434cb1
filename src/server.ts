// The server apart from the app: the front door before fastify, the app plugin, the native listeners; listening and a
// graceful shutdown.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { performance } from 'node:perf_hooks';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import { RC } from '../handle/codes.js';
import type { HandleId } from '../handle/identifier.js';
import type { Store } from '../registry/store.js';
import { AccessLog, faceOf, rawRequestId, requestId, VIA_APP } from './access-log.js';
import app from './app.js';
import type { Config } from './config.js';
import { FrontDoor } from './edge/front-door.js';
import { LatencySampler } from './faces/ops/latency.js';
import { nativeAdminFor } from './faces/native/admin.js';
import { NativeSessions } from './faces/native/sessions.js';
import { NativeHandler } from './faces/native/handler.js';
import { AnswerSigner } from './faces/native/signer.js';
import { startNative } from './faces/native/listen.js';
import { defaultPerAddress, NATIVE_DEFAULTS, type NativeServer, type NativeStats } from './faces/native/options.js';
import { redactTarget, REDACT_PATHS } from './log-redact.js';
import { memoBytes, openNode, resolvable, type Logger, type Node } from './node.js';
import { StartupError } from './startup.js';
import { parseTrustProxy } from './trust-proxy.js';

/** The bytes each face's request memo may hold: half of what the memos get. */
function faceMemoBytes(config: Config): number {
  return Math.floor(memoBytes(config) / 2);
}

/** TLS_CERT and TLS_KEY read for node:https; null for plain HTTP. A file that cannot be read stops the start (exit 2). */
export function tlsOptions(config: Pick<Config, 'TLS_CERT' | 'TLS_KEY'>): { cert: Buffer; key: Buffer } | null {
  if (config.TLS_CERT === undefined || config.TLS_KEY === undefined) return null;
  const read = (name: 'TLS_CERT' | 'TLS_KEY', path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new StartupError(`${name}=${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): give the path of a PEM file the node's user may read`);
    }
  };
  return { cert: read('TLS_CERT', config.TLS_CERT), key: read('TLS_KEY', config.TLS_KEY) };
}

/** A raw request's id, given to fastify's genReqId when the front door made it first. */
const REQ_ID = Symbol('idnode.reqId');
type Marked = IncomingMessage & { [REQ_ID]?: string; [VIA_APP]?: boolean };

export function buildServer(node: Node, opts: { logger?: boolean; nativeStats?: () => NativeStats | undefined; draining?: () => boolean } = {}): FastifyInstance {
  const config = node.config;
  const answerable = (id: HandleId) => resolvable(node, id);
  let fastify: FastifyInstance | null = null;
  const door = new FrontDoor({
    resolver: node.resolver,
    policy: node.policy,
    isHomed: answerable,
    memoBytes: faceMemoBytes(config),
    onError: (err, url) => fastify?.log.error({ err, url }, 'front door failed'),
  });
  const tls = tlsOptions(config);
  // one trust rule for fastify's request.ip, the front door and the access log (TRUST_PROXY)
  const trust = parseTrustProxy(config.TRUST_PROXY) ?? null;
  let access: AccessLog | null = null;
  // one request in LATENCY_SAMPLE timed for /metrics, whichever answers it (the front door or a route)
  const latency = config.LATENCY_SAMPLE > 0 ? new LatencySampler(config.LATENCY_SAMPLE) : null;
  fastify = Fastify({
    // The front door answers before fastify routes anything (src/edge/front-door.ts); the rest is fastify's.
    serverFactory: (handler) => {
      const onRequest = (req: Marked, res: ServerResponse): void => {
        if (latency !== null) latency.arrived(req, res);
        const log = access;
        if (log === null || !log.enabled) {
          // no access log: only a client's own request id is given back (nothing is made for the hot path)
          const given = rawRequestId(req.rawHeaders);
          if (given !== undefined) res.setHeader('x-request-id', (req[REQ_ID] = requestId(given)));
          if (!door.serve(req, res, handler)) handler(req, res);
          return;
        }
        const started = performance.now();
        const id = (req[REQ_ID] = requestId(rawRequestId(req.rawHeaders)));
        res.setHeader('x-request-id', id);
        if (!door.serve(req, res, handler)) handler(req, res);
        else if (log.take()) log.frontDoor(req, res, started, id);
      };
      const server = tls === null ? createServer(onRequest) : createHttpsServer(tls, onRequest);
      // what fastify gives its own servers: idle keep-alive connections live 72 s (Node's default is 5 s)
      server.keepAliveTimeout = 72_000;
      return server;
    },
    genReqId: (req) => (req as Marked)[REQ_ID] ?? requestId(req.headers['x-request-id']),
    logger:
      opts.logger === false || config.LOG_LEVEL === 'silent'
        ? false
        : {
            level: config.LOG_LEVEL,
            // no credential in any line: headers, password/secret/token fields, and secret query values in URLs
            redact: { paths: REDACT_PATHS, censor: '[redacted]' },
            serializers: { url: (u: unknown) => (typeof u === 'string' ? redactTarget(u) : u) },
          },
    bodyLimit: config.BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (a pino child per request is measurable on the hot path); errors log with the URL.
    childLoggerFactory: (logger) => logger,
    trustProxy: trust ?? false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A path find-my-way cannot decode still gets the face's own error (the routes decode paths themselves).
    frameworkErrors: (err, req, res) => {
      const reply = res as unknown as FastifyReply;
      const api = (req.raw.url ?? '').startsWith('/api/');
      const code = err.code === 'FST_ERR_BAD_URL' ? RC.INVALID_HANDLE : RC.PROTOCOL_ERROR;
      const message = err.code === 'FST_ERR_BAD_URL' ? 'Invalid percent-encoding in URL' : err.message;
      if (api) return void reply.code(400).type('application/json; charset=utf-8').send({ responseCode: code, message });
      return void reply.code(400).type('text/plain; charset=utf-8').send(`${message}\n`);
    },
  });
  const f = fastify;
  const accessLog = new AccessLog(config.ACCESS_LOG, f.log, trust);
  access = accessLog;
  // every routed request: its id back to the client, and its access-log line once answered
  const LOGGED = Symbol('idnode.logged');
  f.addHook('onRequest', (req, reply, done) => {
    (req.raw as Marked)[VIA_APP] = true;
    void reply.header('x-request-id', req.id);
    if (accessLog.take()) (req as unknown as Record<symbol, boolean>)[LOGGED] = true;
    done();
  });
  if (accessLog.enabled) {
    f.addHook('onResponse', (req, reply, done) => {
      if ((req as unknown as Record<symbol, boolean>)[LOGGED] === true) {
        const target = req.raw.url ?? '';
        accessLog.write(req.id, req.method, target, reply.statusCode, reply.elapsedTime, req.ip, faceOf(target));
      }
      done();
    });
  }
  fastify.register(app, { node, nativeStats: opts.nativeStats ?? (() => undefined), latency: latency?.histogram ?? null, draining: opts.draining ?? (() => false) });
  return fastify;
}

export interface RunningServer {
  node: Node;
  server: FastifyInstance;
  url: string;
  /** the native Handle protocol listeners, when on */
  native: NativeServer | null;
  /** stops at once: new connections refused, requests under way answered, then the store closed */
  close(): Promise<void>;
  /** /readyz answers 503 (draining) at once while everything else is served as before for `ms`; then close() */
  drain(ms: number): Promise<void>;
}

export interface ServerOptions {
  logger?: boolean;
  /** native listeners on this port (0 = any free one) whatever NATIVE_PORT says; tests use it */
  nativePort?: number;
  /** false: no native listeners in this process, though NATIVE_PORT is on (a cluster worker beyond NATIVE_WORKERS);
   *  the site still lists NATIVE_PORT, which other workers of the node serve */
  nativeListeners?: boolean;
  /** a store the caller opened, instead of the configured one (closed with the server) */
  store?: Store;
}

/** Opens the node, serves it, and returns a handle to stop both (server first, then caches and store). */
export async function startServer(config: Config, log?: Logger, opts: ServerOptions = {}): Promise<RunningServer> {
  tlsOptions(config); // unreadable TLS files stop the start before anything is opened
  const node = await openNode(config, log, opts.store);
  let native: NativeServer | null = null;
  let draining = false;
  const server = buildServer(node, { ...(opts.logger !== undefined ? { logger: opts.logger } : {}), nativeStats: () => native?.stats(), draining: () => draining });
  try {
    const nativePort = opts.nativePort ?? (config.NATIVE_PORT > 0 ? config.NATIVE_PORT : null);
    if (nativePort !== null && opts.nativeListeners !== false) {
      const handler = new NativeHandler({
        resolver: node.resolver,
        policy: node.policy,
        isHomed: (id) => resolvable(node, id),
        site: () => node.site.info,
        memoBytes: faceMemoBytes(config),
        onError: (err) => server.log.error({ err }, 'native request failed'),
        signer: new AnswerSigner(node.serverKey.privateKey, config.NATIVE_SIGN_RATE),
        admin: nativeAdminFor(node),
        sessions: new NativeSessions(),
      });
      native = await startNative(handler, {
        ...NATIVE_DEFAULTS,
        port: nativePort,
        host: config.HOST,
        maxConnections: config.NATIVE_MAX_CONNECTIONS,
        maxConnectionsPerAddress: config.NATIVE_MAX_CONNECTIONS_PER_ADDRESS ?? defaultPerAddress(config.NATIVE_MAX_CONNECTIONS),
        idleTimeoutMs: config.NATIVE_IDLE_TIMEOUT * 1000,
        messageTimeoutMs: config.NATIVE_MESSAGE_TIMEOUT * 1000,
      });
    }
    await server.listen({ port: config.PORT, host: config.HOST });
    // the site (and every homed prefix record's HS_SITE) lists the ports really listened on
    const a = server.server.address();
    const nativePorts =
      native !== null ? { tcp: native.tcpPort, udp: native.udpPort } : nativePort !== null && nativePort > 0 ? { tcp: nativePort, udp: nativePort } : null;
    node.site.setPorts({ http: typeof a === 'object' && a !== null ? a.port : config.PORT, native: nativePorts });
  } catch (err) {
    await native?.close().catch(() => {});
    await server.close().catch(() => {});
    await node.close();
    throw err;
  }
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      draining = true;
      await native?.close();
      await server.close();
      await node.close();
    })();
    return closing;
  };
  return {
    node,
    server,
    native,
    url: `${config.TLS_CERT !== undefined ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close,
    async drain(ms) {
      draining = true;
      if (ms > 0 && closing === undefined) await new Promise((r) => setTimeout(r, ms));
      return close();
    },
  };
}
