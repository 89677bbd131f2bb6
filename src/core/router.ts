import { notFound, invalid, unavailable } from '../protocol/errors.js';
import * as triton from '../protocol/triton-errors.js';
import { clip } from '../protocol/clip.js';
import { type ModelLifecycle, checkModelName } from './lifecycle.js';
import type { ModelVersion } from './model.js';
import type { AliasSource, RequestContext } from './pipeline.js';
import { isModelName, isVersionNumber } from './repository-scanner.js';

/**
 * Which model version serves a request: `resolve(name, version | alias | undefined)`.
 * An explicit version number first, then an alias from the alias sources (the registry),
 * then, for a request naming none, an alias source's default or the version policy's
 * (the newest ready version).
 */
export class Router {
  private readonly aliases: AliasSource[] = [];

  constructor(private readonly lifecycle: ModelLifecycle) {}

  /** Adds a source of version aliases, asked in the order added (a rollout before the registry). */
  addAliasSource(source: AliasSource): void {
    this.aliases.push(source);
  }

  /** The version a request names (number or alias), or the default one; typed errors when there is none. */
  resolve(name: string, version: string | undefined, ctx?: RequestContext): ModelVersion {
    checkModelName(name);
    const entry = this.lifecycle.model(name);
    if (!entry) throw notFound(triton.unknownModel(name));
    if (entry.configError) throw unavailable(`${triton.noAvailableVersions(name)} (${entry.configError})`);
    if (version) {
      const number = isVersionNumber(version) ? version : entry.aliases.get(version) ?? this.alias(name, version);
      const mv = entry.versions.get(number);
      if (mv) return mv;
      const notice = entry.notices.get(number);
      if (notice) throw unavailable(`model '${name}' version ${number} is not served: ${notice}`);
      throw notFound(triton.unknownVersion(name, version));
    }
    for (const a of this.aliases) {
      const v = a.defaultVersion(name, ctx);
      const mv = v === undefined ? undefined : entry.versions.get(v);
      if (mv?.state === 'READY') return mv;
    }
    if (entry.servingAlias !== undefined) {
      // A catalog model (the registry): the serving alias decides, never "the newest".
      const mv = entry.versions.get(entry.aliases.get(entry.servingAlias) ?? '');
      if (mv) return mv;
      const notices = [...entry.notices].map(([v, n]) => `version ${v}: ${n}`).join('; ');
      throw unavailable(`model '${name}' has no version serving its alias '${entry.servingAlias}'${notices ? ` (${notices})` : ''}`);
    }
    let best: ModelVersion | undefined;
    for (const mv of entry.versions.values()) {
      if (mv.state === 'READY' && (!best || Number(mv.version) > Number(best.version))) best = mv;
    }
    if (!best) {
      const states = [...entry.versions.values()].map((v) => `version ${v.version} ${v.state}${v.reason ? `: ${v.reason}` : ''}`);
      throw unavailable(`${triton.noAvailableVersions(name)} (${states.join('; ') || 'no versions'})`);
    }
    return best;
  }

  /** The version number an alias names; 404 naming it when no source knows it. */
  private alias(name: string, alias: string): string {
    if (!isModelName(alias)) {
      throw invalid(`invalid model version '${clip(alias)}': a version number or an alias (letters, digits, '_', '-', '.')`);
    }
    for (const a of this.aliases) {
      const v = a.versionFor(name, alias);
      if (v !== undefined) return v;
    }
    throw notFound(`Request for unknown model: '${name}' has no version or alias '${clip(alias)}'`);
  }

  /** All versions of a model, for metadata (version list). */
  versionsOf(name: string): ModelVersion[] {
    checkModelName(name);
    const entry = this.lifecycle.model(name);
    if (!entry) throw notFound(triton.unknownModel(name));
    return [...entry.versions.values()].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** Whether a model of this name is known (loaded or failed). */
  has(name: string): boolean {
    return this.lifecycle.model(name) !== undefined;
  }
}
