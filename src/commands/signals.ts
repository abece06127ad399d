import type { StopController } from '../util/stop.js';

export interface HardExitInfo {
  /** Print the one JSON document on stdout (the run's own renderer never gets to). */
  json?: boolean;
  journal?: string;
}

/**
 * SIGINT/SIGTERM ask the run to stop at its next safe point; a second one exits at
 * once (the journal is always consistent: every write is atomic, and it keeps the
 * lease token, so `resume` takes the lease over instead of waiting for it to expire).
 */
export function installSignalHandlers(stop: StopController, onHardExit: () => void = () => {}, info: HardExitInfo = {}): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
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
    if (info.json) {
      process.stdout.write(`${JSON.stringify({ ok: false, exit_code: 130, status: 'interrupted', error: { message, kind: 'InterruptedError', next: 'quantum-roll resume' } })}\n`);
    } else {
      process.stderr.write(`quantum-roll: ${message}\n`);
    }
    process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
