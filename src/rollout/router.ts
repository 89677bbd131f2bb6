import type { AliasSource, RequestContext } from '../core/pipeline.js';
import { bucketOf } from './hash.js';
import { type Rollout, isActive } from './types.js';

export type Arm = 'baseline' | 'candidate';

/** The `parameters.rollout` value a response carries: `<id>/<arm>`. */
export const armParameter = (id: string, arm: Arm): string => `${id}/${arm}`;

/** Reads `parameters.rollout` back: which rollout and arm served a request, if any. */
export function armOf(ctx: RequestContext): { id: string; arm: Arm } | undefined {
  const p = ctx.responseParameters?.rollout;
  if (typeof p !== 'string') return undefined;
  const [id, arm] = p.split('/');
  return arm === 'baseline' || arm === 'candidate' ? { id, arm } : undefined;
}

function header(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Picks the arm for a request naming no version: an A/B match goes to the candidate, else
 * the sticky key's bucket against the weight (a request without a key gets a random bucket).
 */
export function pickArm(r: Rollout, ctx: RequestContext): Arm {
  if (r.spec.strategy === 'shadow' || !isActive(r.phase)) return 'baseline';
  for (const m of r.spec.match) if (header(ctx, m.header) === m.value) return 'candidate';
  if (r.weight <= 0) return 'baseline';
  const key = (r.spec.sticky.parameter ? ctx.routingKey : undefined) ?? (r.spec.sticky.header ? header(ctx, r.spec.sticky.header) : undefined);
  const bucket = key === undefined ? Math.floor(Math.random() * 10_000) : bucketOf(r.id, key);
  return bucket < r.weight * 100 ? 'candidate' : 'baseline';
}

/** The share of the model's traffic an arm gets while the weight splits it (a shadow splits nothing); undefined when it gets all or none. */
export function trafficShare(r: Rollout, arm: Arm): number | undefined {
  if (r.spec.strategy === 'shadow') return undefined;
  const share = arm === 'candidate' ? r.weight / 100 : 1 - r.weight / 100;
  return share > 0 && share < 1 ? share : undefined;
}

/**
 * The rollouts as an alias source, asked before the registry's serving alias: a request
 * naming no version gets its arm's version and `parameters.rollout` in its response.
 */
export class RolloutRouter implements AliasSource {
  private active = new Map<string, Rollout>();

  /** `ready(model, version)`: whether that version can take traffic now (loaded and READY). */
  constructor(private readonly ready: (model: string, version: string) => boolean) {}

  /** Replaces the active rollouts (the controller calls this after each poll or change). */
  set(rollouts: readonly Rollout[]): void {
    this.active = new Map(rollouts.filter((r) => isActive(r.phase)).map((r) => [r.spec.model, r]));
  }

  /** The active rollout of a model, if any. */
  of(model: string): Rollout | undefined {
    return this.active.get(model);
  }

  versionFor(): string | undefined {
    return undefined;
  }

  defaultVersion(model: string, ctx?: RequestContext): string | undefined {
    const r = this.active.get(model);
    if (!r || !ctx) return undefined;
    let arm = pickArm(r, ctx);
    if (arm === 'candidate' && !this.ready(model, r.candidateVersion)) arm = 'baseline';
    const version = arm === 'candidate' ? r.candidateVersion : r.baselineVersion;
    if (!this.ready(model, version)) return undefined;
    ctx.responseParameters = { ...ctx.responseParameters, rollout: armParameter(r.id, arm) };
    const share = trafficShare(r, arm);
    if (share !== undefined) ctx.trafficShare = share;
    return version;
  }
}
