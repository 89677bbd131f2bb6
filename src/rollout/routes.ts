import type { FastifyError, FastifyInstance } from 'fastify';
import { RegistryError, invalidParam } from '../registry/errors.js';
import { userFrom } from '../registry/validate.js';
import type { RolloutController } from './controller.js';
import { specJson } from './spec.js';
import type { Rollout } from './types.js';

export const ROLLOUTS_PREFIX = '/api/2.0/infergate/rollouts';
const BODY_LIMIT = 64 * 1024;
const ID = /^r[0-9a-f]{8}$/;

/** A rollout as the API shows it (snake_case, the spec in its wire form). */
export function rolloutJson(r: Rollout): Record<string, unknown> {
  return {
    id: r.id,
    model: r.spec.model,
    phase: r.phase,
    step_index: r.stepIndex,
    weight: r.weight,
    failures: r.failures,
    baseline_version: r.baselineVersion,
    candidate_version: r.candidateVersion,
    promote_alias: r.promoteAlias,
    ...(r.reason ? { reason: r.reason } : {}),
    spec: specJson(r.spec),
    runs: r.runs,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

/**
 * REST for rollouts under /api/2.0/infergate/rollouts: POST / (create, the spec as body),
 * GET / (list, ?model=), GET /:id, POST /:id/pause|resume|promote|abort.
 * Errors as the registry's: `{error_code, message}` with its status.
 */
export function rolloutRoutes(app: FastifyInstance, ctl: RolloutController): void {
  app.setErrorHandler((err: FastifyError | RegistryError, req, reply) => {
    if (err instanceof RegistryError) return reply.code(err.httpStatus).send({ error_code: err.code, message: err.message });
    const status = (err as FastifyError).statusCode ?? 500;
    if (status === 413) return reply.code(413).send({ error_code: 'INVALID_PARAMETER_VALUE', message: `rollout request body is larger than ${BODY_LIMIT} bytes` });
    if (status < 500) return reply.code(status).send({ error_code: 'BAD_REQUEST', message: err.message });
    req.log.error({ err, url: req.url }, 'rollout request failed');
    return reply.code(500).send({ error_code: 'INTERNAL_ERROR', message: err.message });
  });
  const who = (h: string | string[] | undefined) => userFrom(h);
  const id = (p: unknown) => {
    const v = (p as { id?: string }).id ?? '';
    if (!ID.test(v)) throw invalidParam(`'${v}' is not a rollout id (r followed by 8 hex digits)`);
    return v;
  };
  const limit = { bodyLimit: BODY_LIMIT };

  app.post('/', limit, async (req) => ({ rollout: rolloutJson(await ctl.create(who(req.headers['x-infergate-user']), req.body)) }));
  app.get('/', async (req) => {
    const model = (req.query as { model?: unknown }).model;
    if (model !== undefined && (typeof model !== 'string' || model.length > 256)) throw invalidParam("'model' must be one model name");
    return { rollouts: (await ctl.list(model)).map(rolloutJson) };
  });
  app.get('/:id', async (req) => {
    const rid = id(req.params);
    const r = await ctl.get(rid);
    const driver = await ctl.store.driver(rid, Date.now());
    return { rollout: { ...rolloutJson(r), ...(driver ? { driver } : {}) } };
  });
  for (const action of ['pause', 'resume', 'promote', 'abort'] as const) {
    app.post(`/:id/${action}`, limit, async (req) => {
      const user = who(req.headers['x-infergate-user']);
      const rid = id(req.params);
      const reason = (req.body as { reason?: unknown } | undefined)?.reason;
      if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1000)) throw invalidParam("'reason' must be a string of at most 1000 characters");
      const r = action === 'abort' ? await ctl.abort(user, rid, reason) : await ctl[action](user, rid);
      return { rollout: rolloutJson(r) };
    });
  }
}
