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
  /** The gRPC port it printed (when started with --grpc-port, not -1). */
  grpcPort?: number;
  /** The metrics URL it printed (when started with --metrics-port, not -1). */
  metricsUrl?: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `infergate serve` with loopback, ephemeral ports and waits until it prints its HTTP URL. */
export async function startCli(repository: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<RunningCli> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--model-repository', repository, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // The listener lines come in one write, after every model has loaded.
  const url = await new Promise<string>((ok, fail) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening\n[\s\S]*?HTTP\s+(http:\/\/\S+)/.exec(out);
      if (m && /\nmodels:\n/.test(out)) ok(m[1]);
    });
    child.on('exit', () => fail(new Error(`server exited before listening:\n${out}`)));
  });
  const grpc = /gRPC\s+grpc:\/\/\S+:(\d+)/.exec(out);
  const metrics = /Metrics\s+(http:\/\/\S+)/.exec(out);
  return { child, url, grpcPort: grpc ? Number(grpc[1]) : undefined, metricsUrl: metrics?.[1], output: () => out, exited };
}
