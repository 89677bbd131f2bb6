import { describe, expect, it } from 'vitest';
import { FRAMING_BYTES, largestRequest } from '../../src/protocol/request-bounds.js';

describe('largest valid request from a model signature', () => {
  it('bounds models with fixed non-batch dimensions (the sample models simple, tabular_mlp, digits_cnn)', () => {
    const simple = largestRequest([{ name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] }], 64);
    expect(simple).toEqual({ binaryBytes: 2 * 64 * 16 * 4 + FRAMING_BYTES, jsonBytes: 2 * (2 * 64 * 16 * 12) + FRAMING_BYTES });
    const mlp = largestRequest([{ name: 'features', datatype: 'FP32', shape: [-1, 30] }], 64)!;
    expect(mlp.jsonBytes).toBe(2 * 64 * 30 * 25 + FRAMING_BYTES);
    // 64 rows of 1x8x8: about 200 KB of JSON at most, against a 64 MiB server-wide default.
    expect(largestRequest([{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }], 64)!.jsonBytes).toBe(2 * 64 * 64 * 25 + FRAMING_BYTES);
    expect(largestRequest([{ name: 'x', datatype: 'FP16', shape: [2, 3] }], 0)).toEqual({ binaryBytes: 12 + FRAMING_BYTES, jsonBytes: 24 + FRAMING_BYTES });
  });

  it('has no bound for BYTES inputs or dynamic non-batch dimensions (churn_pipeline, text_encoder)', () => {
    expect(largestRequest([{ name: 'plan', datatype: 'BYTES', shape: [-1, 1] }], 64)).toBeUndefined();
    expect(largestRequest([{ name: 'input_ids', datatype: 'INT64', shape: [-1, -1] }], 16)).toBeUndefined();
    expect(largestRequest([{ name: 'x', datatype: 'FP32', shape: [-1, 4] }], 0)).toBeUndefined();
  });
});
