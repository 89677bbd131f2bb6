import { appendFileSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { binaryRequest } from './binary-http.js';
import { dataDir, driftFixture, readDataCsv } from './drift-fixture.js';
import { postJson, scratchRepository } from './gateway.js';

/** The 30 breast-cancer feature columns, in the order of tabular_mlp's `features` input. */
export const BC_COLUMNS: string[] = driftFixture.breast_cancer_columns;

export interface TabularRows {
  ids: string[];
  features: number[][];
  labels: number[];
}

/** A breast_cancer_*.csv file as request rows: patient ids, the 30 features, the label. */
export function tabularRows(file: string): TabularRows {
  const { header, rows } = readDataCsv(file);
  const cols = BC_COLUMNS.map((c) => header.indexOf(c));
  const label = header.indexOf('label');
  return {
    ids: rows.map((r) => r[0]),
    features: rows.map((r) => cols.map((i) => Number(r[i]))),
    labels: rows.map((r) => Number(r[label])),
  };
}

export interface ChurnRows {
  ids: string[];
  plan: string[];
  usage: number[][];
}

/** A churn_*.csv file as request rows. */
export function churnRows(file: string): ChurnRows {
  const { header, rows } = readDataCsv(file);
  const [p, u1, u2, u3] = ['plan', 'usage_1', 'usage_2', 'usage_3'].map((c) => header.indexOf(c));
  return { ids: rows.map((r) => r[0]), plan: rows.map((r) => r[p]), usage: rows.map((r) => [u1, u2, u3].map((i) => Number(r[i]))) };
}

/**
 * A scratch copy of the sample repository whose models get the given `monitoring` block (YAML
 * text indented under `monitoring:`; none when not given, whatever models/ ships) and a
 * reference.csv copied from the shared data.
 */
export function monitoredRepository(models: Record<string, { monitoring?: string; reference?: string }>): string {
  const repo = scratchRepository(Object.keys(models));
  for (const [model, spec] of Object.entries(models)) {
    if (spec.reference) copyFileSync(join(dataDir()!, spec.reference), join(repo, model, 'reference.csv'));
    const cfg = join(repo, model, 'config.yaml');
    if (existsSync(cfg)) {
      // The sample repository ships monitoring blocks: a test states its own, or none.
      const doc = parseDocument(readFileSync(cfg, 'utf8'));
      doc.delete('monitoring');
      const empty = !isMap(doc.contents) || doc.contents.items.length === 0;
      writeFileSync(cfg, empty ? '' : doc.toString());
    }
    if (spec.monitoring !== undefined) {
      const before = existsSync(cfg) ? readFileSync(cfg, 'utf8') : '';
      writeFileSync(cfg, `${before}${before.endsWith('\n') || before === '' ? '' : '\n'}monitoring:\n${spec.monitoring.replace(/^/gm, '  ')}\n`);
    }
  }
  return repo;
}

/** Appends text to a model's config.yaml in a scratch repository. */
export function appendConfig(repo: string, model: string, text: string): void {
  appendFileSync(join(repo, model, 'config.yaml'), text);
}

/** The tabular_mlp monitoring block used by most tests (plus extra lines). */
export function tabularMonitoring(extra = ''): string {
  return `reference: reference.csv\ncolumns:\n  features: [${BC_COLUMNS.join(', ')}]\ncheck_interval_seconds: 0\n${extra}`;
}

const path = (model: string, version?: string) => `/v2/models/${model}${version ? `/versions/${version}` : ''}`;

/** Sends rows [from, to) of tabular data as one JSON request; returns the HTTP status and body. */
export async function inferTabularJson(url: string, version: string | undefined, rows: number[][], id?: string, params?: Record<string, unknown>) {
  return postJson(`${url}${path('tabular_mlp', version)}/infer`, {
    ...(id ? { id } : {}),
    ...(params ? { parameters: params } : {}),
    inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() }],
  });
}

/** The same as a Triton binary-extension request. */
export async function inferTabularBinary(url: string, version: string | undefined, rows: number[][], id?: string): Promise<number> {
  const { body, headerLength } = binaryRequest([{ name: 'features', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() }]);
  const withId = id ? injectId(body, headerLength, id) : { body, headerLength };
  const res = await fetch(`${url}${path('tabular_mlp', version)}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(withId.headerLength) },
    body: new Uint8Array(withId.body),
  });
  await res.arrayBuffer();
  return res.status;
}

function injectId(body: Buffer, headerLength: number, id: string): { body: Buffer; headerLength: number } {
  const head = JSON.parse(body.subarray(0, headerLength).toString('utf8'));
  const json = Buffer.from(JSON.stringify({ id, ...head }));
  return { body: Buffer.concat([json, body.subarray(headerLength)]), headerLength: json.byteLength };
}

/** Splits n rows into batches of varied sizes (1, 2, 5, 11, 3, 17, ...), covering every row once. */
export function mixedBatches(n: number): [number, number][] {
  const sizes = [1, 2, 5, 11, 3, 17, 1, 8, 30, 4];
  const out: [number, number][] = [];
  for (let at = 0, k = 0; at < n; k++) {
    const size = Math.min(sizes[k % sizes.length], n - at);
    out.push([at, at + size]);
    at += size;
  }
  return out;
}

/** Churn rows [from, to) as one JSON request. */
export async function inferChurnJson(url: string, rows: ChurnRows, from: number, to: number, version?: string) {
  return postJson(`${url}${path('churn_pipeline', version)}/infer`, {
    inputs: [
      { name: 'plan', datatype: 'BYTES', shape: [to - from, 1], data: rows.plan.slice(from, to) },
      { name: 'usage', datatype: 'FP32', shape: [to - from, 3], data: rows.usage.slice(from, to).flat() },
    ],
  });
}
