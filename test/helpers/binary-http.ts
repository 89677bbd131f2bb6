import { ARRAY_OF, type Datatype } from '../../src/protocol/datatypes.js';
import { rawFromTensorData } from '../../src/protocol/raw-codec.js';
import type { GoldenTensor } from './golden.js';

/**
 * Builds a Triton binary-extension request by hand (JSON header + raw bytes), the way
 * tritonclient does, so the server's decoder is checked against an independent encoder.
 */
export function binaryRequest(inputs: GoldenTensor[], params: Record<string, unknown> = { binary_data_output: true }): { body: Buffer; headerLength: number } {
  const raws: Uint8Array[] = [];
  const header = {
    inputs: inputs.map((t) => {
      const raw = rawOf(t);
      raws.push(raw);
      return { name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: raw.byteLength } };
    }),
    parameters: params,
  };
  const head = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([head, ...raws]), headerLength: head.byteLength };
}

function rawOf(t: GoldenTensor): Uint8Array {
  if (t.datatype === 'BYTES') return rawFromTensorData(t.data as string[]);
  const Ctor = ARRAY_OF[t.datatype as Exclude<Datatype, 'BYTES'>];
  const big = t.datatype === 'INT64' || t.datatype === 'UINT64';
  const arr = new Ctor(t.data.length);
  t.data.forEach((v, i) => ((arr as unknown as (number | bigint)[])[i] = big ? BigInt(v as number) : t.datatype === 'BOOL' ? (v ? 1 : 0) : (v as number)));
  return new Uint8Array(arr.buffer);
}

/** Splits a binary-extension response into its JSON header and per-output typed data. */
export function parseBinaryResponse(buf: Buffer, headerLength: number): { json: any; outputs: Record<string, ArrayLike<number | bigint | string>> } {
  const json = JSON.parse(buf.subarray(0, headerLength).toString('utf8'));
  let off = headerLength;
  const outputs: Record<string, ArrayLike<number | bigint | string>> = {};
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) {
      outputs[o.name] = o.data;
      continue;
    }
    const bytes = Buffer.from(buf.subarray(off, off + size));
    off += size;
    if (o.datatype === 'BYTES') {
      const strs: string[] = [];
      for (let p = 0; p < bytes.length; ) {
        const n = bytes.readUInt32LE(p);
        strs.push(bytes.subarray(p + 4, p + 4 + n).toString('utf8'));
        p += 4 + n;
      }
      outputs[o.name] = strs;
    } else {
      const Ctor = ARRAY_OF[o.datatype as Exclude<Datatype, 'BYTES'>];
      outputs[o.name] = new Ctor(bytes.buffer, bytes.byteOffset, size / Ctor.BYTES_PER_ELEMENT) as unknown as ArrayLike<number>;
    }
  }
  if (off !== buf.length) throw new Error(`binary response has ${buf.length - off} trailing bytes`);
  return { json, outputs };
}
