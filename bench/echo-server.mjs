// The HTTP ceiling: a fastify server that parses the same OIP v2 JSON body (fastify's default JSON
// parser) and answers with a fixed, pre-serialised reply shaped like the model's real answer (same
// output names, shapes and about the same size). No typed arrays, no onnxruntime.
//
//   node bench/echo-server.mjs [--port 0]
//
// Prints "echo-server: listening http://127.0.0.1:PORT" when ready.
import Fastify from 'fastify';
import { HOST, parseFlags, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const port = Number(f.port ?? 0);

// A fixed reply per model, with plausible values (same JSON size as a real answer).
const replies = new Map();
for (const w of Object.values(workloads())) {
  const outputs = w.outputs.map((o) => {
    const n = o.shape.reduce((a, b) => a * b, 1);
    const data = Array.from({ length: n }, (_, i) => (o.datatype === 'FP32' ? Math.fround(Math.sin(i + 1) * 0.5) : i));
    return { name: o.name, datatype: o.datatype, shape: o.shape, data };
  });
  replies.set(w.model, JSON.stringify({ model_name: w.model, model_version: w.version, outputs }));
}

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });

async function infer(request, reply) {
  const body = request.body;
  const text = replies.get(request.params.model);
  if (!text || !Array.isArray(body?.inputs)) return reply.code(404).send({ error: 'unknown model' });
  return reply.type('application/json').send(text);
}

app.post('/v2/models/:model/infer', infer);
app.post('/v2/models/:model/versions/:version/infer', infer);

const address = await app.listen({ host: HOST, port });
process.stdout.write(`echo-server: listening ${address}\n`);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    app.close().then(() => process.exit(0));
  });
}
