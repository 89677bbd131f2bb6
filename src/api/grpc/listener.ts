import { type Server as NetServer, type Socket, createServer } from 'node:net';
import { type Server, ServerCredentials } from '@grpc/grpc-js';
import { ConnectionCounter, type ConnectionGate } from '../connection-gate.js';

/**
 * The gRPC listener: our own TCP server in front of grpc-js (through its connection
 * injector), because grpc-js offers no cap on connections. Connections past the cap are
 * closed before the HTTP/2 handshake (after reading what the client sent, so without a
 * reset): a grpc-js or grpc-core client then fails its calls at once with UNAVAILABLE and
 * backs off, where a GOAWAY after a completed handshake would make it retry in a loop.
 */

export interface GrpcListener {
  port: number;
  gate: ConnectionGate;
  /** Stops accepting connections and sends GOAWAY on the open ones; their calls may finish within graceMs. */
  drain(graceMs: number): void;
  /** Stops accepting connections (the grpc-js server is shut down by its owner). */
  close(): Promise<void>;
}

/** Listens on host:port and hands each admitted connection to the grpc-js server. */
export async function listenGrpc(server: Server, host: string, port: number, maxConnections: number): Promise<GrpcListener> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const counter = new ConnectionCounter({ max: maxConnections, refusal: () => new Uint8Array(0) });
  const tcp: NetServer = createServer({ noDelay: true }, (socket: Socket) => {
    if (counter.admit(socket)) injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  const bound = (tcp.address() as { port: number }).port;
  const stopAccepting = () => new Promise<void>((resolve) => (tcp.listening ? tcp.close(() => resolve()) : resolve()));
  return {
    port: bound,
    gate: counter,
    drain: (graceMs) => {
      void stopAccepting();
      injector.drain(graceMs);
    },
    close: stopAccepting,
  };
}
