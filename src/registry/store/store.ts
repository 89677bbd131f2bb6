import type { IngestResult } from '../artifacts/artifact-store.js';
import type { SqlDb, SqlRunner } from '../db/db.js';
import { migrate } from '../db/migrations.js';
import { doesNotExist, invalidParam } from '../errors.js';
import { offsetFromPageToken, pageToken } from '../search-filter.js';
import type { AuditEntry, ModelVersion, Page, RegisteredModel, Tag } from '../types.js';
import { checkAlias, checkModelName } from '../validate.js';
import * as models from './model-ops.js';
import { type Mutation, appendAudit, findModel, requireModel, requireVersion } from './mutation.js';
import { VERSION_COLUMNS, type VersionRow, modelsFromRows, versionsFromRows } from './rows.js';
import { type SearchQuery, searchModels, searchVersions } from './search.js';
import * as versions from './version-ops.js';

export type { NewVersion } from './version-ops.js';

/** Everything the serving view needs, read in one consistent snapshot. */
export interface ServingRows {
  generation: number;
  models: { id: number; name: string }[];
  tags: { model_id: number; key: string; value: string }[];
  aliases: { model_id: number; alias: string; version: number }[];
  versions: { model_id: number; version: number; status: string; servable: number; not_servable_reason: string | null; artifact_digest: string | null; has_config: number }[];
}

/**
 * The registry's one store interface, over SQLite or PostgreSQL. Every mutation is one
 * transaction that also appends its audit entry, bumps the change generation and notifies
 * other processes; nothing is half-written.
 */
export class RegistryStore {
  private readonly listeners = new Set<() => Promise<void> | void>();

  constructor(readonly db: SqlDb) {}

  /** Runs the schema migrations (at startup). */
  migrate(): Promise<{ from: number; to: number }> {
    return migrate(this.db);
  }

