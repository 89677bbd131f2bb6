import type { WindowListener } from './measure.js';
import type { LoadMode } from './types.js';

/**
 * The live progress line on stderr: rewritten in place with \r on a terminal, one plain
 * line per window otherwise (CI logs and pipes do not understand \r).
 */
export function progressPrinter(mode: LoadMode, out: NodeJS.WriteStream = process.stderr): { onWindow: WindowListener; note: (s: string) => void; end: () => void } {
  const tty = out.isTTY === true;
  let open = false;
  const what = mode === 'concurrency' ? 'concurrency' : 'rate';
  return {
    onWindow: ({ level, trial, maxTrials, summary: s, stable }) => {
      const text = `${what} ${level}: window ${trial}/${maxTrials}: ${s.inferPerSec.toFixed(1)} infer/s, p99 ${s.p99Ms.toFixed(2)} ms, ${s.errors} errors${stable ? ', stable' : ''}`;
      if (tty) {
        out.write(`\r\x1b[K${text}`);
        open = true;
        if (stable || trial === maxTrials) {
          out.write('\n');
          open = false;
        }
      } else {
        out.write(`${text}\n`);
      }
    },
    note: (s) => {
      if (open) out.write('\n');
      open = false;
      out.write(`infergate bench: ${s}\n`);
    },
    end: () => {
      if (open) out.write('\n');
      open = false;
    },
  };
}
