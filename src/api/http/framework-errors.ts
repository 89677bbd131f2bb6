import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { clip, clipMessage } from '../../protocol/clip.js';

/**
 * Errors that fastify and node:http raise before a route runs, answered in the server's
 * documented shape `{"error": "..."}` (fastify's own bodies carry code/message/statusCode).
 */

/** The JSON body of every error answer. */
export function errorBody(message: string): string {
  return JSON.stringify({ error: clipMessage(message) });
}

/** A raw HTTP/1.1 error answer for a socket no route owns, closing the connection after it. */
export function rawErrorResponse(status: number, message: string, extraHeaders = ''): string {
  const body = errorBody(message);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extraHeaders}\r\n${body}`
  );
}

/** What the URL router refuses: undecodable paths, over-long path segments. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = clip(request.url.split('?')[0]);
  let message: string;
  if (err.code === 'FST_ERR_BAD_URL') message = `the URL path ${JSON.stringify(path)} is not valid: it has a malformed %-escape`;
  else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') message = `a path segment of ${JSON.stringify(path)} is too long`;
  else message = clip(err.message);
  void reply.code(err.statusCode && err.statusCode < 500 ? err.statusCode : 400).type('application/json').send(errorBody(message));
}

/** Timeouts as the HTTP listener enforces them, for the 408 message. */
export interface TimeoutSettings {
  headerTimeoutSecs: number;
  requestTimeoutSecs: number;
}

/**
 * node:http's clientError: a request that did not arrive in time (408), headers too large
 * (431) or bytes that are not HTTP (400). Answered once with `{"error"}`, then the
 * connection is closed: what else the client sends on it cannot be trusted.
 */
export function clientErrorHandler(timeouts: TimeoutSettings): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let status = 400;
    let message = `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      message =
        `the request did not arrive in time: headers within ${timeouts.headerTimeoutSecs} s ` +
        `(--http-header-timeout-secs), the whole request within ${timeouts.requestTimeoutSecs} s (--http-request-timeout-secs)`;
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      message = 'the request headers are larger than the server accepts (16 KiB)';
    }
    if (socket.writable) socket.write(rawErrorResponse(status, message));
    socket.destroy();
  };
}
