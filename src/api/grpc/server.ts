import { Server, type ChannelOptions, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition, loadPackageDefinition } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { FrontEnd, FrontEndDeps, Listener } from '../../front-end.js';
import { healthService } from './health.js';
import { WIRE_BYTES } from './infer.js';
import { inferenceService } from './inference-service.js';
import { listenGrpc } from './listener.js';
import { loadHealthProto, loadInferenceProto } from './proto.js';

/** Finds a service constructor by its dotted package path (e.g. grpc.health.v1.Health). */
function serviceOf(root: GrpcObject, path: string): ServiceClientConstructor {
  let node: unknown = root;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function' || !('service' in node)) throw new Error(`proto/ does not define service ${path}`);
  return node as ServiceClientConstructor;
}

type Method = ServiceDefinition[string];
type InferResponseLike = { model_name?: string; infer_response?: { model_name?: string }; error_message?: string };

/**
 * Notes the wire size of inference messages: a request's on the decoded message (handleInfer
 * records it with the model), a response's straight into the metrics as it is serialised.
 */
function measureInferBytes(service: ServiceDefinition, deps: FrontEndDeps): ServiceDefinition {
  const out: Record<string, Method> = { ...service };
  for (const name of ['ModelInfer', 'ModelStreamInfer']) {
    const m: Method = service[name];
    out[name] = {
      ...m,
      requestDeserialize: (buf: Buffer) => {
        const msg = m.requestDeserialize(buf) as Record<symbol, unknown>;
        msg[WIRE_BYTES] = buf.length;
        return msg;
      },
      responseSerialize: (res: InferResponseLike) => {
        const buf = m.responseSerialize(res);
        const model = res.error_message ? undefined : (res.infer_response ?? res).model_name;
        if (model && deps.dataplane.hasModel(model)) deps.metrics.responseBytes.observe({ model, protocol: 'grpc' }, buf.length);
        return buf;
      },
    };
  }
  return out;
}

/** grpc-js options for the connection settings (0 = the option's "no limit"). */
function connectionOptions(c: FrontEndDeps['config']): ChannelOptions {
  const opts: ChannelOptions = { 'grpc.max_concurrent_streams': c.grpcMaxConcurrentStreams };
  if (c.grpcMaxConnectionIdleSecs > 0) opts['grpc.max_connection_idle_ms'] = c.grpcMaxConnectionIdleSecs * 1000;
  if (c.grpcMaxConnectionAgeSecs > 0) opts['grpc.max_connection_age_ms'] = c.grpcMaxConnectionAgeSecs * 1000;
  if (c.grpcMaxConnectionAgeGraceSecs > 0) opts['grpc.max_connection_age_grace_ms'] = c.grpcMaxConnectionAgeGraceSecs * 1000;
  return opts;
}

/**
 * The gRPC front end: inference.GRPCInferenceService, grpc.health.v1.Health and server
 * reflection on config.host:grpcPort (-1 = off). Message limits apply both ways, so a
 * batch of images fits in and a large answer fits out.
 */
export const grpcFrontEnd: FrontEnd = async (deps: FrontEndDeps): Promise<Listener | undefined> => {
  const { host, grpcPort, grpcMaxMessageBytes } = deps.config;
  if (grpcPort < 0) return undefined;
  const inferenceDef = loadInferenceProto();
  const healthDef = loadHealthProto();
  const server = new Server({
    'grpc.max_receive_message_length': grpcMaxMessageBytes,
    'grpc.max_send_message_length': grpcMaxMessageBytes,
    // Channelz keeps per-call counters and traces on the main thread; nothing here reads them.
    'grpc.enable_channelz': 0,
    ...connectionOptions(deps.config),
  });
  const inference = serviceOf(loadPackageDefinition(inferenceDef), 'inference.GRPCInferenceService').service;
  const settings = { limits: { maxElements: deps.config.maxRequestElements }, streamMaxPending: deps.config.grpcStreamMaxPending };
  server.addService(measureInferBytes(inference, deps), inferenceService({ dataplane: deps.dataplane, metrics: deps.metrics, log: deps.log }, settings));
  server.addService(serviceOf(loadPackageDefinition(healthDef), 'grpc.health.v1.Health').service, healthService(deps.dataplane));
  // Reflection lets grpcurl and friends list and call the services without the .proto files.
  new ReflectionService({ ...inferenceDef, ...healthDef }).addToServer(server);
  let listener: Awaited<ReturnType<typeof listenGrpc>>;
  try {
    listener = await listenGrpc(server, host, grpcPort, deps.config.grpcMaxConnections);
  } catch (err) {
    throw new Error(`gRPC: cannot listen on ${host}:${grpcPort} (${(err as Error).message}); pick another --grpc-port or -1 to turn gRPC off`);
  }
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    name: 'gRPC',
    url: `grpc://${shown}:${listener.port}`,
    // GOAWAY: clients open no new calls here; calls in flight finish within the drain timeout.
    drain: () => listener.drain(deps.config.drainTimeoutSecs * 1000),
    close: () =>
      new Promise<void>((resolve) => {
        // Graceful first; streams left open (Watch) would hold tryShutdown forever, so force after a grace period.
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }).then(() => listener.close()),
  };
};
