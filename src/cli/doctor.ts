import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { type OrtInstall, ortInstall } from './doctor-host.js';
import { type ProviderReport, diagnose } from './doctor-providers.js';

const HELP = `Usage: infergate doctor [--json] [--model MODEL.onnx] [--timeout-s 60]

Says, for each execution provider (cpu, cuda, webgpu, and tensorrt when onnxruntime lists
it), whether it can load on this machine and, when not, exactly why and what to do.
Each provider is tried in a child process on a tiny built-in model (or --model), with CPU
fallback disabled, as the gateway opens GPU sessions. Exit 0 when cpu works.

  --json         machine-readable report on stdout
  --model FILE   try this ONNX model instead of the built-in one (session creation only)
  --timeout-s N  longest wait for one provider's attempt (default 60)
`;

/** The whole report: onnxruntime-node's install and one entry per provider. */
export interface DoctorReport {
  onnxruntime_node: string;
  bin_dir: string;
  supported_backends: { name: string; bundled: boolean }[];
  providers: ProviderReport[];
}

/** Providers to look at: the ones infergate serves, plus any other GPU one onnxruntime lists. */
function providerNames(backends: { name: string }[]): string[] {
  const names = ['cpu', 'cuda', 'webgpu'];
  if (backends.some((b) => b.name === 'tensorrt')) names.push('tensorrt');
  return names;
}

function listBackends(): { name: string; bundled: boolean }[] {
  // Loaded through require: listSupportedBackends is a plain function of the CommonJS build.
  const ort = createRequire(import.meta.url)('onnxruntime-node') as { listSupportedBackends?: () => { name: string; bundled: boolean }[] };
  return ort.listSupportedBackends?.() ?? [];
}

/** Runs every provider's checks; exported for tests. */
export async function collectReport(opts: { model?: string; timeoutMs: number }): Promise<DoctorReport> {
  const ort: OrtInstall = ortInstall();
  const backends = listBackends();
  const providers: ProviderReport[] = [];
  for (const p of providerNames(backends)) providers.push(await diagnose(p, ort, opts.model, opts.timeoutMs));
  return { onnxruntime_node: ort.version, bin_dir: ort.binDir, supported_backends: backends, providers };
}

/** The report as a table, then each unusable provider's checks and fix. */
export function formatReport(r: DoctorReport): string {
  const lines = [`infergate doctor: onnxruntime-node ${r.onnxruntime_node}; providers load from ${r.bin_dir}`, ''];
  lines.push(`${'provider'.padEnd(10)}${'usable'.padEnd(8)}why`);
  for (const p of r.providers) lines.push(`${p.provider.padEnd(10)}${(p.usable ? 'yes' : 'NO').padEnd(8)}${p.usable ? p.why : p.why.split(';')[0]}`);
  for (const p of r.providers) {
    if (p.usable && p.checks.every((c) => c.ok)) continue;
    lines.push('', `${p.provider}${p.servable ? '' : ' (reported only: infergate serves cpu, cuda and webgpu)'}:`);
    for (const c of p.checks) lines.push(`  [${c.ok ? 'ok' : '--'}] ${c.name}: ${c.detail}`);
    if (!p.usable) {
      lines.push(`  session: ${p.session.error ?? 'not created'}`);
      if (p.session.libraryError) lines.push(`  loader:  ${p.session.libraryError}`);
      lines.push(`  fix:     ${p.fix}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `infergate doctor`: which execution providers work here, and why not. */
export async function doctor(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      model: { type: 'string' },
      'timeout-s': { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const timeoutS = Number(values['timeout-s']);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    process.stderr.write(`infergate doctor: --timeout-s must be a positive number, got ${values['timeout-s']}\n`);
    return 2;
  }
  if (!values.json) process.stderr.write('infergate doctor: trying each execution provider in a child process...\n');
  const report = await collectReport({ model: values.model, timeoutMs: timeoutS * 1000 });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.providers.find((p) => p.provider === 'cpu')?.usable ? 0 : 1;
}
