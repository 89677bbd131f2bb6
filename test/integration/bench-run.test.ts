import { mkdtempSync, readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { BenchReport } from '../../src/bench/types.js';
import { bench } from '../../src/cli/bench.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway } from '../helpers/gateway.js';
import { BROWSER_MISSING, launchChromium } from '../helpers/browser.js';

const GOLDEN = resolve(import.meta.dirname, '../../models/simple/1/golden.json');

// Short windows and few trials keep this quick; the assertions are about shape, never timing.
const QUICK = ['-p', '300', '-r', '3'];

let gw: Gateway;
let httpAddr: string;
let grpcAddr: string;
const dir = mkdtempSync(join(tmpdir(), 'bench-it-'));
const out = (f: string) => join(dir, f);
const readReport = (f: string) => JSON.parse(readFileSync(out(f), 'utf8')) as BenchReport;

beforeAll(async () => {
  ({ gw } = await startGateway({}, [grpcFrontEnd]));
  httpAddr = `127.0.0.1:${gw.port('HTTP')}`;
  grpcAddr = `127.0.0.1:${gw.port('gRPC')}`;
});
afterAll(async () => {
  await gw?.stop();
});

/** Asserts what every healthy run against infergate shows: a row per step, traffic, no errors, a sane breakdown. */
function expectHealthy(r: BenchReport, levels: number[]): void {
  expect(r.steps.map((s) => s.level)).toEqual(levels);
  for (const s of r.steps) {
    expect(s.requests).toBeGreaterThan(0);
    expect(s.inferPerSec).toBeGreaterThan(0);
    expect(s.errors).toBe(0);
    expect(s.p50Ms).toBeLessThanOrEqual(s.p99Ms);
    expect(s.server, `server breakdown at ${s.level}`).toBeDefined();
    // Server time is part of client time: the queue + compute averages cannot exceed the client's mean.
    expect(s.server!.queueMs + s.server!.computeMs).toBeLessThanOrEqual(s.avgMs);
    expect(s.server!.computeMs).toBeGreaterThan(0);
  }
  expect(r.serverStatsNote).toBeUndefined();
}

describe('infergate bench against a real gateway', () => {
  it('HTTP closed loop: one row per step, breakdown present, CSV/JSON/HTML written', async () => {
    const code = await bench(['-m', 'simple', '--url', httpAddr, '--concurrency-range', '1:2:1', ...QUICK,
      '-f', out('http.csv'), '--json', out('http.json'), '--html', out('http.html')]);
    expect(code).toBe(0);
    const r = readReport('http.json');
    expect(r).toMatchObject({ protocol: 'http', httpFormat: 'binary', mode: 'concurrency', model: 'simple' });
    expectHealthy(r, [1, 2]);
    const csv = readFileSync(out('http.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(3);
    expect(csv[1].split(',')[0]).toBe('1');
    expect(readFileSync(out('http.html'), 'utf8').match(/class="bench-point"/g)).toHaveLength(2);
  });

  it('gRPC closed loop with raw_input_contents and ModelStatistics', async () => {
    const code = await bench(['-m', 'simple', '-x', '1', '-i', 'grpc', '--url', grpcAddr, '--concurrency-range', '1:2:1', ...QUICK, '-b', '4', '--json', out('grpc.json')]);
    expect(code).toBe(0);
    const r = readReport('grpc.json');
    expect(r.protocol).toBe('grpc');
    expectHealthy(r, [1, 2]);
    // 4 rows per request: inferences/s is 4x requests/s.
    for (const s of r.steps) expect(s.inferPerSec).toBeCloseTo(4 * s.requestsPerSec, 5);
  });

  it('HTTP JSON open loop from golden.json with a latency threshold', async () => {
    const code = await bench(['-m', 'simple', '--url', httpAddr, '--request-rate-range', '50:100:50', ...QUICK,
      '--http-format', 'json', '--input-data', GOLDEN, '-l', '10000', '--json', out('open.json')]);
    expect(code).toBe(0);
    const r = readReport('open.json');
    expect(r.mode).toBe('request-rate');
    expectHealthy(r, [50, 100]);
    for (const s of r.steps) expect(s.maxSendLagMs).toBeTypeOf('number');
    // A 10 s SLO is met everywhere: the best step is one of the two and the sweep was not cut short.
    expect([50, 100]).toContain(r.bestWithinSlo?.level);
    expect(r.stoppedAt).toBeUndefined();
  });

  it('a p99 threshold below any achievable latency stops the sweep at the first step', async () => {
    const code = await bench(['-m', 'simple', '--url', httpAddr, '--concurrency-range', '1:3:1', ...QUICK, '-l', '0.000001', '--json', out('slo.json')]);
    expect(code).toBe(0);
    const r = readReport('slo.json');
    expect(r.steps).toHaveLength(1);
    expect(r.stoppedAt).toBe(1);
    expect(r.bestWithinSlo).toBeUndefined();
  });

  it('fails with the server\'s reason for an unknown model', async () => {
    expect(await bench(['-m', 'no_such_model', '--url', httpAddr, ...QUICK])).toBe(1);
  });

  it.skipIf(BROWSER_MISSING !== undefined)(
    BROWSER_MISSING ? `HTML report renders in headless chromium (SKIPPED: ${BROWSER_MISSING})` : 'HTML report renders in headless chromium with one chart point per step',
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const requests: string[] = [];
        page.on('request', (req) => requests.push(req.url()));
        await page.goto(`file://${out('http.html')}`);
        expect(await page.locator('#latency-curve .bench-point').count()).toBe(2);
        expect(await page.locator('#breakdown .bench-bar').count()).toBe(6);
        // Rendered for real: the points have a size on the page.
        const box = await page.locator('#latency-curve .bench-point').first().boundingBox();
        expect(box?.width).toBeGreaterThan(0);
        expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});

describe('infergate bench against a plain OIP v2 server without statistics', () => {
  let server: Server;
  let addr: string;
  let inferCalls = 0;
  beforeAll(async () => {
    // The least an OIP v2 server offers: model metadata and infer, nothing else (404 on /stats).
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/v2/models/m') {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ name: 'm', versions: ['1'], platform: 'x', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }] }));
        } else if (req.method === 'POST' && req.url === '/v2/models/m/infer') {
          inferCalls++;
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { inputs: { name: string; shape: number[]; data: number[] }[] };
          const x = body.inputs[0];
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ model_name: 'm', outputs: [{ name: 'y', datatype: 'FP32', shape: x.shape, data: x.data }] }));
        } else {
          res.statusCode = 404;
          res.end(JSON.stringify({ error: 'not found' }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('completes and notes the missing breakdown', async () => {
    const code = await bench(['-m', 'm', '--url', addr, '--http-format', 'json', '--concurrency-range', '1:2:1', ...QUICK, '-b', '2',
      '--json', out('plain.json'), '--html', out('plain.html'), '-f', out('plain.csv')]);
    expect(code).toBe(0);
    const r = readReport('plain.json');
    expect(r.steps.map((s) => s.level)).toEqual([1, 2]);
    for (const s of r.steps) {
      expect(s.errors).toBe(0);
      expect(s.requests).toBeGreaterThan(0);
      expect(s.inferPerSec).toBeCloseTo(2 * s.requestsPerSec, 5);
      expect(s.server).toBeUndefined();
    }
    expect(r.serverStatsNote).toMatch(/breakdown skipped.*404/);
    expect(inferCalls).toBeGreaterThan(0);
    expect(readFileSync(out('plain.html'), 'utf8')).toContain('id="breakdown-missing"');
  });
});
