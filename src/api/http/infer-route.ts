import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Cancellation } from '../../core/cancellation.js';
import { clip } from '../../protocol/clip.js';
import { InferError, invalid } from '../../protocol/errors.js';
import { type BinarySection, decodeInferRequest, encodeInferResponse } from '../../protocol/json-codec.js';
import * as triton from '../../protocol/triton-errors.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../protocol/limits.js';
import type { InferRequest } from '../../protocol/types.js';
import { type InferDeps, handleInfer } from '../../core/infer-call.js';

const HEADER_LENGTH = 'inference-header-content-length';

type Params = { model: string; version?: string };

/**
 * Splits a body into its JSON part and, with Triton's binary extension, the binary part
 * after it; `model` (from the URL) is named in errors.
 */
export function decodeHttpInfer(body: Buffer, headerLength: string | undefined, model = '', limits: DecodeLimits = DEFAULT_DECODE_LIMITS): InferRequest {
  let jsonEnd = body.byteLength;
  let binary: BinarySection | undefined;
  if (headerLength !== undefined) {
    if (!/^\s*\d+\s*$/.test(headerLength)) throw invalid(triton.headerLengthUnparsable(headerLength));
    const n = Number(headerLength);
    if (n > body.byteLength) throw invalid(triton.headerLengthRange(body.byteLength, headerLength));
    jsonEnd = n;
    binary = { bytes: body.subarray(n), offset: 0 };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8', 0, jsonEnd));
  } catch (err) {
    throw invalid(triton.badJson(clip((err as Error).message)));
  }
  return decodeInferRequest(parsed, binary, model, limits);
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
export async function inferRoutes(app: FastifyInstance, opts: { deps: InferDeps; limits?: DecodeLimits }): Promise<void> {
  const limits = opts.limits ?? DEFAULT_DECODE_LIMITS;
  // Bodies may be JSON or JSON + binary (binary tensor extension): take raw bytes for both.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // A body larger than any valid request to the model is refused before it is read: by its
  // Content-Length, or, when it has none (chunked), as soon as the bytes read pass the bound.
  // Over the server-wide limit, that limit's own 413 (the operator's setting) answers instead.
  const modelLimit = (request: FastifyRequest<{ Params: Params }>): number | undefined => {
    const limit = opts.deps.dataplane.requestByteLimit(request.params.model, request.params.version);
    return limit !== undefined && limit < request.routeOptions.bodyLimit ? limit : undefined;
  };
  const tooLarge = (request: FastifyRequest<{ Params: Params }>, length: number, limit: number, read = '') =>
    new InferError('payload_too_large', `request body of ${read}${length} bytes is larger than any valid request to model '${request.params.model}' (at most ${limit} bytes for its max_batch_size and input shapes)`);
  // Callback hooks, not async ones: they run on every request, and a promise each costs. The
  // refusal is answered before the rest of the body is read (see lingerAfterAnswer).
  app.addHook('onRequest', (request: FastifyRequest<{ Params: Params }>, _reply, done) => {
    const length = Number(request.headers['content-length']);
    const limit = length > 0 ? modelLimit(request) : undefined;
    if (limit !== undefined && length > limit && length <= request.routeOptions.bodyLimit) return done(tooLarge(request, length, limit));
    done();
  });
  app.addHook('preParsing', (request: FastifyRequest<{ Params: Params }>, _reply, payload, done) => {
    const limit = request.headers['content-length'] === undefined ? modelLimit(request) : undefined;
    if (limit === undefined) return done(null, payload);
    let read = 0;
    done(null, payload.pipe(new Transform({
      transform(chunk: Buffer, _enc, next) {
        read += chunk.length;
        next(read > limit ? tooLarge(request, read, limit, 'at least ') : null, chunk);
      },
    })));
  });

  const handler = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const header = request.headers[HEADER_LENGTH];
    const out = await handleInfer(opts.deps, {
      source: 'http',
      model: request.params.model,
      version: request.params.version,
      headers: request.headers,
      cancel: clientGone(reply),
      requestBytes: body.byteLength,
      decode: () => decodeHttpInfer(body, Array.isArray(header) ? header[0] : header, request.params.model, limits),
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
