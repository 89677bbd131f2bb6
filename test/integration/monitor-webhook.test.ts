import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftEvent } from '../../src/monitor/alerts.js';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { getJson, postJson, startGateway } from '../helpers/gateway.js';
import { type TabularRows, appendConfig, churnRows, inferChurnJson, inferTabularJson, monitoredRepository, tabularMonitoring, tabularRows } from '../helpers/monitoring.js';

/** A real HTTP receiver on 127.0.0.1 that records every POST; its next answers can be scripted. */
class Receiver {
  readonly posts: { path: string; body: DriftEvent }[] = [];
  /** What to do with the next requests: a status to answer, or 'hang' (never answer). */
  script: (number | 'hang')[] = [];
  private server: Server | undefined;
  private hanging: ServerResponse[] = [];
  private waiters: (() => void)[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.posts.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        for (const w of this.waiters.splice(0)) w();
        const next = this.script.shift() ?? 200;
        if (next === 'hang') this.hanging.push(res);
        else res.writeHead(next, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once at least n POSTs arrived (or rejects after a generous deadline). */
  async waitFor(n: number, deadlineMs = 20000): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (this.posts.length < n) {
      if (Date.now() > until) throw new Error(`the receiver got ${this.posts.length} of ${n} posts`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200).unref();
      });
    }
  }

  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe.skipIf(DATA_MISSING !== undefined)(`drift webhook alerts${DATA_MISSING ? ` (SKIPPED: ${DATA_MISSING})` : ''}`, () => {
  const receiver = new Receiver();
  let gw: Gateway;
  let url: string;
  let nodrift: TabularRows;
  let drift: TabularRows;
  /** Waits until the version's queued deliveries are done (in-process: no timing guesses). */
  const delivered = async (model: string, version: string) => {
    for (const vm of gw.monitor.ofModel(model)) if (vm.version === version) await vm.alertsIdle();
  };

  beforeAll(async () => {
    await receiver.start();
    nodrift = tabularRows('breast_cancer_live_nodrift.csv');
    drift = tabularRows('breast_cancer_live_drift.csv');
    const repo = monitoredRepository({
      // Evaluated only when asked (GET .../drift), so each run is judged on its whole window.
      tabular_mlp: {
        reference: 'breast_cancer_reference.csv',
        monitoring: tabularMonitoring(`webhook: {url: "${receiver.url}/tabular", timeout_seconds: 0.3, retries: 3, backoff_seconds: 0.05}`),
      },
      // Evaluated by the background timer every 0.2 s.
      churn_pipeline: { reference: 'churn_reference.csv', monitoring: `reference: reference.csv\ncheck_interval_seconds: 0.2\nwebhook: "${receiver.url}/churn"` },
    });
    // One request of the whole churn file must fit a batch.
    appendConfig(repo, 'churn_pipeline', 'max_batch_size: 1000\n');
    ({ gw, url } = await startGateway({ modelRepository: repo }));
  });
  afterAll(async () => {
    await gw?.stop();
    await receiver.stop();
  });

  it('sends nothing during the no-drift run', async () => {
    for (const row of nodrift.features) await inferTabularJson(url, '1', [row]);
    expect((await getJson(`${url}/v2/models/tabular_mlp/versions/1/drift`)).body.features.some((f: any) => f.drift_detected)).toBe(false);
    await delivered('tabular_mlp', '1');
    expect(receiver.posts.filter((p) => p.path === '/tabular')).toEqual([]);
  });

  it('posts "drift on" for exactly mean_radius, worst_area and mean_smoothness during the drift run, retrying past two 503s', async () => {
    await postJson(`${url}/v2/models/tabular_mlp/versions/1/drift/reset`, {});
    receiver.script = [503, 503];
    for (const row of drift.features) await inferTabularJson(url, '1', [row]);
    await getJson(`${url}/v2/models/tabular_mlp/versions/1/drift`);
    await delivered('tabular_mlp', '1');
    const posts = receiver.posts.filter((p) => p.path === '/tabular');
    expect(posts).toHaveLength(3);
    expect(posts[1].body).toEqual(posts[0].body);
    expect(posts[2].body).toEqual(posts[0].body);
    const e = posts[0].body;
    expect(e).toMatchObject({ event: 'drift_changed', model: 'tabular_mlp', version: '1', dataset_drift: false, dataset_drift_changed: false, drift_off: [], window: { rows: 143, reference_rows: 426 } });
    expect([...e.drift_on].sort()).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
    expect(e.features.map((f) => f.name).sort()).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
    const mr = e.features.find((f) => f.name === 'mean_radius')!;
    expect(mr).toMatchObject({ stattest: 'ks', threshold: 0.05, drift_detected: true });
    expect(mr.p_value).toBeLessThan(1e-40);
    // Asking again without new rows sends nothing more.
    await getJson(`${url}/v2/models/tabular_mlp/versions/1/drift`);
    await delivered('tabular_mlp', '1');
    expect(receiver.posts.filter((p) => p.path === '/tabular')).toHaveLength(3);
    const text = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(text).toMatch(/infergate_drift_alerts_total\{model="tabular_mlp",version="1",outcome="delivered"\} 1/);
  });

  it('posts "drift off" when the window is back to normal, retrying after an attempt that times out', async () => {
    await postJson(`${url}/v2/models/tabular_mlp/versions/1/drift/reset`, {});
    receiver.script = ['hang'];
    const before = receiver.posts.length;
    for (let i = 0; i < nodrift.features.length; i += 13) await inferTabularJson(url, '1', nodrift.features.slice(i, i + 13));
    await getJson(`${url}/v2/models/tabular_mlp/versions/1/drift`);
    await delivered('tabular_mlp', '1');
    const posts = receiver.posts.slice(before);
    expect(posts).toHaveLength(2);
    expect([...posts[1].body.drift_off].sort()).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
    expect(posts[1].body.drift_on).toEqual([]);
  });

  it('gives up after its retries and counts the failure; other versions are not affected', async () => {
    await postJson(`${url}/v2/models/tabular_mlp/versions/2/drift/reset`, {});
    receiver.script = [500, 500, 500, 500];
    for (let i = 0; i < drift.features.length; i += 11) await inferTabularJson(url, '2', drift.features.slice(i, i + 11));
    const before = receiver.posts.length;
    await getJson(`${url}/v2/models/tabular_mlp/versions/2/drift`);
    await delivered('tabular_mlp', '2');
    const posts = receiver.posts.slice(before);
    expect(posts).toHaveLength(4);
    expect(posts.every((p) => p.body.version === '2')).toBe(true);
    const text = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(text).toMatch(/infergate_drift_alerts_total\{model="tabular_mlp",version="2",outcome="failed"\} 1/);
  });

  it('the background check posts on its own: "drift on" for plan only', async () => {
    const rows = churnRows('churn_live_drift.csv');
    // One request of 1,000 rows: the timer sees either an empty window or the whole run.
    expect((await inferChurnJson(url, rows, 0, rows.plan.length)).status).toBe(200);
    const until = Date.now() + 20000;
    while (!receiver.posts.some((p) => p.path === '/churn') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const posts = receiver.posts.filter((p) => p.path === '/churn');
    expect(posts).toHaveLength(1);
    expect(posts[0].body.drift_on).toEqual(['plan']);
    expect(posts[0].body.features[0]).toMatchObject({ name: 'plan', stattest: 'jensenshannon', p_value: null });
  });
});
