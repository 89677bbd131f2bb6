// The gRPC ceiling: a plain grpc-js server on infergate's proto that answers every
// ModelInfer with one fixed ModelInferResponse (simple's two [1,16] INT32 outputs, raw).
// No decoding of inputs, no batching, no model: what grpc-js alone costs per call here.
// Usage: node bench/grpc-echo-server.mjs [port]   (prints "grpc-echo listening on PORT")
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));
const def = protoLoader.loadSync('grpc_predict_v2.proto', {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR],
});
const pkg = /** @type {any} */ (grpc.loadPackageDefinition(def)).inference;

const out = Buffer.from(new Int32Array(16).fill(7).buffer);
const response = {
  model_name: 'simple',
  model_version: '1',
  id: '',
  outputs: [
    { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] },
    { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16] },
  ],
  raw_output_contents: [out, out],
};

const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
server.addService(pkg.GRPCInferenceService.service, {
  /** @param {any} call @param {(err: null, res: unknown) => void} cb */
  ModelInfer: (call, cb) => cb(null, { ...response, id: call.request.id }),
  /** @param {any} _call @param {(err: null, res: unknown) => void} cb */
  ServerLive: (_call, cb) => cb(null, { live: true }),
});
server.bindAsync(`127.0.0.1:${Number(process.argv[2] ?? 0)}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`grpc-echo: cannot listen: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`grpc-echo listening on ${port}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
