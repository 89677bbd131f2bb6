import type { FastifyInstance, FastifyReply } from 'fastify';
import { isObj } from '../config/validate.js';
import { invalid } from '../protocol/errors.js';
import type { FeatureStore } from './feature-store.js';
import { type MaterializeResult, SourceError, materialize, materializeIncremental, selectViews } from './materialize.js';
import { onlineFeaturesText } from './online-features.js';
import { push } from './push.js';
import { parseTimestamp } from './values.js';

export interface FeatureRoutesOptions {
  features: FeatureStore;
  /** Largest body of /push (the other routes take at most 1 MiB). */
  pushBodyLimit?: number;
}

const SMALL_BODY = 1024 * 1024;

/**
 * Feast's feature-server API as a fastify plugin: POST /get-online-features, /push,
 * /materialize, /materialize-incremental. Bodies are JSON whatever their content type
 * (Feast's own examples post with curl -d). Errors are InferErrors, mapped by the server.
 */
export async function featureRoutes(app: FastifyInstance, opts: FeatureRoutesOptions): Promise<void> {
  const fs = opts.features;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch (err) {
      done(invalid(`request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  app.post('/get-online-features', { bodyLimit: SMALL_BODY }, async (req, reply) => {
    return reply.type('application/json').send(await onlineFeaturesText(fs, req.body));
  });

  app.post('/push', { bodyLimit: opts.pushBodyLimit ?? 64 * SMALL_BODY }, async (req, reply) => {
    await push(fs, req.body);
    return reply.type('application/json').send('null');
  });

  app.post('/materialize', { bodyLimit: SMALL_BODY }, async (req, reply) => {
    const body = materializeBody(req.body, ['start_ts', 'end_ts', 'feature_views']);
    const start = timestampField(body, 'start_ts');
    const end = timestampField(body, 'end_ts');
    if (start >= end) throw invalid(`'start_ts' must be before 'end_ts'`);
    return sourceErrors(reply, () => materialize(fs, viewsField(fs, body), start, end));
  });

  app.post('/materialize-incremental', { bodyLimit: SMALL_BODY }, async (req, reply) => {
    const body = materializeBody(req.body, ['end_ts', 'feature_views']);
    const end = timestampField(body, 'end_ts');
    return sourceErrors(reply, () => materializeIncremental(fs, viewsField(fs, body), end));
  });
}

function materializeBody(body: unknown, allowed: string[]): Record<string, unknown> {
  if (!isObj(body)) throw invalid(`request body: expected a JSON object with ${allowed.filter((k) => k !== 'feature_views').join(' and ')}`);
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw invalid(`unknown field '${k}' (allowed: ${allowed.join(', ')})`);
  return body;
}

function timestampField(body: Record<string, unknown>, key: string): number {
  const ms = typeof body[key] === 'string' ? parseTimestamp(body[key]) : undefined;
  if (ms === undefined) throw invalid(`'${key}': expected an ISO 8601 time such as 2026-11-01T00:00:00Z, got ${JSON.stringify(body[key])}`);
  return ms;
}

function viewsField(fs: FeatureStore, body: Record<string, unknown>) {
  const names = body.feature_views;
  if (names !== undefined && names !== null && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) {
    throw invalid(`'feature_views': expected a list of feature view names, got ${JSON.stringify(names)}`);
  }
  const views = selectViews(fs, (names ?? undefined) as string[] | undefined);
  if (typeof views === 'string') throw invalid(`'feature_views': unknown feature view '${views}' (known: ${[...fs.def.featureViews.keys()].join(', ')})`);
  return views;
}

/** Feast answers null; a source that cannot be materialized is 422 with the file and row named. */
async function sourceErrors(reply: FastifyReply, run: () => Promise<MaterializeResult[]>): Promise<FastifyReply> {
  try {
    await run();
  } catch (err) {
    if (err instanceof SourceError) return reply.code(422).send({ error: err.message });
    throw err;
  }
  return reply.type('application/json').send('null');
}
