import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { setTracingEnabled } from '../../src/telemetry/tracing.js';
import { postJson, scratchRepository, startGateway } from '../helpers/gateway.js';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';

let gw: Gateway;
let url: string;
let metricsUrl: string;

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

beforeAll(async () => {
  ({ gw, url } = await startGateway({ modelRepository: scratchRepository(['simple', 'tabular_mlp']) }));
  metricsUrl = `http://127.0.0.1:${gw.port('Metrics')}/metrics`;
  const body = { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [4, 16], data: Array(64).fill(1) })) };
  await Promise.all(Array.from({ length: 20 }, () => postJson(`${url}/v2/models/simple/infer`, body)));
  await postJson(`${url}/v2/models/simple/infer`, { inputs: [] });
});
afterAll(async () => {
  await gw?.stop();
});

describe('/metrics', () => {
  it('reports rows and batches, bytes, queue and compute time, state and provider per model version', async () => {
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/infergate_request_success_total\{model="simple",version="1"\} 20/);
    expect(text).toMatch(/infergate_inference_count_total\{model="simple",version="1"\} 80/);
    const executions = Number(/infergate_execution_count_total\{model="simple",version="1"\} (\d+)/.exec(text)![1]);
    expect(executions).toBeGreaterThan(0);
    expect(executions).toBeLessThanOrEqual(20);
    expect(text).toMatch(/infergate_request_bytes_count\{model="simple",protocol="http"\} 21/);
    expect(text).toMatch(/infergate_response_bytes_sum\{model="simple",protocol="http"\} \d+/);
    expect(text).toMatch(/infergate_queue_duration_seconds_count\{model="simple",version="1"\} 20/);
    expect(text).toMatch(/infergate_compute_duration_seconds_count\{model="simple",version="1"\} \d+/);
    expect(text).toMatch(/infergate_model_state\{model="tabular_mlp",version="3",state="READY"\} 1/);
    expect(text).toMatch(/infergate_model_provider\{model="simple",version="1",provider="cpu"\} 1/);
    expect(text).toMatch(/infergate_model_load_duration_seconds_count\{model="tabular_mlp",version="2"\} 1/);
    expect(text).toMatch(/infergate_worker_utilization\{pool="cpu"\} 0/);
    expect(text).toMatch(/infergate_pending_requests\{model="simple",version="1"\} 0/);
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics (skipped only when Debian\'s prometheus package is absent)', async () => {
    const text = await (await fetch(metricsUrl)).text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('serves OpenMetrics with trace-id exemplars to scrapers that ask for it', async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    setTracingEnabled(true);
    try {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      await fetch(`${url}/v2/models/simple/infer`, {
        method: 'POST',
        headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
        body: JSON.stringify({ inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) })) }),
      });
    } finally {
      setTracingEnabled(false);
      trace.disable();
      propagation.disable();
    }
    const om = await fetch(metricsUrl, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(om.headers.get('content-type')).toMatch(/openmetrics-text/);
    const text = await om.text();
    expect(text).toMatch(/infergate_request_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="0af7651916cd43dd8448eb211c80319c"\}/);
    expect(text.trimEnd().endsWith('# EOF')).toBe(true);
    // The classic format stays free of exemplars.
    expect(await (await fetch(metricsUrl)).text()).not.toMatch(/trace_id/);
  });
});

