import { parseArgs } from 'node:util';
import { grpcFrontEnd } from '../api/grpc/server.js';
import { SERVER_OPTIONS, loadServerConfig } from '../config/server-config.js';
import { fdLimitWarning } from './fd-limit.js';
import { type FrontEnd, Gateway } from '../gateway.js';
import { describeRegistryUrl } from '../registry/registry.js';
import { installJobs } from '../jobs/install.js';
import { startTracingFromEnv } from '../telemetry/tracing.js';

/** Width of the flag column in --help: the longest flag, its dashes and two spaces. */
const FLAG_WIDTH = Math.max(...SERVER_OPTIONS.map((o) => o.flag.length)) + 4;

export const SERVE_HELP = `Usage: infergate serve [options]

Serves the models of a model repository over the Open Inference Protocol v2 (HTTP and
gRPC) with dynamic batching on a worker pool running onnxruntime.

Options (each also as a YAML key in --config FILE and as INFERGATE_<NAME> in the environment;
flags win over the environment, which wins over the file):
  ${'--config FILE'.padEnd(FLAG_WIDTH)}YAML file with any of the keys below
${SERVER_OPTIONS.map((o) => `  ${`--${o.flag}`.padEnd(FLAG_WIDTH)}${o.help}`).join('\n')}
  ${'-h, --help'.padEnd(FLAG_WIDTH)}show this help

Examples:
  infergate serve                                     # ./models on :8000 (HTTP), :8001 (gRPC), :8002 (metrics)
  infergate serve --model-repository /srv/models --model-control-mode poll
  infergate serve --registry-url postgres://infergate@db/registry   # a registry shared by several gateways
  INFERGATE_HTTP_PORT=9000 infergate serve --pool-size 4
`;

/** Extra front ends (gRPC) registered by their own modules. */
export const frontEnds: FrontEnd[] = [grpcFrontEnd];

/**
 * Capabilities beside serving that need the CLI (the jobs API and stream consumers): their hooks,
 * HTTP plugins and background loops, added before start(). `infergate batch` calls it too,
 * so a job in-process gets the same steps (it starts no listener and no loop).
 */
export function installCapabilities(gw: Gateway): void {
  installJobs(gw);
}

/** `infergate serve`: start, print where it listens, drain on SIGTERM/SIGINT. */
export async function serve(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
  for (const o of SERVER_OPTIONS) options[o.flag] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const config = loadServerConfig(values);
  const stopTracing = await startTracingFromEnv();
  const gw = new Gateway(config);
  installCapabilities(gw);
  if (stopTracing) gw.log.info(`tracing on: OTLP/HTTP to ${process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318'}`);
  process.stdout.write(`infergate: loading models from ${config.modelRepository} (mode ${config.modelControlMode})...\n`);
  await gw.start(frontEnds);
  printStartup(gw);
  const fdWarning = fdLimitWarning(config);
  if (fdWarning) gw.log.warn(fdWarning);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`infergate: ${signal} received, draining (readiness is now false; up to ${config.drainTimeoutSecs}s)...\n`);
      gw.drainAndStop().then(
        async ({ drained }) => {
          await stopTracing?.().catch((e: Error) => gw.log.warn(`flushing traces failed: ${e.message}`));
          process.stdout.write(drained ? 'infergate: drained, all in-flight requests finished; bye\n' : 'infergate: drain timed out; stopped with requests still in flight\n');
          resolve(drained ? 0 : 1);
        },
        (err: Error) => {
          process.stderr.write(`infergate: error while stopping: ${err.message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

function printStartup(gw: Gateway): void {
  const lines = gw.listeners.map((l) => `  ${l.name.padEnd(8)} ${l.url}`);
  if (gw.registry) {
    const served = gw.registry.serving.servedModels().length;
    lines.push(`  Registry ${describeRegistryUrl(gw.registry.url)} (artifacts ${gw.registry.artifacts.root}; ${served} model${served === 1 ? '' : 's'} with a serving alias)`);
  }
  const models = gw.lifecycle.versions().map((v) => {
    const where = v.state === 'READY' ? ` on ${v.provider}, max_batch_size ${v.maxBatchSize}` : v.reason ? `: ${v.reason}` : '';
    return `  ${`${v.name}/${v.version}`.padEnd(24)} ${v.state}${where}`;
  });
  for (const c of gw.lifecycle.configErrors()) models.push(`  ${c.name.padEnd(24)} UNAVAILABLE: ${c.reason}`);
  process.stdout.write(`infergate: listening\n${lines.join('\n')}\nmodels:\n${models.join('\n') || '  (none)'}\n`);
}
