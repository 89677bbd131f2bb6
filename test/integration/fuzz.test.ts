import { describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt } from '../helpers/cli.js';
import { servedWithGrpc } from '../helpers/served-cli.js';
import { postJson } from '../helpers/gateway.js';
import { runCases } from '../helpers/fuzz-client.js';
import { type GrpcClients, call, typedRequest } from '../helpers/grpc-client.js';
import { malformedRequests } from '../helpers/malformed.js';

/**
 * Issue 10, fuzz slice: 10,000 malformed requests (HTTP JSON, HTTP binary, gRPC), generated
 * from a fixed seed so a failure names a reproducible case (seed + index), against the built
 * CLI. None may be answered >= 500 (gRPC codes mapped to the same kinds), none may lose its
 * connection, and the server must serve valid requests afterwards.
 * FUZZ_SEED picks another seed, for exploring; CI uses the fixed one.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const COUNT = 10_000;

describe.skipIf(!cliBuilt)('fuzz slice against the built CLI (skipped only when dist/ is not built; npm test builds it)', () => {
  let cli: RunningCli;
  let grpc: GrpcClients;
  servedWithGrpc([], (c, g) => ((cli = c), (grpc = g)));

  it(`${COUNT} malformed requests from seed ${SEED}: none answered >= 500, the server still serves`, async () => {
    const cases = malformedRequests(SEED, COUNT);
    const outcomes = await runCases(cases, cli.url, grpc.inference, 8);
    expect(outcomes).toHaveLength(COUNT);
    const bad = outcomes.filter((o) => o.status >= 500 || o.status <= 0);
    expect(bad.slice(0, 10).map((o) => `seed ${SEED} case ${o.index} (${o.kind}): ${o.status} ${o.error}`)).toEqual([]);
    // The mix exercised every path: refusals on both protocols, and some requests left valid.
    const by = (kind: string, status: number) => outcomes.filter((o) => o.kind === kind && o.status === status).length;
    expect(by('http', 400)).toBeGreaterThan(1000);
    expect(by('grpc', 400)).toBeGreaterThan(1000);
    expect(by('http', 200) + by('grpc', 200)).toBeGreaterThan(0);

    const simple = ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(5) }));
    const http = await postJson(`${cli.url}/v2/models/simple/infer`, { inputs: simple });
    expect(http.status).toBe(200);
    expect(http.body.outputs[0].data).toEqual(Array(16).fill(10));
    expect((await call<{ model_name: string }>(grpc.inference, 'ModelInfer', typedRequest('simple', simple))).model_name).toBe('simple');
    expect(cli.child.exitCode).toBeNull();
    expect(cli.output()).not.toMatch(/"level":50/);
  });
});
