import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { type ServerConfig, defaultServerConfig } from '../../src/config/server-config.js';
import { type FrontEnd, Gateway } from '../../src/gateway.js';

/** The project's sample model repository. */
export const MODELS = resolve(import.meta.dirname, '../../models');

/** Starts a real gateway on 127.0.0.1 with ephemeral ports. */
export async function startGateway(overrides: Partial<ServerConfig> = {}, frontEnds: FrontEnd[] = []): Promise<{ gw: Gateway; url: string }> {
  const config: ServerConfig = {
    ...defaultServerConfig(),
    host: '127.0.0.1',
    httpPort: 0,
    grpcPort: 0,
    metricsPort: 0,
    modelRepository: MODELS,
    poolSize: 2,
    // Tests that want the registry ask for it (with a scratch store); the rest run without one.
    registryUrl: 'none',
    ...overrides,
  };
  const gw = new Gateway(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), processMetrics: false });
  await gw.start(frontEnds);
  return { gw, url: `http://127.0.0.1:${gw.port('HTTP')}` };
}

/** One gateway for a whole test file: started before its tests, stopped after them. */
export function sharedGateway(overrides: Partial<ServerConfig> = {}, frontEnds: FrontEnd[] = []): { gw: Gateway; url: string } {
  const shared = {} as { gw: Gateway; url: string };
  beforeAll(async () => {
    Object.assign(shared, await startGateway(overrides, frontEnds));
  });
  afterAll(async () => {
    await shared.gw?.stop();
  });
  return shared;
}

/** A scratch model repository holding copies of the named sample models (all versions). */
export function scratchRepository(models: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-repo-'));
  for (const m of models) cpSync(join(MODELS, m), join(dir, m), { recursive: true });
  return dir;
}

/** POSTs JSON and returns status and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
