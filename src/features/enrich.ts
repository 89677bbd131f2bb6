import { ConfigError } from '../config/validate.js';
import type { EnrichStep, RequestContext, VersionHook, VersionView } from '../core/pipeline.js';
import { invalid, unavailable } from '../protocol/errors.js';
import { UNKNOWN_ENTITY_MARK, UnknownEntityError } from './errors.js';
import type { InferRequest, Parameters, Tensor } from '../protocol/types.js';
import { type FeatureStore, MAX_ENTITY_ROWS, isStale } from './feature-store.js';
import { type FusedPlan, parseFeaturesBlock } from './model-block.js';
import { entityKeyOf } from './values.js';

const decoder = new TextDecoder();

/**
 * The fused feature lookup, a step of the dataplane between decode and the batcher: a model
 * whose config.yaml has `features:` may be sent entity ids instead of its feature input;
 * the step reads their rows in one batched lookup and builds the FP32 input in the model's
 * order. Requests that send the input itself pass through untouched.
 */
export class FeatureEnrichStep implements EnrichStep, VersionHook {
  readonly name = 'features';
  private readonly plans = new WeakMap<VersionView, FusedPlan>();

  constructor(private readonly fs: FeatureStore | undefined) {}

  appliesTo(v: VersionView): boolean {
    return v.config.extensions.features !== undefined;
  }

  /** Validates the model's `features:` block as the version loads; throws a ConfigError naming the key. */
  load(v: VersionView): void {
    if (this.appliesTo(v)) this.plans.set(v, parseFeaturesBlock(v.config.extensions.features, v, this.fs));
  }

  unload(v: VersionView): void {
    this.plans.delete(v);
  }

  /** In the version's metadata: the input a client sends the ids in, and the input built from the features. */
  describe(v: VersionView): Parameters | undefined {
    const plan = this.plans.get(v);
    return plan ? { feature_entity_input: plan.entityInput, feature_built_input: plan.input } : undefined;
  }

  private planFor(v: VersionView): FusedPlan {
    let plan = this.plans.get(v);
    if (!plan) {
      try {
        this.load(v);
      } catch (err) {
        if (err instanceof ConfigError) throw unavailable(err.message);
        throw err;
      }
      plan = this.plans.get(v)!;
    }
    return plan;
  }

  async enrich(req: InferRequest, v: VersionView, ctx: RequestContext): Promise<void> {
    const plan = this.planFor(v);
    const at = req.inputs.findIndex((t) => t.name === plan.entityInput);
    if (at < 0) return;
    if (req.inputs.some((t) => t.name === plan.input)) {
      throw invalid(`give either input '${plan.entityInput}' (entity ids to look up) or input '${plan.input}' (the features), not both`);
    }
    const ids = entityIds(req.inputs[at], plan);
    const keys = ids.map((id) => entityKeyOf([id]));
    const now = Date.now();
    const found = await this.fs!.lookup(plan.groups.map((g) => g.view), plan.groups.map(() => keys), now);

    const cols = plan.columns.length;
    const data = new Float32Array(ids.length * cols);
    const unknown = new Set<string>();
    const nulls: string[] = [];
    const stale = new Map<string, Set<string>>();
    for (let r = 0; r < ids.length; r++) {
      for (let c = 0; c < cols; c++) {
        const { group, feature } = plan.columns[c];
        const row = found[group][r];
        const value = row?.values[feature];
        if (typeof value === 'number') {
          data[r * cols + c] = value;
          if (isStale(row!, plan.groups[group].view, now)) {
            const view = plan.groups[group].view.name;
            if (!stale.has(view)) stale.set(view, new Set());
            stale.get(view)!.add(String(ids[r]));
          }
          continue;
        }
        if (plan.missingDefault === undefined) {
          if (!row) unknown.add(String(ids[r]));
          else nulls.push(`${plan.groups[group].view.name}:${feature} of ${String(ids[r])}`);
        }
        data[r * cols + c] = plan.missingDefault ?? 0;
      }
    }
    if (unknown.size > 0) {
      throw new UnknownEntityError(`unknown ${plan.joinKey.name}: ${listed([...unknown])} (${UNKNOWN_ENTITY_MARK} for feature view ${plan.groups.map((g) => `'${g.view.name}'`).join(', ')}; materialize or push them, or set features.on_missing: {default: 0.0})`);
    }
    if (nulls.length > 0) throw invalid(`features without a value: ${listed(nulls)} (set features.on_missing: {default: 0.0} to fill them)`);
    if (stale.size > 0) {
      const parts = [...stale].map(([view, who]) => `${view} (ttl ${plan.groups.find((g) => g.view.name === view)!.view.ttlSeconds}s) for ${plan.joinKey.name} ${listed([...who])}`);
      ctx.responseParameters = { ...ctx.responseParameters, feature_warnings: `features older than their view's ttl (OUTSIDE_MAX_AGE): ${parts.join('; ')}` };
    }
    req.inputs.splice(at, 1, { name: plan.input, datatype: 'FP32', shape: [ids.length, cols], data });
  }
}

/** Reads entity ids from the id input: BYTES for String join keys, INT64 (or numeric BYTES) for Int64 ones. */
function entityIds(t: Tensor, plan: FusedPlan): (string | number)[] {
  const name = t.name;
  const okShape = (t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1)) && t.shape[0] >= 1;
  if (!okShape) throw invalid(`input '${name}': entity ids need shape [batch] or [batch, 1], got [${t.shape.join(', ')}]`);
  const n = t.shape[0];
  if (n > MAX_ENTITY_ROWS) throw invalid(`input '${name}': at most ${MAX_ENTITY_ROWS} entity ids per request, got ${n}`);
  const count = Array.isArray(t.data) ? t.data.length : t.data.length;
  if (count !== n) throw invalid(`input '${name}': shape [${t.shape.join(', ')}] implies ${n} ids, data has ${count}`);
  const key = plan.joinKey;
  if (t.datatype === 'BYTES') {
    const strs = (t.data as (string | Uint8Array)[]).map((x) => (typeof x === 'string' ? x : decoder.decode(x)));
    if (key.dtype === 'String') return strs;
    return strs.map((s, i) => {
      if (!/^[+-]?\d{1,16}$/.test(s) || !Number.isSafeInteger(Number(s))) throw invalid(`input '${name}'[${i}]: join key '${key.name}' is Int64, got ${JSON.stringify(s)}`);
      return Number(s);
    });
  }
  if (t.datatype === 'INT64' || t.datatype === 'INT32') {
    if (key.dtype === 'String') throw invalid(`input '${name}': join key '${key.name}' is a String: send the ids as BYTES, not ${t.datatype}`);
    return Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
  }
  throw invalid(`input '${name}': entity ids must be BYTES or INT64, got ${t.datatype}`);
}

/** At most ten items, then how many more. */
function listed(items: string[]): string {
  return items.length <= 10 ? items.join(', ') : `${items.slice(0, 10).join(', ')} and ${items.length - 10} more`;
}

