import { describe, expect, it } from 'vitest';
import { decodeModelInferRequest } from '../../src/api/grpc/codec.js';
import { clip, clipJson, clipMessage } from '../../src/protocol/clip.js';
import { decodeInferRequest } from '../../src/protocol/json-codec.js';
import { DEFAULT_MAX_ELEMENTS, checkedElementCount } from '../../src/protocol/limits.js';
import { tensorDataFromRaw } from '../../src/protocol/raw-codec.js';

const limits = { maxElements: 1000 };

describe('element counts are bounded before anything is allocated', () => {
  it('counts a shape, refusing counts over the limit, unsafe products and too many dimensions', () => {
    expect(checkedElementCount('x', [10, 10], 0, limits)).toBe(100);
    expect(checkedElementCount('x', [0, 2 ** 40], 0, limits)).toBe(0);
    expect(checkedElementCount('x', [], 0, limits)).toBe(1);
    expect(() => checkedElementCount('x', [10, 101], 0, limits)).toThrow("input 'x': shape [10,101] implies 1010 elements, over the server's limit of 1000 per request (--max-request-elements)");
    expect(() => checkedElementCount('x', [600], 500, limits)).toThrow(/implies 600 elements, over the server's limit of 1000 per request \(500 already taken by the request's other inputs\)/);
    expect(() => checkedElementCount('x', [2 ** 30, 2 ** 30, 2 ** 30], 0, { maxElements: DEFAULT_MAX_ELEMENTS })).toThrow(/implies more than 2\^53 elements/);
    expect(() => checkedElementCount('x', Array(65).fill(1), 0, limits)).toThrow(/65 dimensions, more than the 64 allowed/);
  });

  it('the JSON codec applies the limit across all inputs of a request', () => {
    const input = (name: string, n: number) => ({ name, datatype: 'INT32', shape: [n], data: Array(n).fill(1) });
    expect(decodeInferRequest({ inputs: [input('a', 500), input('b', 500)] }, undefined, '', limits).inputs).toHaveLength(2);
    expect(() => decodeInferRequest({ inputs: [input('a', 500), input('b', 501)] }, undefined, '', limits)).toThrow(/input 'b'.*501 elements.*500 already taken/);
    expect(() => decodeInferRequest({ inputs: [{ name: 'a', datatype: 'BYTES', shape: [4294967296, 1], data: [] }] })).toThrow(/4294967296 elements, over the server's limit of 16777216/);
  });

  it('binary BYTES data must hold 4 bytes per element before the elements are allocated', () => {
    const nine = new Uint8Array([5, 0, 0, 0, ...Buffer.from('basic')]);
    const tag = { model: 'churn_pipeline' };
    expect(tensorDataFromRaw('plan', 'BYTES', nine, 1, tag)).toEqual(['basic']);
    expect(() => tensorDataFromRaw('plan', 'BYTES', nine, 3, tag)).toThrow(/expected 3 string elements for inference input 'plan' .*\(3 BYTES elements need at least 12 bytes, a 4-byte length each; got 9\)/);
    expect(() => tensorDataFromRaw('plan', 'BYTES', nine, 2, tag)).toThrow(/expected 2 string elements for inference input 'plan' for model 'churn_pipeline', got 1/);
    expect(() => tensorDataFromRaw('x', 'FP32', new Uint8Array(8), 3, tag)).toThrow(/input byte size mismatch for input 'x' for model 'churn_pipeline'. Expected 12, got 8/);
  });

  it('the binary extension checks the limit before binary_data_size and the bytes', () => {
    const bytes = new Uint8Array([5, 0, 0, 0, ...Buffer.from('basic')]);
    const body = { inputs: [{ name: 'plan', datatype: 'BYTES', shape: [30000000, 1], parameters: { binary_data_size: 9 } }] };
    expect(() => decodeInferRequest(body, { bytes, offset: 0 })).toThrow(/30000000 elements, over the server's limit/);
    const within = { inputs: [{ name: 'plan', datatype: 'BYTES', shape: [3000000, 1], parameters: { binary_data_size: 9 } }] };
    expect(() => decodeInferRequest(within, { bytes, offset: 0 })).toThrow(/3000000 BYTES elements need at least 12000000 bytes/);
  });

  it('the gRPC codec applies the same limits to raw and typed contents', () => {
    const raw = { model_name: 'm', model_version: '', id: '', outputs: [], inputs: [{ name: 'plan', datatype: 'BYTES', shape: ['4294967296', '1'] }], raw_input_contents: [new Uint8Array(9)] };
    expect(() => decodeModelInferRequest(raw)).toThrow(/4294967296 elements, over the server's limit/);
    const typed = { model_name: 'm', model_version: '', id: '', outputs: [], raw_input_contents: [], inputs: [{ name: 'a', datatype: 'INT32', shape: ['600'], contents: { int_contents: Array(600).fill(1) } }, { name: 'b', datatype: 'INT32', shape: ['600'], contents: { int_contents: Array(600).fill(1) } }] };
    expect(() => decodeModelInferRequest(typed, limits)).toThrow(/input 'b'.*600 already taken/);
  });
});

describe('nested JSON data is no deeper than its shape', () => {
  const nest = (depth: number, leaf: unknown): unknown => (depth === 0 ? leaf : [nest(depth - 1, leaf)]);

  it('accepts row-major nesting up to the rank and refuses deeper data without recursing far', () => {
    const t = decodeInferRequest({ inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 1, 2], data: [[[1, 2]]] }] }).inputs[0];
    expect(Array.from(t.data as Int32Array)).toEqual([1, 2]);
    expect(() => decodeInferRequest({ inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 1], data: nest(4000, 1) }] })).toThrow("input 'x': 'data' is nested deeper than its shape's 2 dimension(s)");
    expect(() => decodeInferRequest({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], data: nest(3, 'a') }] })).toThrow(/nested deeper than its shape's 1 dimension/);
    // A flat-looking array with one deep element is caught too (the flat fast path recurses into it).
    expect(() => decodeInferRequest({ inputs: [{ name: 'x', datatype: 'INT32', shape: [2], data: [1, nest(5000, 1)] }] })).toThrow(/nested deeper/);
    expect(() => decodeInferRequest({ inputs: [{ name: 'x', datatype: 'INT32', shape: [], data: [1] }] }).inputs).not.toThrow();
  });
});

