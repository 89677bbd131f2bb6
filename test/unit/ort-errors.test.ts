import { describe, expect, it } from 'vitest';
import { ModelInputError, ortRunError, withoutSourceRefs } from '../../src/core/ort-errors.js';

// Messages as onnxruntime-node 1.29.0 throws them for the sample models (see the issue 10 notes).
const BROADCAST = "Non-zero status code returned while running Add node. Name:'/Add' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:583 void onnxruntime::BroadcastIterator::Append(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 128 by 129\n";
const GATHER = "Non-zero status code returned while running Gather node. Name:'/tok/Gather' Status Message: indices element out of data bounds, idx=9000 must be within the inclusive range [-8192,8191]";
const RANK = 'Invalid rank for input: input_ids Got: 1 Expected: 2 Please fix either the inputs/outputs or the model.';
const ALLOC = "Non-zero status code returned while running MatMul node. Name:'/mm' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 Failed to allocate memory for requested buffer of size 1234";
const inputs = [{ name: 'input_ids', dims: [1, 129] }, { name: 'attention_mask', dims: [1, 129] }];

describe("onnxruntime's run failures", () => {
  it('drop source files, C++ signatures and failed conditions', () => {
    expect(withoutSourceRefs('/onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:583 void onnxruntime::BroadcastIterator::Append(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 128 by 129'))
      .toBe('Attempting to broadcast an axis by a dimension other than 1. 128 by 129');
    expect(withoutSourceRefs('plain text')).toBe('plain text');
  });

  it('input refusals become a 400 naming the inputs', () => {
    const e = ortRunError(BROADCAST, inputs);
    expect(e).toBeInstanceOf(ModelInputError);
    expect(e.kind).toBe('invalid_argument');
    expect(e.message).toBe("the model cannot compute these inputs (input_ids [1,129], attention_mask [1,129]): Add node '/Add': Attempting to broadcast an axis by a dimension other than 1. 128 by 129");
    expect(ortRunError(GATHER, inputs).message).toMatch(/Gather node '\/tok\/Gather': indices element out of data bounds, idx=9000/);
    expect(ortRunError(RANK, inputs).kind).toBe('invalid_argument');
  });

  it('resource failures and unknown ones stay internal, still without source paths', () => {
    const e = ortRunError(ALLOC, inputs);
    expect(e.kind).toBe('internal');
    expect(e.message).toBe("onnxruntime failed running the model: MatMul node '/mm': Failed to allocate memory for requested buffer of size 1234");
    expect(ortRunError('something else broke', inputs).kind).toBe('internal');
  });
});
