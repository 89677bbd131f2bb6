import { describe, expect, it } from 'vitest';
import { checkRequest, requestByteLimit, type Signature } from '../../src/core/signature.js';

const tabular: Signature = {
  name: 'tabular_mlp', maxBatchSize: 64,
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 30] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
};

describe('request byte limit from a signature', () => {
  it('bounds a fixed-shape model by its largest batch', () => {
    const limit = requestByteLimit(tabular)!;
    // 64 rows x 30 elements, generous per element, plus room for names and parameters.
    expect(limit).toBeGreaterThan(64 * 30 * 25);
    expect(limit).toBeLessThan(1024 * 1024);
    expect(requestByteLimit({ ...tabular, maxBatchSize: 0, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 30] }] })).toBeLessThan(limit);
  });

  it('leaves models it cannot bound to the server-wide limit', () => {
    expect(requestByteLimit({ ...tabular, inputs: [{ name: 'ids', datatype: 'INT64', shape: [-1, -1] }] })).toBeUndefined();
    expect(requestByteLimit({ ...tabular, inputs: [{ name: 'plan', datatype: 'BYTES', shape: [-1, 1] }] })).toBeUndefined();
  });
});

describe('request checks against a signature', () => {
  it('orders inputs as the model does and derives rows and the batch key', () => {
    const c = checkRequest(tabular, { inputs: [{ name: 'features', datatype: 'FP32', shape: [3, 30], data: new Float32Array(90) }], outputs: [{ name: 'probabilities' }] });
    expect(c.rows).toBe(3);
    expect(c.shapeKey).toBe('30;');
    expect([...c.wanted!]).toEqual(['probabilities']);
  });

  it('refuses an unknown output, a wrong datatype and a data length that does not match the shape', () => {
    expect(() => checkRequest(tabular, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: new Float32Array(30) }], outputs: [{ name: 'nope' }] })).toThrow(/unexpected inference output 'nope'/);
    expect(() => checkRequest(tabular, { inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 30], data: new Float64Array(30) }] })).toThrow(/FP64/);
    expect(() => checkRequest(tabular, { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: new Float32Array(30) }] })).toThrow(/input byte size mismatch for input 'features' .*Expected 240, got 120/);
  });
});
