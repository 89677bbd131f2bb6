// A/B measurement of infergate servers started side by side and measured interleaved, so
// the noisy 2-core machine affects every target alike. Reports each target's figures and
// its throughput ratio to the first target (the baseline).
import autocannon from 'autocannon';
import { mainThreadCpuSeconds, median, percentile, processCpuSeconds, sleep, startServer, stopServer } from './lib.mjs';

/**
 * @typedef {{ label: string, args: string[], env?: Record<string, string>, cwd?: string, path?: string, body?: string, setup?: (url: string) => Promise<void>, probe?: (url: string, before?: unknown) => Promise<unknown> }} Target
 *   args: node arguments that start a server printing "HTTP  http://..." (e.g. [cli, 'serve', ...]);
 *   path/body: this target's request, when it differs from the workload's;
 *   setup: run once against the started server before any measurement (register models, ...);
 *   probe: called before each measured cell (with the server's URL) and after it (with the URL
 *   and what the first call returned); the second call's string is added to the round's line.
 * @typedef {{ path: string, body: string, connections: number }} Workload
 */

/** One autocannon cell: req/s of 2xx answers and latency percentiles (ms). */
export function cell(url, body, connections, seconds) {
  return new Promise((resolve, reject) => {
    const lat = [];
    let ok = 0;
    let bad = 0;
    const t0 = performance.now();
    const inst = autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, pipelining: 1, duration: seconds, timeout: 30 }, (err) => {
      if (err) return reject(err);
      const wall = (performance.now() - t0) / 1000;
      const sorted = Float64Array.from(lat).sort();
      resolve({ rps: ok / wall, ok, bad, p50: percentile(sorted, 50), p99: percentile(sorted, 99) });
    });
    inst.on('response', (_c, status, _b, ms) => {
      if (status >= 200 && status < 300) {
        ok++;
        lat.push(ms);
      } else bad++;
    });
  });
}

/**
 * Starts every target, then measures `rounds` interleaved rounds (order alternating), and
 * returns per target the medians and the ratio of its req/s to the first target's.
 */
export async function abCompare(targets, workload, { rounds = 3, seconds = 5, warmup = 1, log = (s) => process.stderr.write(`${s}\n`) } = {}) {
  const servers = [];
  try {
    for (const t of targets) {
      log(`starting ${t.label}...`);
      const srv = await startServer(t.label, t.args, /HTTP\s+(http:\/\/\S+)/, { env: t.env, cwd: t.cwd });
      servers.push(srv);
      await t.setup?.(srv.url);
    }
    const runs = targets.map(() => []);
    for (let r = 0; r < rounds; r++) {
      const order = targets.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) {
        const t = targets[i];
        const url = `${servers[i].url}${t.path ?? workload.path}`;
        const body = t.body ?? workload.body;
        if (warmup > 0) await cell(url, body, workload.connections, warmup);
        const cpu0 = processCpuSeconds(servers[i].pid);
        const main0 = mainThreadCpuSeconds(servers[i].pid);
        const before = await t.probe?.(servers[i].url);
        const res = await cell(url, body, workload.connections, seconds);
        // Server CPU (all its threads) per answered request: steadier than req/s when other work steals the cores.
        const answered = Math.max(1, res.ok + res.bad);
        res.cpuUs = ((processCpuSeconds(servers[i].pid) - cpu0) * 1e6) / answered;
        // The main thread alone: it runs HTTP, batching and answers, and is what saturates first.
        res.mainUs = ((mainThreadCpuSeconds(servers[i].pid) - main0) * 1e6) / answered;
        runs[i].push(res);
        const seen = before === undefined ? '' : `; ${await t.probe(servers[i].url, before)}`;
        log(`round ${r + 1}/${rounds} ${t.label}: ${res.rps.toFixed(0)} req/s, p50 ${res.p50?.toFixed(2)} ms, p99 ${res.p99?.toFixed(2)} ms, server CPU ${res.cpuUs.toFixed(1)} us/req (main thread ${res.mainUs.toFixed(1)})${res.bad ? `, ${res.bad} non-2xx` : ''}${seen}`);
        await sleep(200);
      }
    }
    const summary = targets.map((t, i) => ({
      label: t.label,
      rps: median(runs[i].map((x) => x.rps)),
      p50: median(runs[i].map((x) => x.p50)),
      p99: median(runs[i].map((x) => x.p99)),
      cpuUs: median(runs[i].map((x) => x.cpuUs)),
      mainUs: median(runs[i].map((x) => x.mainUs)),
      bad: runs[i].reduce((n, x) => n + x.bad, 0),
      rounds: runs[i].map((x) => Math.round(x.rps)),
    }));
    // Ratio per round (same round, same noise), then the median of those.
    for (let i = 0; i < summary.length; i++) {
      summary[i].ratio = median(runs[i].map((x, r) => x.rps / runs[0][r].rps));
    }
    return summary;
  } finally {
    for (const s of servers) await stopServer(s);
  }
}

/** A markdown table of abCompare's summary. */
export function abTable(summary, title) {
  const fmt = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '-');
  const rows = summary.map((s) => `| ${s.label} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${fmt(s.cpuUs, 1)} | ${fmt(s.mainUs, 1)} | ${fmt(s.ratio, 3)} | ${s.rounds.join(', ')} |${s.bad ? ` ${s.bad} non-2xx` : ''}`);
  return [`${title}`, '', '| target | req/s | p50 ms | p99 ms | server CPU us/req | main thread us/req | ratio to first (median of rounds) | req/s per round |', '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows, ''].join('\n');
}
