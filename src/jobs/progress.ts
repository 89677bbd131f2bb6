import type { JobProgress } from './batch-job.js';

/** "1:05", "12:03:09": a duration for humans. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** One progress line: bar, percent, rows, rows/s, ETA and bad rows. */
export function formatProgress(p: JobProgress, barWidth = 24): string {
  const f = Math.min(1, Math.max(0, p.fraction));
  const full = Math.round(f * barWidth);
  const bar = `[${'#'.repeat(full)}${'.'.repeat(barWidth - full)}]`;
  const eta = f >= 1 ? 'done' : p.etaSeconds === undefined ? 'ETA --:--' : `ETA ${formatDuration(p.etaSeconds)}`;
  const rate = `${Math.round(p.rowsPerSecond).toLocaleString('en-US')} rows/s`;
  return `${bar} ${(f * 100).toFixed(1).padStart(5)}%  ${p.rowsDone.toLocaleString('en-US')} rows  ${rate}  ${eta}  ${p.rowsFailed} bad`;
}

/**
 * Draws a job's progress on a stream (stderr): redrawn in place on a terminal, a line every
 * few seconds otherwise (logs, CI).
 */
export class ProgressBar {
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly read: () => JobProgress,
    private readonly label: string,
  ) {
    this.tty = out.isTTY === true;
  }

  start(): void {
    this.timer = setInterval(() => this.draw(), this.tty ? 200 : 2000);
    this.timer.unref();
  }

  private draw(): void {
    const line = `${this.label} ${formatProgress(this.read())}`;
    this.out.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  /** Draws the last state and ends the line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.draw();
    if (this.tty) this.out.write('\n');
  }
}
