import type { StepName } from './record.js';

/** Where progress goes: a live view on a TTY, structured events off it, both in tests. */
export interface Reporter {
  stepStarted(node: string, step: StepName): void;
  stepEnded(node: string, step: StepName, outcome: 'done' | 'failed' | 'skipped', durationMs: number, summary: string): void;
  waiting(node: string, step: StepName, text: string): void;
  warn(node: string | undefined, text: string): void;
  info(text: string): void;
  /** How many PRGs had leadership moved back to the node after its postcheck, of how many planned (the metrics file). */
  leadersRestored?(node: string, moved: number, planned: number): void;
  /** Called when the run is over, to restore the terminal. */
  close(): void;
}

export const silentReporter: Reporter = {
  stepStarted() {},
  stepEnded() {},
  waiting() {},
  warn() {},
  info() {},
  close() {},
};
