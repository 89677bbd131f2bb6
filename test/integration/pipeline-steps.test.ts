import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { ModelInferResponseMsg } from '../../src/api/grpc/proto.js';
import type { LifecycleEvent } from '../../src/core/lifecycle.js';
import type { AliasSource, EnrichStep, ObserveStep, ObservedInference } from '../../src/core/pipeline.js';
import type { Gateway } from '../../src/gateway.js';
import type { InferRequest } from '../../src/protocol/types.js';
import { getJson, postJson, startGateway } from '../helpers/gateway.js';
import { goldenFiles } from '../helpers/golden.js';
import { type GrpcClients, call, grpcClients, numbers, outputsOf, typedRequest } from '../helpers/grpc-client.js';

const ONES = Array(16).fill(1);
const INPUT0 = Array.from({ length: 16 }, (_, i) => i);

/** The trail of step calls, in the order they happened. */
const trail: string[] = [];
const seen: ObservedInference[] = [];

/** Adds INPUT1 (all ones) to requests for `simple` that do not send it. */
const addInput1: EnrichStep = {
  name: 'add-input1',
  appliesTo: (v) => v.name === 'simple',
  enrich(req: InferRequest, v, ctx) {
    trail.push(`enrich ${ctx.source} ${req.id ?? ''}`);
    if (req.inputs.some((t) => t.name === 'INPUT1')) return;
    const rows = req.inputs[0]?.shape[0] ?? 1;
    req.inputs.push({ name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: Int32Array.from({ length: rows * 16 }, () => 1) });
    expect(v.inputs.map((i) => i.name)).toEqual(['INPUT0', 'INPUT1']);
  },
};

const recorder: ObserveStep = {
  name: 'recorder',
  appliesTo: (v) => v.name === 'simple',
  observe(o) {
    trail.push(`observe ${o.ctx.source} ${o.request.id ?? ''}`);
    seen.push(o);
  },
};

/** Knows `champion` -> 2 and serves version 1 of tabular_mlp to requests naming none, as if it got half the traffic. */
const aliases: AliasSource = {
  versionFor: (model, alias) => (model === 'tabular_mlp' && alias === 'champion' ? '2' : undefined),
  defaultVersion: (model, ctx) => {
    if (model !== 'tabular_mlp') return undefined;
    if (ctx) ctx.trafficShare = 0.5;
    return '1';
  },
};

let gw: Gateway;
let url: string;
let clients: GrpcClients;
const events: LifecycleEvent[] = [];

beforeAll(async () => {
  ({ gw, url } = await startGateway({ modelControlMode: 'explicit', loadModels: ['simple', 'tabular_mlp'] }, [grpcFrontEnd]));
  gw.dataplane.addEnrichStep(addInput1);
  gw.dataplane.addObserveStep(recorder);
  gw.router.addAliasSource(aliases);
  gw.lifecycle.on((e) => events.push(e));
  clients = grpcClients(gw.port('gRPC'));
});
afterAll(async () => {
  clients?.close();
  await gw?.stop();
});

/** Waits for the observers, which run after the answer is sent. */
const settle = () => new Promise((r) => setImmediate(r));

