/**
 * Progress: a live view on a TTY (render/live.ts), structured events off it
 * (render/events.ts), both over the progress model of run/progress.ts.
 *
 * The reporter learns the plan through `beginProgress()` (waves, per-step expected
 * durations); without it (drain, undrain) it still shows each node's steps.
 */
import type { Logger } from '../util/log.js';
import type { Reporter } from '../steps/reporter.js';
import type { ProgressPlan } from '../run/progress.js';
import { EventReporter } from './events.js';
import { TtyReporter, truncate } from './live.js';
import { colorFor } from './style.js';

export type { ProgressPlan };
export { truncate };

import { type ProgressReporter, beginProgress } from '../run/progress.js';

export { type ProgressReporter, beginProgress };

/**
 * `record`: the run log's own logger. Off a TTY the events go to `log` (which writes to
 * the run log too); under the live view they go to `record` as well, so the run log
 * holds the same events whatever the console shows. `quiet`: no live view.
 */
export function createReporter(o: { json: boolean; log: Logger; tty?: boolean; out?: NodeJS.WriteStream; quiet?: boolean; record?: Logger }): Reporter {
  const out = o.out ?? process.stderr;
  const tty = o.tty ?? (out.isTTY === true && !o.json && o.quiet !== true && process.env.TERM !== 'dumb');
  if (!tty) return new EventReporter(o.log);
  const live = new TtyReporter(out, colorFor(out));
  return o.record ? teeReporter(live, new EventReporter(o.record, true)) : live;
}

/** Both reporters get every call (and the plan, for those that want it). */
function teeReporter(a: Reporter, b: Reporter): Reporter & ProgressReporter {
  const both = [a, b];
  return {
    begin: (plan) => both.forEach((r) => beginProgress(r, plan)),
    stepStarted: (n, s) => both.forEach((r) => r.stepStarted(n, s)),
    stepEnded: (n, s, o, d, t) => both.forEach((r) => r.stepEnded(n, s, o, d, t)),
    waiting: (n, s, t) => both.forEach((r) => r.waiting(n, s, t)),
    warn: (n, t) => both.forEach((r) => r.warn(n, t)),
    info: (t) => both.forEach((r) => r.info(t)),
    close: () => both.forEach((r) => r.close()),
  };
}

