import { InferError } from '../protocol/errors.js';

/** Words every unknown-entity message holds, so a client of the HTTP API can tell it from an unknown model. */
export const UNKNOWN_ENTITY_MARK = 'not in the online store';

/**
 * Entity ids the online store does not hold (HTTP 404, gRPC NOT_FOUND): a fault of the
 * request's data, so a batch job writes the row to its error file and goes on.
 */
export class UnknownEntityError extends InferError {
  constructor(message: string) {
    super('not_found', message);
  }

  /** The error a gateway's 404 answer stands for, when its message is this one's. */
  static fromAnswer(status: number, message: string): UnknownEntityError | undefined {
    return status === 404 && message.includes(UNKNOWN_ENTITY_MARK) ? new UnknownEntityError(message) : undefined;
  }
}
