import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { toServiceError } from './status.js';

/** A unary handler written as a plain (async) function; thrown errors become gRPC statuses. */
export function unary<Req, Res>(
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    let result: Res | Promise<Res>;
    try {
      result = fn(call.request, call);
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    Promise.resolve(result).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}
