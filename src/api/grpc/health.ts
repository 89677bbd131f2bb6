import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { DataPlane } from '../../core/dataplane.js';
import { InferError, notFound } from '../../protocol/errors.js';
import type { HealthStatus } from './proto.js';
import { toServiceError } from './status.js';
import { unary } from './unary.js';

/** Services that stand for the whole server (grpc health spec: "" is the server). */
const SERVER_SERVICES = new Set(['', 'inference.GRPCInferenceService']);

/**
 * A service's health: the server as a whole, or one model by name; undefined when unknown.
 * A model that is in the repository but not loaded (unloaded, failed) is NOT_SERVING, not unknown.
 */
async function healthOf(dataplane: DataPlane, service: string): Promise<HealthStatus | undefined> {
  if (SERVER_SERVICES.has(service)) return dataplane.ready() ? 'SERVING' : 'NOT_SERVING';
  try {
    return dataplane.modelReady(service) ? 'SERVING' : 'NOT_SERVING';
  } catch (err) {
    if (!(err instanceof InferError && err.kind === 'not_found')) throw err;
  }
  const index = await dataplane.repositoryIndex(false);
  return index.some((e) => e.name === service) ? 'NOT_SERVING' : undefined;
}

type WatchCall = ServerWritableStream<{ service: string }, { status: HealthStatus }>;

/** grpc.health.v1.Health: Check answers once, Watch streams every change until the client leaves. */
export function healthService(dataplane: DataPlane): UntypedServiceImplementation {
  return {
    Check: unary(async (req: { service: string }) => {
      const s = await healthOf(dataplane, req.service);
      if (s === undefined) {
        // The spec asks for NOT_FOUND here; the message says what does exist.
        throw notFound(`unknown service '${req.service}': use '' for the server or a model name`);
      }
      return { status: s };
    }),
    Watch: (call: WatchCall) => {
      let last: HealthStatus | undefined;
      // Re-read on every lifecycle or readiness change; one read at a time, and one more if a change came meanwhile.
      let busy = false;
      let again = false;
      const send = async () => {
        if (call.cancelled) return;
        if (busy) {
          again = true;
          return;
        }
        busy = true;
        try {
          do {
            again = false;
            const s = (await healthOf(dataplane, call.request.service)) ?? 'SERVICE_UNKNOWN';
            if (s !== last && !call.cancelled) {
              last = s;
              call.write({ status: s });
            }
          } while (again && !call.cancelled);
        } catch (err) {
          stop();
          call.emit('error', toServiceError(err));
        } finally {
          busy = false;
        }
      };
      const stop = dataplane.watch(() => void send());
      call.on('cancelled', stop);
      void send();
    },
  };
}
