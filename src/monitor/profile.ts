import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ConfigError } from '../config/validate.js';
import type { Datatype } from '../protocol/datatypes.js';
import type { TensorMetadata } from '../protocol/types.js';
import type { VersionView } from '../core/pipeline.js';
import type { ColumnOverride, MonitoringConfig, Task } from './config.js';
import { parseCsv } from './csv.js';
import { type ColumnKind, STAT_TESTS, type Sample } from './stats/tests.js';
import { MISSING_CELLS, isFloat, parseNumberCell, toDatatype } from './values.js';

/**
 * The reference profile of one model version: which inputs are monitored, one feature per
 * reference column, and each feature's reference values, converted to the input's datatype.
 */

/** How a monitored input's values are read off its tensor. */
export type ReadAs = 'number' | 'bigint' | 'fp16' | 'bf16' | 'bytes';

export interface MonitoredInput {
  name: string;
  /** Position among the model's inputs (the order ObservedInference.inputs has). */
  index: number;
  datatype: Datatype;
  /** Values per row: the input's last dimension. */
  width: number;
  readAs: ReadAs;
  /** Where its values start in a window row (the numeric row, or the string row for BYTES). */
  offset: number;
}

export interface Feature {
  name: string;
  input: MonitoredInput;
  /** Position along the input's last axis. */
  position: number;
  kind: ColumnKind;
  /** Finite (or non-missing) reference values: sorted numbers, or strings. */
  reference: Sample;
  /** For skew: the reference's finite [min, max] (numerical features). */
  min: number;
  max: number;
  /** For skew: the reference's values (categorical features). */
  seen: ReadonlySet<number | string>;
  override: ColumnOverride;
}

export interface PredictionLayout {
  output: string;
  index: number;
  width: number;
  task: Task;
  readAs: ReadAs;
}

export interface ReferenceProfile {
  /** The reference file as resolved. */
  file: string;
  rows: number;
  inputs: MonitoredInput[];
  features: Feature[];
  numericWidth: number;
  stringWidth: number;
  prediction: PredictionLayout | undefined;
}

/** Largest reference file read (bytes). */
const MAX_REFERENCE_BYTES = 256 * 1024 * 1024;

function readAsOf(dt: Datatype): ReadAs {
  if (dt === 'BYTES') return 'bytes';
  if (dt === 'INT64' || dt === 'UINT64') return 'bigint';
  if (dt === 'FP16') return 'fp16';
  if (dt === 'BF16') return 'bf16';
  return 'number';
}

/** Values per row of a tensor: its last dimension (1 for a batch of scalars); undefined when dynamic. */
function rowWidth(t: TensorMetadata, maxBatchSize: number): number | undefined {
  if (t.shape.length === 0 || (maxBatchSize > 0 && t.shape.length === 1)) return 1;
  const last = t.shape[t.shape.length - 1];
  return last > 0 ? last : undefined;
}

function readReference(v: VersionView, file: string): { path: string; header: string[]; rows: string[][] } {
  const path = isAbsolute(file) ? file : join(v.dir, file);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new ConfigError(`monitoring.reference: file '${file}' not found (looked for ${path})`);
  }
  if (size > MAX_REFERENCE_BYTES) throw new ConfigError(`monitoring.reference: '${file}' is ${size} bytes, more than the ${MAX_REFERENCE_BYTES} allowed`);
  try {
    return { path, ...parseCsv(readFileSync(path, 'utf8')) };
  } catch (err) {
    throw new ConfigError(`monitoring.reference: '${file}' is not a valid CSV: ${(err as Error).message}`);
  }
}

/** Input -> reference columns: as configured, or by default the input's name (width 1) or name_1 .. name_w. */
function columnsFor(v: VersionView, cfg: MonitoringConfig, header: Set<string>, file: string): Map<TensorMetadata, string[]> {
  const out = new Map<TensorMetadata, string[]>();
  if (cfg.columns) {
    for (const [input, cols] of Object.entries(cfg.columns)) {
      const meta = v.inputs.find((i) => i.name === input);
      const where = `monitoring.columns.${input}`;
      if (!meta) throw new ConfigError(`${where}: the model has no input '${input}' (its inputs: ${v.inputs.map((i) => i.name).join(', ')})`);
      const width = rowWidth(meta, v.maxBatchSize);
      if (width === undefined) throw new ConfigError(`${where}: input '${input}' has shape [${meta.shape.join(',')}]: only inputs with a fixed last dimension can be monitored`);
      if (cols.length !== width) {
        throw new ConfigError(`${where}: lists ${cols.length} column${cols.length === 1 ? '' : 's'}, but input '${input}' has ${width} value${width === 1 ? '' : 's'} per row (shape [${meta.shape.join(',')}])`);
      }
      cols.forEach((c, i) => {
        if (!header.has(c)) throw new ConfigError(`${where}[${i}]: column '${c}' is not in ${file} (its columns: ${[...header].join(', ')})`);
      });
      out.set(meta, cols);
    }
    return out;
  }
  for (const meta of v.inputs) {
    const width = rowWidth(meta, v.maxBatchSize);
    const where = `monitoring.columns`;
    if (width === undefined) throw new ConfigError(`${where}: not given, and input '${meta.name}' (shape [${meta.shape.join(',')}]) has a dynamic last dimension; list the inputs to monitor under ${where}`);
    const cols = width === 1 ? [meta.name] : Array.from({ length: width }, (_, i) => `${meta.name}_${i + 1}`);
    const missing = cols.filter((c) => !header.has(c));
    if (missing.length) {
      const expect = width === 1 ? `a column '${meta.name}'` : `columns ${cols[0]} .. ${cols[width - 1]}`;
      throw new ConfigError(`${where}: not given, so input '${meta.name}' needs ${expect} in ${file}, which lacks ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}; list its ${width} column name${width === 1 ? '' : 's'} under ${where}.${meta.name}`);
    }
    out.set(meta, cols);
  }
  return out;
}

