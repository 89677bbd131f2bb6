import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointPath, readCheckpoint, writeCheckpoint } from '../../src/jobs/checkpoint.js';
import { csvField, parseCsvRecord } from '../../src/jobs/csv.js';
import { openInput } from '../../src/jobs/input.js';
import type { JobSignature } from '../../src/jobs/model-signature.js';
import { formatDuration, formatProgress } from '../../src/jobs/progress.js';
import { RowError, RowMapper } from '../../src/jobs/row-mapping.js';
import { parseStreams } from '../../src/jobs/stream-config.js';
import { AppendFile } from '../../src/jobs/text-file.js';

const dir = mkdtempSync(join(tmpdir(), 'infergate-jobs-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIG: JobSignature = {
  model: 'm', maxBatchSize: 8,
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }, { name: 'n', datatype: 'INT64', shape: [-1] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
};

describe('CSV', () => {
  it('splits plain and quoted records, and quotes what needs it', () => {
    expect(parseCsvRecord('a,b,,c')).toEqual(['a', 'b', '', 'c']);
    expect(parseCsvRecord('"a,1","say ""hi""",x,')).toEqual(['a,1', 'say "hi"', 'x', '']);
    expect(parseCsvRecord('"two\nlines",z\r')).toEqual(['two\nlines', 'z']);
    expect(() => parseCsvRecord('"open')).toThrow(/unterminated/);
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,"b"')).toBe('"a,""b"""');
  });

  it('reads a CSV from a checkpointed position: the next record, with its line number', async () => {
    const p = join(dir, 'in.csv');
    writeFileSync(p, 'id,v\n1,"x\ny"\n2,b\n3,c\n');
    const a = await openInput(p, 'csv');
    const first = await a.read(1);
    expect(first[0]).toMatchObject({ line: 2, fields: ['1', 'x\ny'] });
    const pos = a.position();
    await a.close();
    const b = await openInput(p, 'csv', pos);
    expect(b.header).toEqual(['id', 'v']);
    const rest = await b.read(10);
    expect(rest.map((r) => r.line)).toEqual([4, 5]);
    expect(b.position().offset).toBe(readFileSync(p).length);
    await b.close();
  });
});

describe('row mapping', () => {
  it('fills typed inputs from columns and refuses bad values naming the column', () => {
    const m = new RowMapper(SIG, { header: ['id', 'a', 'b', 'c', 'n'], columns: { x: ['a', 'b', 'c'] } });
    const row = m.mapRow({ line: 2, kind: 'fields', fields: ['r1', '1.5', '2', '-3', '7'] });
    const t = m.tensors([row, m.mapRow({ line: 3, kind: 'fields', fields: ['r2', '0', '0', '1e3', '8'] })]);
    expect(t[0]).toMatchObject({ name: 'x', datatype: 'FP32', shape: [2, 3] });
    expect(Array.from(t[0].data as Float32Array)).toEqual([1.5, 2, -3, 0, 0, 1000]);
    expect(Array.from(t[1].data as BigInt64Array)).toEqual([7n, 8n]);
    expect(row.id).toBe('r1');
    expect(() => m.mapRow({ line: 4, kind: 'fields', fields: ['r3', 'x', '2', '3', '1'] })).toThrow(/column 'a': "x" is not a number/);
    expect(() => m.mapRow({ line: 4, kind: 'fields', fields: ['r3', '1', '2', '3', '1.5'] })).toThrow(/column 'n': "1.5" is not an integer/);
    expect(() => m.mapRow({ line: 4, kind: 'fields', fields: ['r3', '1', '2'] })).toThrow(RowError);
  });

  it('takes an array column for a row object, and checks mappings against the header and the model', () => {
    const m = new RowMapper(SIG, { columns: { x: 'vec' } });
    const r = m.mapRow({ line: 1, kind: 'object', object: { id: 9, vec: [1, 2, 3], n: 4 } });
    expect(r.values[0]).toEqual([1, 2, 3]);
    expect(() => m.mapRow({ line: 1, kind: 'object', object: { vec: [1, 2], n: 4 } })).toThrow(/takes 3 values per row, got 2/);
    expect(() => new RowMapper(SIG, { header: ['a'], columns: { x: ['a', 'b', 'c'] } })).toThrow(/columns.x: columns 'b', 'c' not in the input/);
    expect(() => new RowMapper(SIG, { columns: { z: ['a'] } })).toThrow(/columns.z: 'z' is not an input of model 'm'/);
    expect(() => new RowMapper(SIG, { columns: { x: ['a', 'b'] } })).toThrow(/takes 3 values per row, the mapping names 2/);
    expect(() => new RowMapper(SIG, { header: ['id'], idColumn: 'key', idColumnRequired: true })).toThrow(/--id-column 'key' is not a column/);
    const monitored = new RowMapper({ ...SIG, monitorColumns: { x: ['p', 'q', 'r'] } }, { header: ['p', 'q', 'r', 'n'] });
    expect(monitored.mapRow({ line: 2, kind: 'fields', fields: ['1', '2', '3', '4'] }).values[0]).toEqual([1, 2, 3]);
  });

  it('sends entity ids for a feature lookup instead of the input it builds', () => {
    const sig: JobSignature = { ...SIG, inputs: [SIG.inputs[0]], entityInput: 'patient_id', builtInput: 'x' };
    const m = new RowMapper(sig, { header: ['patient_id'], idColumn: 'patient_id' });
    const t = m.tensors([m.mapRow({ line: 2, kind: 'fields', fields: ['p000001'] })]);
    expect(t).toEqual([{ name: 'patient_id', datatype: 'BYTES', shape: [1], data: ['p000001'] }]);
  });
});

describe('streams block', () => {
  it('fills defaults and names the bad key', () => {
    const [r, n] = parseStreams([
      { type: 'redis', stream: 's', result_stream: 'r' },
      { type: 'nats', stream: 'S', subject: 'a.b', result_subject: 'a.r', create: true },
    ]);
    expect(r).toMatchObject({ type: 'redis', url: 'redis://127.0.0.1:6379', group: 'infergate', dead_letter_stream: 's.dlq', max_deliver: 3, max_in_flight: 64 });
    expect(n).toMatchObject({ type: 'nats', durable: 'infergate', dead_letter_subject: 'a.b.dlq', create: true });
    expect(() => parseStreams([{ type: 'redis', stream: 's' }])).toThrow(/streams\[0\].result_stream: must be a non-empty string \(required\)/);
    expect(() => parseStreams([{ type: 'kafka' }])).toThrow(/streams\[0\].type: must be redis or nats/);
    expect(() => parseStreams([{ type: 'nats', stream: 'S', subject: 'a', result_subject: 'r', max_deliver: 0 }])).toThrow(/streams\[0\].max_deliver: must be an integer >= 1/);
    expect(() => parseStreams([{ type: 'redis', stream: 's', result_stream: 'r', groups: 'x' }])).toThrow(/streams\[0\]: unknown key 'groups'/);
    expect(() => parseStreams({})).toThrow(/streams: must be a list/);
  });
});

describe('checkpoints and resumable files', () => {
  it('cuts an output back to its checkpointed length, and refuses one shorter than it', async () => {
    const p = join(dir, 'out.jsonl');
    const f = await AppendFile.open(p);
    await f.append('{"a":1}\n');
    await f.sync();
    const ck = { version: 1 as const, job: 'j', inputIdentity: 'i', input: { offset: 10, line: 2 }, outputBytes: f.bytes, errorBytes: 0, rowsDone: 1, rowsFailed: 0, done: false };
    await writeCheckpoint(checkpointPath(p), ck);
    await f.append('{"a":2}\n{"a":');
    await f.close();
    expect(await readCheckpoint(checkpointPath(p))).toEqual(ck);
    const g = await AppendFile.open(p, ck.outputBytes);
    await g.close();
    expect(readFileSync(p, 'utf8')).toBe('{"a":1}\n');
    await expect(AppendFile.open(p, 1000)).rejects.toThrow(/holds 8 bytes but the checkpoint says 1000/);
    expect(await readCheckpoint(join(dir, 'none.json'))).toBeUndefined();
  });
});

describe('progress line', () => {
  it('shows bar, percent, rows/s, ETA and bad rows', () => {
    const line = formatProgress({ rowsDone: 52000, rowsFailed: 3, fraction: 0.52, rowsPerSecond: 41234.4, etaSeconds: 65 }, 10);
    expect(line).toBe('[#####.....]  52.0%  52,000 rows  41,234 rows/s  ETA 1:05  3 bad');
    expect(formatDuration(3 * 3600 + 7)).toBe('3:00:07');
  });
});
