import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ConnectionGate, LINGER_MS, gateServer, lingerClose } from '../connection-gate.js';
import { errorBody, rawErrorResponse } from './framework-errors.js';

/**
 * The HTTP listener's connections: timeouts for slow clients, a cap on how many are open,
 * and a drain that closes them without resets (SIGTERM).
 */

export interface HttpConnectionSettings {
  /** Most connections open at once (0 = no cap); past it new ones get 503 and are closed. */
  maxConnections: number;
  /** Time allowed for a request's headers to arrive (408 after). */
  headerTimeoutSecs: number;
  /** Time allowed for a whole request, headers and body (408 after). */
  requestTimeoutSecs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutSecs: number;
}

/** The settings as the server config holds them (flags --http-header-timeout-secs etc.). */
export function httpConnectionSettings(c: {
  httpMaxConnections: number; httpHeaderTimeoutSecs: number; httpRequestTimeoutSecs: number; httpKeepAliveTimeoutSecs: number;
}): HttpConnectionSettings {
  return {
    maxConnections: c.httpMaxConnections,
    headerTimeoutSecs: c.httpHeaderTimeoutSecs,
    requestTimeoutSecs: c.httpRequestTimeoutSecs,
    keepAliveTimeoutSecs: c.httpKeepAliveTimeoutSecs,
  };
}

/**
 * node:http options for these settings. Node checks the header and request timeouts on a
 * timer (30 s by default); it runs every second here so a timeout of a few seconds holds.
 */
export function nodeServerOptions(s: HttpConnectionSettings): ServerOptions {
  return {
    headersTimeout: s.headerTimeoutSecs * 1000,
    requestTimeout: s.requestTimeoutSecs * 1000,
    keepAliveTimeout: s.keepAliveTimeoutSecs * 1000,
    connectionsCheckingInterval: Math.min(1000, s.headerTimeoutSecs * 250),
  };
}

/** The answer a connection past the cap gets before it is closed. */
export function tooManyConnections(listener: string, max: number, flag: string): () => string {
  const text = rawErrorResponse(503, `the ${listener} listener has ${max} connections open, its limit (${flag}); retry later`, 'Retry-After: 1\r\n');
  return () => text;
}

/** Requests still answered while draining: probes must see liveness and readiness (false). */
const ANSWERED_WHILE_DRAINING = /^\/v2\/health\/(live|ready)(\?|$)/;

/** Tracks in-flight responses per connection, so a drain can tell idle connections from busy ones. */
export class HttpConnections {
  private readonly inFlight = new Map<Socket, Set<ServerResponse>>();
  private draining = false;

  constructor(
    private readonly server: Server,
    readonly gate: ConnectionGate,
  ) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.track(req.socket, res));
  }

  private track(socket: Socket, res: ServerResponse): void {
    let set = this.inFlight.get(socket);
    if (!set) {
      set = new Set();
      this.inFlight.set(socket, set);
      socket.once('close', () => this.inFlight.delete(socket));
    }
    set.add(res);
    res.once('close', () => set.delete(res));
  }

  /** Whether the server is draining (requests get 503 and `Connection: close`). */
  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Starts the drain: answers still to go get `Connection: close`, and so does every answer
   * to a request that arrives during the drain (a 503, see manageConnections), so each
   * connection closes after its next answer. Idle connections stay open until closeIdle():
   * one closed now would reset a client whose request is already on its way.
   */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const busy of this.inFlight.values()) {
      for (const res of busy) if (!res.headersSent) res.setHeader('Connection', 'close');
    }
  }

  /** Half-closes every idle connection and reads until the client closes it too (FIN, never RST). */
  closeIdle(): void {
    for (const socket of this.gate.sockets) {
      const busy = this.inFlight.get(socket);
      if (!busy || busy.size === 0) lingerClose(socket);
    }
  }

  /** Resolves once every connection has closed, or after `ms`, whichever comes first. */
  async settled(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.gate.open > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The listener's connections (cap, drain); see src/api/http/connections.ts. */
    connections: HttpConnections;
  }
}

/** Requests answered before their body was read (see lingerAfterAnswer). */
const unreadBodies = new WeakSet<FastifyRequest>();

/**
 * For an answer sent before the request's body was read (a refusal: too large, or any error
 * before parsing): after the answer, the rest of the body is read and dropped, and a body
 * still arriving after LINGER_MS gets the connection closed with a linger (FIN, then what
 * still comes is dropped until the client closes or LINGER_MS more pass). fastify's own
 * `Connection: close` on a body it did not read would close the socket with unread bytes,
 * which sends a reset that makes most clients lose the answer; it is taken off (but during
 * a drain, whose close stays).
 */
export function lingerAfterAnswer(request: FastifyRequest, reply: FastifyReply): void {
  if (unreadBodies.has(request)) return;
  unreadBodies.add(request);
  reply.raw.once('finish', () => {
    const req = request.raw;
    req.resume();
    if (req.complete) return;
    const timer = setTimeout(() => lingerClose(req.socket), LINGER_MS);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
    req.socket.once('close', () => clearTimeout(timer));
  });
}

/**
 * Caps the fastify server's connections and answers requests that arrive during a drain
 * with 503 and `Connection: close` (health probes still get their answer, with the close).
 * `externalDraining` lets the dataplane's drain flag count too.
 */
export function manageConnections(app: FastifyInstance, s: HttpConnectionSettings, externalDraining: () => boolean): HttpConnections {
  const gate = gateServer(app.server, { max: s.maxConnections, refusal: tooManyConnections('HTTP', s.maxConnections, '--http-max-connections') });
  const conns = new HttpConnections(app.server, gate);
  app.decorate('connections', conns);
  // Closing drains first: node's server.close() destroys idle sockets, which resets a client
  // whose request is on its way; connections half-closed here end with the client's FIN.
  // By now the drain has answered 503 + close to everything that came, so few are left.
  app.addHook('preClose', async () => {
    conns.drain();
    conns.closeIdle();
    await conns.settled(LINGER_MS);
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (!conns.isDraining && !externalDraining()) return done();
    void reply.header('connection', 'close');
    if (ANSWERED_WHILE_DRAINING.test(request.url)) return done();
    void reply.code(503).type('application/json').send(errorBody('server is shutting down and takes no new requests'));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (unreadBodies.has(request) && !conns.isDraining && !externalDraining()) reply.removeHeader('connection');
    done(null, payload);
  });
  return conns;
}
