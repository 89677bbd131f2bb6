// Baseline: the OIP v2 server a user writes by hand with fastify + onnxruntime-node. Each request
// runs on the main thread, alone (no batching, no worker pool): JSON body -> typed arrays ->
// session.run -> JSON. Sessions use onnxruntime's default options, as a hand-written server would.
//
//   node bench/plain-server.mjs [--port 0] [--models simple,tabular_mlp,text_encoder]
//
// Prints "plain-server: listening http://127.0.0.1:PORT" when ready. Loads version 1 of each model
// and answers /v2/models/NAME/infer and /v2/models/NAME/versions/1/infer.
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { HOST, MODELS_DIR, DT, OIP_OF_ORT, parseFlags } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const port = Number(f.port ?? 0);
const names = String(f.models ?? 'simple,tabular_mlp,text_encoder').split(',');

const sessions = new Map();
for (const name of names) {
  sessions.set(name, await ort.InferenceSession.create(join(MODELS_DIR, name, '1', 'model.onnx')));
}

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });

async function infer(request, reply) {
  const { model, version } = request.params;
  const session = sessions.get(model);
  if (!session || (version !== undefined && version !== '1')) {
    return reply.code(404).send({ error: `unknown model '${model}'` });
  }
  const body = request.body;
  const feeds = {};
  for (const inp of body.inputs) {
    const dt = DT[inp.datatype];
    if (!dt) return reply.code(400).send({ error: `unsupported datatype ${inp.datatype}` });
    const flat = inp.data.flat(Infinity);
    const data = dt.Array === BigInt64Array ? BigInt64Array.from(flat, BigInt) : dt.Array.from(flat);
    feeds[inp.name] = new ort.Tensor(dt.ort, data, inp.shape);
  }
  let results;
  try {
    results = await session.run(feeds);
  } catch (err) {
    return reply.code(400).send({ error: String(err?.message ?? err) });
  }
  const outputs = Object.entries(results).map(([name, t]) => ({
    name,
    datatype: OIP_OF_ORT[t.type],
    shape: Array.from(t.dims),
    data: t.type === 'int64' ? Array.from(t.data, Number) : Array.from(t.data),
  }));
  return { model_name: model, model_version: '1', outputs };
}

app.post('/v2/models/:model/infer', infer);
app.post('/v2/models/:model/versions/:version/infer', infer);
app.get('/v2/health/ready', async () => ({ ready: true }));

const address = await app.listen({ host: HOST, port });
process.stdout.write(`plain-server: listening ${address}\n`);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    app.close().then(() => process.exit(0));
  });
}
