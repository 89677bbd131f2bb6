import type { Gateway } from '../gateway.js';

/** Adds the jobs API and the stream consumers to a gateway (before start()). */
export function installJobs(_gw: Gateway): void {}
