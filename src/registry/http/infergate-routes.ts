import type { FastifyInstance } from 'fastify';
import { doesNotExist } from '../errors.js';
import type { Registry } from '../registry.js';
import { userFrom } from '../validate.js';
import { int, readInput, str } from './params.js';
import { versionDetailJson } from './wire.js';

/** infergate's own registry API under /api/2.0/infergate: approvals, audit, model cards, versions in detail, serving. */
export async function infergateRoutes(app: FastifyInstance, opts: { registry: Registry; bodyLimit: number }): Promise<void> {
  const reg = opts.registry;
  const { store } = reg;
  const detail = async (name: string, version: string) => {
    const v = await store.getVersion(name, version);
    return versionDetailJson(v, v.artifact ? reg.artifacts.uriOf(v.artifact.digest) : undefined);
  };
  const limit = { bodyLimit: opts.bodyLimit };

  app.get('/audit', async (req) => {
    const i = readInput(req);
    const page = await store.audit(str(i, 'name', true), int(i, 'max_results') ?? 1000, str(i, 'page_token'));
    const entries = page.items.map((e) => ({
      id: e.id,
      timestamp: e.timestamp,
      user: e.user,
      action: e.action,
      name: e.name,
      ...(e.version !== undefined ? { version: e.version } : {}),
      ...(e.before !== undefined ? { before: e.before } : {}),
      ...(e.after !== undefined ? { after: e.after } : {}),
    }));
    return { entries, ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
  });

  app.post('/model-versions/approval', limit, async (req) => {
    const i = readInput(req);
    const name = str(i, 'name', true);
    const version = str(i, 'version', true);
    await store.setApproval(userFrom(req.headers['x-infergate-user']), name, version, str(i, 'status', true), str(i, 'comment'));
    return { model_version: await detail(name, version) };
  });

  app.get('/model-versions/get', async (req) => {
    const i = readInput(req);
    return { model_version: await detail(str(i, 'name', true), str(i, 'version', true)) };
  });

  app.get('/model-versions/list', async (req) => {
    const i = readInput(req);
    const versions = await store.listVersions(str(i, 'name', true));
    return { model_versions: versions.map((v) => versionDetailJson(v, v.artifact ? reg.artifacts.uriOf(v.artifact.digest) : undefined)) };
  });

  app.get('/model-versions/card', async (req) => {
    const i = readInput(req);
    const name = str(i, 'name', true);
    const version = str(i, 'version', true);
    const card = await store.getCard(name, version);
    if (card === undefined) throw doesNotExist(`Model Version (name=${name}, version=${version}) has no model card`);
    return { model_card: card };
  });

  app.post('/model-versions/card', limit, async (req) => {
    const i = readInput(req);
    await store.setCard(userFrom(req.headers['x-infergate-user']), str(i, 'name', true), str(i, 'version', true), str(i, 'model_card', true));
    return {};
  });

  app.get('/serving', async () => ({ models: reg.serving.servedModels() }));
}
