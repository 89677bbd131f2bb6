import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { VersionView } from '../core/pipeline.js';
import { invalid } from '../protocol/errors.js';
import type { Monitor } from './monitor.js';
import { renderDriftReport } from './report-html.js';
import type { VersionMonitor } from './version-monitor.js';

export interface MonitorRoutesOptions {
  monitor: Monitor;
  /**
   * The version a path names, or the model's default version when it names none; throws the
   * InferError the path deserves (not_found for an unknown model or version, unavailable when
   * the version is not ready).
   */
  resolveVersion(name: string, version?: string): VersionView;
}

type Params = { model: string; version?: string };

/** Labels one call may carry, and the longest request id. */
const MAX_LABELS = 100_000;
const MAX_ID_LENGTH = 256;
/** Unknown ids listed back in the answer (all are counted). */
const LISTED_UNKNOWN = 20;

interface LabelEntry {
  id: string;
  labels: unknown[];
  where: string;
}

function parseFeedback(body: unknown): LabelEntry[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid(`feedback body must be {"id": ..., "label": ...} or {"labels": [{"id": ..., "label": ...}, ...]}`);
  }
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).find((k) => !['id', 'label', 'labels'].includes(k));
  if (extra) throw invalid(`feedback: unknown field '${extra}' (allowed: id, label, labels)`);
  let raw: unknown[];
  let prefix: (i: number) => string;
  if (b.labels !== undefined) {
    if (b.id !== undefined || b.label !== undefined) throw invalid(`feedback: give either 'labels' or 'id' with 'label', not both`);
    if (!Array.isArray(b.labels) || b.labels.length === 0) throw invalid(`feedback: 'labels' must be a non-empty list of {"id", "label"}`);
    if (b.labels.length > MAX_LABELS) throw invalid(`feedback: 'labels' has ${b.labels.length} entries, at most ${MAX_LABELS} per call`);
    raw = b.labels;
    prefix = (i) => `labels[${i}]`;
  } else {
    raw = [{ id: b.id, label: b.label }];
    prefix = () => 'feedback';
  }
  return raw.map((e, i) => {
    const where = prefix(i);
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw invalid(`${where}: must be {"id": ..., "label": ...}`);
    const o = e as Record<string, unknown>;
    const bad = Object.keys(o).find((k) => k !== 'id' && k !== 'label');
    if (bad) throw invalid(`${where}: unknown field '${bad}' (allowed: id, label)`);
    if (typeof o.id !== 'string' || o.id === '' || o.id.length > MAX_ID_LENGTH) {
      throw invalid(`${where}.id: must be the request id, a non-empty string of at most ${MAX_ID_LENGTH} characters`);
    }
    if (o.label === undefined) throw invalid(`${where}.label: required (one label, or a list with one per row of the request)`);
    return { id: o.id, labels: Array.isArray(o.label) ? o.label : [o.label], where };
  });
}

/** A label as a number the version accepts: a class index for classification, any finite number for regression. */
function labelValue(vm: VersionMonitor, v: unknown, where: string): number {
  const x = typeof v === 'boolean' ? Number(v) : v;
  if (typeof x !== 'number' || !Number.isFinite(x)) throw invalid(`${where}: must be a number, got ${JSON.stringify(v)}`);
  const classes = vm.classes;
  if (classes !== undefined && (!Number.isInteger(x) || x < 0 || x >= classes)) {
    throw invalid(`${where}: must be a class index 0..${classes - 1} for model '${vm.name}' version ${vm.version}, got ${JSON.stringify(v)}`);
  }
  return x;
}

/**
 * The monitor's HTTP surface: drift report (JSON and HTML), window reset, label feedback and
 * realised performance, for a model's default version or a named one.
 */
export async function monitorRoutes(app: FastifyInstance, opts: MonitorRoutesOptions): Promise<void> {
  const { monitor } = opts;
  const target = (req: FastifyRequest<{ Params: Params }>) => monitor.require(opts.resolveVersion(req.params.model, req.params.version));
  const both = (path: string) => [`/v2/models/:model${path}`, `/v2/models/:model/versions/:version${path}`];

  for (const path of both('/drift')) {
    app.get<{ Params: Params }>(path, async (req) => target(req).evaluate());
  }
  for (const path of both('/drift/reset')) {
    app.post<{ Params: Params }>(path, async (req) => {
      const vm = target(req);
      vm.reset();
      return { model_name: vm.name, model_version: vm.version, window_rows: vm.window.size };
    });
  }
  for (const path of both('/drift/report')) {
    app.get<{ Params: Params }>(path, async (req, reply) => {
      const vm = target(req);
      await vm.evaluate();
      const { report, live } = await vm.computed();
      const html = renderDriftReport(report, vm.profile.features, live);
      return reply.type('text/html; charset=utf-8').send(html);
    });
  }
  for (const path of both('/performance')) {
    app.get<{ Params: Params }>(path, async (req) => {
      const vm = target(req);
      return { model_name: vm.name, model_version: vm.version, ...vm.performance() };
    });
  }
  for (const path of both('/feedback')) {
    app.post<{ Params: Params }>(path, async (req) => {
      const { model, version } = req.params;
      let candidates: VersionMonitor[];
      if (version) {
        candidates = [target(req)];
      } else {
        opts.resolveVersion(model); // 404 for an unknown model
        candidates = monitor.ofModel(model);
        if (candidates.length === 0) throw invalid(`model '${model}' is not monitored: its config.yaml has no 'monitoring' block`);
      }
      for (const vm of candidates) if (!vm.log) throw invalid(`model '${vm.name}' version ${vm.version} keeps no predictions to label: set monitoring.prediction.output`);
      const entries = parseFeedback(req.body);
      // Check everything first, then write: a bad entry loses nothing.
      const now = performance.now();
      const writes: { vm: VersionMonitor; at: { seq: number; rows: number }; labels: number[] }[] = [];
      const unknown: string[] = [];
      for (const e of entries) {
        let found = false;
        for (const vm of candidates) {
          const at = vm.log!.find(e.id, now);
          if (!at) continue;
          found = true;
          if (e.labels.length !== at.rows) {
            throw invalid(`${e.where}.label: request '${e.id}' had ${at.rows} row${at.rows === 1 ? '' : 's'} on version ${vm.version}: give ${at.rows === 1 ? 'one label' : `a list of ${at.rows} labels`}, got ${e.labels.length}`);
          }
          writes.push({ vm, at, labels: e.labels.map((l, i) => labelValue(vm, l, e.labels.length === 1 ? `${e.where}.label` : `${e.where}.label[${i}]`)) });
        }
        if (!found) unknown.push(e.id);
      }
      for (const w of writes) w.vm.log!.setLabels(w.at, w.labels);
      monitor.metrics.unknownIds(model, unknown.length);
      return {
        model_name: model,
        joined: entries.length - unknown.length,
        joined_rows: writes.reduce((n, w) => n + w.at.rows, 0),
        unknown: unknown.length,
        unknown_ids: unknown.slice(0, LISTED_UNKNOWN),
      };
    });
  }
}
