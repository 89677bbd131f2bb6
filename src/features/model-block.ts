import { ConfigError, isObj } from '../config/validate.js';
import { InferError } from '../protocol/errors.js';
import type { VersionView } from '../core/pipeline.js';
import type { FeatureStore, ViewGroup } from './feature-store.js';
import type { FeatureField, FeatureRef } from './types.js';

/** What a model's `features:` block resolves to: which ids to read, which tensor to build. */
export interface FusedPlan {
  /** The client's input holding entity ids (BYTES or INT64, shape [batch] or [batch, 1]). */
  entityInput: string;
  /** The one join key every view of the plan shares, with its type. */
  joinKey: FeatureField;
  /** The model input built from the features (FP32 [batch, n]). */
  input: string;
  groups: ViewGroup[];
  /** Where each built column reads from: group index and feature name, in the model's order. */
  columns: { group: number; feature: string }[];
  /** Value for a missing entity or null feature; undefined: a missing entity is an error. */
  missingDefault: number | undefined;
}

const KEYS = ['service', 'features', 'entity_input', 'input', 'on_missing'];

/** Validates a model's `features:` block against the feature definitions and the model's inputs. */
export function parseFeaturesBlock(block: unknown, v: VersionView, fs: FeatureStore | undefined): FusedPlan {
  const where = `model '${v.name}' version ${v.version}: config.yaml`;
  const fail: (key: string, msg: string) => never = (key, msg) => {
    throw new ConfigError(`${where} ${key}: ${msg}`);
  };
  if (!fs) fail('features', 'no feature store is configured (put feature_store.yaml at the model repository root or pass --feature-store FILE)');
  if (!isObj(block)) return fail('features', 'expected a mapping with service (or features), entity_input and input');
  for (const k of Object.keys(block)) if (!KEYS.includes(k)) fail(`features.${k}`, `unknown key (allowed: ${KEYS.join(', ')})`);

  let refs: FeatureRef[] = [];
  const svc = block.service ?? block.features;
  const svcKey = block.service !== undefined ? 'features.service' : 'features.features';
  if (block.service !== undefined && block.features !== undefined) fail('features', 'give service or features, not both');
  try {
    if (typeof svc === 'string') refs = fs!.serviceRefs(svc, svcKey);
    else if (Array.isArray(svc) && svc.length > 0) refs = svc.map((r, i) => fs!.parseRef(r, `${svcKey}[${i}]`));
    else fail(svcKey, 'expected a feature service name or a list of "feature_view:feature"');
  } catch (err) {
    if (err instanceof InferError) throw new ConfigError(`${where} ${err.message}`);
    throw err;
  }
  const groups = fs!.groupRefs(refs);

  const joinKeys = new Set(groups.flatMap((g) => g.view.joinKeys.map((j) => `${j.name}:${j.dtype}`)));
  if (joinKeys.size !== 1) fail(svcKey, `the features must come from views with one shared join key, got ${[...joinKeys].join(', ')}`);
  const joinKey = groups[0].view.joinKeys[0];

  const entityInput = block.entity_input ?? joinKey.name;
  if (typeof entityInput !== 'string' || entityInput === '') fail('features.entity_input', 'expected the name of the input that carries the entity ids');
  const input = block.input;
  if (typeof input !== 'string') return fail('features.input', `expected the name of the model input to build (the model's inputs: ${v.inputs.map((i) => i.name).join(', ')})`);
  const meta = v.inputs.find((i) => i.name === input);
  if (!meta) fail('features.input', `the model has no input '${input}' (its inputs: ${v.inputs.map((i) => i.name).join(', ')})`);
  if (meta!.datatype !== 'FP32') fail('features.input', `input '${input}' is ${meta!.datatype}; features build FP32 inputs only`);
  const dims = meta!.shape.slice(1);
  if (dims.length !== 1 || (dims[0] !== -1 && dims[0] !== refs.length)) {
    fail('features.input', `input '${input}' has shape [${meta!.shape.join(', ')}]; ${refs.length} features need [batch, ${refs.length}]`);
  }
  if (v.inputs.some((i) => i.name === entityInput)) fail('features.entity_input', `'${entityInput}' is an input of the model itself; name the id input differently`);
  for (const g of groups) {
    for (const f of g.features) {
      if (f.dtype === 'String' || f.dtype === 'Bool') fail(svcKey, `feature '${g.view.name}:${f.name}' is ${f.dtype}; an FP32 input needs numeric features`);
    }
  }

  let missingDefault: number | undefined;
  const om = block.on_missing;
  if (om !== undefined && om !== 'error') {
    if (!isObj(om) || Object.keys(om).some((k) => k !== 'default') || typeof om.default !== 'number' || !Number.isFinite(om.default)) {
      fail('features.on_missing', `expected "error" (the default) or {default: <number>}, got ${JSON.stringify(om)}`);
    }
    missingDefault = (om as { default: number }).default;
  }
  // The built tensor's columns follow the service's order, which is the model's order.
  const columns = refs.map((r) => ({ group: groups.findIndex((g) => g.view.name === r.view), feature: r.feature }));
  return { entityInput, joinKey, input, groups, columns, missingDefault };
}
