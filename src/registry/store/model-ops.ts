import { alreadyExists, RegistryError } from '../errors.js';
import { DEFAULT_SERVING_ALIAS, TAG, type Tag } from '../types.js';
import { checkDescription, checkModelName, checkModelTag, checkTagKey } from '../validate.js';
import { type Mutation, findModel, modelTags, requireModel } from './mutation.js';
import type { ModelRow } from './rows.js';

/** Mutations of registered models; each runs inside one transaction (see RegistryStore.mutate). */

const modelState = (r: ModelRow, tags?: Map<string, string>) => ({
  name: r.name,
  ...(r.description ? { description: r.description } : {}),
  ...(tags ? { tags: Object.fromEntries(tags) } : {}),
});

export function servingAliasOf(tags: Map<string, string>): string {
  return tags.get(TAG.servingAlias) ?? DEFAULT_SERVING_ALIAS;
}

export async function createModel(m: Mutation, name: string, description: string | undefined, tags: Tag[]): Promise<ModelRow> {
  checkModelName(name);
  if (description !== undefined) checkDescription(description);
  tags.forEach((tag, i) => checkModelTag(tag, `tags[${i}]`));
  if (await findModel(m.t, name)) throw alreadyExists(`Registered Model (name=${name}) already exists.`);
  const row = await m.t.get<ModelRow>(
    'INSERT INTO registered_models (name, description, creation_time, last_updated_time) VALUES (?, ?, ?, ?) RETURNING *',
    [name, description ?? null, m.now, m.now],
  );
  if (!row) throw new RegistryError('INTERNAL_ERROR', `creating registered model '${name}' returned no row`);
  const byKey = new Map(tags.map((t) => [t.key, t.value]));
  for (const [key, value] of byKey) await m.t.run('INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?)', [row.id, key, value]);
  await m.audit({ action: 'create_registered_model', model: row, after: modelState(row, byKey) });
  return row;
}

export async function renameModel(m: Mutation, name: string, newName: string): Promise<ModelRow> {
  checkModelName(newName, 'new_name');
  const row = await requireModel(m.t, name);
  if (newName !== name && (await findModel(m.t, newName))) throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
  await m.t.run('UPDATE registered_models SET name = ?, last_updated_time = ? WHERE id = ?', [newName, m.now, row.id]);
  await m.t.run('UPDATE model_versions SET last_updated_time = ? WHERE model_id = ?', [m.now, row.id]);
  // Filed under the old name, so a search of the old name's history shows where it went.
  await m.audit({ action: 'rename_registered_model', model: row, before: { name }, after: { name: newName } });
  return { ...row, name: newName, last_updated_time: m.now };
}

export async function updateModel(m: Mutation, name: string, description: string | undefined): Promise<ModelRow> {
  if (description !== undefined) checkDescription(description);
  const row = await requireModel(m.t, name);
  await m.t.run('UPDATE registered_models SET description = ?, last_updated_time = ? WHERE id = ?', [description ?? null, m.now, row.id]);
  await m.audit({ action: 'update_registered_model', model: row, before: { description: row.description ?? '' }, after: { description: description ?? '' } });
  return { ...row, description: description ?? null, last_updated_time: m.now };
}

export async function deleteModel(m: Mutation, name: string): Promise<void> {
  const row = await requireModel(m.t, name);
  const versions = await m.t.all<{ version: number }>('SELECT version FROM model_versions WHERE model_id = ? ORDER BY version', [row.id]);
  const tags = await modelTags(m.t, row.id);
  await m.t.run('DELETE FROM registered_models WHERE id = ?', [row.id]);
  await m.audit({ action: 'delete_registered_model', model: row, before: { ...modelState(row, tags), versions: versions.map((v) => String(v.version)) } });
}

export async function setModelTag(m: Mutation, name: string, tag: Tag, checkServingAlias: (model: ModelRow, alias: string, tags: Map<string, string>) => Promise<void>): Promise<void> {
  checkModelTag(tag, 'key');
  const row = await requireModel(m.t, name);
  const tags = await modelTags(m.t, row.id);
  const before = tags.get(tag.key);
  if (tag.key === TAG.servingAlias || tag.key === TAG.requireApproval) {
    // Naming another serving alias (or starting to require approval) must not make an unapproved version serve.
    const next = new Map(tags).set(tag.key, tag.value);
    await checkServingAlias(row, servingAliasOf(next), next);
  }
  await m.t.run(
    'INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value',
    [row.id, tag.key, tag.value],
  );
  await m.audit({ action: 'set_registered_model_tag', model: row, before: before === undefined ? undefined : { [tag.key]: before }, after: { [tag.key]: tag.value } });
}

export async function deleteModelTag(m: Mutation, name: string, key: string, checkServingAlias: (model: ModelRow, alias: string, tags: Map<string, string>) => Promise<void>): Promise<void> {
  checkTagKey(key);
  const row = await requireModel(m.t, name);
  const tags = await modelTags(m.t, row.id);
  if (!tags.has(key)) return;
  if (key === TAG.servingAlias) {
    // Without the tag the serving alias falls back to champion, which must not be unapproved either.
    const next = new Map(tags);
    next.delete(key);
    await checkServingAlias(row, servingAliasOf(next), next);
  }
  await m.t.run('DELETE FROM registered_model_tags WHERE model_id = ? AND key = ?', [row.id, key]);
  await m.audit({ action: 'delete_registered_model_tag', model: row, before: { [key]: tags.get(key) } });
}

