import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/registry.js';
import { mlpVersion, scratchDir } from '../helpers/registry.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two registries on one SQLite file', () => {
  const dir = scratchDir();
  const opened: Registry[] = [];
  afterAll(async () => {
    for (const r of opened) await r.close();
  });

  it('follow each other by polling the change generation, and allocate distinct versions', async () => {
    const open = async () => {
      const r = await Registry.open({ url: join(dir, 'registry.db'), artifactRoot: join(dir, 'artifacts'), pollMs: 100 });
      opened.push(r);
      return r;
    };
    const [a, b] = [await open(), await open()];
    await a.store.createModel('a', 'm', undefined, []);
    const made = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).createVersion('x', { name: 'm', source: mlpVersion(1), tags: [] })));
    expect(made.map((v) => v.version).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    await a.store.setAlias('a', 'm', 'champion', '4');
    const end = Date.now() + 10_000;
    while (b.serving.defaultVersion('m') !== '4' && Date.now() < end) await sleep(20);
    expect(b.serving.defaultVersion('m')).toBe('4');
  });
});
