import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/registry.js';
import { freshDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { mlpVersion, scratchDir } from '../helpers/registry.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const unavailable = await postgresUnavailable();

describe.skipIf(unavailable !== undefined)(`two registries on one PostgreSQL${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let db: { url: string; drop(): Promise<void> };
  let a: Registry;
  let b: Registry;
  const artifactRoot = scratchDir('infergate-artifacts-');

  beforeAll(async () => {
    db = await freshDatabase();
    // A poll interval far beyond the test's waits: what b sees, it hears through LISTEN/NOTIFY.
    [a, b] = await Promise.all([Registry.open({ url: db.url, artifactRoot, pollMs: 600_000 }), Registry.open({ url: db.url, artifactRoot, pollMs: 600_000 })]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('allocates distinct version numbers to concurrent registrations from two pools', async () => {
    await a.store.createModel('a', 'tabular_mlp', undefined, []);
    const jobs = Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).createVersion(`user${i}`, { name: 'tabular_mlp', source: mlpVersion(((i % 3) + 1) as 1 | 2 | 3), tags: [] }));
    const numbers = (await Promise.all(jobs)).map((v) => Number(v.version)).sort((x, y) => x - y);
    expect(numbers).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect((await b.store.listVersions('tabular_mlp')).length).toBe(16);
  });

  it('an alias moved through one is seen by the other within moments', async () => {
    const changes: string[] = [];
    b.serving.onChange((models) => changes.push(models.map((m) => `${m.name}@${m.servingVersion}`).join(',')));
    await a.store.setAlias('a', 'tabular_mlp', 'champion', '1');
    await until('b sees champion -> 1', () => b.serving.defaultVersion('tabular_mlp') === '1');
    await a.store.setAlias('a', 'tabular_mlp', 'champion', '2');
    await until('b sees champion -> 2', () => b.serving.versionFor('tabular_mlp', 'champion') === '2');
    expect(b.serving.servedModels()[0].versions.map((v) => v.version)).toEqual(['2']);
    expect(changes).toEqual(['tabular_mlp@1', 'tabular_mlp@2']);
  });
});
