import type { StopController } from '../stop.js';

/**
 * SIGINT/SIGTERM ask the run to stop at its next safe point; a second one exits at
 * once (the journal is always consistent: every write is atomic).
 */
export function installSignalHandlers(stop: StopController, onHardExit: () => void = () => {}): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      process.stderr.write(`\nquantum-roll: ${sig} received: stopping at the next safe point (again to exit at once)\n`);
      stop.request('signal', sig);
      return;
    }
    onHardExit();
    process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
