// The server apart from the app: builds fastify around the app plugin, listens, and shuts down gracefully.
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import { RC } from '../handle/codes.js';
import { createServer } from 'node:http';
import app from './app.js';
import { HotPath } from './hot.js';
import { NATIVE_DEFAULTS, startNative, type NativeServer } from './native.js';
import type { Config } from './config.js';
import { openNode, type IdNode, type Logger } from './node.js';

export function buildServer(node: IdNode, opts: { logger?: boolean } = {}): FastifyInstance {
  const config = node.config;
  const hot = new HotPath(node);
  const fastify = Fastify({
    // The front door answers cache hits before fastify routes anything (src/hot.ts); the rest is fastify's.
    serverFactory: (handler) => {
      const server = createServer((req, res) => hot.serve(req, res, handler) || handler(req, res));
      // what fastify gives its own servers: idle keep-alive connections live 72 s (Node's default is 5 s)
      server.keepAliveTimeout = 72_000;
      return server;
    },
    logger: opts.logger === false || config.LOG_LEVEL === 'silent' ? false : { level: config.LOG_LEVEL },
    bodyLimit: config.BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (a pino child per request is measurable on the hot path); errors log with the URL.
    childLoggerFactory: (logger) => logger,
    trustProxy: false,
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
  fastify.register(app, { node });
  return fastify;
}

export interface RunningServer {
  node: IdNode;
  server: FastifyInstance;
  url: string;
  /** the native Handle protocol listeners, when on */
  native: NativeServer | null;
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: boolean;
  /** native listeners on this port (0 = any free one) whatever NATIVE_PORT says; tests use it */
  nativePort?: number;
}

/** Opens the node, serves it, and returns a handle to stop both (server first, then caches and store). */
export async function startServer(config: Config, log?: Logger, opts: ServerOptions = {}): Promise<RunningServer> {
  const node = await openNode(config, log);
  const server = buildServer(node, opts);
  let native: NativeServer | null = null;
  try {
    const nativePort = opts.nativePort ?? (config.NATIVE_PORT > 0 ? config.NATIVE_PORT : null);
    if (nativePort !== null) {
      native = await startNative(node, {
        ...NATIVE_DEFAULTS,
        port: nativePort,
        host: config.HOST,
        maxConnections: config.NATIVE_MAX_CONNECTIONS,
        idleTimeoutMs: config.NATIVE_IDLE_TIMEOUT * 1000,
      });
      node.nativeStats = native.stats;
    }
    await server.listen({ port: config.PORT, host: config.HOST });
    // the site (and every homed prefix record's HS_SITE) lists the ports really listened on
    const a = server.server.address();
    const nativePorts = native === null ? null : { tcp: native.tcpPort, udp: native.udpPort };
    node.setListeners({ http: typeof a === 'object' && a !== null ? a.port : config.PORT, native: nativePorts });
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
  return {
    node,
    server,
    native,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close() {
      closing ??= (async () => {
        await native?.close();
        await server.close();
        await node.close();
      })();
      return closing;
    },
  };
}
