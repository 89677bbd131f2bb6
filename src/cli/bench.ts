import { BENCH_HELP, parseBenchArgs } from '../bench/args.js';
import { progressPrinter } from '../bench/progress.js';
import { writeCsv, writeJson } from '../bench/report-csv-json.js';
import { writeHtml } from '../bench/report-html.js';
import { formatTable } from '../bench/report-table.js';
import { runBench } from '../bench/run.js';
import { ConfigError } from '../config/validate.js';

/** `infergate bench`: sweep load levels against an OIP v2 server and report (perf_analyzer's job). */
export async function bench(argv: string[]): Promise<number> {
  const opts = parseBenchArgs(argv);
  if (opts === 'help') {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  const progress = progressPrinter(opts.mode);
  const levels = opts.levels.length > 6 ? `${opts.levels.slice(0, 5).join(', ')}, ... ${opts.levels[opts.levels.length - 1]}` : opts.levels.join(', ');
  progress.note(`${opts.model} at ${opts.url} over ${opts.protocol}: ${opts.mode} ${levels}; ${opts.measurementIntervalMs} ms windows, up to ${opts.maxTrials} per level`);
  let report;
  try {
    report = await runBench(opts, { onNote: progress.note, onWindow: progress.onWindow });
  } catch (err) {
    progress.end();
    if (err instanceof ConfigError) throw err;
    process.stderr.write(`infergate bench: ${(err as Error).message}\n`);
    return 1;
  }
  progress.end();
  process.stdout.write(formatTable(report));
  const written: string[] = [];
  if (opts.csvFile) (writeCsv(opts.csvFile, report), written.push(opts.csvFile));
  if (opts.jsonFile) (writeJson(opts.jsonFile, report), written.push(opts.jsonFile));
  if (opts.htmlFile) (writeHtml(opts.htmlFile, report), written.push(opts.htmlFile));
  if (written.length) process.stderr.write(`infergate bench: wrote ${written.join(', ')}\n`);
  return report.steps.some((s) => s.errors > 0) ? 1 : 0;
}
