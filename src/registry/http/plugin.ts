import type { FastifyError, FastifyInstance } from 'fastify';
import { RegistryError } from '../errors.js';
import type { Registry } from '../registry.js';
import { infergateRoutes } from './infergate-routes.js';
import { mlflowRoutes } from './mlflow-routes.js';

export interface RegistryRoutesOptions {
  registry: Registry;
  /** Largest request body for registry calls (default 1 MiB: sources are paths, not uploads). */
  bodyLimit?: number;
}

/** Sends errors as MLflow's server does: `{"error_code", "message"}` with its HTTP status. */
function mlflowErrors(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError | RegistryError, req, reply) => {
    if (err instanceof RegistryError) return reply.code(err.httpStatus).send({ error_code: err.code, message: err.message });
    const status = (err as FastifyError).statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(400).send({ error_code: 'INVALID_PARAMETER_VALUE', message: "Bad Request. Content-Type must be one of ['application/json']" });
    }
    if (status === 413) return reply.code(413).send({ error_code: 'INVALID_PARAMETER_VALUE', message: `request body is larger than the registry's limit of ${bodyLimit} bytes` });
    if (status < 500) return reply.code(status).send({ error_code: 'BAD_REQUEST', message: err.message });
    req.log.error({ err, url: req.url }, 'registry request failed');
    return reply.code(500).send({ error_code: 'INTERNAL_ERROR', message: err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error_code: 'ENDPOINT_NOT_FOUND', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` });
  });
  // JSON bodies as MLflow's server reads them: an empty body is {}, a malformed one is refused.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(new RegistryError('INVALID_PARAMETER_VALUE', `Malformed JSON request body: ${(e as Error).message}`), undefined);
    }
  });
}

/**
 * The registry's HTTP API as one fastify plugin: MLflow's REST API under /api/2.0/mlflow and
 * infergate's (audit, approvals, cards, serving view) under /api/2.0/infergate.
 * Register it with `app.register(registryRoutes, { registry })` before the server listens.
 */
export async function registryRoutes(app: FastifyInstance, opts: RegistryRoutesOptions): Promise<void> {
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  for (const [prefix, routes] of [
    ['/api/2.0/mlflow', mlflowRoutes],
    ['/api/2.0/infergate', infergateRoutes],
  ] as const) {
    await app.register(
      async (scope) => {
        mlflowErrors(scope, bodyLimit);
        await routes(scope, { registry: opts.registry, bodyLimit });
      },
      { prefix },
    );
  }
}
