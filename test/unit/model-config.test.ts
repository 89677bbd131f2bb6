import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/config/model-config.js';
import { loadServerConfig } from '../../src/config/server-config.js';
import { selectVersions } from '../../src/core/lifecycle.js';

describe('model config.yaml', () => {
  it('defaults everything when there is no file', () => {
    const c = parseModelConfig(undefined, 'm');
    expect(c.max_batch_size).toBeUndefined();
    expect(c.version_policy).toEqual({ latest: { num_versions: 1 } });
    expect(c.dynamic_batching.max_queue_delay_microseconds).toBe(0);
    expect(c.dynamic_batching.default_queue_policy).toEqual({ max_queue_size: 0, default_timeout_microseconds: 0, allow_timeout_override: true });
  });

  it("reads Triton's vocabulary", () => {
    const c = parseModelConfig(
      `name: m
max_batch_size: 32
dynamic_batching:
  preferred_batch_size: [8, 16]
  max_queue_delay_microseconds: 100
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy: {max_queue_size: 10, default_timeout_microseconds: 5000, allow_timeout_override: false, timeout_action: REJECT}
instance_group: [{count: 2, kind: KIND_CPU}]
version_policy: {specific: {versions: [1, 3]}}
model_warmup:
  - name: w
    batch_size: 4
    inputs: {x: {data_type: TYPE_FP32, dims: [30], random_data: true}}
`,
      'm',
    );
    expect(c.max_batch_size).toBe(32);
    expect(c.dynamic_batching.preferred_batch_size).toEqual([8, 16]);
    expect(c.dynamic_batching.default_queue_policy.max_queue_size).toBe(10);
    expect(c.instance_group).toEqual([{ count: 2, kind: 'KIND_CPU', gpus: [] }]);
    expect(c.model_warmup[0]).toMatchObject({ name: 'w', batch_size: 4, count: 1, inputs: { x: { source: 'random_data', dims: [30] } } });
    expect(selectVersions(['1', '2', '3'], c)).toEqual(['1', '3']);
  });

  it('names the unknown key, wherever it is', () => {
    expect(() => parseModelConfig('max_batch: 3', 'm')).toThrow(/model 'm': config: unknown key 'max_batch'/);
    expect(() => parseModelConfig('dynamic_batching: {max_queue_delay: 3}', 'm')).toThrow(/dynamic_batching: unknown key 'max_queue_delay'/);
    expect(() => parseModelConfig('dynamic_batching: {default_queue_policy: {size: 3}}', 'm')).toThrow(/default_queue_policy: unknown key 'size'/);
    expect(() => parseModelConfig('instance_group: [{count: 1, where: x}]', 'm')).toThrow(/instance_group\[0\]: unknown key 'where'/);
  });

  it('rejects bad values clearly', () => {
    expect(() => parseModelConfig('max_batch_size: -1', 'm')).toThrow(/max_batch_size: must be an integer >= 0/);
    expect(() => parseModelConfig('name: other', 'm')).toThrow(/does not match the model folder 'm'/);
    expect(() => parseModelConfig('version_policy: {latest: {num_versions: 1}, all: {}}', 'm')).toThrow(/exactly one/);
    expect(() => parseModelConfig('dynamic_batching: {priority_levels: 2, default_priority_level: 3}', 'm')).toThrow(/default_priority_level/);
    expect(() => parseModelConfig(': : :', 'm')).toThrow(/not valid YAML/);
    expect(() => parseModelConfig('platform: tensorflow_savedmodel', 'm')).toThrow(/only onnxruntime_onnx/);
  });

  it('applies version policies as Triton does', () => {
    const v = ['1', '2', '10'];
    expect(selectVersions(v, parseModelConfig(undefined, 'm'))).toEqual(['10']);
    expect(selectVersions(v, parseModelConfig('version_policy: {latest: {num_versions: 2}}', 'm'))).toEqual(['2', '10']);
    expect(selectVersions(v, parseModelConfig('version_policy: {all: {}}', 'm'))).toEqual(['1', '2', '10']);
  });
});

describe('server config', () => {
  it('merges defaults < file < environment < flags', () => {
    const env = { INFERGATE_HTTP_PORT: '9100', INFERGATE_POOL_SIZE: '3' };
    const c = loadServerConfig({ 'pool-size': '5' }, env);
    expect(c.httpPort).toBe(9100);
    expect(c.poolSize).toBe(5);
    expect(c.grpcPort).toBe(8001);
    expect(c.metricsPort).toBe(8002);
  });

  it('rejects unknown modes and bad numbers with the flag name', () => {
    expect(() => loadServerConfig({ 'model-control-mode': 'auto' }, {})).toThrow(/--model-control-mode: must be one of none, poll, explicit/);
    expect(() => loadServerConfig({}, { INFERGATE_HTTP_PORT: 'abc' })).toThrow(/INFERGATE_HTTP_PORT: must be an integer/);
  });
});
