import type { ModelVersion, RegisteredModel } from '../types.js';

/**
 * Entities as MLflow's server writes them (protobuf JSON with snake_case names): int64
 * timestamps as numbers, versions as strings, unset fields and empty lists left out.
 */

type Json = Record<string, unknown>;

function put(o: Json, key: string, v: unknown): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v) && v.length === 0) return;
  o[key] = v;
}

export function versionJson(v: ModelVersion): Json {
  const o: Json = { name: v.name, version: v.version, creation_timestamp: v.creationTimestamp, last_updated_timestamp: v.lastUpdatedTimestamp };
  put(o, 'user_id', v.userId);
  put(o, 'current_stage', v.currentStage);
  put(o, 'description', v.description);
  put(o, 'source', v.source);
  put(o, 'run_id', v.runId);
  put(o, 'status', v.status);
  put(o, 'status_message', v.statusMessage);
  put(o, 'tags', v.tags.map((t) => ({ key: t.key, value: t.value })));
  put(o, 'run_link', v.runLink);
  put(o, 'aliases', v.aliases);
  return o;
}

export function modelJson(m: RegisteredModel): Json {
  const o: Json = { name: m.name, creation_timestamp: m.creationTimestamp, last_updated_timestamp: m.lastUpdatedTimestamp };
  if (m.description) o.description = m.description;
  put(o, 'latest_versions', m.latestVersions.map(versionJson));
  put(o, 'tags', m.tags.map((t) => ({ key: t.key, value: t.value })));
  put(o, 'aliases', m.aliases.map((a) => ({ alias: a.alias, version: a.version })));
  return o;
}

/** A version with infergate's own fields beside MLflow's (the infergate API only). */
export function versionDetailJson(v: ModelVersion, artifactUri: string | undefined): Json {
  const metrics: Record<string, number> = {};
  const params: Record<string, string> = {};
  let dataset: string | undefined;
  for (const t of v.tags) {
    if (t.key.startsWith('infergate.metric.')) metrics[t.key.slice('infergate.metric.'.length)] = Number(t.value);
    else if (t.key.startsWith('infergate.param.')) params[t.key.slice('infergate.param.'.length)] = t.value;
    else if (t.key === 'infergate.dataset') dataset = t.value;
  }
  const infergate: Json = {
    approval: { status: v.approval.status, ...(v.approval.user ? { user: v.approval.user } : {}), ...(v.approval.timestamp ? { timestamp: v.approval.timestamp } : {}), ...(v.approval.comment ? { comment: v.approval.comment } : {}) },
    servable: v.servable,
    lineage: { ...(v.runId ? { run_id: v.runId } : {}), ...(dataset ? { dataset } : {}), metrics, params },
  };
  put(infergate, 'not_servable_reason', v.notServableReason);
  if (v.artifact) {
    infergate.artifact = { digest: v.artifact.digest, uri: artifactUri, model_sha256: v.artifact.modelSha256, model_size: v.artifact.modelSize, has_config: v.artifact.hasConfig };
  }
  put(infergate, 'signature', v.signature);
  return { ...versionJson(v), infergate };
}
