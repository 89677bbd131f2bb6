import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { scratchRepository } from '../helpers/gateway.js';
import { mlflow } from '../helpers/mlflow-client.js';
import { drive, registerMlp, rollouts, scratchDir } from './helpers.js';

const run = promisify(execFile);
const running: RunningCli[] = [];
afterAll(() => {
  for (const c of running) c.child.kill('SIGKILL');
});

/** Runs `infergate rollout ...`; resolves with exit code and output whatever the code. */
async function rolloutCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'rollout', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(!cliBuilt || DATA_MISSING)('infergate rollout (built CLI against infergate serve)', () => {
  it('creates a rollout from a YAML spec, refuses a bad one naming the field, shows it, and the gateway promotes it', { timeout: 120_000 }, async () => {
    const cwd = scratchDir('infergate-cwd-');
    const cli = await startCli(scratchRepository(['simple']), ['--rollout-tick-ms', '100', '--registry-poll-secs', '1', '--log-level', 'info'], process.env, { cwd });
    running.push(cli);
    const url = cli.url;
    await registerMlp(url);
    const bad = join(cwd, 'bad.yaml');
    writeFileSync(bad, 'model: tabular_mlp\nbaseline: champion\ncandidate: 2\nsteps: [10, 50, 100]\nfailure_limit: 0\n');
    const refused = await rolloutCli(['create', bad, '--url', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("field 'failure_limit'");
    const spec = join(cwd, 'canary.yaml');
    writeFileSync(spec, [
      'model: tabular_mlp', 'baseline: champion', 'candidate: 2', 'strategy: canary', 'steps: [10, 50, 100]', 'interval: 1s', 'min_requests: 5', 'failure_limit: 2',
      'analysis:', '  - {metric: error_rate, max: 1}', '  - {metric: latency_p99, max_ratio: 50}', '  - {metric: disagreement, max: 5}', 'mirror_percent: 20',
      'sticky: {parameter: routing_key, header: x-routing-key}', '',
    ].join('\n'));
    const created = await rolloutCli(['create', spec, '--url', url, '--user', 'release']);
    expect(created.code, created.stderr).toBe(0);
    const id = /rollout (r[0-9a-f]{8}): tabular_mlp 1 -> 2 PROGRESSING at 10%/.exec(created.stdout)?.[1];
    expect(id, created.stdout).toBeDefined();
    await drive(url, async () => (await rollouts(url).get(id!)).phase !== 'PROGRESSING', { keyed: true });
    const shown = await rolloutCli(['get', id!, '--url', url]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`rollout ${id}: tabular_mlp 1 -> 2 SUCCEEDED at 100%`);
    expect(shown.stdout).toMatch(/passed/);
    const listed = await rolloutCli(['list', '--model', 'tabular_mlp', '--url', url]);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+tabular_mlp\\s+1\\s+2\\s+canary\\s+SUCCEEDED\\s+100%`));
    expect((await mlflow(url).get('registered-models/alias', { name: 'tabular_mlp', alias: 'champion' })).body.model_version.version).toBe('2');
    expect(cli.output()).toMatch(new RegExp(`rollout ${id}: tabular_mlp alias 'champion' now on version 2`));
    const again = await rolloutCli(['abort', id!, '--url', url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('has already ended (SUCCEEDED)');
    await cli.stop();
  });
});
