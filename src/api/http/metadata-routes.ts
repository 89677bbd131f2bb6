import type { FastifyInstance } from 'fastify';
import type { DataPlane } from '../../core/dataplane.js';

type Params = { model: string; version?: string };

/** Server metadata (GET /v2), model metadata and model configuration. */
export async function metadataRoutes(app: FastifyInstance, opts: { dataplane: DataPlane }): Promise<void> {
  const { dataplane } = opts;
  app.get('/v2', async () => dataplane.serverMetadata());
  app.get<{ Params: Params }>('/v2/models/:model', async (req) => dataplane.modelMetadata(req.params.model));
  app.get<{ Params: Params }>('/v2/models/:model/versions/:version', async (req) =>
    dataplane.modelMetadata(req.params.model, req.params.version),
  );
  // Triton's model configuration extension.
  app.get<{ Params: Params }>('/v2/models/:model/config', async (req) => dataplane.modelConfig(req.params.model));
  app.get<{ Params: Params }>('/v2/models/:model/versions/:version/config', async (req) =>
    dataplane.modelConfig(req.params.model, req.params.version),
  );
}
