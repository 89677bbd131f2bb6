import { describe, expect, it } from 'vitest';
import { DATATYPES } from '../../src/protocol/datatypes.js';
import { decodeInferRequest, encodeInferResponse } from '../../src/protocol/json-codec.js';
import { rawFromTensorData, tensorDataFromRaw } from '../../src/protocol/raw-codec.js';

const one = (datatype: string, data: unknown[], shape = [data.length]) => ({ inputs: [{ name: 'x', datatype, shape, data }] });

describe('JSON tensor decoding', () => {
  const cases: [string, unknown[], string, unknown[]][] = [
    ['BOOL', [true, false], 'Uint8Array', [1, 0]],
    ['UINT8', [0, 255], 'Uint8Array', [0, 255]],
    ['UINT16', [0, 65535], 'Uint16Array', [0, 65535]],
    ['UINT32', [0, 4294967295], 'Uint32Array', [0, 4294967295]],
    ['UINT64', [0, 2 ** 53 - 1], 'BigUint64Array', [0n, 2n ** 53n - 1n]],
    ['INT8', [-128, 127], 'Int8Array', [-128, 127]],
    ['INT16', [-32768, 32767], 'Int16Array', [-32768, 32767]],
    ['INT32', [-(2 ** 31), 2 ** 31 - 1], 'Int32Array', [-(2 ** 31), 2 ** 31 - 1]],
    ['INT64', [-(2 ** 53 - 1), 2 ** 53 - 1], 'BigInt64Array', [-(2n ** 53n - 1n), 2n ** 53n - 1n]],
    ['FP32', [0.5, -1.25], 'Float32Array', [0.5, -1.25]],
    ['FP64', [0.1, 1e300], 'Float64Array', [0.1, 1e300]],
    ['BYTES', ['a', 'héllo'], 'Array', ['a', 'héllo']],
  ];
  for (const [dt, data, ctor, expected] of cases) {
    it(`decodes ${dt} straight into ${ctor}`, () => {
      const t = decodeInferRequest(one(dt, data)).inputs[0];
      expect(t.data.constructor.name).toBe(ctor);
      expect(Array.from(t.data as ArrayLike<unknown>)).toEqual(expected);
    });
  }

  it('covers every OIP datatype (FP16/BF16 only as binary)', () => {
    const json = new Set(cases.map((c) => c[0]));
    expect(DATATYPES.filter((d) => !json.has(d))).toEqual(['FP16', 'BF16']);
    for (const dt of ['FP16', 'BF16']) expect(() => decodeInferRequest(one(dt, [1]))).toThrow(`receiving ${dt} data via JSON is not supported. Please use the binary data format for input x`);
  });

  it('flattens nested row-major data and counts elements', () => {
    const t = decodeInferRequest(one('INT32', [[1, 2, 3], [4, 5, 6]], [2, 3])).inputs[0];
    expect(Array.from(t.data as Int32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => decodeInferRequest(one('INT32', [[1, 2], [3, 4, 5]], [2, 3]))).toThrow("Failed to parse 'data' field: shape does not match true shape (input 'x': shape implies 6 elements but 'data' has 5)");
  });

  it('rejects values outside the datatype', () => {
    expect(() => decodeInferRequest(one('UINT8', [256]))).toThrow(/256 is not a valid UINT8/);
    expect(() => decodeInferRequest(one('INT8', [-129]))).toThrow(/not a valid INT8/);
    expect(() => decodeInferRequest(one('UINT64', [-1]))).toThrow(/not a valid UINT64/);
    expect(() => decodeInferRequest(one('BOOL', [1]))).toThrow(/BOOL data must be true or false/);
    expect(() => decodeInferRequest(one('BYTES', [1]))).toThrow(/BYTES data must be strings/);
  });
});

describe('raw (binary) tensor data', () => {
  const tag = { model: 'm' };
  it('round-trips every fixed-size datatype byte for byte, as views when aligned', () => {
    const bytes = new Uint8Array(64).map((_, i) => (i * 37) & 0xff);
    for (const dt of DATATYPES) {
      if (dt === 'BYTES') continue;
      const size = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 }[dt];
      const data = tensorDataFromRaw('x', dt, bytes, 64 / size, tag);
      expect(Buffer.from(rawFromTensorData(data)).equals(Buffer.from(bytes)), dt).toBe(true);
      expect((data as Uint8Array).buffer).toBe(bytes.buffer);
    }
  });

  it('copies misaligned bytes instead of failing', () => {
    const buf = new Uint8Array(17);
    new DataView(buf.buffer).setFloat32(1, 2.5, true);
    const data = tensorDataFromRaw('x', 'FP32', buf.subarray(1, 5), 1, tag) as Float32Array;
    expect(data[0]).toBe(2.5);
  });

  it('frames BYTES as 4-byte little-endian lengths', () => {
    const raw = rawFromTensorData(['ab', '', 'ü']);
    expect(Array.from(raw)).toEqual([2, 0, 0, 0, 97, 98, 0, 0, 0, 0, 2, 0, 0, 0, 0xc3, 0xbc]);
    expect(tensorDataFromRaw('x', 'BYTES', raw, 3, tag)).toEqual(['ab', '', 'ü']);
    // Triton's texts (core infer_request.cc ValidateBytesInputs).
    expect(() => tensorDataFromRaw('x', 'BYTES', raw, 4, tag)).toThrow("[request id: <id_unknown>] expected 4 string elements for inference input 'x' for model 'm', got 3");
    expect(() => tensorDataFromRaw('x', 'BYTES', raw, 2, { model: 'm', id: 'r7' })).toThrow("[request id: r7] unexpected number of string elements 3 for inference input 'x' for model 'm', expecting 2");
    expect(() => tensorDataFromRaw('x', 'BYTES', raw.subarray(0, 8), 2, tag)).toThrow(/incomplete string length indicator for inference input 'x' for model 'm', expecting 4 bytes but only 2 bytes available/);
    expect(() => tensorDataFromRaw('x', 'BYTES', new Uint8Array([9, 0, 0, 0, 1]), 1, tag)).toThrow(/past the end/);
    expect(() => tensorDataFromRaw('x', 'INT32', new Uint8Array(6), 2, tag)).toThrow("[request id: <id_unknown>] input byte size mismatch for input 'x' for model 'm'. Expected 8, got 6");
  });
});

describe('JSON response encoding', () => {
  it('writes numbers, booleans, strings, 16-bit floats and binary outputs', () => {
    const res = encodeInferResponse(
      {
        model_name: 'm', model_version: '1', id: 'q',
        outputs: [
          { name: 'f', datatype: 'FP32', shape: [2], data: new Float32Array([0.5, NaN]) },
          { name: 'b', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
          { name: 's', datatype: 'BYTES', shape: [1], data: ['x"y'] },
          { name: 'h', datatype: 'FP16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
          { name: 'i', datatype: 'INT64', shape: [1], data: new BigInt64Array([-5n]) },
          { name: 'raw', datatype: 'INT32', shape: [2], data: new Int32Array([1, 2]) },
        ],
      },
      (n) => n === 'raw',
    );
    const json = JSON.parse(res.json);
    expect(json.id).toBe('q');
    expect(json.outputs.map((o: { data?: unknown }) => o.data)).toEqual([[0.5, null], [true, false], ['x"y'], [1, -2], [-5], undefined]);
    expect(json.outputs[5].parameters).toEqual({ binary_data_size: 8 });
    expect(Array.from(new Int32Array(Uint8Array.from(Buffer.concat(res.binary)).buffer))).toEqual([1, 2]);
  });
});
