import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultServerConfig } from '../../src/config/server-config.js';
import { Gateway } from '../../src/gateway.js';
import { installJobs } from '../../src/jobs/install.js';
import { getJson } from '../helpers/gateway.js';
import { DATA_MISSING } from '../helpers/jobs.js';
import { streamRepository } from '../helpers/streams.js';

describe.skipIf(DATA_MISSING)('a model with a bad streams block', () => {
  const repo = streamRepository([{ type: 'redis', stream: 'x.requests', result_stream: 'x.results', max_in_flight: 0 }]);
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('fails that model\'s load with a message naming the key, and starts no consumer', async () => {
    const config = { ...defaultServerConfig(), host: '127.0.0.1', httpPort: 0, grpcPort: -1, metricsPort: -1, modelRepository: repo, poolSize: 1 };
    const gw = new Gateway(config, { logger: pino({ level: 'silent' }), processMetrics: false });
    const { streams } = installJobs(gw);
    await gw.start();
    try {
      const index = (await fetch(`http://127.0.0.1:${gw.port('HTTP')}/v2/repository/index`, { method: 'POST' }).then((r) => r.json())) as { state: string; reason: string }[];
      expect(index.length).toBe(3);
      for (const v of index) {
        expect(v.state).toBe('UNAVAILABLE');
        expect(v.reason).toMatch(/streams: streams\[0\]\.max_in_flight: must be an integer >= 1, got 0/);
      }
      expect(streams.running()).toEqual([]);
      expect((await getJson(`http://127.0.0.1:${gw.port('HTTP')}/v2/health/ready`)).status).toBe(400);
    } finally {
      await gw.stop();
    }
  });
});
