import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/registry/errors.js';
import { bucketOf } from '../../src/rollout/hash.js';
import type { RequestContext } from '../../src/core/pipeline.js';
import { type Arm, RolloutRouter, pickArm } from '../../src/rollout/router.js';
import { parseRolloutSpec } from '../../src/rollout/spec.js';
import { compare } from '../../src/rollout/traffic.js';
import type { Rollout } from '../../src/rollout/types.js';

const base = { model: 'tabular_mlp', baseline: 'champion', candidate: 2 };

function refusal(spec: unknown): string {
  try {
    parseRolloutSpec(spec);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('rollout spec', () => {
  it('reads the documented spec, with Flagger-style step_weight/max_weight as an alternative', () => {
    const s = parseRolloutSpec({ ...base, steps: [5, 25, 50, 100], interval: '30s', analysis: [{ metric: 'latency_p99', max_ratio: 1.5 }], match: [{ header: 'X-Canary', value: '1' }] });
    expect(s).toMatchObject({ candidate: '2', steps: [5, 25, 50], intervalMs: 30_000, minRequests: 100, failureLimit: 2, mirrorPercent: 0, match: [{ header: 'x-canary', value: '1' }] });
    expect(s.analysis).toEqual([{ metric: 'latency_p99', maxRatio: 1.5 }]);
    expect(parseRolloutSpec({ ...base, step_weight: 10, max_weight: 50 }).steps).toEqual([10, 20, 30, 40, 50]);
    expect(parseRolloutSpec({ ...base, strategy: 'shadow' })).toMatchObject({ steps: [], mirrorPercent: 100 });
  });

  it('refuses bad input naming the field', () => {
    expect(refusal({ ...base, steps: [] })).toContain("'steps'");
    expect(refusal({ ...base, steps: [10, 100, 50] })).toContain("'steps[1]'");
    expect(refusal({ ...base, steps: [10], step_weight: 5 })).toContain("'steps'");
    expect(refusal({ ...base, steps: [10], interval: '3 days' })).toContain("'interval'");
    expect(refusal({ ...base, steps: [10], min_requests: -1 })).toContain("'min_requests'");
    expect(refusal({ ...base, steps: [10], analysis: [{ metric: 'error_rate' }] })).toContain("'analysis[0].max'");
    expect(refusal({ ...base, steps: [10], analysis: [{ metric: 'dataset_drift', equals: 'no' }] })).toContain("'analysis[0].equals'");
    expect(refusal({ ...base, steps: [10], match: [{ header: 'bad header', value: '1' }] })).toContain("'match[0].header'");
    expect(refusal({ ...base, steps: [10], sticky: { parameter: 'user' } })).toContain("'sticky.parameter'");
    expect(refusal({ ...base, steps: [10], webhook: 'ftp://x' })).toContain("'webhook'");
    expect(refusal({ ...base, model: '../etc', steps: [10] })).toContain("'model'");
    expect(refusal([])).toContain('must be an object');
  });
});

describe('sticky routing', () => {
  const rollout = (weight: number): Rollout => ({
    id: 'r0000abcd', spec: parseRolloutSpec({ ...base, steps: [10, 50] }), phase: 'PROGRESSING', stepIndex: 0, weight, failures: 0,
    baselineVersion: '1', candidateVersion: '2', promoteAlias: 'champion', runs: [], createdAt: 0, updatedAt: 0,
  });
  const arm = (w: number, key: string): Arm => pickArm(rollout(w), { source: 'direct', headers: {}, routingKey: key });

  it('raising the weight only moves keys from baseline to candidate, and the share follows the weight', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);
    let before = new Set<string>();
    for (const w of [1, 5, 10, 25, 50, 75, 99]) {
      const on = new Set(keys.filter((k) => arm(w, k) === 'candidate'));
      for (const k of before) expect(on.has(k)).toBe(true);
      expect(Math.abs(on.size - 100 * w)).toBeLessThan(4 * Math.sqrt(10_000 * (w / 100) * (1 - w / 100)) + 1);
      before = on;
    }
    expect(bucketOf('r0000abcd', 'k')).toBe(bucketOf('r0000abcd', 'k'));
  });

  it('a matching header always goes to the candidate; paused holds, an ended rollout routes nothing to it', () => {
    const r = rollout(0);
    r.spec.match.push({ header: 'x-canary', value: '1' });
    expect(pickArm(r, { source: 'http', headers: { 'x-canary': '1' } })).toBe('candidate');
    expect(pickArm(r, { source: 'http', headers: { 'x-canary': '0' } })).toBe('baseline');
    expect(pickArm({ ...rollout(100), phase: 'ROLLED_BACK' }, { source: 'direct', headers: {}, routingKey: 'k' })).toBe('baseline');
    expect(pickArm({ ...rollout(99), phase: 'PAUSED' }, { source: 'http', headers: { 'x-routing-key': 'k' } })).toBe(arm(99, 'k'));
  });

  it("tells the batcher each routed request's share of the model's traffic (a shadow and an unsplit rollout split nothing)", () => {
    const router = new RolloutRouter(() => true);
    const routed = (r: Rollout, key: string) => {
      router.set([r]);
      const ctx: RequestContext = { source: 'direct', headers: {}, routingKey: key };
      const version = router.defaultVersion('tabular_mlp', ctx);
      return { version, share: ctx.trafficShare, arm: ctx.responseParameters?.rollout };
    };
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (const w of [10, 50]) {
      for (const k of keys) {
        const { version, share, arm: served } = routed(rollout(w), k);
        expect(served).toBe(`r0000abcd/${arm(w, k)}`);
        expect(share).toBeCloseTo(version === '2' ? w / 100 : 1 - w / 100);
      }
    }
    expect(routed(rollout(0), 'k1').share).toBeUndefined();
    const shadow = { ...rollout(0), spec: parseRolloutSpec({ ...base, strategy: 'shadow' }) };
    expect(routed(shadow, 'k1')).toMatchObject({ version: '1', share: undefined });
  });
});

describe('mirrored answer comparison', () => {
  const t = (data: number[], shape: number[]) => ({ name: 'p', datatype: 'FP32' as const, shape, data: Float32Array.from(data) });
  it('counts rows whose predicted class (argmax) differs, or whose value differs beyond the tolerance', () => {
    expect(compare(t([0.9, 0.1, 0.2, 0.8, 0.6, 0.4], [3, 2]), t([0.7, 0.3, 0.6, 0.4, 0.1, 0.9], [3, 2]))).toEqual({ rows: 3, differing: 2 });
    expect(compare(t([1, 2, 3], [3, 1]), t([1.0001, 2.5, 3], [3, 1]))).toEqual({ rows: 3, differing: 1 });
    expect(compare(t([1, 2], [1, 2]), undefined)).toEqual({ rows: 0, differing: 0 });
  });
});
