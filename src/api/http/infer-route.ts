import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Cancellation } from '../../core/cancellation.js';
import { clip, clipJson } from '../../protocol/clip.js';
import { InferError, invalid } from '../../protocol/errors.js';
import { type BinarySection, decodeInferRequest, encodeInferResponse } from '../../protocol/json-codec.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../protocol/limits.js';
import type { InferRequest } from '../../protocol/types.js';
import { type InferDeps, handleInfer } from '../infer-call.js';

const HEADER_LENGTH = 'inference-header-content-length';

type Params = { model: string; version?: string };

/** Splits a body into its JSON part and, with Triton's binary extension, the binary part after it. */
export function decodeHttpInfer(body: Buffer, headerLength: string | undefined, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): InferRequest {
  let jsonEnd = body.byteLength;
  let binary: BinarySection | undefined;
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!Number.isSafeInteger(n) || n < 0 || n > body.byteLength) {
      throw invalid(`Inference-Header-Content-Length ${clipJson(headerLength)} must be an integer between 0 and the body size (${body.byteLength})`);
    }
    jsonEnd = n;
    binary = { bytes: body.subarray(n), offset: 0 };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8', 0, jsonEnd));
  } catch (err) {
    throw invalid(`request body is not valid JSON: ${clip((err as Error).message)}`);
  }
  return decodeInferRequest(parsed, binary, limits);
}

/** Which outputs go back as binary data: per output `binary_data`, else the request's `binary_data_output`. */
function binaryChooser(req: InferRequest): (name: string) => boolean {
  const all = req.parameters?.binary_data_output === true;
  const per = new Map((req.outputs ?? []).map((o) => [o.name, o.parameters?.binary_data]));
  return (name) => {
    const p = per.get(name);
    return p === undefined ? all : p === true;
  };
}

/** Cancelled when the client closes the connection before the answer. */
function clientGone(reply: FastifyReply): Cancellation {
  const c = new Cancellation();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) c.cancel(new InferError('cancelled', 'the client closed the connection before the answer'));
  });
  return c;
}

/** POST /v2/models/{m}[/versions/{v}]/infer, JSON or binary tensor data. */
export async function inferRoutes(app: FastifyInstance, opts: { deps: Omit<InferDeps, 'log'>; limits?: DecodeLimits }): Promise<void> {
  const limits = opts.limits ?? DEFAULT_DECODE_LIMITS;
  // Bodies may be JSON or JSON + binary (binary tensor extension): take raw bytes for both.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const handler = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const header = request.headers[HEADER_LENGTH];
    const out = await handleInfer({ ...opts.deps, log: request.log }, {
      protocol: 'http',
      model: request.params.model,
      version: request.params.version,
      carrier: request.headers,
      cancel: clientGone(reply),
      requestBytes: body.byteLength,
      decode: () => decodeHttpInfer(body, Array.isArray(header) ? header[0] : header, limits),
      encode: (res, req) => {
        const { json, binary } = encodeInferResponse(res, binaryChooser(req));
        return binary.length === 0 ? { json, out: undefined } : { json, out: Buffer.concat([Buffer.from(json, 'utf8'), ...binary]) };
      },
      responseBytes: ({ json, out: bin }) => (bin ? bin.byteLength : Buffer.byteLength(json)),
    });
    if (!out.out) return reply.type('application/json').send(out.json);
    reply.header('Inference-Header-Content-Length', Buffer.byteLength(out.json));
    return reply.type('application/octet-stream').send(out.out);
  };
  app.post('/v2/models/:model/infer', handler);
  app.post('/v2/models/:model/versions/:version/infer', handler);
}
