import type { FastifyInstance } from 'fastify';
import type { HttpPlugin } from '../api/http/server.js';
import { parseJobSpec } from './job-spec.js';
import type { JobManager } from './job-manager.js';

/** Largest job spec body (bytes): a spec names files and columns, never data. */
const SPEC_BODY_LIMIT = 64 * 1024;

/** The jobs API: POST /api/2.0/infergate/jobs, GET .../jobs[/{id}] (with progress), DELETE .../jobs/{id} (cancel). */
export function jobsApi(jobs: JobManager): HttpPlugin {
  return {
    prefix: '/api/2.0/infergate',
    routes(app: FastifyInstance) {
      app.post('/jobs', { bodyLimit: SPEC_BODY_LIMIT }, async (req, reply) => {
        const spec = parseJobSpec(req.body, jobs.dir);
        const r = await jobs.submit(spec);
        return reply.code(201).send({ job: jobs.view(r) });
      });
      app.get('/jobs', async () => ({ jobs: jobs.list().map((r) => jobs.view(r)) }));
      app.get<{ Params: { id: string } }>('/jobs/:id', async (req) => ({ job: jobs.view(jobs.get(req.params.id)) }));
      app.delete<{ Params: { id: string } }>('/jobs/:id', async (req) => ({ job: jobs.view(await jobs.cancel(req.params.id)) }));
    },
  };
}