/** One reference column as the feature's values (numbers at the input's precision, or strings). */
function referenceValues(rows: string[][], col: number, name: string, dt: Datatype, file: string): { values: number[] | string[] } {
  if (dt === 'BYTES') return { values: rows.map((r) => r[col]).filter((c) => !MISSING_CELLS.has(c)) };
  const values: number[] = [];
  rows.forEach((r, i) => {
    const x = parseNumberCell(r[col]);
    const v = x === undefined ? undefined : toDatatype(x, dt);
    if (v === undefined) {
      throw new ConfigError(`monitoring.reference: ${file} row ${i + 1}, column '${name}': '${r[col]}' is not a ${dt} value`);
    }
    values.push(v);
  });
  return { values };
}

/** Builds the features of one reference column. */
function makeFeature(name: string, input: MonitoredInput, position: number, raw: number[] | string[], override: ColumnOverride, file: string): Feature {
  let reference: Sample;
  let kind: ColumnKind;
  if (input.datatype === 'BYTES') {
    reference = raw as string[];
    kind = 'categorical';
  } else {
    const finite = Float64Array.from((raw as number[]).filter((x) => Number.isFinite(x))).sort();
    reference = finite;
    // Floats are numerical; integers are categorical when the reference holds 5 or fewer values.
    let distinct = 0;
    for (let i = 0; i < finite.length && distinct <= 5; i++) if (i === 0 || finite[i] !== finite[i - 1]) distinct++;
    kind = isFloat(input.datatype) || distinct > 5 ? 'numerical' : 'categorical';
  }
  if (reference.length === 0) throw new ConfigError(`monitoring.reference: column '${name}' of ${file} has no values (all missing)`);
  if (override.stattest && !STAT_TESTS[override.stattest].kinds.includes(kind)) {
    throw new ConfigError(`monitoring.per_column.${name}.stattest: '${override.stattest}' does not apply to a ${kind} column (it takes ${STAT_TESTS[override.stattest].kinds.join(' or ')})`);
  }
  const nums = reference instanceof Float64Array ? reference : undefined;
  return {
    name, input, position, kind, reference, override,
    min: nums ? nums[0] : NaN,
    max: nums ? nums[nums.length - 1] : NaN,
    seen: new Set<number | string>(reference),
  };
}

function predictionLayout(v: VersionView, cfg: MonitoringConfig): PredictionLayout | undefined {
  const { output, task } = cfg.prediction;
  const where = 'monitoring.prediction.output';
  const index = output === undefined ? 0 : v.outputs.findIndex((o) => o.name === output);
  if (index < 0) throw new ConfigError(`${where}: the model has no output '${output}' (its outputs: ${v.outputs.map((o) => o.name).join(', ')})`);
  const meta = v.outputs[index];
  if (!meta) return undefined;
  const width = rowWidth(meta, v.maxBatchSize);
  const usable = width !== undefined && meta.datatype !== 'BYTES' && (task === 'classification' || width === 1);
  if (!usable) {
    if (output === undefined) return undefined;
    throw new ConfigError(`${where}: output '${meta.name}' (${meta.datatype} [${meta.shape.join(',')}]) cannot be a ${task} prediction: it needs ${task === 'regression' ? 'one number' : 'a fixed number of class scores'} per row`);
  }
  return { output: meta.name, index, width: width!, task, readAs: readAsOf(meta.datatype) };
}

/** Reads and checks the reference CSV against the version's inputs; errors name the config key. */
export function buildProfile(v: VersionView, cfg: MonitoringConfig): ReferenceProfile {
  const { path, header, rows } = readReference(v, cfg.reference);
  const headerSet = new Set(header);
  const mapping = columnsFor(v, cfg, headerSet, cfg.reference);
  const inputs: MonitoredInput[] = [];
  const features: Feature[] = [];
  const used = new Set<string>();
  let numericWidth = 0;
  let stringWidth = 0;
  for (const [meta, cols] of mapping) {
    const bytes = meta.datatype === 'BYTES';
    const input: MonitoredInput = {
      name: meta.name, index: v.inputs.indexOf(meta), datatype: meta.datatype, width: cols.length,
      readAs: readAsOf(meta.datatype), offset: bytes ? stringWidth : numericWidth,
    };
    if (bytes) stringWidth += cols.length;
    else numericWidth += cols.length;
    inputs.push(input);
    cols.forEach((c, position) => {
      if (used.has(c)) throw new ConfigError(`monitoring.columns.${meta.name}[${position}]: column '${c}' is already used for another position`);
      used.add(c);
      const { values } = referenceValues(rows, header.indexOf(c), c, meta.datatype, cfg.reference);
      features.push(makeFeature(c, input, position, values, cfg.perColumn[c] ?? {}, cfg.reference));
    });
  }
  for (const col of Object.keys(cfg.perColumn)) {
    if (!used.has(col)) throw new ConfigError(`monitoring.per_column.${col}: '${col}' is not a monitored column (monitored: ${[...used].join(', ')})`);
  }
  return { file: path, rows: rows.length, inputs, features, numericWidth, stringWidth, prediction: predictionLayout(v, cfg) };
}
