import { resolve } from 'node:path';
import type { Gateway } from '../gateway.js';
import { JobManager } from './job-manager.js';
import { jobsApi } from './jobs-api.js';
import { StreamManager } from './stream-manager.js';

/**
 * Adds batch jobs and streams to a gateway (before start()): the jobs API and its runner,
 * and the stream consumers (a version hook validating each model's `streams` block, and a
 * background loop running the consumers).
 */
export function installJobs(gw: Gateway): { jobs: JobManager; streams: StreamManager } {
  const deps = gw.frontEndDeps;
  const jobs = new JobManager(resolve(gw.config.jobsDir), deps);
  const streams = new StreamManager(deps);
  gw.httpPlugins.push(jobsApi(jobs));
  gw.versionHooks.push(streams);
  gw.backgroundLoops.push(jobs, streams);
  return { jobs, streams };
}
