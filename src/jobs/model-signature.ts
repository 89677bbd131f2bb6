import type { TensorMetadata } from '../protocol/types.js';
import { isObj } from '../config/validate.js';
import type { VersionView } from '../core/pipeline.js';

/** What a job or consumer needs to know of a model to turn rows into requests. */
export interface JobSignature {
  readonly model: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** 0: the model does not batch (one row per request). */
  readonly maxBatchSize: number;
  /** The monitor's mapping (`monitoring.columns`): the default column mapping. */
  readonly monitorColumns?: Readonly<Record<string, readonly string[]>>;
  /** With a feature lookup (`features` block): the input the client sends (entity ids) and the input it builds. */
  readonly entityInput?: string;
  readonly builtInput?: string;
}

/** The signature of a loaded version, with the defaults its config's monitoring and features blocks give. */
export function signatureOf(v: VersionView): JobSignature {
  const ext = v.config.extensions;
  const mon = isObj(ext.monitoring) ? ext.monitoring : undefined;
  const feat = isObj(ext.features) ? ext.features : undefined;
  let monitorColumns: Record<string, string[]> | undefined;
  if (mon && isObj(mon.columns)) {
    monitorColumns = {};
    for (const [k, cols] of Object.entries(mon.columns)) {
      if (Array.isArray(cols) && cols.every((c) => typeof c === 'string')) monitorColumns[k] = cols as string[];
    }
  }
  return {
    model: v.name,
    inputs: v.inputs,
    outputs: v.outputs,
    maxBatchSize: v.maxBatchSize,
    monitorColumns,
    entityInput: typeof feat?.entity_input === 'string' ? feat.entity_input : undefined,
    builtInput: typeof feat?.input === 'string' ? feat.input : undefined,
  };
}