  /** Called (and awaited) after each local mutation commits; a listener's failure does not fail the mutation. */
  onCommit(listener: () => Promise<void> | void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async mutate<T>(who: string, model: string, fn: (m: Mutation) => Promise<T>): Promise<T> {
    const out = await this.db.tx(async (t) => {
      // Locking this row first orders all writers across processes (see migrations.ts).
      await t.run('UPDATE registry_meta SET generation = generation + 1 WHERE id = 1');
      const base = { t, who, now: Date.now() };
      const m: Mutation = { ...base, audit: (e) => appendAudit(base, e) };
      const result = await fn(m);
      await this.db.notifyChange(t, model);
      return result;
    });
    for (const l of this.listeners) await Promise.resolve(l()).catch(() => {});
    return out;
  }

  // Registered models

  async createModel(who: string, name: string, description: string | undefined, tags: Tag[]): Promise<RegisteredModel> {
    await this.mutate(who, name, (m) => models.createModel(m, name, description, tags));
    return this.getModel(name);
  }
  async renameModel(who: string, name: string, newName: string): Promise<RegisteredModel> {
    await this.mutate(who, name, (m) => models.renameModel(m, name, newName));
    return this.getModel(newName);
  }
  async updateModel(who: string, name: string, description: string | undefined): Promise<RegisteredModel> {
    await this.mutate(who, name, (m) => models.updateModel(m, name, description));
    return this.getModel(name);
  }
  deleteModel(who: string, name: string): Promise<void> {
    return this.mutate(who, name, (m) => models.deleteModel(m, name));
  }
  setModelTag(who: string, name: string, tag: Tag): Promise<void> {
    return this.mutate(who, name, (m) => models.setModelTag(m, name, tag, (row, alias, tags) => versions.checkApprovedForServing(m, row, alias, tags)));
  }
  deleteModelTag(who: string, name: string, key: string): Promise<void> {
    return this.mutate(who, name, (m) => models.deleteModelTag(m, name, key, (row, alias, tags) => versions.checkApprovedForServing(m, row, alias, tags)));
  }

  async getModel(name: string): Promise<RegisteredModel> {
    checkModelName(name);
    return this.db.readView(async (t) => (await modelsFromRows(t, [await requireModel(t, name)]))[0]);
  }

  /** Whether a registered model exists (checked before a source is fetched). */
  async hasModel(name: string): Promise<boolean> {
    return (await findModel(this.db, name)) !== undefined;
  }

  searchModels(q: SearchQuery): Promise<Page<RegisteredModel>> {
    return this.db.readView((t) => searchModels(t, q));
  }

  /** get-latest-versions: the latest version per requested stage (all stages when none are named). */
  async getLatestVersions(name: string, stages: readonly string[] = []): Promise<ModelVersion[]> {
    const wanted = new Set(stages.map((s) => versions.canonicalStage(s)));
    const model = await this.getModel(name);
    return model.latestVersions.filter((v) => wanted.size === 0 || wanted.has(v.currentStage));
  }

  // Model versions

  async createVersion(who: string, v: versions.NewVersion, ingest: IngestResult): Promise<ModelVersion> {
    const n = await this.mutate(who, v.name, (m) => versions.createVersion(m, v, ingest));
    return this.getVersion(v.name, String(n));
  }
  async updateVersion(who: string, name: string, version: string, description: string | undefined): Promise<ModelVersion> {
    await this.mutate(who, name, (m) => versions.updateVersion(m, name, version, description));
    return this.getVersion(name, version);
  }
  deleteVersion(who: string, name: string, version: string): Promise<void> {
    return this.mutate(who, name, (m) => versions.deleteVersion(m, name, version));
  }
  setVersionTag(who: string, name: string, version: string, tag: Tag): Promise<void> {
    return this.mutate(who, name, (m) => versions.setVersionTag(m, name, version, tag));
  }
  deleteVersionTag(who: string, name: string, version: string, key: string): Promise<void> {
    return this.mutate(who, name, (m) => versions.deleteVersionTag(m, name, version, key));
  }
  async transitionStage(who: string, name: string, version: string, stage: string, archiveExisting: boolean): Promise<ModelVersion> {
    await this.mutate(who, name, (m) => versions.transitionStage(m, name, version, stage, archiveExisting));
    return this.getVersion(name, version);
  }
  setAlias(who: string, name: string, alias: string, version: string): Promise<void> {
    return this.mutate(who, name, (m) => versions.setAlias(m, name, alias, version));
  }
  deleteAlias(who: string, name: string, alias: string): Promise<void> {
    return this.mutate(who, name, (m) => versions.deleteAlias(m, name, alias));
  }
  async setApproval(who: string, name: string, version: string, status: string, comment?: string): Promise<ModelVersion> {
    await this.mutate(who, name, (m) => versions.setApproval(m, name, version, status, comment));
    return this.getVersion(name, version);
  }
  setCard(who: string, name: string, version: string, markdown: string): Promise<void> {
    return this.mutate(who, name, (m) => versions.setCard(m, name, version, markdown));
  }

  async getVersion(name: string, version: string): Promise<ModelVersion> {
    checkModelName(name);
    return this.db.readView(async (t) => (await versionsFromRows(t, [(await requireVersion(t, name, version)).row]))[0]);
  }

  /** Every version of a model, oldest first. */
  async listVersions(name: string): Promise<ModelVersion[]> {
    return this.db.readView(async (t) => {
      const model = await requireModel(t, name);
      const rows = await t.all<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions v JOIN registered_models m ON m.id = v.model_id WHERE v.model_id = ? ORDER BY v.version`, [model.id]);
      return versionsFromRows(t, rows);
    });
  }

  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    checkModelName(name);
    checkAlias(alias);
    const model = await requireModel(this.db, name);
    const a = await this.db.get<{ version: number }>('SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?', [model.id, alias]);
    if (!a) throw invalidParam(`Registered model alias ${alias} not found.`);
    return this.getVersion(name, String(a.version));
  }

  searchVersions(q: SearchQuery): Promise<Page<ModelVersion>> {
    return this.db.readView((t) => searchVersions(t, q));
  }

  /** The version's model card (markdown), or undefined when it has none. */
  async getCard(name: string, version: string): Promise<string | undefined> {
    const { model, row } = await requireVersion(this.db, name, version);
    const r = await this.db.get<{ model_card: string | null }>('SELECT model_card FROM model_versions WHERE model_id = ? AND version = ?', [model.id, row.version]);
    return r?.model_card ?? undefined;
  }

  // Audit

  /** A model's audit log in the order it was written: entries under its name and, after a rename, its earlier ones. */
  async audit(name: string, maxResults = 1000, token?: string): Promise<Page<AuditEntry>> {
    checkModelName(name);
    if (!Number.isSafeInteger(maxResults) || maxResults < 1 || maxResults > 10_000) throw invalidParam(`'max_results' must be an integer from 1 to 10000, got ${maxResults}`);
    const offset = offsetFromPageToken(token);
    return this.db.readView(async (t) => {
      const model = await findModel(t, name);
      const rows = await t.all<{ id: number; at: number; who: string; action: string; model_name: string; version: number | null; before_json: string | null; after_json: string | null }>(
        `SELECT id, at, who, action, model_name, version, before_json, after_json FROM audit_log WHERE model_name = ? OR model_id = ? ORDER BY id LIMIT ? OFFSET ?`,
        [name, model?.id ?? -1, maxResults + 1, offset],
      );
      if (rows.length === 0 && offset === 0 && !model) throw doesNotExist(`No registered model named ${name} and no audit entries for that name`);
      const items = rows.slice(0, maxResults).map((r) => ({
        id: Number(r.id),
        timestamp: Number(r.at),
        user: r.who,
        action: r.action,
        name: r.model_name,
        version: r.version === null ? undefined : String(r.version),
        before: r.before_json === null ? undefined : (JSON.parse(r.before_json) as unknown),
        after: r.after_json === null ? undefined : (JSON.parse(r.after_json) as unknown),
      }));
      return { items, nextPageToken: rows.length > maxResults ? pageToken(offset + maxResults) : undefined };
    });
  }

  /** Appends a serving event (a version that failed to load, say) to a model's audit log. */
  async recordServingEvent(name: string, version: string | undefined, action: string, detail: Record<string, unknown>): Promise<void> {
    await this.db.tx(async (t: SqlRunner) => {
      const model = await findModel(t, name);
      await appendAudit({ t, who: 'infergate', now: Date.now() }, { action, model: model ?? { id: null, name }, version: version === undefined ? undefined : Number(version), after: detail });
    });
  }

  // Serving

  /** The change counter every mutation bumps (pollers compare it). */
  async generation(): Promise<number> {
    const r = await this.db.get<{ generation: number }>('SELECT generation FROM registry_meta WHERE id = 1');
    return Number(r?.generation ?? 0);
  }

  /** What the serving view is built from, in one consistent read. */
  servingRows(): Promise<ServingRows> {
    return this.db.readView(async (t) => ({
      generation: Number((await t.get<{ generation: number }>('SELECT generation FROM registry_meta WHERE id = 1'))?.generation ?? 0),
      models: await t.all<{ id: number; name: string }>('SELECT id, name FROM registered_models ORDER BY id'),
      tags: await t.all<{ model_id: number; key: string; value: string }>("SELECT model_id, key, value FROM registered_model_tags WHERE key LIKE 'infergate.%'"),
      aliases: await t.all<{ model_id: number; alias: string; version: number }>('SELECT model_id, alias, version FROM registered_model_aliases'),
      versions: await t.all(
        `SELECT v.model_id, v.version, v.status, v.servable, v.not_servable_reason, v.artifact_digest, v.has_config
         FROM model_versions v JOIN registered_model_aliases a ON a.model_id = v.model_id AND a.version = v.version
         GROUP BY v.model_id, v.version, v.status, v.servable, v.not_servable_reason, v.artifact_digest, v.has_config`,
      ),
    }));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

