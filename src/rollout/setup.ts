import type { Registry as PromRegistryOf } from 'prom-client';
import type { AnyContentType } from '../telemetry/metrics.js';
type PromRegistry = PromRegistryOf<AnyContentType>;
import type { HttpPlugin } from '../api/http/server.js';
import type { DataPlane } from '../core/dataplane.js';
import type { ModelLifecycle } from '../core/lifecycle.js';
import type { Router } from '../core/router.js';
import type { Monitor } from '../monitor/monitor.js';
import type { Registry } from '../registry/registry.js';
import { RolloutController } from './controller.js';
import { RolloutRouter } from './router.js';
import { ROLLOUTS_PREFIX, rolloutRoutes } from './routes.js';
import { RolloutTraffic } from './traffic.js';

/** What the composition root hands the rollouts. */
export interface RolloutDeps {
  registry: Registry;
  lifecycle: ModelLifecycle;
  router: Router;
  dataplane: DataPlane;
  metrics: PromRegistry;
  log: { info(msg: string): void; warn(msg: string): void };
  monitor?: Monitor;
  tickMs?: number;
}

/**
 * Wires rollouts into a gateway: the alias source (asked before the registry's serving
 * alias), the outcome and observe steps (per-arm counts, mirroring), and the REST plugin.
 * Call `controller.start()` once models are loaded and `controller.stop()` before the registry closes.
 */
export function setUpRollouts(d: RolloutDeps): { controller: RolloutController; plugin: HttpPlugin } {
  const router = new RolloutRouter((model, version) => d.lifecycle.model(model)?.versions.get(version)?.state === 'READY');
  const traffic = new RolloutTraffic(router, (m, v, req, ctx) => d.dataplane.infer(m, v, req, ctx), d.metrics);
  d.router.addAliasSource(router);
  d.dataplane.addOutcomeStep(traffic);
  d.dataplane.addObserveStep(traffic);
  const controller = new RolloutController({ registry: d.registry, router, traffic, metrics: d.metrics, log: d.log, monitor: d.monitor, tickMs: d.tickMs });
  return { controller, plugin: { prefix: ROLLOUTS_PREFIX, routes: (app) => rolloutRoutes(app, controller) } };
}
