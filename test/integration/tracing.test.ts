import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { Gateway } from '../../src/gateway.js';
import { call, grpcClients, rawRequest } from '../helpers/grpc-client.js';
import { setTracingEnabled, tracingRequested } from '../../src/telemetry/tracing.js';
import { cliBuilt, startCli } from '../helpers/cli.js';
import { postJson, scratchRepository, startGateway } from '../helpers/gateway.js';

const exporter = new InMemorySpanExporter();
let gw: Gateway;
let url: string;

const simpleBody = (n: number) => ({
  id: `req-${n}`,
  inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(n) })),
});

beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  setTracingEnabled(true);
  // One batch at a time and a short queue delay, so concurrent requests reliably share batches.
  const dir = scratchRepository(['simple']);
  writeFileSync(join(dir, 'simple', 'config.yaml'), 'instance_group: [{count: 1}]\ndynamic_batching: {max_queue_delay_microseconds: 20000}\n');
  ({ gw, url } = await startGateway({ modelRepository: dir }, [grpcFrontEnd]));
});
afterAll(async () => {
  setTracingEnabled(false);
  trace.disable();
  propagation.disable();
  await gw?.stop();
});

describe('OpenTelemetry tracing', () => {
  it('is off unless the standard variables ask for it', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'x' })).toBe(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
  });

  it('makes a request span with decode, queue wait, batch compute and encode children, under an incoming traceparent', async () => {
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${url}/v2/models/simple/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify(simpleBody(1)),
    });
    expect(res.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'infer')!;
    expect(root.spanContext().traceId).toBe(traceId);
    expect(root.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(root.attributes).toMatchObject({ 'infergate.model': 'simple', 'infergate.version': '1', 'infergate.protocol': 'http' });
    const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId).map((s) => s.name).sort();
    expect(children).toEqual(['batch compute', 'decode', 'encode', 'queue wait']);
    const compute = spans.find((s) => s.name === 'batch compute' && s.parentSpanContext?.spanId === root.spanContext().spanId)!;
    expect(compute.attributes['infergate.batch_size']).toBe(1);
  });

  it('continues a traceparent sent as gRPC metadata, and counts gRPC bytes', async () => {
    exporter.reset();
    const clients = grpcClients(gw.port('gRPC'));
    try {
      const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
      const md = new Metadata();
      md.set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`);
      const inputs = simpleBody(2).inputs.map((t) => ({ ...t, data: t.data }));
      await call(clients.inference, 'ModelInfer', rawRequest('simple', inputs), undefined, md);
    } finally {
      clients.close();
    }
    const root = exporter.getFinishedSpans().find((s) => s.name === 'infer')!;
    expect(root.spanContext().traceId).toBe('a3ce929d0e0e47364bf92f3577b34da6');
    expect(root.attributes['infergate.protocol']).toBe('grpc');
    const bytes = await gw.metrics.registry.getSingleMetricAsString('infergate_request_bytes');
    expect(bytes).toMatch(/infergate_request_bytes_count\{model="simple",protocol="grpc"\} 1/);
    expect(await gw.metrics.registry.getSingleMetricAsString('infergate_response_bytes')).toMatch(/infergate_response_bytes_count\{model="simple",protocol="grpc"\} 1/);
  });

  it('links every request that shared a batch to the batch span', async () => {
    // Whether concurrent requests share a batch depends on timing (a loaded machine may serve
    // a burst one by one), so bursts are sent until one batch held several; what is checked is
    // that such a batch links every request it held.
    let spans: ReturnType<typeof exporter.getFinishedSpans> = [];
    let shared: (typeof spans)[number] | undefined;
    for (let burst = 0; burst < 5 && !shared; burst++) {
      exporter.reset();
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => postJson(`${url}/v2/models/simple/infer`, simpleBody(i))));
      results.forEach((r) => expect(r.status).toBe(200));
      spans = exporter.getFinishedSpans();
      shared = spans.find((b) => b.name === 'batch compute' && !b.parentSpanContext && (b.attributes['infergate.batch_requests'] as number) > 1);
    }
    const roots = new Map(spans.filter((s) => s.name === 'infer').map((s) => [s.spanContext().spanId, s]));
    expect(shared, 'some batch held more than one request in 5 bursts of 40').toBeDefined();
    expect(shared!.links.length).toBe(shared!.attributes['infergate.batch_requests']);
    for (const l of shared!.links) expect(roots.has(l.context.spanId)).toBe(true);
  });

  it('marks a failed request span with the error', async () => {
    exporter.reset();
    const bad = await postJson(`${url}/v2/models/simple/infer`, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 3], data: [1, 2, 3] }] });
    expect(bad.status).toBe(400);
    const root = exporter.getFinishedSpans().find((s) => s.name === 'infer')!;
    expect(root.status.code).toBe(2);
    expect(root.status.message).toMatch(/INPUT0/);
  });
});

describe('OTLP/HTTP export', () => {
  it.skipIf(!cliBuilt)('sends the spans to an OTLP/HTTP receiver on loopback (needs dist/, which npm test builds)', async () => {
    const received: any[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/v1/traces') received.push({ type: req.headers['content-type'], body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const port = (receiver.address() as AddressInfo).port;
    const { child, url: base, exited } = await startCli(scratchRepository(['simple']), [], {
      ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'infergate-test', OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const res = await postJson(`${base}/v2/models/simple/infer`, simpleBody(3));
    expect(res.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    receiver.close();
    const spans = received.flatMap((r) => r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
    expect(spans.map((s: any) => s.name)).toEqual(expect.arrayContaining(['infer', 'decode', 'queue wait', 'batch compute', 'encode']));
    const service = received[0].body.resourceSpans[0].resource.attributes.find((a: any) => a.key === 'service.name');
    expect(service.value.stringValue).toBe('infergate-test');
  });
});
