import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from '../registry.js';
import { userFrom } from '../validate.js';
import { type Input, bool, int, readInput, str, strList, tags } from './params.js';
import { modelJson, versionJson } from './wire.js';

type Handler = (input: Input, who: () => string, req: FastifyRequest) => Promise<unknown>;

/**
 * MLflow's model registry REST API (ModelRegistryService in mlflow/protos/model_registry.proto),
 * mounted under /api/2.0/mlflow: the paths, verbs, fields and answers MLflow's client uses.
 */
export async function mlflowRoutes(app: FastifyInstance, opts: { registry: Registry; bodyLimit: number }): Promise<void> {
  const { store } = opts.registry;
  const reg = opts.registry;
  const route = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, handler: Handler) =>
    app.route({
      method,
      url: path,
      bodyLimit: opts.bodyLimit,
      handler: async (req) => handler(readInput(req), () => userFrom(req.headers['x-infergate-user']), req),
    });

  // Registered models
  route('POST', '/registered-models/create', async (i, who) => ({
    registered_model: modelJson(await store.createModel(who(), str(i, 'name', true), str(i, 'description'), tags(i))),
  }));
  route('GET', '/registered-models/get', async (i) => ({ registered_model: modelJson(await store.getModel(str(i, 'name', true))) }));
  route('POST', '/registered-models/rename', async (i, who) => ({
    registered_model: modelJson(await store.renameModel(who(), str(i, 'name', true), str(i, 'new_name', true))),
  }));
  route('PATCH', '/registered-models/update', async (i, who) => ({
    registered_model: modelJson(await store.updateModel(who(), str(i, 'name', true), str(i, 'description'))),
  }));
  route('DELETE', '/registered-models/delete', async (i, who) => {
    await store.deleteModel(who(), str(i, 'name', true));
    return {};
  });
  route('GET', '/registered-models/search', async (i) => {
    const page = await store.searchModels({ filter: str(i, 'filter'), maxResults: int(i, 'max_results'), orderBy: strList(i, 'order_by'), pageToken: str(i, 'page_token') });
    const out: Record<string, unknown> = {};
    if (page.items.length) out.registered_models = page.items.map(modelJson);
    if (page.nextPageToken) out.next_page_token = page.nextPageToken;
    return out;
  });
  const latest: Handler = async (i) => {
    const versions = await store.getLatestVersions(str(i, 'name', true), strList(i, 'stages'));
    return versions.length ? { model_versions: versions.map(versionJson) } : {};
  };
  route('POST', '/registered-models/get-latest-versions', latest);
  route('GET', '/registered-models/get-latest-versions', latest);
  route('POST', '/registered-models/set-tag', async (i, who) => {
    await store.setModelTag(who(), str(i, 'name', true), { key: str(i, 'key', true), value: str(i, 'value') ?? '' });
    return {};
  });
  route('DELETE', '/registered-models/delete-tag', async (i, who) => {
    await store.deleteModelTag(who(), str(i, 'name', true), str(i, 'key', true));
    return {};
  });
  route('POST', '/registered-models/alias', async (i, who) => {
    await store.setAlias(who(), str(i, 'name', true), str(i, 'alias', true), str(i, 'version', true));
    return {};
  });
  route('DELETE', '/registered-models/alias', async (i, who) => {
    await store.deleteAlias(who(), str(i, 'name', true), str(i, 'alias', true));
    return {};
  });
  route('GET', '/registered-models/alias', async (i) => ({ model_version: versionJson(await store.getVersionByAlias(str(i, 'name', true), str(i, 'alias', true))) }));

  // Model versions
  route('POST', '/model-versions/create', async (i, who) => ({
    model_version: versionJson(
      await reg.createVersion(who(), {
        name: str(i, 'name', true),
        source: str(i, 'source', true),
        runId: str(i, 'run_id') || undefined,
        runLink: str(i, 'run_link') || undefined,
        description: str(i, 'description'),
        tags: tags(i),
      }),
    ),
  }));
  route('GET', '/model-versions/get', async (i) => ({ model_version: versionJson(await store.getVersion(str(i, 'name', true), str(i, 'version', true))) }));
  route('PATCH', '/model-versions/update', async (i, who) => ({
    model_version: versionJson(await store.updateVersion(who(), str(i, 'name', true), str(i, 'version', true), str(i, 'description'))),
  }));
  route('DELETE', '/model-versions/delete', async (i, who) => {
    await store.deleteVersion(who(), str(i, 'name', true), str(i, 'version', true));
    return {};
  });
  route('POST', '/model-versions/transition-stage', async (i, who) => ({
    model_version: versionJson(await store.transitionStage(who(), str(i, 'name', true), str(i, 'version', true), str(i, 'stage', true), bool(i, 'archive_existing_versions') ?? false)),
  }));
  route('GET', '/model-versions/search', async (i) => {
    const page = await store.searchVersions({ filter: str(i, 'filter'), maxResults: int(i, 'max_results'), orderBy: strList(i, 'order_by'), pageToken: str(i, 'page_token') });
    const out: Record<string, unknown> = {};
    if (page.items.length) out.model_versions = page.items.map(versionJson);
    if (page.nextPageToken) out.next_page_token = page.nextPageToken;
    return out;
  });
  route('GET', '/model-versions/get-download-uri', async (i) => ({ artifact_uri: await reg.downloadUri(str(i, 'name', true), str(i, 'version', true)) }));
  route('POST', '/model-versions/set-tag', async (i, who) => {
    await store.setVersionTag(who(), str(i, 'name', true), str(i, 'version', true), { key: str(i, 'key', true), value: str(i, 'value') ?? '' });
    return {};
  });
  route('DELETE', '/model-versions/delete-tag', async (i, who) => {
    await store.deleteVersionTag(who(), str(i, 'name', true), str(i, 'version', true), str(i, 'key', true));
    return {};
  });
}
