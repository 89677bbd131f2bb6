import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built CLI (npm test builds dist/ before running vitest). */
export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');
export const cliBuilt = existsSync(CLI);

export interface RunningCli {
  child: ChildProcess;
  /** The HTTP base URL the server printed. */
  url: string;
  /** Every listener the server printed, by name (HTTP, gRPC, Metrics) -> URL. */
  listeners: Record<string, string>;
  /** The gRPC port it printed (when started with --grpc-port, not -1). */
  grpcPort?: number;
  /** The metrics URL it printed (when started with --metrics-port, not -1). */
  metricsUrl?: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `infergate serve` with loopback, ephemeral ports (gRPC and metrics off unless
 * extraArgs turn them on, e.g. `--grpc-port 0`; a later flag wins) and waits until it
 * prints where it listens.
 */
export async function startCli(repository: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env, spawnOpts: { uid?: number; gid?: number; cwd?: string } = {}): Promise<RunningCli> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--model-repository', repository, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn', ...extraArgs],
    // Each server runs in a scratch folder of its own unless told otherwise, so its ./.infergate state
    // (registry, jobs) is its own; world-writable, for servers a test runs as another user.
    { stdio: ['ignore', 'pipe', 'pipe'], env, ...spawnOpts, cwd: spawnOpts.cwd ?? scratchCwd() },
  );
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const listeners = await new Promise<Record<string, string>>((ok, fail) => {
    child.stdout!.on('data', (d) => {
      out += d;
      // The listener lines come between "listening" and "models:".
      const block = /infergate: listening\n([\s\S]*?)\nmodels:\n/.exec(out);
      if (block) ok(Object.fromEntries([...block[1].matchAll(/^\s+(\S+)\s+(\S+)$/gm)].map((m) => [m[1], m[2]])));
    });
    child.on('exit', () => fail(new Error(`server exited before listening:\n${out}`)));
  });
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    return exited;
  };
  const grpc = listeners.gRPC ? Number(new URL(listeners.gRPC).port) : undefined;
  return { child, url: listeners.HTTP, listeners, grpcPort: grpc, metricsUrl: listeners.Metrics, output: () => out, exited, stop };
}

function scratchCwd(): string {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-cwd-'));
  chmodSync(dir, 0o777);
  return dir;
}

/** The port of a printed listener URL (grpc://127.0.0.1:PORT, http://...). */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** The URL a listener printed at startup ("Metrics  http://..."), from a running CLI's output. */
export function listenerUrl(cli: RunningCli, name: string): string {
  const m = new RegExp(`${name}\\s+((?:http|grpc)://\\S+)`).exec(cli.output());
  if (!m) throw new Error(`no ${name} listener in the output:\n${cli.output()}`);
  return m[1];
}

/** Waits until the CLI has printed text matching `re` (log lines, startup lines). */
export async function waitForOutput(cli: RunningCli, re: RegExp, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!re.test(cli.output())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${re} in the output:\n${cli.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
