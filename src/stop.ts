import { InterruptedError, StepError } from './errors.js';

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

  /** Throws at a safe point when a stop was requested. */
  check(where: string): void {
    if (!this.reason) return;
    if (this.reason === 'lease_lost') {
      throw new StepError(`stopped at ${where}: ${this.detail}`, { next: 'quantum-roll resume' });
    }
    throw new InterruptedError(`interrupted (${this.detail}); stopped safely at ${where}`, { next: 'quantum-roll resume' });
  }
}
