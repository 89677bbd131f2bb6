// Runs in a child process of `infergate doctor`: opens one execution provider on a tiny
// model and prints one JSON line. A child, because a provider library that does not match
// the onnxruntime core can crash the process natively; the parent then reports the signal.
// Plain JavaScript (checked through JSDoc) so it runs with plain node from src/ or dist/.
//
//   node doctor-probe.js PROVIDER [MODEL.onnx]
import { InferenceSession, Tensor } from 'onnxruntime-node';

/** @param {number} n */
function varint(n) {
  const out = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/**
 * One protobuf field: varint for numbers, length-delimited for strings and messages.
 * @param {number} field @param {number | string | number[]} value
 * @returns {number[]}
 */
function pb(field, value) {
  if (typeof value === 'number') return [...varint(field << 3), ...varint(value)];
  const bytes = typeof value === 'string' ? [...Buffer.from(value)] : value;
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

/** A float tensor [1, 4] value info (ONNX ValueInfoProto). @param {string} name */
function floatInfo(name) {
  const dims = [...pb(1, [...pb(1, 1)]), ...pb(1, [...pb(1, 4)])];
  const tensorType = [...pb(1, 1), ...pb(2, dims)];
  return [...pb(1, name), ...pb(2, [...pb(1, tensorType)])];
}

/** ONNX model `y = x + x` (opset 13), small enough to build here instead of shipping a file. */
export function tinyModel() {
  const node = [...pb(1, 'x'), ...pb(1, 'x'), ...pb(2, 'y'), ...pb(3, 'add'), ...pb(4, 'Add')];
  const graph = [...pb(1, node), ...pb(2, 'doctor'), ...pb(11, floatInfo('x')), ...pb(12, floatInfo('y'))];
  const opset = [...pb(1, ''), ...pb(2, 13)];
  return Uint8Array.from([...pb(1, 8), ...pb(2, 'infergate-doctor'), ...pb(7, graph), ...pb(8, opset)]);
}

/** @param {unknown} err */
const firstLine = (err) => (err instanceof Error ? err.message : String(err)).split('\n')[0].trim();

/**
 * @param {string} provider
 * @param {string | undefined} modelPath
 * @returns {Promise<{ provider: string, loaded: boolean, ran?: boolean, error?: string }>}
 */
async function probe(provider, modelPath) {
  /** @type {InferenceSession.SessionOptions} */
  const options = { executionProviders: [provider], logSeverityLevel: 3 };
  // As the gateway does: a GPU session that would put nodes on the CPU counts as not loaded.
  if (provider !== 'cpu') options.extra = { session: { disable_cpu_ep_fallback: '1' } };
  let session;
  try {
    session = modelPath ? await InferenceSession.create(modelPath, options) : await InferenceSession.create(tinyModel(), options);
  } catch (err) {
    return { provider, loaded: false, error: firstLine(err) };
  }
  if (modelPath) return { provider, loaded: true };
  try {
    const out = await session.run({ x: new Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]) });
    const y = Array.from(/** @type {Float32Array} */ (out.y.data));
    if (y.join(',') !== '2,4,6,8') return { provider, loaded: true, ran: false, error: `wrong result ${y.join(',')} for x + x` };
    return { provider, loaded: true, ran: true };
  } catch (err) {
    return { provider, loaded: true, ran: false, error: firstLine(err) };
  }
}

const [provider, modelPath] = process.argv.slice(2);
if (provider) process.stdout.write(`${JSON.stringify(await probe(provider, modelPath))}\n`);
