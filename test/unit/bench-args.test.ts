import { describe, expect, it } from 'vitest';
import { parseBenchArgs, parseRange, parseShapeFlag } from '../../src/bench/args.js';
import { ConfigError } from '../../src/config/validate.js';
import type { BenchOptions } from '../../src/bench/types.js';

describe('bench range parsing', () => {
  it('reads start, start:end and start:end:step', () => {
    expect(parseRange('4', 'c', { integer: true })).toEqual([4]);
    expect(parseRange('1:4', 'c', { integer: true })).toEqual([1, 2, 3, 4]);
    expect(parseRange('1:8:7', 'c', { integer: true })).toEqual([1, 8]);
    expect(parseRange('1:10:4', 'c', { integer: true })).toEqual([1, 5, 9]);
  });
  it('allows fractional request rates and reaches the end without float drift', () => {
    expect(parseRange('0.5:1.5:0.1', 'r', { integer: false })).toHaveLength(11);
    expect(parseRange('0.5:1.5:0.1', 'r', { integer: false }).at(-1)).toBe(1.5);
  });
  it('rejects malformed ranges with the flag in the message', () => {
    for (const bad of ['', '1:', 'a:2', '0:4', '4:1', '1:2:0', '1:2:3:4']) {
      expect(() => parseRange(bad, 'concurrency-range', { integer: true })).toThrow(/concurrency-range/);
    }
    expect(() => parseRange('1.5', 'concurrency-range', { integer: true })).toThrow(ConfigError);
  });
});

describe('bench options', () => {
  const parse = (argv: string[]) => parseBenchArgs(argv) as BenchOptions;
  it('applies perf_analyzer-like defaults', () => {
    const o = parse(['-m', 'simple']);
    expect(o).toMatchObject({
      model: 'simple', version: '', url: '127.0.0.1:8000', protocol: 'http', httpFormat: 'binary', mode: 'concurrency',
      levels: [1], measurementIntervalMs: 5000, stabilityPercentage: 10, maxTrials: 10, batchSize: 1,
    });
    expect(o.latencyThresholdMs).toBeUndefined();
    expect(parse(['-m', 's', '-i', 'grpc']).url).toBe('127.0.0.1:8001');
  });
  it('reads every flag', () => {
    const o = parse([
      '-m', 'text_encoder', '-x', '2', '--url', 'h:9', '--protocol', 'grpc', '--request-rate-range', '10:30:10',
      '--measurement-interval', '300', '--stability-percentage', '5', '--max-trials', '4', '--latency-threshold', '12.5',
      '--input-data', 'in.json', '--shape', 'input_ids:32', '--shape', 'mask:1,32', '--batch-size', '8',
      '-f', 'o.csv', '--json', 'o.json', '--html', 'o.html', '--http-format', 'json',
    ]);
    expect(o).toMatchObject({
      model: 'text_encoder', version: '2', url: 'h:9', protocol: 'grpc', mode: 'request-rate', levels: [10, 20, 30],
      measurementIntervalMs: 300, stabilityPercentage: 5, maxTrials: 4, latencyThresholdMs: 12.5, inputDataFile: 'in.json',
      shapes: { input_ids: [32], mask: [1, 32] }, batchSize: 8, csvFile: 'o.csv', jsonFile: 'o.json', htmlFile: 'o.html', httpFormat: 'json',
    });
  });
  it('says what is wrong', () => {
    expect(() => parseBenchArgs([])).toThrow(/-m MODEL/);
    expect(() => parseBenchArgs(['-m', 's', '--concurrency-range', '1', '--request-rate-range', '1'])).toThrow(/not both/);
    expect(() => parseBenchArgs(['-m', 's', '--protocol', 'ws'])).toThrow(/http, grpc/);
    expect(() => parseBenchArgs(['-m', 's', '--max-trials', '2'])).toThrow(/at least 3/);
    expect(() => parseBenchArgs(['-m', 's', '-b', '0'])).toThrow(/batch-size/);
    expect(parseBenchArgs(['--help'])).toBe('help');
  });
  it('parses --shape', () => {
    expect(parseShapeFlag('input_ids:32')).toEqual(['input_ids', [32]]);
    expect(parseShapeFlag('ns:x:3,4')).toEqual(['ns:x', [3, 4]]);
    expect(() => parseShapeFlag('x')).toThrow(/NAME:D1/);
    expect(() => parseShapeFlag('x:0')).toThrow(/NAME:D1/);
  });
});
