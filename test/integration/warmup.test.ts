import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { getJson, postJson, scratchRepository, startGateway } from '../helpers/gateway.js';

let gw: Gateway;
let url: string;

beforeAll(async () => {
  const dir = scratchRepository(['simple']);
  writeFileSync(join(dir, 'simple', 'config.yaml'), [
    'model_warmup:',
    '  - name: ones',
    '    batch_size: 4',
    '    count: 3',
    '    inputs:',
    '      INPUT0: {data_type: TYPE_INT32, dims: [16], random_data: true}',
    '      INPUT1: {data_type: TYPE_INT32, dims: [16], zero_data: true}',
  ].join('\n'));
  ({ gw, url } = await startGateway({ modelRepository: dir }));
});
afterAll(() => gw?.stop());

describe('warm-up', () => {
  it('runs before the version is ready but is not counted as traffic', async () => {
    const before = (await getJson(`${url}/v2/models/simple/stats`)).body.model_stats[0];
    expect(before.inference_count).toBe(0);
    expect(before.execution_count).toBe(0);
    expect(before.inference_stats.success.count).toBe(0);
    expect(await gw.metrics.registry.getSingleMetricAsString('infergate_inference_count_total')).not.toMatch(/model="simple"/);
    const data = Array.from({ length: 16 }, (_, i) => i);
    const res = await postJson(`${url}/v2/models/simple/infer`, { inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data },
    ] });
    expect(res.status).toBe(200);
    const after = (await getJson(`${url}/v2/models/simple/stats`)).body.model_stats[0];
    expect(after.inference_count).toBe(1);
    expect(after.execution_count).toBe(1);
    expect(await gw.metrics.registry.getSingleMetricAsString('infergate_inference_count_total')).toMatch(/infergate_inference_count_total\{model="simple",version="1"\} 1/);
  });
});
