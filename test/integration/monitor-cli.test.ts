import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { DATA_MISSING, driftFixture, expectScenario } from '../helpers/drift-fixture.js';
import { MODELS, getJson, postJson, scratchRepository } from '../helpers/gateway.js';
import { type TabularRows, inferTabularJson, mixedBatches, tabularRows } from '../helpers/monitoring.js';

const SKIP = !cliBuilt ? 'dist/ is not built (npm test builds it; or run npx tsc -p .)' : DATA_MISSING;

describe.skipIf(SKIP !== undefined)(`infergate serve with the shipped monitored models${SKIP ? ` (SKIPPED: ${SKIP})` : ''}`, () => {
  let cli: RunningCli;
  let drift: TabularRows;

  beforeAll(async () => {
    drift = tabularRows('breast_cancer_live_drift.csv');
    // The sample repository as shipped (tabular_mlp and churn_pipeline carry monitoring blocks),
    // plus a copy of churn_pipeline whose block is wrong.
    const repo = scratchRepository(['tabular_mlp', 'churn_pipeline']);
    cpSync(join(MODELS, 'churn_pipeline'), join(repo, 'churn_broken'), { recursive: true });
    writeFileSync(join(repo, 'churn_broken', 'config.yaml'), 'monitoring:\n  reference: reference.csv\n  columns: {usage: [usage_1, usage_2]}\n');
    cli = await startCli(repo, ['--log-level', 'info']);
  });
  afterAll(async () => {
    cli?.child.kill('SIGTERM');
    await cli?.exited;
  });

  it('serves /drift for the shipped tabular_mlp: the drifted file flags exactly its three features, figures as scipy', async () => {
    for (const [a, b] of mixedBatches(drift.features.length)) expect((await inferTabularJson(cli.url, '2', drift.features.slice(a, b))).status).toBe(200);
    const { status, body } = await getJson(`${cli.url}/v2/models/tabular_mlp/versions/2/drift`);
    expect(status).toBe(200);
    expect(body.features.filter((f: any) => f.drift_detected).map((f: any) => f.name).sort()).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
    expectScenario(body, driftFixture.scenarios.tabular_drift, 'cli');
    expect((await getJson(`${cli.url}/v2/models/tabular_mlp/versions/1/drift`)).body.window_rows).toBe(0);
    expect((await postJson(`${cli.url}/v2/models/tabular_mlp/versions/2/drift/reset`, {})).body.window_rows).toBe(0);
    expect((await getJson(`${cli.url}/v2/models/churn_pipeline/drift`)).body.features.map((f: any) => f.name)).toEqual(['plan', 'usage_1', 'usage_2', 'usage_3']);
  });

  it('a monitoring block that does not fit fails that model\'s load with a message naming the key, and only that model', async () => {
    const index = await postJson(`${cli.url}/v2/repository/index`, {});
    const broken = index.body.find((e: any) => e.name === 'churn_broken');
    expect(broken.state).toBe('UNAVAILABLE');
    expect(broken.reason).toMatch(/monitoring\.columns\.usage: lists 2 columns, but input 'usage' has 3 values per row/);
    expect(index.body.filter((e: any) => e.name === 'tabular_mlp').every((e: any) => e.state === 'READY')).toBe(true);
    expect(cli.output()).toMatch(/churn_broken.*UNAVAILABLE.*monitoring\.columns\.usage/);
    expect((await getJson(`${cli.url}/v2/models/churn_broken/drift`)).status).toBe(503);
  });
});
