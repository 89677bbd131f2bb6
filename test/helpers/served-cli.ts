import { afterAll, beforeAll } from 'vitest';
import { type RunningCli, startCli } from './cli.js';
import { MODELS } from './gateway.js';
import { type GrpcClients, grpcClients } from './grpc-client.js';

/**
 * For one describe block: the built CLI serving the sample models with gRPC on, and gRPC
 * clients to it, started before its tests (handed to `ready`) and stopped after them.
 */
export function servedWithGrpc(extraArgs: string[], ready: (cli: RunningCli, grpc: GrpcClients) => void): void {
  let cli: RunningCli | undefined;
  let grpc: GrpcClients | undefined;
  beforeAll(async () => {
    cli = await startCli(MODELS, ['--grpc-port', '0', ...extraArgs]);
    grpc = grpcClients(cli.grpcPort!);
    ready(cli, grpc);
  });
  afterAll(async () => {
    grpc?.close();
    cli?.child.kill('SIGTERM');
    await cli?.exited;
  });
}
