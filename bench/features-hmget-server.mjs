// Baseline for the feature-lookup benchmark: the smallest HTTP server a user would write over
// Redis for "1 entity x N features": parse the JSON body, one HMGET on the entity's hash, answer
// the values as JSON. No validation, no cache, no Feast response shape.
//
//   node bench/features-hmget-server.mjs --redis redis://127.0.0.1:6379 --key-prefix demo:patient_id: --view patient_features --features a,b,c
//
// Prints "hmget-server: listening http://127.0.0.1:PORT" when ready.
import { createServer } from 'node:http';
import { createClient } from 'redis';
import { HOST, parseFlags } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const client = createClient({ url: String(f.redis) });
await client.connect();
const prefix = String(f['key-prefix']);
const view = String(f.view);
const fields = [`_ts:${view}`, ...String(f.features).split(',').map((n) => `${view}:${n}`)];

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const id = body.entities.patient_id[0];
      const values = await client.hmGet(`${prefix}${id}`, fields);
      const out = JSON.stringify({ values: values.slice(1).map((v) => (v === null ? null : JSON.parse(v))) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(f.port ?? 0), HOST, () => {
  process.stdout.write(`hmget-server: listening http://${HOST}:${server.address().port}\n`);
});
