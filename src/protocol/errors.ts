/** The kinds of failure a request can meet; each maps once to HTTP and gRPC below. */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'unavailable'
  | 'deadline_exceeded'
  | 'cancelled'
  | 'payload_too_large'
  | 'unsupported'
  | 'internal';

/** The one error type every layer throws; protocol layers map it with the tables below. */
export class InferError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'InferError';
  }
}

/** HTTP status per kind, as Triton maps its error codes. */
export const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid_argument: 400,
  not_found: 404,
  unavailable: 503,
  deadline_exceeded: 504,
  cancelled: 499,
  payload_too_large: 413,
  unsupported: 400,
  internal: 500,
};

/** gRPC status code numbers per kind (grpc/status.proto). */
export const GRPC_STATUS: Record<ErrorKind, number> = {
  invalid_argument: 3,
  not_found: 5,
  unavailable: 14,
  deadline_exceeded: 4,
  cancelled: 1,
  payload_too_large: 8, // RESOURCE_EXHAUSTED
  unsupported: 12, // UNIMPLEMENTED
  internal: 13,
};

/** Wraps anything thrown into an InferError, keeping the kind where there is one. */
export function asInferError(err: unknown): InferError {
  if (err instanceof InferError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InferError('internal', message);
}

export const invalid = (message: string): InferError => new InferError('invalid_argument', message);
export const notFound = (message: string): InferError => new InferError('not_found', message);
export const unavailable = (message: string): InferError => new InferError('unavailable', message);
