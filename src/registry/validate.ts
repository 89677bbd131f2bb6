import { posix } from 'node:path';
import { invalidParam } from './errors.js';
import { TAG, type Tag } from './types.js';

/**
 * Input rules and size limits (documented in docs/registry.md). MLflow's own rules are kept
 * (tag keys, alias names, 250/5000 limits); infergate adds what serving by name needs: model
 * names that are safe in a URL and a folder, and aliases that cannot be read as a version.
 */
export const LIMITS = {
  name: 256,
  alias: 255,
  tagKey: 250,
  tagValue: 5000,
  description: 5000,
  source: 500,
  runId: 256,
  runLink: 500,
  tagsPerRequest: 100,
  comment: 5000,
  user: 256,
  /** Bytes of a model card (markdown, UTF-8). */
  modelCard: 256 * 1024,
} as const;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkLength(what: string, value: string, limit: number): void {
  if (value.length > limit) {
    throw invalidParam(`${what} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`);
  }
}

/** A registered model name: 1..256 characters, no '/', '\', '..' or control characters. */
export function checkModelName(name: string, field = 'name'): void {
  if (name === '') throw invalidParam(`Registered model name cannot be empty (field '${field}').`);
  checkLength(`Registered model name ('${field}')`, name, LIMITS.name);
  if (CONTROL.test(name)) throw invalidParam(`Invalid model name in '${field}': control characters are not allowed.`);
  if (name.includes('/') || name.includes('\\')) throw invalidParam(`Invalid model name '${name}' in '${field}': '/' and '\\' are not allowed.`);
  if (name.includes('..')) throw invalidParam(`Invalid model name '${name}' in '${field}': '..' is not allowed.`);
  if (name.trim() !== name) throw invalidParam(`Invalid model name '${name}' in '${field}': no leading or trailing spaces.`);
}

const VERSION_RE = /^[1-9][0-9]{0,9}$/;

/** A version number as MLflow sends it: a positive integer, as a string. */
export function checkVersion(version: string, field = 'version'): number {
  if (!VERSION_RE.test(version)) throw invalidParam(`Model version must be an integer, got '${version}' (field '${field}').`);
  return Number(version);
}

const ALIAS_RE = /^[A-Za-z0-9_-]+$/;

/** MLflow's alias rules, plus: no all-digit alias (`/versions/1` must mean version 1). */
export function checkAlias(alias: string, field = 'alias'): void {
  if (alias === '') throw invalidParam(`Registered model alias name cannot be empty (field '${field}').`);
  checkLength(`Registered model alias name ('${field}')`, alias, LIMITS.alias);
  if (!ALIAS_RE.test(alias)) {
    throw invalidParam(`Invalid alias name: '${alias}' (field '${field}'). Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  }
  if (alias.toLowerCase() === 'latest') throw invalidParam(`'latest' alias name (case insensitive) is reserved (field '${field}').`);
  if (/^[vV]?\d+$/.test(alias)) throw invalidParam(`Version alias name '${alias}' is reserved: it reads as a version number (field '${field}').`);
}

const TAG_KEY_RE = /^[/\w.\- ]+$/;

/** MLflow's tag key rules: alphanumerics, `_ - . / space`, and no path tricks. */
export function checkTagKey(key: string, field = 'key'): void {
  if (key === '') throw invalidParam(`Tag name cannot be empty (field '${field}'). A key name must be provided.`);
  checkLength(`Tag key ('${field}')`, key, LIMITS.tagKey);
  if (!TAG_KEY_RE.test(key)) {
    throw invalidParam(`Invalid tag name: '${key}' (field '${field}'). Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`);
  }
  const norm = posix.normalize(key);
  if (norm !== key || norm === '.' || norm.startsWith('..') || norm.startsWith('/')) {
    throw invalidParam(`Invalid tag name: '${key}' (field '${field}'). Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`);
  }
}

export function checkTagValue(key: string, value: string, field = 'value'): void {
  checkLength(`Tag value for '${key}' ('${field}')`, value, LIMITS.tagValue);
}

export function checkDescription(description: string, field = 'description'): void {
  checkLength(`Description ('${field}')`, description, LIMITS.description);
}

/** Checks a free-text field against its limit. */
export function checkText(field: string, value: string, limit: number): void {
  checkLength(`'${field}'`, value, limit);
  if (field !== 'description' && field !== 'comment' && CONTROL.test(value)) {
    throw invalidParam(`'${field}' must not contain control characters.`);
  }
}

/** Rules for `infergate.*` keys on a registered model; the registry's own keys are refused. */
export function checkModelTag(tag: Tag, field = 'tags'): void {
  checkTagKey(tag.key, `${field}.key`);
  checkTagValue(tag.key, tag.value, `${field}.value`);
  if (!tag.key.startsWith('infergate.')) return;
  if (tag.key === TAG.servingAlias) return checkAlias(tag.value, `${field} ${TAG.servingAlias}`);
  if (tag.key === TAG.requireApproval) {
    if (tag.value !== 'true' && tag.value !== 'false') throw invalidParam(`Tag '${TAG.requireApproval}' must be 'true' or 'false', got '${tag.value}'.`);
    return;
  }
  throw invalidParam(`Unknown infergate tag '${tag.key}' on a registered model (field '${field}'); infergate's model tags are ${TAG.servingAlias} and ${TAG.requireApproval}.`);
}

/** Rules for `infergate.*` keys on a version: lineage keys are checked, the registry's own refused. */
export function checkVersionTag(tag: Tag, field = 'tags'): void {
  checkTagKey(tag.key, `${field}.key`);
  checkTagValue(tag.key, tag.value, `${field}.value`);
  if (!tag.key.startsWith('infergate.')) return;
  if (tag.key === TAG.servable || tag.key === TAG.servableReason) {
    throw invalidParam(`Tag '${tag.key}' is set by the registry from the artifact and cannot be set or deleted (field '${field}').`);
  }
  if (tag.key === TAG.dataset) return;
  if (tag.key.startsWith(TAG.metricPrefix) && tag.key.length > TAG.metricPrefix.length) {
    if (tag.value.trim() === '' || !Number.isFinite(Number(tag.value))) {
      throw invalidParam(`Tag '${tag.key}' holds a training metric and must be a number, got '${tag.value}'.`);
    }
    return;
  }
  if (tag.key.startsWith(TAG.paramPrefix) && tag.key.length > TAG.paramPrefix.length) return;
  throw invalidParam(
    `Unknown infergate tag '${tag.key}' on a model version (field '${field}'); infergate's version tags are ${TAG.dataset}, ${TAG.metricPrefix}<name> and ${TAG.paramPrefix}<name>.`,
  );
}

/** The caller named by X-Infergate-User, or `anonymous` until authentication exists. */
export function userFrom(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return 'anonymous';
  if (v.length > LIMITS.user || CONTROL.test(v)) throw invalidParam(`X-Infergate-User must be at most ${LIMITS.user} characters with no control characters.`);
  return v.trim();
}
