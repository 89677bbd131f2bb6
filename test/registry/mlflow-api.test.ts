import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { scratchRepository, startGateway } from '../helpers/gateway.js';
import { mlflow } from '../helpers/mlflow-client.js';
import { mlpVersion, notOnnxFile, scratchDir } from '../helpers/registry.js';

/** The whole walk of MLflow's registry API over HTTP, shaped as MLflow's client sends it. */
describe('MLflow REST API over HTTP', () => {
  let gw: Gateway;
  let base: string;
  let api: ReturnType<typeof mlflow>;
  const dir = scratchDir();

  beforeAll(async () => {
    const started = await startGateway({
      modelRepository: scratchRepository(['simple']),
      grpcPort: -1,
      metricsPort: -1,
      registryUrl: join(dir, 'registry.db'),
      artifactRoot: join(dir, 'artifacts'),
    });
    gw = started.gw;
    base = started.url;
    api = mlflow(base, 'release-bot');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('creates a registered model and answers as MLflow does', async () => {
    const r = await api.post('registered-models/create', { name: 'tabular_mlp', tags: [{ key: 'team', value: 'ml' }], description: 'breast cancer MLP', unknown_field: 1 });
    expect(r.status).toBe(200);
    expect(r.body.registered_model).toEqual({
      name: 'tabular_mlp',
      creation_timestamp: expect.any(Number),
      last_updated_timestamp: expect.any(Number),
      description: 'breast cancer MLP',
      tags: [{ key: 'team', value: 'ml' }],
    });
    const dup = await api.post('registered-models/create', { name: 'tabular_mlp' });
    expect(dup).toEqual({ status: 400, body: { error_code: 'RESOURCE_ALREADY_EXISTS', message: expect.stringContaining('tabular_mlp') } });
    const bare = await api.post('registered-models/create', { name: 'bare' });
    expect(Object.keys(bare.body.registered_model).sort()).toEqual(['creation_timestamp', 'last_updated_timestamp', 'name']);
  });

  it('registers three versions of tabular_mlp: numbers as strings, READY, stage None', async () => {
    for (const v of [1, 2, 3] as const) {
      const r = await api.post('model-versions/create', { name: 'tabular_mlp', source: mlpVersion(v), run_id: `run${v}`, tags: [{ key: 'infergate.dataset', value: 'wdbc@1' }], description: `v${v}` });
      expect(r.status).toBe(200);
      expect(r.body.model_version).toEqual({
        name: 'tabular_mlp',
        version: String(v),
        creation_timestamp: expect.any(Number),
        last_updated_timestamp: expect.any(Number),
        user_id: 'release-bot',
        current_stage: 'None',
        description: `v${v}`,
        source: mlpVersion(v),
        run_id: `run${v}`,
        status: 'READY',
        tags: [{ key: 'infergate.dataset', value: 'wdbc@1' }],
      });
    }
    // The client polls get until the status is READY.
    const got = await api.get('model-versions/get', { name: 'tabular_mlp', version: '3' });
    expect(got.body.model_version.status).toBe('READY');
    const detail = await api.infergate('GET', 'model-versions/get', { name: 'tabular_mlp', version: '2' });
    expect(detail.body.model_version.infergate).toMatchObject({
      servable: true,
      approval: { status: 'PENDING_MANUAL_APPROVAL' },
      lineage: { run_id: 'run2', dataset: 'wdbc@1' },
      artifact: { digest: expect.stringMatching(/^[0-9a-f]{64}$/), model_size: 51445 },
      signature: { inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 30] }] },
    });
  });

  it('gets, updates, tags and deletes like MLflow', async () => {
    expect((await api.patch('model-versions/update', { name: 'tabular_mlp', version: '2', description: 'better' })).body.model_version.description).toBe('better');
    expect((await api.patch('registered-models/update', { name: 'tabular_mlp', description: 'MLP' })).body.registered_model.description).toBe('MLP');
    expect((await api.post('model-versions/set-tag', { name: 'tabular_mlp', version: '2', key: 'infergate.metric.accuracy', value: '0.986' })).body).toEqual({});
    expect((await api.post('registered-models/set-tag', { name: 'tabular_mlp', key: 'owner', value: 'ml-team' })).status).toBe(200);
    expect((await api.del('registered-models/delete-tag', { name: 'tabular_mlp', key: 'team' })).status).toBe(200);
    const model = (await api.get('registered-models/get', { name: 'tabular_mlp' })).body.registered_model;
    expect(model.tags).toEqual([{ key: 'owner', value: 'ml-team' }]);
    expect(model.latest_versions.map((v: { version: string }) => v.version)).toEqual(['3']);
    expect((await api.get('model-versions/get', { name: 'tabular_mlp', version: '2' })).body.model_version.tags).toContainEqual({ key: 'infergate.metric.accuracy', value: '0.986' });
    expect((await api.del('model-versions/delete-tag', { name: 'tabular_mlp', version: '2', key: 'infergate.metric.accuracy' })).status).toBe(200);
    const uri = (await api.get('model-versions/get-download-uri', { name: 'tabular_mlp', version: '1' })).body.artifact_uri;
    expect(uri).toMatch(/^file:\/\/.*\/artifacts\/sha256\/[0-9a-f]{64}$/);
  });

  it('sets, moves, reads and deletes aliases on one path with three verbs', async () => {
    expect((await api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '1' })).body).toEqual({});
    expect((await api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'challenger', version: '2' })).status).toBe(200);
    expect((await api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '2' })).status).toBe(200);
    const byAlias = await api.get('registered-models/alias', { name: 'tabular_mlp', alias: 'champion' });
    expect(byAlias.body.model_version).toMatchObject({ version: '2', aliases: ['challenger', 'champion'] });
    expect((await api.get('registered-models/get', { name: 'tabular_mlp' })).body.registered_model.aliases).toEqual([
      { alias: 'challenger', version: '2' },
      { alias: 'champion', version: '2' },
    ]);
    expect((await api.del('registered-models/alias', { name: 'tabular_mlp', alias: 'challenger' })).status).toBe(200);
    expect(await api.get('registered-models/alias', { name: 'tabular_mlp', alias: 'challenger' })).toEqual({
      status: 400,
      body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'Registered model alias challenger not found.' },
    });
    expect(gw.registry!.serving.defaultVersion('tabular_mlp')).toBe('2');
    const served = (await api.infergate('GET', 'serving')).body.models;
    expect(served).toEqual([expect.objectContaining({ name: 'tabular_mlp', servingAlias: 'champion', servingVersion: '2' })]);
  });

  it('transitions stages and answers get-latest-versions by POST and GET', async () => {
    const t1 = await api.post('model-versions/transition-stage', { name: 'tabular_mlp', version: '1', stage: 'Production', archive_existing_versions: false });
    expect(t1.body.model_version.current_stage).toBe('Production');
    const t2 = await api.post('model-versions/transition-stage', { name: 'tabular_mlp', version: '2', stage: 'production', archive_existing_versions: true });
    expect(t2.body.model_version.current_stage).toBe('Production');
    const latest = await api.post('registered-models/get-latest-versions', { name: 'tabular_mlp', stages: ['Production', 'Archived'] });
    expect(latest.body.model_versions.map((v: { version: string; current_stage: string }) => [v.version, v.current_stage])).toEqual([['1', 'Archived'], ['2', 'Production']]);
    const viaGet = await api.get('registered-models/get-latest-versions', { name: 'tabular_mlp', stages: ['None'] });
    expect(viaGet.body.model_versions.map((v: { version: string }) => v.version)).toEqual(['3']);
    expect((await api.post('model-versions/transition-stage', { name: 'tabular_mlp', version: '3', stage: 'Live' })).body.error_code).toBe('INVALID_PARAMETER_VALUE');
  });

  it('searches with filters, order_by and page tokens', async () => {
    for (const n of ['wine_a', 'wine_b', 'Wine_c', 'wine_d']) expect((await api.post('registered-models/create', { name: n })).status).toBe(200);
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await api.get('registered-models/search', { filter: "name LIKE 'wine%'", max_results: 2, page_token: token });
      expect(r.status).toBe(200);
      names.push(...r.body.registered_models.map((m: { name: string }) => m.name));
      token = r.body.next_page_token;
      pages++;
    } while (token);
    expect(names).toEqual(['wine_a', 'wine_b', 'wine_d']);
    expect(pages).toBe(2);
    const ilike = await api.get('registered-models/search', { filter: "name ILIKE 'wine_%'", order_by: ['name DESC'] });
    expect(ilike.body.registered_models.map((m: { name: string }) => m.name)).toEqual(['wine_d', 'wine_b', 'wine_a', 'Wine_c']);
    expect((await api.get('registered-models/search', { filter: "name = 'nothing'" })).body).toEqual({});
    expect((await api.get('registered-models/search', { max_results: 1001 })).body.error_code).toBe('INVALID_PARAMETER_VALUE');
    const byTime = await api.get('registered-models/search', { order_by: ['last_updated_timestamp DESC', 'name ASC'], max_results: 100 });
    expect(byTime.body.registered_models[0].name).toBe('wine_d');

    const mv = await api.get('model-versions/search', { filter: "name='tabular_mlp'" });
    expect(mv.body.model_versions.map((v: { version: string }) => v.version).sort()).toEqual(['1', '2', '3']);
    expect((await api.get('model-versions/search', { filter: "run_id='run3'" })).body.model_versions.map((v: { version: string }) => v.version)).toEqual(['3']);
    const p1 = await api.get('model-versions/search', { filter: "name='tabular_mlp'", max_results: 2, order_by: ['version_number ASC'] });
    expect(p1.body.model_versions.map((v: { version: string }) => v.version)).toEqual(['1', '2']);
    const p2 = await api.get('model-versions/search', { filter: "name='tabular_mlp'", max_results: 2, order_by: ['version_number ASC'], page_token: p1.body.next_page_token });
    expect(p2.body.model_versions.map((v: { version: string }) => v.version)).toEqual(['3']);
    expect(p2.body.next_page_token).toBeUndefined();
  });

  it('renames and deletes; a deleted version number is never reused', async () => {
    expect((await api.post('registered-models/rename', { name: 'wine_a', new_name: 'wine_renamed' })).body.registered_model.name).toBe('wine_renamed');
    expect((await api.del('registered-models/delete', { name: 'wine_renamed' })).body).toEqual({});
    expect((await api.get('registered-models/get', { name: 'wine_renamed' })).status).toBe(404);
    expect((await api.del('model-versions/delete', { name: 'tabular_mlp', version: '3' })).status).toBe(200);
    const next = await api.post('model-versions/create', { name: 'tabular_mlp', source: mlpVersion(3) });
    expect(next.body.model_version.version).toBe('4');
  });

  it('records unfetchable sources READY but not servable, and invalid ONNX as FAILED_REGISTRATION', async () => {
    const s3 = await api.post('model-versions/create', { name: 'bare', source: 's3://bucket/churn/model', run_id: 'abc' });
    expect(s3.body.model_version).toMatchObject({ status: 'READY', current_stage: 'None', source: 's3://bucket/churn/model' });
    expect(s3.body.model_version.tags).toContainEqual({ key: 'infergate.servable', value: 'false' });
    const bad = await api.post('model-versions/create', { name: 'bare', source: notOnnxFile() });
    expect(bad.body.model_version).toMatchObject({ status: 'FAILED_REGISTRATION', status_message: expect.stringMatching(/not a valid ONNX model/) });
  });

  it('answers bad input with MLflow error codes and statuses, writing nothing', async () => {
    const cases: [Promise<{ status: number; body: any }>, number, string, RegExp][] = [
      [api.get('registered-models/get', { name: 'ghost' }), 404, 'RESOURCE_DOES_NOT_EXIST', /ghost/],
      [api.get('model-versions/get', { name: 'tabular_mlp', version: '77' }), 404, 'RESOURCE_DOES_NOT_EXIST', /version=77/],
      [api.get('registered-models/get', {}), 400, 'INVALID_PARAMETER_VALUE', /'name'/],
      [api.post('registered-models/create', { name: 'a/b' }), 400, 'INVALID_PARAMETER_VALUE', /'\/'/],
      [api.post('registered-models/create', { name: '../etc' }), 400, 'INVALID_PARAMETER_VALUE', /\.\./],
      [api.post('registered-models/create', { name: 'tab\tname' }), 400, 'INVALID_PARAMETER_VALUE', /control/],
      [api.post('registered-models/create', { name: 42 }), 400, 'INVALID_PARAMETER_VALUE', /'name'/],
      [api.post('registered-models/create', { name: 'long_desc', description: 'x'.repeat(5001) }), 400, 'INVALID_PARAMETER_VALUE', /5000/],
      [api.post('registered-models/set-tag', { name: 'tabular_mlp', key: 'k', value: 'v'.repeat(5001) }), 400, 'INVALID_PARAMETER_VALUE', /5000/],
      [api.post('registered-models/alias', { name: 'tabular_mlp', alias: '1', version: '1' }), 400, 'INVALID_PARAMETER_VALUE', /alias/],
      [api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'v2', version: '1' }), 400, 'INVALID_PARAMETER_VALUE', /reserved/],
      [api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'latest', version: '1' }), 400, 'INVALID_PARAMETER_VALUE', /latest/],
      [api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'next', version: '77' }), 404, 'RESOURCE_DOES_NOT_EXIST', /77/],
      [api.post('model-versions/create', { name: 'ghost', source: mlpVersion(1) }), 404, 'RESOURCE_DOES_NOT_EXIST', /ghost/],
      [api.post('model-versions/create', { name: 'tabular_mlp' }), 400, 'INVALID_PARAMETER_VALUE', /'source'/],
      [api.get('model-versions/search', { filter: "name = 'x' OR run_id = 'y'" }), 400, 'INVALID_PARAMETER_VALUE', /AND/],
      [api.get('registered-models/search', { page_token: 'not-a-token' }), 400, 'INVALID_PARAMETER_VALUE', /page token/],
      [api.get('registered-models/list'), 404, 'ENDPOINT_NOT_FOUND', /registered-models\/list/],
    ];
    for (const [p, status, code, msg] of cases) {
      const r = await p;
      expect([r.status, r.body.error_code], JSON.stringify(r.body)).toEqual([status, code]);
      expect(r.body.message).toMatch(msg);
    }
    const malformed = await fetch(`${base}/api/2.0/mlflow/registered-models/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": "half' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringMatching(/Malformed JSON/) });
    const huge = await fetch(`${base}/api/2.0/mlflow/registered-models/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'big', description: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
    for (const name of ['long_desc', 'big', 'a/b']) expect((await api.get('registered-models/get', { name })).status).not.toBe(200);
    const audit = (await api.infergate('GET', 'audit', { name: 'tabular_mlp' })).body.entries;
    expect(audit.filter((e: { action: string; after?: { alias?: string } }) => e.action === 'set_registered_model_alias' && e.after?.alias === 'next')).toEqual([]);
  });

  it('approves, refuses unapproved serving moves and audits every step in order, naming the user', async () => {
    const rel = mlflow(base, 'rel-eng');
    const qa = mlflow(base, 'qa-lead');
    await rel.post('registered-models/create', { name: 'gated', tags: [{ key: 'infergate.require_approval', value: 'true' }] });
    await rel.post('model-versions/create', { name: 'gated', source: mlpVersion(1) });
    const refused = await rel.post('registered-models/alias', { name: 'gated', alias: 'champion', version: '1' });
    expect(refused).toEqual({ status: 403, body: { error_code: 'PERMISSION_DENIED', message: expect.stringMatching(/requires approval.*PENDING_MANUAL_APPROVAL/) } });
    const approved = await qa.infergate('POST', 'model-versions/approval', { name: 'gated', version: '1', status: 'APPROVED', comment: 'holdout ok' });
    expect(approved.body.model_version.infergate.approval).toMatchObject({ status: 'APPROVED', user: 'qa-lead', comment: 'holdout ok' });
    expect((await rel.post('registered-models/alias', { name: 'gated', alias: 'champion', version: '1' })).status).toBe(200);
    expect((await qa.infergate('POST', 'model-versions/approval', { name: 'gated', version: '1', status: 'MAYBE' })).body.error_code).toBe('INVALID_PARAMETER_VALUE');
    const anon = await fetch(`${base}/api/2.0/mlflow/model-versions/transition-stage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'gated', version: '1', stage: 'Production' }) });
    expect(anon.status).toBe(200);
    const audit = (await rel.infergate('GET', 'audit', { name: 'gated' })).body.entries;
    expect(audit.map((e: { action: string; user: string }) => `${e.user}:${e.action}`)).toEqual([
      'rel-eng:create_registered_model',
      'rel-eng:create_model_version',
      'qa-lead:approve_model_version',
      'rel-eng:set_registered_model_alias',
      'anonymous:transition_stage',
    ]);
    expect(audit[3]).toMatchObject({ version: '1', after: { alias: 'champion', version: '1', serving: true } });
    expect((await rel.infergate('GET', 'audit', { name: 'never_existed' })).status).toBe(404);
  });

  it('stores and returns a model card', async () => {
    const card = '# tabular_mlp v1\n\nTrained on WDBC.\n';
    expect((await api.infergate('POST', 'model-versions/card', { name: 'tabular_mlp', version: '1', model_card: card })).status).toBe(200);
    expect((await api.infergate('GET', 'model-versions/card', { name: 'tabular_mlp', version: '1' })).body).toEqual({ model_card: card });
    expect((await api.infergate('GET', 'model-versions/card', { name: 'tabular_mlp', version: '2' })).status).toBe(404);
    expect((await api.infergate('POST', 'model-versions/card', { name: 'tabular_mlp', version: '1', model_card: 'x'.repeat(300 * 1024) })).body.error_code).toBe('INVALID_PARAMETER_VALUE');
  });
});
