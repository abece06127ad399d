import { InterruptedError, errorDocument, errorText } from '../util/errors.js';
import type { RunLog } from '../util/log.js';
import type { StopController } from '../util/stop.js';

export interface HardExitInfo {
  /** Print the one JSON document on stdout (the run's own renderer never gets to). */
  json?: boolean;
  journal?: string;
  /** The run's log, when open: the hard exit writes its `run.end` there too (the top-level handler never runs). */
  runLog?: () => RunLog | undefined;
}

/**
 * SIGINT/SIGTERM ask the run to stop at its next safe point; a second one exits at
 * once (the journal is always consistent: every write is atomic, and it keeps the
 * lease token, so `resume` takes the lease over instead of waiting for it to expire).
 * That exit cannot wait for the top-level handler in cli.ts (the run is still inside
 * its await), so it exits here, with the same error→JSON mapping (util/errors.ts).
 */
export function installSignalHandlers(stop: StopController, onHardExit: () => void = () => {}, info: HardExitInfo = {}): () => void {
  let count = 0;
  let ended = false;
  let afterEnd = 0;
  const handler = (sig: NodeJS.Signals) => {
    if (ended) {
      // The run is over (lease released, journal final): its outcome is being written and
      // its own exit code follows. Dying by the default action here would lose both; a
      // second signal still ends the process at once.
      if (++afterEnd > 1) process.exit(130);
      process.stderr.write(`\nquantum-roll: ${sig} received after the run ended: finishing its report (${sig} again to exit at once)\n`);
      return;
    }
    count++;
    if (count === 1) {
      process.stderr.write(`\nquantum-roll: ${sig} received: stopping at the next safe point (${sig} again to exit at once)\n`);
      stop.request('signal', sig);
      return;
    }
    onHardExit();
    const message =
      `${sig} received twice: exited at once, without waiting for a safe point. The node being worked on is left as it stood ` +
      `(the journal${info.journal ? ` ${info.journal}` : ''} says where; the maintenance lease is kept until it expires or resume takes it over). ` +
      `Run quantum-roll status to see it, then quantum-roll resume.`;
    const err = new InterruptedError(message, { next: 'quantum-roll resume' });
    const log = info.runLog?.();
    const doc = errorDocument(err, { ...(log ? { run_id: log.runId, log_file: log.file } : {}), status: 'interrupted' });
    try {
      log?.outcome(doc); // the run log's last event, as on every other exit
    } catch {
      // the log's disk failed: the exit still happens, and says so below
    }
    if (info.json) process.stdout.write(`${JSON.stringify(doc)}\n`);
    else process.stderr.write(`${errorText(err)}${log ? `  log: ${log.file}\n` : ''}`);
    process.exit(err.exitCode);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  // Uninstalling keeps a quiet handler until the process exits: between the end of the run and
  // the exit (outcome, metrics, flush) a signal must not kill it by the default action.
  return () => {
    ended = true;
  };
}
