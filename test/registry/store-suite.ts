import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/registry/errors.js';
import { Registry } from '../../src/registry/registry.js';
import { mlpVersion, notOnnxFile, scratchDir, versionFolderWithConfig } from '../helpers/registry.js';

/** How a test file opens registries on its database (SQLite file or a fresh Postgres database). */
export interface Backend {
  /** The registry URL; every open() of it sees the same data. */
  url: string;
  cleanup(): Promise<void>;
}

/** Expects a registry call to fail with an MLflow error code and a message matching `msg`. */
export async function expectCode(p: Promise<unknown>, code: string, msg?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(RegistryError);
  expect((err as RegistryError).code).toBe(code);
  if (msg) expect((err as RegistryError).message).toMatch(msg);
}

/** The store suite both databases must pass. */
export function storeSuite(label: string, makeBackend: () => Promise<Backend>): void {
  describe(`registry store on ${label}`, () => {
    let backend: Backend;
    let reg: Registry;
    const artifactRoot = scratchDir('infergate-artifacts-');
    const open = () => Registry.open({ url: backend.url, artifactRoot, pollMs: 200 });

    beforeAll(async () => {
      backend = await makeBackend();
      reg = await open();
    });
    afterAll(async () => {
      await reg?.close();
      await backend?.cleanup();
    });

    it('creates, reads and refuses duplicate registered models', async () => {
      const m = await reg.store.createModel('alice', 'tabular_mlp', 'breast cancer MLP', [{ key: 'team', value: 'ml' }]);
      expect(m).toMatchObject({ name: 'tabular_mlp', description: 'breast cancer MLP', tags: [{ key: 'team', value: 'ml' }], aliases: [], latestVersions: [] });
      expect(m.creationTimestamp).toBeGreaterThan(1.6e12); // milliseconds
      await expectCode(reg.store.createModel('bob', 'tabular_mlp', undefined, []), 'RESOURCE_ALREADY_EXISTS', /tabular_mlp/);
      await expectCode(reg.store.getModel('nope'), 'RESOURCE_DOES_NOT_EXIST', /nope/);
      for (const bad of ['a/b', '../x', 'a..b', 'bad\u0001name', '', 'x'.repeat(257)]) {
        await expectCode(reg.store.createModel('alice', bad, undefined, []), 'INVALID_PARAMETER_VALUE', /name/);
      }
    });

    it('registers versions 1, 2, 3: stores the artifact once per content and reads the ONNX signature', async () => {
      const v1 = await reg.createVersion('alice', { name: 'tabular_mlp', source: mlpVersion(1), runId: 'run1', tags: [{ key: 'infergate.metric.accuracy', value: '0.972' }] });
      const v2 = await reg.createVersion('alice', { name: 'tabular_mlp', source: mlpVersion(2), tags: [] });
      const v3 = await reg.createVersion('bob', { name: 'tabular_mlp', source: `file://${join(mlpVersion(1), 'model.onnx')}`, tags: [] });
      expect([v1.version, v2.version, v3.version]).toEqual(['1', '2', '3']);
      for (const v of [v1, v2, v3]) {
        expect(v).toMatchObject({ status: 'READY', currentStage: 'None', servable: true, approval: { status: 'PENDING_MANUAL_APPROVAL' } });
        expect(v.signature).toEqual({ inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 30] }], outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }] });
      }
      expect(v1.runId).toBe('run1');
      expect(v1.tags).toEqual([{ key: 'infergate.metric.accuracy', value: '0.972' }]);
      expect(v1.artifact?.modelSize).toBe(18543);
      // v1's folder and v3's file hold the same bytes: one artifact.
      expect(v3.artifact?.digest).toBe(v1.artifact?.digest);
      expect(v2.artifact?.digest).not.toBe(v1.artifact?.digest);
      expect(readdirSync(join(artifactRoot, 'sha256')).sort()).toEqual([v1.artifact!.digest, v2.artifact!.digest].sort());
      expect(existsSync(join(artifactRoot, 'sha256', v1.artifact!.digest, 'model.onnx'))).toBe(true);
      expect(await reg.downloadUri('tabular_mlp', '1')).toBe(`file://${join(artifactRoot, 'sha256', v1.artifact!.digest)}`);
    });

    it('keeps config.yaml and the model card from a source folder', async () => {
      await reg.store.createModel('alice', 'with_config', undefined, []);
      const v = await reg.createVersion('alice', { name: 'with_config', source: versionFolderWithConfig(), tags: [] });
      expect(v.artifact?.hasConfig).toBe(true);
      expect(existsSync(join(artifactRoot, 'sha256', v.artifact!.digest, 'config.yaml'))).toBe(true);
      expect(await reg.store.getCard('with_config', '1')).toMatch(/A small MLP/);
      const bad = await reg.createVersion('alice', { name: 'with_config', source: versionFolderWithConfig('max_batch_size: lots\n'), tags: [] });
      expect(bad.status).toBe('FAILED_REGISTRATION');
      expect(bad.statusMessage).toMatch(/config\.yaml is invalid.*max_batch_size/);
    });

    it('records sources it cannot fetch or read as MLflow would, marked not servable or failed', async () => {
      await reg.store.createModel('alice', 'elsewhere', undefined, []);
      const s3 = await reg.createVersion('alice', { name: 'elsewhere', source: 's3://bucket/model', tags: [] });
      expect(s3).toMatchObject({ status: 'READY', servable: false, source: 's3://bucket/model' });
      expect(s3.tags).toContainEqual({ key: 'infergate.servable', value: 'false' });
      expect(s3.notServableReason).toMatch(/s3:/);
      for (const source of ['runs:/abc123/model', 'models:/other/1', '/no/such/path/model.onnx']) {
        const v = await reg.createVersion('alice', { name: 'elsewhere', source, tags: [] });
        expect(v).toMatchObject({ status: 'READY', servable: false });
      }
      const invalid = await reg.createVersion('alice', { name: 'elsewhere', source: notOnnxFile(), tags: [] });
      expect(invalid.status).toBe('FAILED_REGISTRATION');
      expect(invalid.statusMessage).toMatch(/not a valid ONNX model/);
      expect(invalid.servable).toBe(false);
      // It can still carry aliases and stages, like any version.
      await reg.store.setAlias('alice', 'elsewhere', 'challenger', s3.version);
      await reg.store.transitionStage('alice', 'elsewhere', s3.version, 'staging', false);
      expect((await reg.store.getVersionByAlias('elsewhere', 'challenger')).currentStage).toBe('Staging');
      await expectCode(reg.createVersion('alice', { name: 'missing_model', source: mlpVersion(1), tags: [] }), 'RESOURCE_DOES_NOT_EXIST');
    });

    it('sets, moves, reads and deletes aliases; an alias points at one version', async () => {
      await reg.store.setAlias('alice', 'tabular_mlp', 'champion', '1');
      await reg.store.setAlias('alice', 'tabular_mlp', 'challenger', '2');
      expect((await reg.store.getModel('tabular_mlp')).aliases).toEqual([{ alias: 'challenger', version: '2' }, { alias: 'champion', version: '1' }]);
      expect(reg.serving.defaultVersion('tabular_mlp')).toBe('1');
      await reg.store.setAlias('alice', 'tabular_mlp', 'champion', '2');
      expect((await reg.store.getVersion('tabular_mlp', '1')).aliases).toEqual([]);
      expect((await reg.store.getVersion('tabular_mlp', '2')).aliases).toEqual(['challenger', 'champion']);
      expect((await reg.store.getVersionByAlias('tabular_mlp', 'champion')).version).toBe('2');
      expect(reg.serving.versionFor('tabular_mlp', 'champion')).toBe('2');
      await reg.store.deleteAlias('alice', 'tabular_mlp', 'challenger');
      await expectCode(reg.store.getVersionByAlias('tabular_mlp', 'challenger'), 'INVALID_PARAMETER_VALUE', /challenger not found/);
      for (const bad of ['1', 'v1', 'V12', 'latest', 'LATEST', 'has space', 'a/b', '']) {
        await expectCode(reg.store.setAlias('alice', 'tabular_mlp', bad, '1'), 'INVALID_PARAMETER_VALUE', /alias/i);
      }
      await expectCode(reg.store.setAlias('alice', 'tabular_mlp', 'next', '99'), 'RESOURCE_DOES_NOT_EXIST', /version=99/);
      await expectCode(reg.store.setAlias('alice', 'tabular_mlp', 'next', 'two'), 'INVALID_PARAMETER_VALUE', /integer/);
    });

    it('moves stages, archives existing versions and answers get-latest-versions', async () => {
      await reg.store.transitionStage('alice', 'tabular_mlp', '1', 'Production', false);
      const v2 = await reg.store.transitionStage('alice', 'tabular_mlp', '2', 'production', true);
      expect(v2.currentStage).toBe('Production');
      expect((await reg.store.getVersion('tabular_mlp', '1')).currentStage).toBe('Archived');
      await expectCode(reg.store.transitionStage('alice', 'tabular_mlp', '3', 'Shipping', false), 'INVALID_PARAMETER_VALUE', /stage/);
      await expectCode(reg.store.transitionStage('alice', 'tabular_mlp', '3', 'Archived', true), 'INVALID_PARAMETER_VALUE', /Active stage/);
      const latest = await reg.store.getLatestVersions('tabular_mlp');
      expect(latest.map((v) => [v.currentStage, v.version])).toEqual([['Archived', '1'], ['Production', '2'], ['None', '3']]);
      expect((await reg.store.getLatestVersions('tabular_mlp', ['None'])).map((v) => v.version)).toEqual(['3']);
      expect((await reg.store.getModel('tabular_mlp')).latestVersions.length).toBe(3);
    });

    it('never reuses a version number after a delete; deleting a version drops its aliases', async () => {
      await reg.store.createModel('alice', 'deletes', undefined, []);
      for (let i = 0; i < 3; i++) await reg.createVersion('alice', { name: 'deletes', source: mlpVersion(1), tags: [] });
      await reg.store.setAlias('alice', 'deletes', 'champion', '3');
      await reg.store.deleteVersion('alice', 'deletes', '3');
      expect((await reg.store.getModel('deletes')).aliases).toEqual([]);
      await expectCode(reg.store.getVersion('deletes', '3'), 'RESOURCE_DOES_NOT_EXIST');
      const next = await reg.createVersion('alice', { name: 'deletes', source: mlpVersion(1), tags: [] });
      expect(next.version).toBe('4');
    });

    it('searches models and versions with MLflow filters, ordering and paging', async () => {
      for (const n of ['Search_A', 'search_b', 'search_c']) await reg.store.createModel('alice', n, undefined, [{ key: 'kind', value: n.endsWith('c') ? 'special' : 'plain' }]);
      const like = await reg.store.searchModels({ filter: "name LIKE 'search%'" });
      expect(like.items.map((m) => m.name)).toEqual(['search_b', 'search_c']);
      const ilike = await reg.store.searchModels({ filter: "name ILIKE 'search%'" });
      expect(ilike.items.map((m) => m.name)).toEqual(['Search_A', 'search_b', 'search_c']);
      expect((await reg.store.searchModels({ filter: "name = 'search_b'" })).items.map((m) => m.name)).toEqual(['search_b']);
      expect((await reg.store.searchModels({ filter: "tags.kind = 'special'" })).items.map((m) => m.name)).toEqual(['search_c']);
      const p1 = await reg.store.searchModels({ filter: "name ILIKE 'search_%'", maxResults: 2 });
      expect(p1.items.map((m) => m.name)).toEqual(['Search_A', 'search_b']);
      expect(p1.nextPageToken).toBeTruthy();
      const p2 = await reg.store.searchModels({ filter: "name ILIKE 'search_%'", maxResults: 2, pageToken: p1.nextPageToken });
      expect(p2.items.map((m) => m.name)).toEqual(['search_c']);
      expect(p2.nextPageToken).toBeUndefined();
      const desc = await reg.store.searchModels({ filter: "name ILIKE 'search%'", orderBy: ['name DESC'] });
      expect(desc.items.map((m) => m.name)).toEqual(['search_c', 'search_b', 'Search_A']);
      await expectCode(reg.store.searchModels({ maxResults: 1001 }), 'INVALID_PARAMETER_VALUE', /at most 1000/);
      await expectCode(reg.store.searchModels({ filter: "description = 'x'" }), 'INVALID_PARAMETER_VALUE', /attribute key/);
      await expectCode(reg.store.searchModels({ filter: "name = 'a' OR name = 'b'" }), 'INVALID_PARAMETER_VALUE', /AND/);
      await expectCode(reg.store.searchModels({ pageToken: 'garbage' }), 'INVALID_PARAMETER_VALUE', /page token/);

      const byName = await reg.store.searchVersions({ filter: "name = 'tabular_mlp'" });
      expect(byName.items.map((v) => v.version).sort()).toEqual(['1', '2', '3']);
      expect((await reg.store.searchVersions({ filter: "run_id = 'run1'" })).items.map((v) => `${v.name}/${v.version}`)).toEqual(['tabular_mlp/1']);
      expect((await reg.store.searchVersions({ filter: "name = 'tabular_mlp' AND version_number > 1", orderBy: ['version_number ASC'] })).items.map((v) => v.version)).toEqual(['2', '3']);
      expect((await reg.store.searchVersions({ filter: "run_id IN ('run1', 'zzz')" })).items.length).toBe(1);
      expect((await reg.store.searchVersions({ filter: "tags.`infergate.metric.accuracy` = '0.972'" })).items.map((v) => v.version)).toEqual(['1']);
      const vp = await reg.store.searchVersions({ filter: "name = 'tabular_mlp'", maxResults: 2, orderBy: ['version_number DESC'] });
      expect(vp.items.map((v) => v.version)).toEqual(['3', '2']);
      const vp2 = await reg.store.searchVersions({ filter: "name = 'tabular_mlp'", maxResults: 2, orderBy: ['version_number DESC'], pageToken: vp.nextPageToken });
      expect(vp2.items.map((v) => v.version)).toEqual(['1']);
      expect(vp2.nextPageToken).toBeUndefined();
    });

    it('requires approval for the serving alias and Production when the model says so, and audits every step in order', async () => {
      await reg.store.createModel('rel', 'gated', undefined, [{ key: 'infergate.require_approval', value: 'true' }]);
      await reg.createVersion('rel', { name: 'gated', source: mlpVersion(1), tags: [] });
      await reg.createVersion('rel', { name: 'gated', source: mlpVersion(2), tags: [] });
      await expectCode(reg.store.setAlias('rel', 'gated', 'champion', '1'), 'PERMISSION_DENIED', /requires approval.*PENDING_MANUAL_APPROVAL/);
      await expectCode(reg.store.transitionStage('rel', 'gated', '1', 'Production', false), 'PERMISSION_DENIED', /Production/);
      // A non-serving alias and other stages need no approval.
      await reg.store.setAlias('rel', 'gated', 'challenger', '2');
      await reg.store.transitionStage('rel', 'gated', '2', 'Staging', false);
      await reg.store.setApproval('carol', 'gated', '1', 'APPROVED', 'looks good');
      await reg.store.setAlias('rel', 'gated', 'champion', '1');
      await reg.store.setApproval('carol', 'gated', '2', 'REJECTED', 'worse on holdout');
      // Pointing the serving alias elsewhere must not sneak a rejected version in.
      await expectCode(reg.store.setModelTag('rel', 'gated', { key: 'infergate.serving_alias', value: 'challenger' }), 'PERMISSION_DENIED');
      expect(reg.serving.defaultVersion('gated')).toBe('1');
      const v1 = await reg.store.getVersion('gated', '1');
      expect(v1.approval).toMatchObject({ status: 'APPROVED', user: 'carol', comment: 'looks good' });
      const audit = (await reg.store.audit('gated')).items;
      expect(audit.map((e) => [e.action, e.user, e.version ?? ''])).toEqual([
        ['create_registered_model', 'rel', ''],
        ['create_model_version', 'rel', '1'],
        ['create_model_version', 'rel', '2'],
        ['set_registered_model_alias', 'rel', '2'],
        ['transition_stage', 'rel', '2'],
        ['approve_model_version', 'carol', '1'],
        ['set_registered_model_alias', 'rel', '1'],
        ['reject_model_version', 'carol', '2'],
      ]);
      expect(audit[5]).toMatchObject({ before: { approval_status: 'PENDING_MANUAL_APPROVAL' }, after: { approval_status: 'APPROVED', comment: 'looks good' } });
      expect(audit[4]).toMatchObject({ before: { current_stage: 'None' }, after: { current_stage: 'Staging' } });
      expect(audit.every((e, i) => i === 0 || e.id > audit[i - 1].id && e.timestamp >= audit[i - 1].timestamp)).toBe(true);
    });

    it('writes nothing of a mutation that fails', async () => {
      const gen = await reg.store.generation();
      const auditBefore = (await reg.store.audit('tabular_mlp')).items.length;
      await expectCode(reg.store.createModel('alice', 'half', undefined, [{ key: 'ok', value: '1' }, { key: 'bad/../key', value: '2' }]), 'INVALID_PARAMETER_VALUE', /tag name/);
      await expectCode(reg.store.getModel('half'), 'RESOURCE_DOES_NOT_EXIST');
      await expectCode(reg.store.setVersionTag('alice', 'tabular_mlp', '1', { key: 'infergate.metric.loss', value: 'low' }), 'INVALID_PARAMETER_VALUE', /number/);
      await expectCode(reg.store.setVersionTag('alice', 'tabular_mlp', '1', { key: 'infergate.servable', value: 'true' }), 'INVALID_PARAMETER_VALUE', /set by the registry/);
      await expectCode(reg.store.updateModel('alice', 'tabular_mlp', 'x'.repeat(5001)), 'INVALID_PARAMETER_VALUE', /5000/);
      expect(await reg.store.generation()).toBe(gen);
      expect((await reg.store.audit('tabular_mlp')).items.length).toBe(auditBefore);
      // The audit log refuses edits at the database level.
      await expect(reg.store.db.run("UPDATE audit_log SET who = 'mallory'")).rejects.toThrow(/append-only/);
      await expect(reg.store.db.run('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    });

    it('renames a model with its versions, aliases and history', async () => {
      await reg.store.createModel('alice', 'old_name', undefined, []);
      await reg.createVersion('alice', { name: 'old_name', source: mlpVersion(1), tags: [] });
      await reg.store.setAlias('alice', 'old_name', 'champion', '1');
      const renamed = await reg.store.renameModel('alice', 'old_name', 'new_name');
      expect(renamed.aliases).toEqual([{ alias: 'champion', version: '1' }]);
      expect((await reg.store.getVersion('new_name', '1')).name).toBe('new_name');
      await expectCode(reg.store.getModel('old_name'), 'RESOURCE_DOES_NOT_EXIST');
      await expectCode(reg.store.renameModel('alice', 'new_name', 'tabular_mlp'), 'RESOURCE_ALREADY_EXISTS');
      expect((await reg.store.audit('new_name')).items.map((e) => e.action)).toEqual(['create_registered_model', 'create_model_version', 'set_registered_model_alias', 'rename_registered_model']);
      expect(reg.serving.defaultVersion('new_name')).toBe('1');
      expect(reg.serving.defaultVersion('old_name')).toBeUndefined();
      await reg.store.deleteModel('alice', 'new_name');
      await expectCode(reg.store.getModel('new_name'), 'RESOURCE_DOES_NOT_EXIST');
      expect((await reg.store.audit('new_name')).items.at(-1)?.action).toBe('delete_registered_model');
    });

    it('tells the serving path what to load and follows each change', async () => {
      const seen: string[][] = [];
      const off = reg.serving.onChange((models) => seen.push(models.map((m) => `${m.name}@${m.servingVersion}`)));
      const served = reg.serving.servedModels().find((m) => m.name === 'tabular_mlp')!;
      expect(served).toMatchObject({ servingAlias: 'champion', servingVersion: '2' });
      expect(served.versions).toEqual([
        expect.objectContaining({ version: '2', aliases: ['champion'], serving: true, servable: true, modelPath: expect.stringMatching(/sha256\/[0-9a-f]{64}\/model\.onnx$/) }),
      ]);
      await reg.store.setModelTag('alice', 'tabular_mlp', { key: 'infergate.serving_alias', value: 'production' });
      expect(reg.serving.defaultVersion('tabular_mlp')).toBeUndefined(); // no 'production' alias yet: files serve
      await reg.store.setAlias('alice', 'tabular_mlp', 'production', '3');
      expect(reg.serving.defaultVersion('tabular_mlp')).toBe('3');
      expect(reg.serving.versionFor('tabular_mlp', 'champion')).toBe('2');
      const unservable = reg.serving.servedModels().find((m) => m.name === 'elsewhere');
      expect(unservable).toBeUndefined(); // no champion there
      await reg.store.setAlias('alice', 'elsewhere', 'champion', '1');
      const s3 = reg.serving.servedModels().find((m) => m.name === 'elsewhere')!;
      expect(s3.versions[0]).toMatchObject({ servable: false, reason: expect.stringMatching(/s3:/) });
      off();
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(seen.at(-1)).toContain('elsewhere@1');
    });

    it('keeps everything across a restart', async () => {
      const before = { model: await reg.store.getModel('tabular_mlp'), versions: await reg.store.listVersions('tabular_mlp'), audit: await reg.store.audit('gated') };
      await reg.close();
      reg = await open();
      expect(await reg.store.getModel('tabular_mlp')).toEqual(before.model);
      expect(await reg.store.listVersions('tabular_mlp')).toEqual(before.versions);
      expect(await reg.store.audit('gated')).toEqual(before.audit);
      expect(reg.serving.defaultVersion('tabular_mlp')).toBe('3');
      expect((await reg.createVersion('alice', { name: 'tabular_mlp', source: mlpVersion(2), tags: [] })).version).toBe('4');
    });
  });
}
