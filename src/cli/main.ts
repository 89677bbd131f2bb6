#!/usr/bin/env node
import { ConfigError } from '../config/validate.js';
import { VERSION } from '../version.js';
import { doctor } from './doctor.js';
import { batch } from './batch.js';
import { bench } from './bench.js';
import { registry } from './registry.js';
import { features } from './features.js';
import { rollout } from './rollout.js';
import { serve } from './serve.js';

const HELP = `infergate ${VERSION}: inference-serving gateway (ONNX on onnxruntime, OIP v2 over HTTP and gRPC)

Usage: infergate <command> [options]

Commands:
  serve     serve a model repository (infergate serve --help)
  batch     score a file with a model: resumable, file in, file out (infergate batch --help)
  bench     measure latency and throughput of an OIP v2 server, like perf_analyzer (infergate bench --help)
  doctor    which execution providers (cpu, cuda, webgpu) load here, and why not
  registry  model registry of a running gateway: models, versions, register, alias, stage, approve, audit
  rollout   canary rollouts of a running gateway: create, list, get, pause, resume, promote, abort
  features  materialize Feast-style feature views into the online store (infergate features --help)

Run 'infergate <command> --help' for a command's options.
`;

type Command = (argv: string[]) => Promise<number>;
const commands: Record<string, Command> = { serve, doctor, bench, registry, features, batch, rollout };

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const run = commands[cmd];
  if (!run) {
    process.stderr.write(`infergate: unknown command '${cmd}'\n\n${HELP}`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as Error & { code?: string };
    if (err instanceof ConfigError || e.code?.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`infergate: ${e.message}\nRun 'infergate --help' for usage.\n`);
      process.exit(2);
    }
    if (e.code === 'EADDRINUSE') {
      process.stderr.write(`infergate: ${e.message}: another server holds that port; pick another with --http-port / --grpc-port / --metrics-port\n`);
      process.exit(1);
    }
    process.stderr.write(`infergate: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
