import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/config/model-config.js';
import { type LoadedModelFacts, tritonDataType, tritonModelConfig } from '../../src/core/model-config-view.js';

const facts = (over: Partial<LoadedModelFacts> = {}, yaml?: string): LoadedModelFacts => ({
  name: 'm',
  config: parseModelConfig(yaml, 'm'),
  maxBatchSize: 0,
  inputs: [{ name: 'x', datatype: 'FP16', shape: [3, -1] }],
  outputs: [{ name: 'y', datatype: 'BYTES', shape: [3] }],
  provider: 'cpu',
  providers: [{ name: 'cpu', require: false, options: {} }],
  intraOpThreads: 2,
  poolSize: 4,
  ...over,
});

describe('tritonModelConfig', () => {
  it('keeps every dimension when the model does not batch, and names datatypes as Triton does', () => {
    const c = tritonModelConfig(facts());
    expect(c.max_batch_size).toBe(0);
    expect(c.input[0]).toMatchObject({ name: 'x', data_type: 'TYPE_FP16', dims: [3, -1] });
    expect(c.output[0]).toMatchObject({ name: 'y', data_type: 'TYPE_STRING', dims: [3] });
    expect(c.parameters).toEqual({ intra_op_thread_count: { string_value: '2' }, execution_provider: { string_value: 'cpu' } });
    expect(c.instance_group).toEqual([{ name: 'm_0', kind: 'KIND_CPU', count: 4, gpus: [], profile: [], passive: false, host_policy: '' }]);
    expect(tritonDataType('BF16')).toBe('TYPE_BF16');
  });

  it('drops the batch dimension when max_batch_size > 0', () => {
    const c = tritonModelConfig(facts({ maxBatchSize: 8, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 30] }] }));
    expect(c.input[0].dims).toEqual([30]);
  });

  it('reports where instances really run: KIND_AUTO on CUDA is KIND_GPU on its device, a CPU fallback is KIND_CPU with the reason', () => {
    const yaml = 'instance_group: [{count: 2}]\nexecution_providers: [{name: cuda, device_id: 1}, cpu]\n';
    const providers = parseModelConfig(yaml, 'm').execution_providers;
    const gpu = tritonModelConfig(facts({ provider: 'cuda', providers }, yaml));
    expect(gpu.instance_group).toEqual([{ name: 'm_0', kind: 'KIND_GPU', count: 2, gpus: [1], profile: [], passive: false, host_policy: '' }]);
    const fell = tritonModelConfig(facts({ provider: 'cpu', providers, fallbackReason: 'no CUDA here' }, yaml));
    expect(fell.instance_group[0]).toMatchObject({ kind: 'KIND_CPU', count: 2, gpus: [] });
    expect(fell.parameters.provider_fallback_reason).toEqual({ string_value: 'no CUDA here' });
  });
});
