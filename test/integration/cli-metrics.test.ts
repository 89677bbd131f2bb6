import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { postJson, scratchRepository } from '../helpers/gateway.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

let cli: RunningCli;
let text: string;

beforeAll(async () => {
  if (!cliBuilt) return;
  // The real server registers prom-client's default process metrics (the in-process test gateway does not).
  cli = await startCli(scratchRepository(['simple']), ['--metrics-port', '0']);
  const body = { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) })) };
  expect((await postJson(`${cli.url}/v2/models/simple/infer`, body)).status).toBe(200);
  text = await (await fetch(cli.listeners.Metrics)).text();
});
afterAll(async () => {
  if (cli) expect(await cli.stop()).toBe(0);
});

describe('/metrics of infergate serve', () => {
  it.skipIf(!cliBuilt)('carries the process metrics, with the *_total gauges under *_all (needs dist/, which npm test builds)', () => {
    expect(text).toMatch(/^infergate_request_success_total\{model="simple",version="1"\} 1$/m);
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    for (const what of ['handles', 'requests', 'resources']) {
      expect(text).toMatch(new RegExp(`^# TYPE nodejs_active_${what}_all gauge$`, 'm'));
      expect(text).toMatch(new RegExp(`^nodejs_active_${what}_all \\d+$`, 'm'));
      expect(text).not.toMatch(new RegExp(`nodejs_active_${what}_total`));
    }
    expect(Number(/^nodejs_active_handles_all (\d+)$/m.exec(text)![1])).toBeGreaterThan(0);
  });

  it.skipIf(!cliBuilt || !hasPromtool)('passes promtool check metrics (skipped when dist/ is not built or Debian\'s prometheus package is absent; .ci/run installs it)', () => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
