import type { SqlRunner, SqlValue } from '../db/db.js';
import type { ApprovalStatus, ModelVersion, RegisteredModel, Signature, Stage, Tag, VersionStatus } from '../types.js';

/** Rows as the database holds them, and the entities built from them. */

export interface ModelRow {
  id: number;
  name: string;
  description: string | null;
  creation_time: number;
  last_updated_time: number;
  last_version: number;
  [k: string]: unknown;
}

export interface VersionRow {
  model_id: number;
  name: string;
  version: number;
  creation_time: number;
  last_updated_time: number;
  user_id: string | null;
  current_stage: string;
  description: string | null;
  source: string;
  run_id: string | null;
  run_link: string | null;
  status: string;
  status_message: string | null;
  servable: number;
  not_servable_reason: string | null;
  artifact_digest: string | null;
  model_sha256: string | null;
  model_size: number | null;
  has_config: number;
  signature: string | null;
  approval_status: string;
  approval_user: string | null;
  approval_time: number | null;
  approval_comment: string | null;
  [k: string]: unknown;
}

/** Columns of a version with its model's name (everything but the model card). */
export const VERSION_COLUMNS = `v.model_id, m.name, v.version, v.creation_time, v.last_updated_time, v.user_id, v.current_stage,
  v.description, v.source, v.run_id, v.run_link, v.status, v.status_message, v.servable, v.not_servable_reason,
  v.artifact_digest, v.model_sha256, v.model_size, v.has_config, v.signature, v.approval_status, v.approval_user,
  v.approval_time, v.approval_comment`;

export const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

/** Builds versions with their tags and aliases (two queries for any number of versions). */
export async function versionsFromRows(t: SqlRunner, rows: VersionRow[]): Promise<ModelVersion[]> {
  if (rows.length === 0) return [];
  const modelIds = [...new Set(rows.map((r) => r.model_id))];
  const idList = placeholders(modelIds.length);
  const tagRows = await t.all<{ model_id: number; version: number; key: string; value: string }>(
    `SELECT model_id, version, key, value FROM model_version_tags WHERE model_id IN (${idList}) ORDER BY key`,
    modelIds as SqlValue[],
  );
  const aliasRows = await t.all<{ model_id: number; version: number; alias: string }>(
    `SELECT model_id, version, alias FROM registered_model_aliases WHERE model_id IN (${idList}) ORDER BY alias`,
    modelIds as SqlValue[],
  );
  const k = (m: number, v: number) => `${m}/${v}`;
  const tags = new Map<string, Tag[]>();
  for (const r of tagRows) {
    const list = tags.get(k(r.model_id, r.version)) ?? [];
    list.push({ key: r.key, value: r.value });
    tags.set(k(r.model_id, r.version), list);
  }
  const aliases = new Map<string, string[]>();
  for (const r of aliasRows) {
    const list = aliases.get(k(r.model_id, r.version)) ?? [];
    list.push(r.alias);
    aliases.set(k(r.model_id, r.version), list);
  }
  return rows.map((r) => versionFromRow(r, tags.get(k(r.model_id, r.version)) ?? [], aliases.get(k(r.model_id, r.version)) ?? []));
}

export function versionFromRow(r: VersionRow, tags: Tag[], aliases: string[]): ModelVersion {
  return {
    name: r.name,
    version: String(r.version),
    creationTimestamp: Number(r.creation_time),
    lastUpdatedTimestamp: Number(r.last_updated_time),
    userId: opt(r.user_id),
    currentStage: r.current_stage as Stage,
    description: opt(r.description),
    source: r.source,
    runId: opt(r.run_id),
    runLink: opt(r.run_link),
    status: r.status as VersionStatus,
    statusMessage: opt(r.status_message),
    tags,
    aliases,
    approval: {
      status: r.approval_status as ApprovalStatus,
      user: opt(r.approval_user),
      timestamp: r.approval_time === null ? undefined : Number(r.approval_time),
      comment: opt(r.approval_comment),
    },
    servable: r.servable === 1,
    notServableReason: opt(r.not_servable_reason),
    artifact:
      r.artifact_digest === null
        ? undefined
        : { digest: r.artifact_digest, modelSha256: r.model_sha256 ?? '', modelSize: Number(r.model_size ?? 0), hasConfig: r.has_config === 1 },
    signature: r.signature === null ? undefined : (JSON.parse(r.signature) as Signature),
  };
}

/** Builds registered models with tags, aliases and the latest version per stage. */
export async function modelsFromRows(t: SqlRunner, rows: ModelRow[]): Promise<RegisteredModel[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const idList = placeholders(ids.length);
  const tagRows = await t.all<{ model_id: number; key: string; value: string }>(
    `SELECT model_id, key, value FROM registered_model_tags WHERE model_id IN (${idList}) ORDER BY key`,
    ids,
  );
  const aliasRows = await t.all<{ model_id: number; alias: string; version: number }>(
    `SELECT model_id, alias, version FROM registered_model_aliases WHERE model_id IN (${idList}) ORDER BY alias`,
    ids,
  );
  const versionRows = await t.all<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM model_versions v JOIN registered_models m ON m.id = v.model_id
     WHERE v.model_id IN (${idList}) ORDER BY v.model_id, v.version`,
    ids,
  );
  // MLflow's latest_versions: per stage, the highest version, stages in order of first appearance.
  const latestRows = new Map<number, Map<string, VersionRow>>();
  for (const v of versionRows) {
    const perStage = latestRows.get(v.model_id) ?? new Map<string, VersionRow>();
    perStage.set(v.current_stage, v);
    latestRows.set(v.model_id, perStage);
  }
  const latest = await versionsFromRows(t, [...latestRows.values()].flatMap((m) => [...m.values()]));
  return rows.map((r) => ({
    name: r.name,
    creationTimestamp: Number(r.creation_time),
    lastUpdatedTimestamp: Number(r.last_updated_time),
    description: opt(r.description),
    latestVersions: latest.filter((v) => v.name === r.name),
    tags: tagRows.filter((x) => x.model_id === r.id).map((x) => ({ key: x.key, value: x.value })),
    aliases: aliasRows.filter((x) => x.model_id === r.id).map((x) => ({ alias: x.alias, version: String(x.version) })),
  }));
}
