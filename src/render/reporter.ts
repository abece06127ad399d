/**
 * Progress: a live view on a TTY (render/live.ts), structured events off it
 * (render/events.ts), both over the progress model of run/progress.ts.
 *
 * The reporter learns the plan through `beginProgress()` (waves, per-step expected
 * durations); without it (drain, undrain) it still shows each node's steps.
 */
import type { Logger } from 'pino';
import type { Reporter } from '../steps/reporter.js';
import type { ProgressPlan } from '../run/progress.js';
import { EventReporter } from './events.js';
import { TtyReporter, truncate } from './live.js';
import { colorFor } from './style.js';

export type { ProgressPlan };
export { truncate };

export { type ProgressReporter, beginProgress } from '../run/progress.js';

export function createReporter(o: { json: boolean; log: Logger; tty?: boolean; out?: NodeJS.WriteStream }): Reporter {
  const out = o.out ?? process.stderr;
  const tty = o.tty ?? (out.isTTY === true && !o.json && process.env.TERM !== "dumb");
  return tty ? new TtyReporter(out, colorFor(out)) : new EventReporter(o.log);
}

