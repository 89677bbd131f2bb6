import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { clip, clipMessage } from '../../protocol/clip.js';
import { HTTP_STATUS, InferError } from '../../protocol/errors.js';
import { type HttpConnectionSettings, lingerAfterAnswer, manageConnections, nodeServerOptions } from './connections.js';
import { clientErrorHandler, frameworkErrors } from './framework-errors.js';

export interface HttpOptions {
  /** Largest request body accepted, bytes; larger ones get 413. */
  bodyLimit: number;
  /** The server's pino logger; inference requests log one line each at debug level. */
  logger: FastifyBaseLogger;
  /** Timeouts and the connection cap (src/api/http/connections.ts). */
  connections: HttpConnectionSettings;
  /** Whether the server is draining (answers then carry Connection: close). */
  draining: () => boolean;
}

/** One HTTP surface (OIP, the registry's MLflow API, Feast's feature server, ...), in its own fastify context. */
export interface HttpPlugin {
  /** Registers the surface's routes. */
  routes(app: FastifyInstance): Promise<void> | void;
  /** Prefix of every route of the surface (`/api/2.0/mlflow`); none for OIP's own paths. */
  prefix?: string;
}

/** The HTTP server: every surface a plugin, errors mapped once here. */
export function buildHttpServer(plugins: HttpPlugin[], opts: HttpOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: opts.bodyLimit,
    loggerInstance: opts.logger,
    // fastify's own two lines per request at info are too chatty for a serving path.
    logController: new LogController({ disableRequestLogging: true }),
    // A pino child logger per request costs more than a small model's inference; the infer
    // log lines carry protocol, model and request id themselves.
    childLoggerFactory: (logger) => logger,
    // Draining and closing answer 503 with our error body (connections.ts), not fastify's.
    return503OnClosing: false,
    // Slow clients: header and whole-request timeouts, keep-alive; answered in our shape.
    http: nodeServerOptions(opts.connections),
    requestTimeout: opts.connections.requestTimeoutSecs * 1000,
    keepAliveTimeout: opts.connections.keepAliveTimeoutSecs * 1000,
    clientErrorHandler: clientErrorHandler(opts.connections),
    frameworkErrors,
    // Model names may be 128 characters (repository.ts); longer segments are refused by name.
    routerOptions: { maxParamLength: 256 },
  });
  manageConnections(app, opts.connections, opts.draining);

  app.setErrorHandler((err: FastifyError | InferError, request, reply) => {
    if (!request.raw.complete) lingerAfterAnswer(request, reply);
    if (err instanceof InferError) {
      if (err.kind === 'internal') request.log.error({ err, url: request.url }, 'request failed');
      return reply.code(HTTP_STATUS[err.kind]).send({ error: clipMessage(err.message) });
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status === 413) {
      return reply.code(413).send({ error: `request body is larger than the server's limit of ${opts.bodyLimit} bytes (raise it with --http-body-limit)` });
    }
    if (status >= 500) request.log.error({ err, url: request.url }, 'request failed');
    return reply.code(status).send({ error: clipMessage(err.message) });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: `no such endpoint: ${request.method} ${clip(request.url.split('?')[0])}` });
  });

  for (const p of plugins) {
    void app.register(async (scope) => p.routes(scope), p.prefix ? { prefix: p.prefix } : {});
  }
  return app;
}
