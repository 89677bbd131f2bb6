import type { FastifyInstance } from 'fastify';
import type { DataPlane } from '../../core/dataplane.js';
import { invalid } from '../../protocol/errors.js';

type Params = { model: string; version?: string };

/** Triton's model repository extension and statistics extension. */
export async function adminRoutes(app: FastifyInstance, opts: { dataplane: DataPlane }): Promise<void> {
  const { dataplane } = opts;

  app.post<{ Body: unknown }>('/v2/repository/index', async (req) => {
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw invalid(`repository index body must be a JSON object`);
    const ready = (body as { ready?: unknown }).ready;
    if (ready !== undefined && typeof ready !== 'boolean') throw invalid(`'ready' must be true or false`);
    return dataplane.repositoryIndex(ready === true);
  });
  app.post<{ Params: Params }>('/v2/repository/models/:model/load', async (req) => {
    await dataplane.loadModel(req.params.model);
    return {};
  });
  app.post<{ Params: Params }>('/v2/repository/models/:model/unload', async (req) => {
    await dataplane.unloadModel(req.params.model);
    return {};
  });

  app.get('/v2/models/stats', async () => ({ model_stats: dataplane.statistics() }));
  app.get<{ Params: Params }>('/v2/models/:model/stats', async (req) => ({ model_stats: dataplane.statistics(req.params.model) }));
  app.get<{ Params: Params }>('/v2/models/:model/versions/:version/stats', async (req) => ({
    model_stats: dataplane.statistics(req.params.model, req.params.version),
  }));
}