describe('client strings in messages are clipped', () => {
  it('clip keeps short strings and says how much it cut', () => {
    expect(clip('abc')).toBe('abc');
    expect(clip('x'.repeat(250))).toBe(`${'x'.repeat(200)}... (50 more characters)`);
  });
  it('clipJson quotes values without serialising all of them', () => {
    expect(clipJson('a"b')).toBe('"a\\"b"');
    expect(clipJson(Array(100_000).fill(7))).toBe(`[${Array(16).fill(7).join(',')},... (100000 elements)]`);
    expect(clipJson({ huge: 'x'.repeat(1e6) })).toBe('an object');
    expect(clipJson([[1], 2])).toBe('[[...],2]');
  });
  it('clipMessage bounds a whole message, keeping its head and tail', () => {
    const m = `start ${'y'.repeat(5000)} end`;
    const c = clipMessage(m);
    expect(c.length).toBeLessThan(1100);
    expect(c.startsWith('start yyy')).toBe(true);
    expect(c.endsWith('yyy end')).toBe(true);
    expect(clipMessage('short')).toBe('short');
  });
});

describe('gRPC status details are bounded in bytes as well', () => {
  it('clipUtf8 shrinks a message of wide characters until it fits', async () => {
    const { clipUtf8 } = await import('../../src/protocol/clip.js');
    expect(clipUtf8('short', 2000)).toBe('short');
    const wide = clipUtf8(`x ${'😀'.repeat(1000)} y`, 2000);
    expect(Buffer.byteLength(wide)).toBeLessThanOrEqual(2000);
    expect(wide.startsWith('x 😀')).toBe(true);
  });
});
