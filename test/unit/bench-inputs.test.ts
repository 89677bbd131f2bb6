import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { concreteShape, modelBatches, parseInputData, randomRequest, readInputData, rowsOf, tileBatch } from '../../src/bench/inputs.js';
import { grpcInferMessage } from '../../src/bench/load-grpc.js';
import { encodeHttpRequest } from '../../src/bench/load-http.js';
import { decodeHttpInfer } from '../../src/api/http/infer-route.js';

const GOLDEN = resolve(import.meta.dirname, '../../models/simple/1/golden.json');
const one = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1.5, 2] }] };

describe('bench input data', () => {
  it('reads golden.json cases as requests', () => {
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as { cases: unknown[] };
    const reqs = readInputData(GOLDEN);
    expect(reqs).toHaveLength(golden.cases.length);
    expect(reqs[0].inputs.map((t) => t.name)).toEqual(['INPUT0', 'INPUT1']);
    expect(reqs[0].inputs[0].data).toBeInstanceOf(Int32Array);
    expect(Array.from(reqs[0].inputs[0].data as Int32Array).slice(0, 3)).toEqual([0, 1, 2]);
  });
  it('reads a plain request and an array of requests', () => {
    expect(parseInputData(one)).toHaveLength(1);
    expect(parseInputData([one, one, one])).toHaveLength(3);
    expect((parseInputData(one)[0].inputs[0].data as Float32Array)[0]).toBe(1.5);
  });
  it('fails with the request index and the decoder message', () => {
    expect(() => parseInputData({ foo: 1 })).toThrow(/expected an OIP v2 request/);
    expect(() => parseInputData([])).toThrow(/no requests/);
    expect(() => parseInputData([one, { inputs: [{ name: 'x', datatype: 'FP32', shape: [3], data: [1] }] }])).toThrow(/request 1: .*3 elements/);
    const dir = mkdtempSync(join(tmpdir(), 'bench-in-'));
    writeFileSync(join(dir, 'bad.json'), '{nope');
    expect(() => readInputData(join(dir, 'bad.json'))).toThrow(/not valid JSON/);
    expect(() => readInputData(join(dir, 'missing.json'))).toThrow(/--input-data/);
  });
  it('tiles one-row requests to the batch size', () => {
    const t = tileBatch(parseInputData(one)[0], 3);
    expect(t.inputs[0].shape).toEqual([3, 2]);
    expect(Array.from(t.inputs[0].data as Float32Array)).toEqual([1.5, 2, 1.5, 2, 1.5, 2]);
    expect(rowsOf(t, true)).toBe(3);
    expect(rowsOf(t, false)).toBe(1);
    const s = tileBatch(parseInputData({ inputs: [{ name: 's', datatype: 'BYTES', shape: [1], data: ['a'] }] })[0], 2);
    expect(s.inputs[0].data).toEqual(['a', 'a']);
    expect(() => tileBatch(parseInputData({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2], data: [1, 2] }] })[0], 2)).toThrow(/one-row/);
  });
});

describe('bench random data', () => {
  const meta = {
    name: 'enc',
    inputs: [
      { name: 'ids', datatype: 'INT64' as const, shape: [-1, -1] },
      { name: 'feat', datatype: 'FP32' as const, shape: [-1, 4] },
    ],
  };
  it('fills the batch dim and takes variable dims from --shape', () => {
    expect(modelBatches(meta)).toBe(true);
    const r = randomRequest(meta, { ids: [32] }, 8);
    expect(r.inputs[0].shape).toEqual([8, 32]);
    expect(r.inputs[0].data).toBeInstanceOf(BigInt64Array);
    expect(r.inputs[0].data.length).toBe(256);
    expect(r.inputs[1].shape).toEqual([8, 4]);
    expect(r.inputs[1].data.length).toBe(32);
  });
  it('says which --shape is needed or wrong', () => {
    expect(() => randomRequest(meta, {}, 1)).toThrow(/--shape ids:N/);
    expect(() => randomRequest(meta, { ids: [32], nope: [1] }, 1)).toThrow(/no input 'nope'/);
    expect(() => concreteShape('feat', [-1, 4], true, 1, [5])).toThrow(/fixed at 4/);
    expect(() => concreteShape('x', [3, 4], false, 2)).toThrow(/no batch dimension/);
    expect(concreteShape('x', [3, 4], false, 1)).toEqual([3, 4]);
  });
});

describe('bench wire payloads', () => {
  const req = parseInputData(JSON.parse(readFileSync(GOLDEN, 'utf8')))[0];
  it('JSON bodies decode back to the same request on the server side', () => {
    const p = encodeHttpRequest(req, 'json');
    expect(p.headers['content-type']).toBe('application/json');
    const back = decodeHttpInfer(p.body, undefined);
    expect(Array.from(back.inputs[0].data as Int32Array)).toEqual(Array.from(req.inputs[0].data as Int32Array));
  });
  it('binary bodies follow the binary tensor extension and decode back', () => {
    const p = encodeHttpRequest(req, 'binary');
    const headLen = Number(p.headers['inference-header-content-length']);
    const head = JSON.parse(p.body.subarray(0, headLen).toString()) as { inputs: { parameters: { binary_data_size: number } }[]; parameters: Record<string, unknown> };
    expect(head.inputs[0].parameters.binary_data_size).toBe(64);
    expect(head.parameters.binary_data_output).toBe(true);
    expect(p.body.byteLength).toBe(headLen + 128);
    const back = decodeHttpInfer(p.body, String(headLen));
    expect(Array.from(back.inputs[1].data as Int32Array)).toEqual(Array.from(req.inputs[1].data as Int32Array));
  });
  it('gRPC messages carry raw_input_contents and no typed contents', () => {
    const m = grpcInferMessage('simple', '1', req) as { raw_input_contents: Buffer[]; inputs: { contents?: unknown; shape: number[] }[] };
    expect(m.raw_input_contents).toHaveLength(2);
    expect(m.raw_input_contents[0].byteLength).toBe(64);
    expect(m.raw_input_contents[0].readInt32LE(4)).toBe(1);
    expect(m.inputs[0].contents).toBeUndefined();
    expect(m.inputs[0].shape).toEqual([1, 16]);
  });
});
