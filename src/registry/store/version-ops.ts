import type { IngestResult } from '../artifacts/artifact-store.js';
import { RegistryError, invalidParam } from '../errors.js';
import { ACTIVE_STAGES, APPROVAL_STATUSES, type ApprovalStatus, STAGES, type Stage, TAG, type Tag } from '../types.js';
import { LIMITS, checkAlias, checkDescription, checkTagKey, checkText, checkVersion, checkVersionTag } from '../validate.js';
import { servingAliasOf } from './model-ops.js';
import { type Mutation, modelTags, requireModel, requireVersion, versionState, versionTags } from './mutation.js';
import type { ModelRow } from './rows.js';

/** Mutations of model versions, aliases, stages, approvals and cards; each inside one transaction. */

export interface NewVersion {
  name: string;
  source: string;
  runId?: string;
  runLink?: string;
  description?: string;
  tags: Tag[];
}

/** Checks a new version's fields before its artifact is fetched (nothing is written yet). */
export function checkNewVersion(v: NewVersion): void {
  if (v.source === '') throw invalidParam("Missing value for required parameter 'source'.");
  checkText('source', v.source, LIMITS.source);
  if (v.runId !== undefined) checkText('run_id', v.runId, LIMITS.runId);
  if (v.runLink !== undefined) checkText('run_link', v.runLink, LIMITS.runLink);
  if (v.description !== undefined) checkDescription(v.description);
  if (v.tags.length > LIMITS.tagsPerRequest) throw invalidParam(`'tags' holds ${v.tags.length} tags; at most ${LIMITS.tagsPerRequest} per request.`);
  v.tags.forEach((tag, i) => checkVersionTag(tag, `tags[${i}]`));
}

export function canonicalStage(stage: string): Stage {
  const s = STAGES.find((x) => x.toLowerCase() === stage.toLowerCase());
  if (!s) throw invalidParam(`Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(', ')}.`);
  return s;
}

/** Refuses to let a serving alias point at an unapproved version of a model that requires approval. */
export async function checkApprovedForServing(m: Mutation, model: ModelRow, alias: string, tags: Map<string, string>, version?: number): Promise<void> {
  if (tags.get(TAG.requireApproval) !== 'true' || alias !== servingAliasOf(tags)) return;
  const target =
    version ?? (await m.t.get<{ version: number }>('SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?', [model.id, alias]))?.version;
  if (target === undefined) return;
  const row = await m.t.get<{ approval_status: string }>('SELECT approval_status FROM model_versions WHERE model_id = ? AND version = ?', [model.id, target]);
  if (row && row.approval_status !== 'APPROVED') {
    throw new RegistryError(
      'PERMISSION_DENIED',
      `Model '${model.name}' requires approval (tag ${TAG.requireApproval}=true): version ${target} is ${row.approval_status}, so the serving alias '${alias}' cannot point to it. Approve the version first (infergate registry approve '${model.name}' ${target}).`,
    );
  }
}

export async function createVersion(m: Mutation, v: NewVersion, ingest: IngestResult): Promise<number> {
  checkNewVersion(v);
  const model = await requireModel(m.t, v.name);
  const allocated = await m.t.get<{ last_version: number }>(
    'UPDATE registered_models SET last_version = last_version + 1, last_updated_time = ? WHERE id = ? RETURNING last_version',
    [m.now, model.id],
  );
  const version = Number(allocated?.last_version);
  const stored = ingest.kind === 'stored' ? ingest : undefined;
  const reason = ingest.kind === 'stored' ? null : ingest.reason;
  await m.t.run(
    `INSERT INTO model_versions (model_id, version, creation_time, last_updated_time, user_id, current_stage, description, source, run_id, run_link,
       status, status_message, servable, not_servable_reason, artifact_digest, model_sha256, model_size, has_config, signature, model_card, approval_status)
     VALUES (?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING_MANUAL_APPROVAL')`,
    [
      model.id, version, m.now, m.now, m.who, v.description ?? null, v.source, v.runId ?? null, v.runLink ?? null,
      ingest.kind === 'failed' ? 'FAILED_REGISTRATION' : 'READY',
      ingest.kind === 'failed' ? ingest.reason : null,
      stored ? 1 : 0, reason,
      stored?.artifact.digest ?? null, stored?.artifact.modelSha256 ?? null, stored?.artifact.modelSize ?? null, stored?.artifact.hasConfig ? 1 : 0,
      stored ? JSON.stringify(stored.signature) : null, stored?.card ?? null,
    ],
  );
  const tags = new Map(v.tags.map((t) => [t.key, t.value]));
  if (reason !== null) {
    tags.set(TAG.servable, 'false');
    tags.set(TAG.servableReason, reason.slice(0, LIMITS.tagValue));
  }
  for (const [key, value] of tags) await m.t.run('INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?)', [model.id, version, key, value]);
  const row = (await requireVersion(m.t, v.name, String(version))).row;
  await m.audit({ action: 'create_model_version', model, version, after: versionState(row, Object.fromEntries(tags), []) });
  return version;
}