describe('request pipeline: enrich and observe steps', () => {
  it('runs enrich before compute and observe after it, over HTTP, and the enriched input is what ran', async () => {
    trail.length = 0;
    const res = await postJson(`${url}/v2/models/simple/infer`, { id: 'h1', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: INPUT0 }] });
    expect(res.status).toBe(200);
    const sum = res.body.outputs.find((o: { name: string }) => o.name === 'OUTPUT0');
    expect(sum.data).toEqual(INPUT0.map((x) => x + 1));
    await settle();
    expect(trail).toEqual(['enrich http h1', 'observe http h1']);
    const o = seen.at(-1)!;
    expect(o.version.name).toBe('simple');
    expect(o.inputs.map((t) => t.name)).toEqual(['INPUT0', 'INPUT1']);
    expect(Array.from(o.inputs[1].data as Int32Array)).toEqual(ONES);
    expect(o.outputs.map((t) => t.name)).toEqual(['OUTPUT0', 'OUTPUT1']);
  });

  it('runs the same steps over gRPC', async () => {
    trail.length = 0;
    const res = await call<ModelInferResponseMsg>(clients.inference, 'ModelInfer', typedRequest('simple', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: INPUT0 }], { id: 'g1' }));
    expect(numbers(outputsOf(res).get('OUTPUT1')!.data)).toEqual(INPUT0.map((x) => x - 1));
    await settle();
    expect(trail).toEqual(['enrich grpc g1', 'observe grpc g1']);
  });

  it('runs the same steps for a direct dataplane call', async () => {
    trail.length = 0;
    const res = await gw.dataplane.infer('simple', undefined, { id: 'd1', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2, 16], data: Int32Array.from([...INPUT0, ...INPUT0]) }] });
    expect(Array.from(res.outputs[0].data as Int32Array)).toEqual([...INPUT0, ...INPUT0].map((x) => x + 1));
    await settle();
    expect(trail).toEqual(['enrich direct d1', 'observe direct d1']);
  });

  it('leaves the answer of a request that does not need a step as it was', async () => {
    trail.length = 0;
    const full = { id: 'f1', inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: INPUT0 },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: INPUT0 },
    ] };
    const res = await postJson(`${url}/v2/models/simple/infer`, full);
    expect(res.body.outputs[0].data).toEqual(INPUT0.map((x) => 2 * x));
    expect(res.body.outputs[1].data).toEqual(Array(16).fill(0));
    // A model the steps do not apply to is untouched by them.
    const golden = goldenFiles().find((g) => g.model === 'tabular_mlp' && g.version === '1')!;
    const tab = await postJson(`${url}/v2/models/tabular_mlp/versions/1/infer`, golden.cases[0].request);
    expect(tab.status).toBe(200);
    await settle();
    expect(trail).toEqual(['enrich http f1', 'observe http f1']);
  });
});

describe('router: aliases', () => {
  it('resolves an alias wherever a version string goes, and answers with the number that ran', async () => {
    const v2 = goldenFiles().find((g) => g.model === 'tabular_mlp' && g.version === '2')!;
    const res = await postJson(`${url}/v2/models/tabular_mlp/versions/champion/infer`, v2.cases[0].request);
    expect(res.status).toBe(200);
    expect(res.body.model_version).toBe('2');
    const expected = v2.cases[0].expected.outputs[0].data as number[];
    (res.body.outputs[0].data as number[]).forEach((x, i) => expect(x).toBeCloseTo(expected[i], 4));
    const g = await call<ModelInferResponseMsg>(clients.inference, 'ModelInfer', { ...typedRequest('tabular_mlp', v2.cases[0].request.inputs as never), model_version: 'champion' });
    expect(g.model_version).toBe('2');
    const meta = await getJson(`${url}/v2/models/tabular_mlp/versions/champion`);
    expect(meta.body.versions).toEqual(['2']);
  });

  it('gives a request that names no version the alias source default, not the newest, and hands its traffic share to the batcher', async () => {
    const v1 = goldenFiles().find((g) => g.model === 'tabular_mlp' && g.version === '1')!;
    const mv = gw.lifecycle.model('tabular_mlp')!.versions.get('1')!;
    const infer = vi.spyOn(mv, 'infer');
    try {
      const res = await postJson(`${url}/v2/models/tabular_mlp/infer`, v1.cases[0].request);
      expect(res.body.model_version).toBe('1');
      const named = await postJson(`${url}/v2/models/tabular_mlp/versions/1/infer`, v1.cases[0].request);
      expect(named.status).toBe(200);
      expect(infer.mock.calls.map((c) => c[1]?.trafficShare)).toEqual([0.5, undefined]);
    } finally {
      infer.mockRestore();
    }
  });

  it('answers 404 naming a version string nothing knows', async () => {
    const v1 = goldenFiles().find((x) => x.model === 'tabular_mlp' && x.version === '1')!;
    const res = await postJson(`${url}/v2/models/tabular_mlp/versions/nonsense/infer`, v1.cases[0].request);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/'nonsense'/);
    const g = await call(clients.inference, 'ModelInfer', { ...typedRequest('tabular_mlp', v1.cases[0].request.inputs as never), model_version: 'nonsense' }).catch((e) => e);
    expect(g.code).toBe(5);
    expect(g.details).toMatch(/'nonsense'/);
  });
});

describe('lifecycle events', () => {
  it('reports loading, ready, unloading and unloaded in order', async () => {
    events.length = 0;
    await gw.dataplane.unloadModel('simple');
    await gw.dataplane.loadModel('simple');
    const simple = events.filter((e) => e.model === 'simple').map((e) => `${e.type} ${e.version}`);
    expect(simple).toEqual(['unloading 1', 'unloaded 1', 'loading 1', 'ready 1']);
  });
});
