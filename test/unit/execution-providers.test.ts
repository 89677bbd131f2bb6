import { describe, expect, it } from 'vitest';
import { parseModelConfig, parseProviderList } from '../../src/config/model-config.js';
import { loadServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/validate.js';

const config = (yaml: string) => parseModelConfig(yaml, 'm');

describe('execution_providers in config.yaml', () => {
  it('takes bare names in order, with no options and no require', () => {
    expect(config('execution_providers: [cuda, cpu]').execution_providers).toEqual([
      { name: 'cuda', require: false, options: {} },
      { name: 'cpu', require: false, options: {} },
    ]);
  });

  it('takes mappings with the options that reach onnxruntime and the require flag', () => {
    const c = config(`
execution_providers:
  - { name: cuda, device_id: 1, require: true }
  - { name: cpu, intra_op_threads: 2 }
`);
    expect(c.execution_providers).toEqual([
      { name: 'cuda', require: true, options: { device_id: 1 } },
      { name: 'cpu', require: false, options: { intra_op_threads: 2 } },
    ]);
  });

  it('leaves the list empty when absent, so the server default applies', () => {
    expect(config('max_batch_size: 8').execution_providers).toEqual([]);
  });

  it('rejects an unknown provider name, naming the entry', () => {
    expect(() => config('execution_providers: [tpu]')).toThrow(/execution_providers\[0\]: must be one of cpu, cuda, webgpu, got "tpu"/);
  });

  it('rejects an unknown option, naming the key and what is allowed', () => {
    expect(() => config('execution_providers: [{ name: cuda, devcie_id: 0 }]')).toThrow(
      /execution_providers\[0\]: unknown key 'devcie_id' \(allowed: name, require, device_id\)/,
    );
  });

  it('rejects CUDA options onnxruntime-node cannot pass, instead of dropping them', () => {
    for (const k of ['gpu_mem_limit: 1024', 'arena_extend_strategy: kSameAsRequested', 'cudnn_conv_algo_search: HEURISTIC', 'do_copy_in_default_stream: true']) {
      const key = k.split(':')[0];
      expect(() => config(`execution_providers: [{ name: cuda, ${k} }]`)).toThrow(
        new RegExp(`execution_providers\\[0\\]\\.${key}: not supported: onnxruntime-node 1.29.0 passes only device_id to the cuda provider`),
      );
    }
    expect(() => config('execution_providers: [{ name: webgpu, device_id: 0 }]')).toThrow(/\.device_id: not supported: .* passes no options to the webgpu provider/);
  });

  it('rejects an option of another provider, a bad value, a missing name and a duplicate', () => {
    expect(() => config('execution_providers: [{ name: cpu, device_id: 0 }]')).toThrow(/unknown key 'device_id'/);
    expect(() => config('execution_providers: [{ name: cuda, device_id: -1 }]')).toThrow(/execution_providers\[0\]\.device_id: must be an integer >= 0/);
    expect(() => config('execution_providers: [{ name: cpu, intra_op_threads: 0 }]')).toThrow(/intra_op_threads: must be an integer >= 1/);
    expect(() => config('execution_providers: [{ name: cuda, require: yes-please }]')).toThrow(/require: must be true or false/);
    expect(() => config('execution_providers: [{ device_id: 0 }]')).toThrow(/execution_providers\[0\]: needs a 'name'/);
    expect(() => config('execution_providers: [cuda, cpu, cuda]')).toThrow(/provider 'cuda' is listed twice/);
  });

  it('prefixes errors with the model name', () => {
    expect(() => parseModelConfig('execution_providers: [tpu]', 'resnet')).toThrow(/^model 'resnet': /);
  });
});

describe('instance_group kind', () => {
  it('parses KIND_GPU with gpus and count', () => {
    expect(config('instance_group: [{ kind: KIND_GPU, count: 2, gpus: [1] }]').instance_group).toEqual([
      { kind: 'KIND_GPU', count: 2, gpus: [1] },
    ]);
  });

  it('rejects an unknown kind', () => {
    expect(() => config('instance_group: [{ kind: KIND_TPU }]')).toThrow(/instance_group\[0\]\.kind: must be one of KIND_AUTO, KIND_CPU, KIND_GPU/);
  });

  it('rejects KIND_CPU with a GPU provider, KIND_GPU with only cpu, and mixed kinds', () => {
    expect(() => config('instance_group: [{ kind: KIND_CPU }]\nexecution_providers: [cuda, cpu]')).toThrow(/KIND_CPU conflicts with a non-CPU entry/);
    expect(() => config('instance_group: [{ kind: KIND_GPU }]\nexecution_providers: [cpu]')).toThrow(/KIND_GPU conflicts with execution_providers that list no GPU provider/);
    expect(() => config('instance_group: [{ kind: KIND_GPU }, { kind: KIND_CPU }]')).toThrow(/mixing KIND_GPU and KIND_CPU/);
  });

  it('accepts KIND_GPU with an explicit GPU-first list', () => {
    expect(config('instance_group: [{ kind: KIND_GPU }]\nexecution_providers: [webgpu, cpu]').execution_providers.map((p) => p.name)).toEqual(['webgpu', 'cpu']);
  });
});

describe('server --execution-providers', () => {
  it('defaults to cpu', () => {
    expect(loadServerConfig({}, {}).executionProviders).toEqual([{ name: 'cpu', require: false, options: {} }]);
  });

  it('parses a comma list from the flag, in order', () => {
    expect(loadServerConfig({ 'execution-providers': 'cuda, cpu' }, {}).executionProviders.map((p) => p.name)).toEqual(['cuda', 'cpu']);
  });

  it('reads INFERGATE_EXECUTION_PROVIDERS, and the flag wins over it', () => {
    expect(loadServerConfig({}, { INFERGATE_EXECUTION_PROVIDERS: 'webgpu,cpu' }).executionProviders.map((p) => p.name)).toEqual(['webgpu', 'cpu']);
    expect(loadServerConfig({ 'execution-providers': 'cpu' }, { INFERGATE_EXECUTION_PROVIDERS: 'cuda,cpu' }).executionProviders.map((p) => p.name)).toEqual(['cpu']);
  });

  it('rejects an unknown provider naming the flag, and an empty list', () => {
    expect(() => loadServerConfig({ 'execution-providers': 'cuda,tpu' }, {})).toThrow(/--execution-providers\[1\]: must be one of cpu, cuda, webgpu, got "tpu"/);
    expect(() => loadServerConfig({ 'execution-providers': ' , ' }, {})).toThrow(ConfigError);
    expect(() => loadServerConfig({ 'execution-providers': ' , ' }, {})).toThrow(/list at least one provider/);
  });

  it('parseProviderList takes a comma string the same as a YAML list', () => {
    expect(parseProviderList('cuda,cpu', 'x')).toEqual(parseProviderList(['cuda', 'cpu'], 'x'));
  });
});
