import { afterAll, describe, expect, it } from 'vitest';
import type { ProviderSpec } from '../../src/config/model-config.js';
import { PoolLayout } from '../../src/core/pool-layout.js';

const CUDA: ProviderSpec[] = [{ name: 'cuda', require: false, options: {} }, { name: 'cpu', require: false, options: {} }];
const CPU: ProviderSpec[] = [{ name: 'cpu', require: false, options: {} }];
const layout = new PoolLayout(1);
afterAll(() => layout.close());

describe('pool layout', () => {
  it('gives every loaded copy of a GPU model version a pool of its own: a canary never shares its baseline\'s', () => {
    const baseline = layout.poolFor('resnet', '1', CUDA, 1);
    const canary = layout.poolFor('resnet', '2', CUDA, 2);
    const reload = layout.poolFor('resnet', '2', CUDA, 1);
    expect(new Set([baseline, canary, reload]).size).toBe(3);
    expect([baseline.name, canary.name, reload.name]).toEqual(['cuda:resnet', 'cuda:resnet/2', 'cuda:resnet/2#2']);
    expect(canary.size).toBe(2);
    expect(layout.all()).toHaveLength(4);
  });

  it('puts CPU versions, of any model, on the one shared pool', () => {
    expect(layout.poolFor('simple', '1', CPU, 4)).toBe(layout.cpu);
    expect(layout.poolFor('simple', '2', [], 1)).toBe(layout.cpu);
  });

  it('releases a version\'s own pool and never the shared one', () => {
    const own = layout.all().find((p) => p.name === 'cuda:resnet/2')!;
    layout.releasePool(own);
    layout.releasePool(layout.cpu);
    expect(layout.all().map((p) => p.name)).toEqual(['cpu', 'cuda:resnet', 'cuda:resnet/2#2']);
  });
});
