import { Metadata, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { clipMessage, clipUtf8 } from '../../protocol/clip.js';
import { GRPC_STATUS, asInferError } from '../../protocol/errors.js';

/**
 * Any thrown value -> a gRPC status, through the one GRPC_STATUS table. The details travel
 * in a response header (grpc-message), so they are bounded: a client's channel refuses
 * headers past its metadata limit (8 KiB in grpc-js, 16 KiB in grpc core).
 */
export function toServiceError(err: unknown): Partial<StatusObject> & ServiceError {
  const e = asInferError(err);
  // 2,000 bytes of UTF-8 encode to at most 6,000 characters in grpc-message.
  const details = clipUtf8(clipMessage(e.message), 2000);
  const status: Partial<StatusObject> & ServiceError = Object.assign(new Error(details), {
    code: GRPC_STATUS[e.kind],
    details,
    metadata: new Metadata(),
  });
  return status;
}
