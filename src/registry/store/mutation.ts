import type { SqlRunner } from '../db/db.js';
import { doesNotExist } from '../errors.js';
import { checkVersion } from '../validate.js';
import type { ModelRow, VersionRow } from './rows.js';
import { VERSION_COLUMNS } from './rows.js';

/** What one mutation works with: its transaction, who asked, one clock reading, the audit log. */
export interface Mutation {
  readonly t: SqlRunner;
  readonly who: string;
  readonly now: number;
  /** Appends an audit entry in the same transaction. */
  audit(e: { action: string; model: ModelRow | { id: number | null; name: string }; version?: number; before?: unknown; after?: unknown }): Promise<void>;
}

export async function appendAudit(m: { t: SqlRunner; who: string; now: number }, e: Parameters<Mutation['audit']>[0]): Promise<void> {
  await m.t.run(
    `INSERT INTO audit_log (at, who, action, model_id, model_name, version, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      m.now,
      m.who,
      e.action,
      e.model.id,
      e.model.name,
      e.version ?? null,
      e.before === undefined ? null : JSON.stringify(e.before),
      e.after === undefined ? null : JSON.stringify(e.after),
    ],
  );
}

export async function findModel(t: SqlRunner, name: string): Promise<ModelRow | undefined> {
  return t.get<ModelRow>('SELECT * FROM registered_models WHERE name = ?', [name]);
}

/** The model by name, or MLflow's RESOURCE_DOES_NOT_EXIST. */
export async function requireModel(t: SqlRunner, name: string): Promise<ModelRow> {
  const row = await findModel(t, name);
  if (!row) throw doesNotExist(`Registered Model with name=${name} not found`);
  return row;
}

/** The version, or MLflow's RESOURCE_DOES_NOT_EXIST naming both. */
export async function requireVersion(t: SqlRunner, name: string, version: string): Promise<{ model: ModelRow; row: VersionRow }> {
  const n = checkVersion(version);
  const model = await findModel(t, name);
  const row = model
    ? await t.get<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions v JOIN registered_models m ON m.id = v.model_id WHERE v.model_id = ? AND v.version = ?`, [model.id, n])
    : undefined;
  if (!model || !row) throw doesNotExist(`Model Version (name=${name}, version=${version}) not found`);
  return { model, row };
}

export async function modelTags(t: SqlRunner, modelId: number): Promise<Map<string, string>> {
  const rows = await t.all<{ key: string; value: string }>('SELECT key, value FROM registered_model_tags WHERE model_id = ?', [modelId]);
  return new Map(rows.map((r) => [r.key, r.value]));
}

export async function versionTags(t: SqlRunner, modelId: number, version: number): Promise<Record<string, string>> {
  const rows = await t.all<{ key: string; value: string }>('SELECT key, value FROM model_version_tags WHERE model_id = ? AND version = ? ORDER BY key', [modelId, version]);
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

/** What the audit log records of a version: the fields a release engineer asks about. */
export function versionState(r: VersionRow, tags?: Record<string, string>, aliases?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    version: String(r.version),
    current_stage: r.current_stage,
    status: r.status,
    approval_status: r.approval_status,
    source: r.source,
  };
  if (r.description !== null) out.description = r.description;
  if (r.run_id !== null) out.run_id = r.run_id;
  if (r.status_message !== null) out.status_message = r.status_message;
  if (r.servable !== 1) out.not_servable_reason = r.not_servable_reason;
  if (r.approval_comment !== null) out.approval_comment = r.approval_comment;
  if (tags) out.tags = tags;
  if (aliases) out.aliases = aliases;
  return out;
}
