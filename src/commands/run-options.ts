/** What `restart`, `plan` and `resume` share: their options, and what wraps a real run (signals, `--metrics-file`). */
import type { ExecuteHooks } from '../run/execute.js';
import { metricsReporter } from '../render/metrics-file.js';
import type { GlobalOptions, Session } from './session.js';
import { installSignalHandlers } from './signals.js';

export interface RestartOptions extends GlobalOptions {
  all?: boolean;
  pause?: string;
  metricsFile?: string;
}

/** Signal handling and `--metrics-file` around a real run. */
export function runHooks(s: Session, opts: RestartOptions): ExecuteHooks {
  const file = opts.metricsFile;
  return {
    guard: (journal) => installSignalHandlers(s.stop, () => s.reporter.close(), { json: opts.json === true, journal, runLog: s.runLog }),
    ...(file ? { wrapReporter: (inner, runId, startedAt, plan) => metricsReporter(inner, file, runId, startedAt, plan) } : {}),
  };
}
