import { InterruptedError, type QrError, StepError } from './errors.js';

const stops = new WeakSet<QrError>();

/** True for the error `check()` throws: a stop honoured at a safe point, not a failure of the step. */
export function isStop(err: unknown): err is QrError {
  return typeof err === 'object' && err !== null && stops.has(err as QrError);
}

/**
 * A stop request (SIGINT/SIGTERM, or a lost lease). Waits that are safe points
 * call `check()`; work that must not be cut in half ignores it until it is done.
 */
export class StopController {
  private readonly ac = new AbortController();
  reason: 'signal' | 'lease_lost' | undefined;
  detail = '';

  get requested(): boolean {
    return this.reason !== undefined;
  }

  /** Fires when a stop is requested: lets sleeps in safe-point waits end early. */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  request(reason: 'signal' | 'lease_lost', detail: string): void {
    if (this.reason) return;
    this.reason = reason;
    this.detail = detail;
    this.ac.abort(new Error(detail));
  }

  /** Throws at a safe point when a stop was requested: exit 130 for a signal, exit 1 for a lost lease. */
  check(where: string): void {
    if (!this.reason) return;
    const err =
      this.reason === 'lease_lost'
        ? new StepError(`${this.detail}; stopped at the next safe point (${where})`, { next: 'quantum-roll resume', evidence: { stopped_at: where, reason: 'lease_lost' } })
        : new InterruptedError(`interrupted by ${this.detail}; stopped safely at ${where}`, { next: 'quantum-roll resume', evidence: { stopped_at: where, reason: 'signal' } });
    stops.add(err);
    throw err;
  }
}