export async function updateVersion(m: Mutation, name: string, version: string, description: string | undefined): Promise<void> {
  if (description !== undefined) checkDescription(description);
  const { model, row } = await requireVersion(m.t, name, version);
  await m.t.run('UPDATE model_versions SET description = ?, last_updated_time = ? WHERE model_id = ? AND version = ?', [description ?? null, m.now, model.id, row.version]);
  await m.audit({ action: 'update_model_version', model, version: row.version, before: { description: row.description ?? '' }, after: { description: description ?? '' } });
}

export async function deleteVersion(m: Mutation, name: string, version: string): Promise<void> {
  const { model, row } = await requireVersion(m.t, name, version);
  const aliases = await m.t.all<{ alias: string }>('SELECT alias FROM registered_model_aliases WHERE model_id = ? AND version = ? ORDER BY alias', [model.id, row.version]);
  const tags = await versionTags(m.t, model.id, row.version);
  // Aliases pointing at it go with it (as MLflow); the number is never handed out again (last_version stays).
  await m.t.run('DELETE FROM model_versions WHERE model_id = ? AND version = ?', [model.id, row.version]);
  await m.t.run('UPDATE registered_models SET last_updated_time = ? WHERE id = ?', [m.now, model.id]);
  await m.audit({ action: 'delete_model_version', model, version: row.version, before: versionState(row, tags, aliases.map((a) => a.alias)) });
}

export async function setVersionTag(m: Mutation, name: string, version: string, tag: Tag): Promise<void> {
  checkVersion(version);
  checkVersionTag(tag, 'key');
  const { model, row } = await requireVersion(m.t, name, version);
  const before = (await versionTags(m.t, model.id, row.version))[tag.key];
  await m.t.run(
    'INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value',
    [model.id, row.version, tag.key, tag.value],
  );
  await m.audit({ action: 'set_model_version_tag', model, version: row.version, before: before === undefined ? undefined : { [tag.key]: before }, after: { [tag.key]: tag.value } });
}

export async function deleteVersionTag(m: Mutation, name: string, version: string, key: string): Promise<void> {
  checkVersion(version);
  checkTagKey(key);
  if (key === TAG.servable || key === TAG.servableReason) checkVersionTag({ key, value: '' }, 'key');
  const { model, row } = await requireVersion(m.t, name, version);
  const before = (await versionTags(m.t, model.id, row.version))[key];
  if (before === undefined) return;
  await m.t.run('DELETE FROM model_version_tags WHERE model_id = ? AND version = ? AND key = ?', [model.id, row.version, key]);
  await m.audit({ action: 'delete_model_version_tag', model, version: row.version, before: { [key]: before } });
}

export async function setAlias(m: Mutation, name: string, alias: string, version: string): Promise<void> {
  checkAlias(alias);
  const { model, row } = await requireVersion(m.t, name, version);
  const tags = await modelTags(m.t, model.id);
  await checkApprovedForServing(m, model, alias, tags, row.version);
  const before = await m.t.get<{ version: number }>('SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?', [model.id, alias]);
  await m.t.run(
    'INSERT INTO registered_model_aliases (model_id, alias, version) VALUES (?, ?, ?) ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version',
    [model.id, alias, row.version],
  );
  await m.audit({
    action: 'set_registered_model_alias',
    model,
    version: row.version,
    before: before ? { alias, version: String(before.version) } : undefined,
    after: { alias, version: String(row.version), serving: alias === servingAliasOf(tags) },
  });
}

export async function deleteAlias(m: Mutation, name: string, alias: string): Promise<void> {
  checkAlias(alias);
  const model = await requireModel(m.t, name);
  const before = await m.t.get<{ version: number }>('SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?', [model.id, alias]);
  if (!before) return;
  await m.t.run('DELETE FROM registered_model_aliases WHERE model_id = ? AND alias = ?', [model.id, alias]);
  await m.audit({ action: 'delete_registered_model_alias', model, version: before.version, before: { alias, version: String(before.version) } });
}

