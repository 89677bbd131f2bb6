import type { FastifyInstance } from 'fastify';
import type { DataPlane } from '../../core/dataplane.js';

type Params = { model: string; version?: string };

/** Server and model liveness/readiness: 200 when true, 400 otherwise (as Triton). */
export async function healthRoutes(app: FastifyInstance, opts: { dataplane: DataPlane }): Promise<void> {
  const { dataplane } = opts;
  app.get('/v2/health/live', async (_req, reply) => {
    const live = dataplane.live();
    return reply.code(live ? 200 : 400).send({ live });
  });
  app.get('/v2/health/ready', async (_req, reply) => {
    const ready = dataplane.ready();
    return reply.code(ready ? 200 : 400).send({ ready });
  });
  const modelReady = async (req: { params: Params }, reply: import('fastify').FastifyReply) => {
    const { model, version } = req.params;
    const ready = dataplane.modelReady(model, version);
    return reply.code(ready ? 200 : 400).send({ name: model, ...(version ? { version } : {}), ready });
  };
  app.get<{ Params: Params }>('/v2/models/:model/ready', modelReady);
  app.get<{ Params: Params }>('/v2/models/:model/versions/:version/ready', modelReady);
}
