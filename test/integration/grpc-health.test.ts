import type { ClientDuplexStream, ClientReadableStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { Gateway } from '../../src/gateway.js';
import { scratchRepository, startGateway } from '../helpers/gateway.js';
import { type GrpcClients, call, grpcClients } from '../helpers/grpc-client.js';

let gw: Gateway;
let clients: GrpcClients;
beforeAll(async () => {
  // Explicit mode so a test can unload and load a model.
  ({ gw } = await startGateway({ modelRepository: scratchRepository(['simple', 'digits_cnn']), modelControlMode: 'explicit', loadModels: ['simple', 'digits_cnn'] }, [grpcFrontEnd]));
  clients = grpcClients(gw.port('gRPC'));
});
afterAll(async () => {
  clients?.close();
  await gw?.stop();
});

const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code: number }) => e.code);

describe('gRPC health, reflection and control RPCs', () => {
  it('ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata', async () => {
    expect(await call(clients.inference, 'ServerLive', {})).toEqual({ live: true });
    expect(await call(clients.inference, 'ServerReady', {})).toEqual({ ready: true });
    expect(await call(clients.inference, 'ModelReady', { name: 'simple' })).toEqual({ ready: true });
    expect(await code(call(clients.inference, 'ModelReady', { name: 'nope' }))).toBe(status.NOT_FOUND);
    const sm = await call<{ name: string; extensions: string[] }>(clients.inference, 'ServerMetadata', {});
    expect(sm.name).toBe('infergate');
    expect(sm.extensions).toContain('model_repository');
    const mm = await call<{ name: string; versions: string[]; platform: string; inputs: { name: string; datatype: string; shape: string[] }[] }>(clients.inference, 'ModelMetadata', { name: 'simple' });
    expect(mm.versions).toEqual(['1']);
    expect(mm.platform).toBe('onnxruntime_onnx');
    expect(mm.inputs[0]).toEqual({ name: 'INPUT0', datatype: 'INT32', shape: ['-1', '16'] });
  });

  it('Health Check: server, models, unknown names', async () => {
    expect(await call(clients.health, 'Check', { service: '' })).toEqual({ status: 'SERVING' });
    expect(await call(clients.health, 'Check', { service: 'inference.GRPCInferenceService' })).toEqual({ status: 'SERVING' });
    expect(await call(clients.health, 'Check', { service: 'simple' })).toEqual({ status: 'SERVING' });
    expect(await code(call(clients.health, 'Check', { service: 'nope' }))).toBe(status.NOT_FOUND);
  });


  it('RepositoryIndex, RepositoryModelUnload/Load, and Health Watch follows the model', async () => {
    const watch = (clients.health as unknown as { Watch(req: unknown): ClientReadableStream<{ status: string }> }).Watch({ service: 'digits_cnn' });
    const seen: string[] = [];
    let failed: Error | undefined;
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    watch.on('error', (e) => (failed = e));
    /** Resolves once the watch has reported `n` statuses. */
    const waitFor = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (failed) reject(failed);
          else if (seen.length >= n) resolve();
          else return;
          clearInterval(t);
        }, 10);
      });
    await waitFor(1);
    expect(seen).toEqual(['SERVING']);

    await call(clients.inference, 'RepositoryModelUnload', { model_name: 'digits_cnn' });
    // As over HTTP (404), an unloaded model is unknown to the dataplane.
    expect(await code(call(clients.inference, 'ModelReady', { name: 'digits_cnn' }))).toBe(status.NOT_FOUND);
    const idx = await call<{ models: { name: string; version: string; state: string }[] }>(clients.inference, 'RepositoryIndex', {});
    expect(idx.models.find((m) => m.name === 'digits_cnn')?.state).toBe('UNAVAILABLE');
    expect(idx.models.find((m) => m.name === 'simple')?.state).toBe('READY');
    const readyOnly = await call<{ models: { name: string }[] }>(clients.inference, 'RepositoryIndex', { ready: true });
    expect(readyOnly.models.map((m) => m.name)).toEqual(['simple']);
    await waitFor(2);
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    expect(await call(clients.health, 'Check', { service: 'digits_cnn' })).toEqual({ status: 'NOT_SERVING' });

    await call(clients.inference, 'RepositoryModelLoad', { model_name: 'digits_cnn' });
    await waitFor(3);
    expect(seen).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
    watch.cancel();
    expect(await code(call(clients.inference, 'RepositoryModelLoad', { model_name: 'nope' }))).toBe(status.NOT_FOUND);
  });

  it('Health Watch for an unknown name says SERVICE_UNKNOWN', async () => {
    const watch = (clients.health as unknown as { Watch(req: unknown): ClientReadableStream<{ status: string }> }).Watch({ service: 'nope' });
    const first = await new Promise<string>((resolve, reject) => {
      watch.once('data', (m: { status: string }) => resolve(m.status));
      watch.once('error', reject);
    });
    watch.cancel();
    expect(first).toBe('SERVICE_UNKNOWN');
  });

  it('reflection lists the services and describes ModelInfer', async () => {
    const stream = (clients.reflection as unknown as { ServerReflectionInfo(): ClientDuplexStream<unknown, Record<string, unknown>> }).ServerReflectionInfo();
    const ask = (req: unknown) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        stream.once('data', resolve);
        stream.once('error', reject);
        stream.write(req);
      });
    const list = (await ask({ list_services: '' })) as { list_services_response: { service: { name: string }[] } };
    const names = list.list_services_response.service.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['inference.GRPCInferenceService', 'grpc.health.v1.Health']));
    const file = (await ask({ file_containing_symbol: 'inference.GRPCInferenceService' })) as { file_descriptor_response: { file_descriptor_proto: Buffer[] } };
    const text = Buffer.concat(file.file_descriptor_response.file_descriptor_proto).toString('latin1');
    expect(text).toContain('ModelStreamInfer');
    expect(text).toContain('raw_input_contents');
    stream.end();
  });
});
