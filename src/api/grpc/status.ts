import { Metadata, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { GRPC_STATUS, asInferError } from '../../protocol/errors.js';

/** Any thrown value -> a gRPC status, through the one GRPC_STATUS table. */
export function toServiceError(err: unknown): Partial<StatusObject> & ServiceError {
  const e = asInferError(err);
  const status: Partial<StatusObject> & ServiceError = Object.assign(new Error(e.message), {
    code: GRPC_STATUS[e.kind],
    details: e.message,
    metadata: new Metadata(),
  });
  return status;
}
