import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { scratchRepository } from '../helpers/gateway.js';
import { freshDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { mlpVersion, scratchDir } from '../helpers/registry.js';

const run = promisify(execFile);

/** Runs `infergate registry ...` and returns its exit code and output. */
async function registryCli(url: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'registry', ...args, '--url', url], { cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function stop(cli: RunningCli | undefined): Promise<void> {
  if (!cli || cli.child.exitCode !== null) return;
  cli.child.kill('SIGTERM');
  await cli.exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pgUnavailable = await postgresUnavailable();

describe.skipIf(!cliBuilt)(`the built CLI${cliBuilt ? '' : ' (skipped: dist/ not built; run npx tsc -p .)'}`, () => {
  const running: RunningCli[] = [];
  afterAll(async () => {
    for (const c of running) await stop(c);
  });

  it('serve has the registry on by default (SQLite under ./.infergate) and `registry` drives it; a restart keeps it', { timeout: 240_000 }, async () => {
    const cwd = scratchDir('infergate-cwd-');
    const repo = scratchRepository(['simple']);
    let server = await startCli(repo, [], process.env, { cwd });
    running.push(server);
    expect(server.output()).toMatch(/Registry\s+\.\/\.infergate\/registry\.db/);
    expect(existsSync(join(cwd, '.infergate', 'registry.db'))).toBe(true);
    const url = server.url;

    for (const v of [1, 2, 3] as const) {
      const r = await registryCli(url, ['register', 'tabular_mlp', mlpVersion(v), '--run-id', `run${v}`, '--tag', `infergate.metric.accuracy=0.9${v}`, '--user', 'alice']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`registered tabular_mlp version ${v} \\(READY; stored as sha256 [0-9a-f]{12}`));
    }
    // A relative PATH is resolved where the CLI runs and sent as an absolute source.
    const rel = await registryCli(url, ['register', 'tabular_mlp', 'tabular_mlp/2', '--json'], join(mlpVersion(1), '..', '..'));
    expect(rel.code, rel.stderr).toBe(0);
    // The CLI resolves PATH from its working folder, which is the real path when the zoo is reached through a link.
    expect(JSON.parse(rel.stdout)).toMatchObject({ version: '4', source: realpathSync(mlpVersion(2)) });

    expect((await registryCli(url, ['approve', 'tabular_mlp', '2', '--comment', 'holdout ok', '--user', 'qa'])).stdout).toMatch(/version 2: APPROVED by qa/);
    expect((await registryCli(url, ['alias', 'tabular_mlp', 'champion', '2', '--user', 'alice'])).stdout).toMatch(/champion -> version 2/);
    expect((await registryCli(url, ['stage', 'tabular_mlp', '2', 'Production'])).stdout).toMatch(/now in Production/);
    expect((await registryCli(url, ['reject', 'tabular_mlp', '3', '--user', 'qa'])).code).toBe(0);

    const versions = await registryCli(url, ['versions', 'tabular_mlp']);
    const lines = versions.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^VERSION\s+STAGE\s+STATUS\s+ALIASES\s+APPROVAL\s+SERVABLE/);
    expect(lines[2]).toMatch(/^2\s+Production\s+READY\s+champion\s+APPROVED\s+yes/);
    expect(lines[3]).toMatch(/^3\s+None\s+READY\s+-\s+REJECTED/);
    const models = await registryCli(url, ['models', '--json']);
    expect(JSON.parse(models.stdout)).toEqual([expect.objectContaining({ name: 'tabular_mlp', aliases: [{ alias: 'champion', version: '2' }] })]);

    const audit = await registryCli(url, ['audit', 'tabular_mlp']);
    const actions = audit.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/).slice(1, 3).join(' '));
    expect(actions).toEqual([
      'alice create_registered_model',
      'alice create_model_version',
      'alice create_model_version',
      'alice create_model_version',
      'anonymous create_model_version',
      'qa approve_model_version',
      'alice set_registered_model_alias',
      'anonymous transition_stage',
      'qa reject_model_version',
    ]);

    // Bad input: clear errors, non-zero exits.
    const missing = await registryCli(url, ['register', 'tabular_mlp', '/no/such/model']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/PATH '\/no\/such\/model' does not exist/);
    const badAlias = await registryCli(url, ['alias', 'tabular_mlp', '7', '1']);
    expect(badAlias.code).toBe(1);
    expect(badAlias.stderr).toMatch(/INVALID_PARAMETER_VALUE: Version alias name '7' is reserved/);
    const unreachable = await registryCli('http://127.0.0.1:9', ['models']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach the gateway/);

    await stop(server);
    server = await startCli(repo, [], process.env, { cwd });
    running.push(server);
    expect(server.output()).toMatch(/1 model with a serving alias/);
    const after = await registryCli(server.url, ['versions', 'tabular_mlp', '--json']);
    expect(JSON.parse(after.stdout).map((v: { version: string; current_stage: string }) => `${v.version}:${v.current_stage}`)).toEqual(['1:None', '2:Production', '3:None', '4:None']);
    const auditAfter = await registryCli(server.url, ['audit', 'tabular_mlp', '--json']);
    expect(JSON.parse(auditAfter.stdout)).toHaveLength(9);
  });

  it.skipIf(pgUnavailable !== undefined)(`two gateway processes on one Postgres: distinct versions, alias moves seen by the other${pgUnavailable ? ` (skipped: ${pgUnavailable})` : ''}`, { timeout: 240_000 }, async () => {
    const db = await freshDatabase();
    try {
      const repo = scratchRepository(['simple']);
      const artifacts = join(scratchDir(), 'artifacts');
      const flags = ['--registry-url', db.url, '--artifact-root', artifacts];
      const [a, b] = await Promise.all([startCli(repo, flags), startCli(repo, flags)]);
      running.push(a, b);
      const post = (url: string, path: string, body: unknown) =>
        fetch(`${url}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
      await post(a.url, 'registered-models/create', { name: 'tabular_mlp' });
      const made = await Promise.all(Array.from({ length: 12 }, (_, i) => post(i % 2 ? a.url : b.url, 'model-versions/create', { name: 'tabular_mlp', source: mlpVersion(((i % 3) + 1) as 1 | 2 | 3) })));
      expect(made.map((r) => Number(r.model_version.version)).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));

      const servingOf = async (url: string) => ((await (await fetch(`${url}/api/2.0/infergate/serving`)).json()) as any).models;
      for (const version of ['3', '5']) {
        expect(Object.keys(await post(a.url, 'registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version }))).toEqual([]);
        const end = Date.now() + 5000;
        let seen: any[] = [];
        while (Date.now() < end) {
          seen = await servingOf(b.url);
          if (seen[0]?.servingVersion === version) break;
          await sleep(50);
        }
        expect(seen).toEqual([expect.objectContaining({ name: 'tabular_mlp', servingVersion: version, versions: [expect.objectContaining({ version, servable: true })] })]);
      }
      await stop(a);
      await stop(b);
      // A restart on Postgres keeps everything too.
      const c = await startCli(repo, flags);
      running.push(c);
      const list = ((await (await fetch(`${c.url}/api/2.0/infergate/model-versions/list?name=tabular_mlp`)).json()) as any).model_versions;
      expect(list).toHaveLength(12);
      expect((await servingOf(c.url))[0].servingVersion).toBe('5');
      await stop(c);
    } finally {
      await db.drop();
    }
  });
});
