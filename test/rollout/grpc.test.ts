import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { type GrpcClients, call, grpcClients, typedRequest } from '../helpers/grpc-client.js';
import { inferBody, liveRows, registerMlp, registryGateway, rollouts, scratchDir, until } from './helpers.js';

describe.skipIf(DATA_MISSING)('rollout routing is the same over gRPC as over HTTP', () => {
  let gw: Gateway;
  let url: string;
  let grpc: GrpcClients;
  beforeAll(async () => {
    ({ gw, url } = await registryGateway(scratchDir(), {}, [grpcFrontEnd]));
    grpc = grpcClients(gw.port('gRPC'));
    await registerMlp(url);
  }, 60_000);
  afterAll(async () => {
    grpc?.close();
    await gw?.stop();
  });

  it('a key sees the same version by HTTP header, gRPC metadata and request parameter; answers name the rollout and arm', { timeout: 60_000 }, async () => {
    const api = rollouts(url);
    const created = await api.create({ model: 'tabular_mlp', baseline: 'champion', candidate: '2', steps: [50], interval: '1h' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id;
    const features = liveRows()[0].features;
    const httpVersion = async (key: string) => {
      const r = await fetch(`${url}/v2/models/tabular_mlp/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-routing-key': key }, body: JSON.stringify(inferBody(features)) });
      return ((await r.json()) as any).model_version as string;
    };
    await until('candidate loaded', async () => {
      const vs = await Promise.all(Array.from({ length: 20 }, (_, k) => httpVersion(`g${k}`)));
      return vs.includes('2') ? true : undefined;
    });
    const seen = new Set<string>();
    for (let k = 0; k < 60; k++) {
      const key = `g${k}`;
      const md = new Metadata();
      md.set('x-routing-key', key);
      const req = typedRequest('tabular_mlp', [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: features }]);
      const byMetadata: any = await call(grpc.inference, 'ModelInfer', req, 10_000, md);
      const byParameter: any = await call(grpc.inference, 'ModelInfer', { ...req, parameters: { routing_key: { string_param: key } } });
      const v = await httpVersion(key);
      expect(byMetadata.model_version).toBe(v);
      expect(byParameter.model_version).toBe(v);
      expect(byMetadata.parameters.rollout.string_param).toBe(`${id}/${v === '2' ? 'candidate' : 'baseline'}`);
      seen.add(v);
    }
    expect([...seen].sort()).toEqual(['1', '2']);
    await api.act(id, 'abort');
  });
});
