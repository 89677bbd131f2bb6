import type { FrontEndDeps } from '../../front-end.js';
import { adminRoutes } from './admin-routes.js';
import { healthRoutes } from './health-routes.js';
import { inferRoutes } from './infer-route.js';
import { metadataRoutes } from './metadata-routes.js';
import type { HttpPlugin } from './server.js';

/** The Open Inference Protocol v2 surfaces and Triton's extensions, as HTTP plugins. */
export function oipRoutes(deps: FrontEndDeps): HttpPlugin[] {
  const { dataplane } = deps;
  return [
    { routes: (app) => healthRoutes(app, { dataplane }) },
    { routes: (app) => metadataRoutes(app, { dataplane }) },
    { routes: (app) => adminRoutes(app, { dataplane }) },
    { routes: (app) => inferRoutes(app, { deps, limits: { maxElements: deps.config.maxRequestElements } }) },
  ];
}