export async function transitionStage(m: Mutation, name: string, version: string, stage: string, archiveExisting: boolean): Promise<void> {
  const target = canonicalStage(stage);
  if (archiveExisting && !ACTIVE_STAGES.includes(target)) {
    throw invalidParam(`Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. Valid stages are ${ACTIVE_STAGES.join(', ')}.`);
  }
  const { model, row } = await requireVersion(m.t, name, version);
  const tags = await modelTags(m.t, model.id);
  if (target === 'Production' && tags.get(TAG.requireApproval) === 'true' && row.approval_status !== 'APPROVED') {
    throw new RegistryError(
      'PERMISSION_DENIED',
      `Model '${name}' requires approval (tag ${TAG.requireApproval}=true): version ${row.version} is ${row.approval_status} and cannot move to Production. Approve it first (infergate registry approve '${name}' ${row.version}).`,
    );
  }
  if (archiveExisting) {
    const others = await m.t.all<{ version: number }>('SELECT version FROM model_versions WHERE model_id = ? AND current_stage = ? AND version != ? ORDER BY version', [model.id, target, row.version]);
    for (const o of others) {
      await m.t.run("UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? WHERE model_id = ? AND version = ?", [m.now, model.id, o.version]);
      await m.audit({ action: 'transition_stage', model, version: o.version, before: { current_stage: target }, after: { current_stage: 'Archived', archived_by: String(row.version) } });
    }
  }
  await m.t.run('UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE model_id = ? AND version = ?', [target, m.now, model.id, row.version]);
  await m.t.run('UPDATE registered_models SET last_updated_time = ? WHERE id = ?', [m.now, model.id]);
  await m.audit({ action: 'transition_stage', model, version: row.version, before: { current_stage: row.current_stage }, after: { current_stage: target } });
}

export async function setApproval(m: Mutation, name: string, version: string, status: string, comment: string | undefined): Promise<void> {
  if (!(APPROVAL_STATUSES as readonly string[]).includes(status)) {
    throw invalidParam(`Invalid approval status '${status}' (field 'status'); must be one of ${APPROVAL_STATUSES.join(', ')}.`);
  }
  if (comment !== undefined) checkText('comment', comment, LIMITS.comment);
  const { model, row } = await requireVersion(m.t, name, version);
  if (status === 'APPROVED' && row.status !== 'READY') {
    throw invalidParam(`Version ${row.version} of '${name}' is ${row.status} (${row.status_message ?? 'no message'}); only a READY version can be approved.`);
  }
  await m.t.run(
    'UPDATE model_versions SET approval_status = ?, approval_user = ?, approval_time = ?, approval_comment = ?, last_updated_time = ? WHERE model_id = ? AND version = ?',
    [status, m.who, m.now, comment ?? null, m.now, model.id, row.version],
  );
  const action = status === 'APPROVED' ? 'approve_model_version' : status === 'REJECTED' ? 'reject_model_version' : 'reset_model_version_approval';
  await m.audit({
    action,
    model,
    version: row.version,
    before: { approval_status: row.approval_status, ...(row.approval_user ? { approval_user: row.approval_user } : {}) },
    after: { approval_status: status as ApprovalStatus, ...(comment ? { comment } : {}) },
  });
}

export async function setCard(m: Mutation, name: string, version: string, markdown: string): Promise<void> {
  const bytes = Buffer.byteLength(markdown);
  if (bytes > LIMITS.modelCard) throw invalidParam(`'model_card' is ${bytes} bytes; the limit is ${LIMITS.modelCard}.`);
  const { model, row } = await requireVersion(m.t, name, version);
  const before = await m.t.get<{ model_card: string | null }>('SELECT model_card FROM model_versions WHERE model_id = ? AND version = ?', [model.id, row.version]);
  await m.t.run('UPDATE model_versions SET model_card = ?, last_updated_time = ? WHERE model_id = ? AND version = ?', [markdown, m.now, model.id, row.version]);
  await m.audit({
    action: 'set_model_card',
    model,
    version: row.version,
    before: before?.model_card ? { bytes: Buffer.byteLength(before.model_card) } : undefined,
    after: { bytes },
  });
}

