import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The built CLI (npm test builds dist/ before running vitest). */
export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');
export const cliBuilt = existsSync(CLI);

export interface RunningCli {
  child: ChildProcess;
  /** The HTTP base URL the server printed. */
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `infergate serve` with loopback, ephemeral ports and waits until it prints its HTTP URL. */
export async function startCli(repository: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<RunningCli> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--model-repository', repository, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'], env, cwd },
  );
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((ok, fail) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /HTTP\s+(http:\/\/\S+)/.exec(out);
      if (m) ok(m[1]);
    });
    child.on('exit', () => fail(new Error(`server exited before listening:\n${out}`)));
  });
  return { child, url, output: () => out, exited };
}
