/**
 * Closed-loop waiting: ask the cluster, and stop the moment it says so. Polls start
 * fast and back off gently, so a wait costs at most a fraction of what it waited.
 */
import { sleep } from './sleep.js';
import type { StopController } from './stop.js';

export interface WaitOptions<U = never> {
  /** Absolute epoch-ms deadline. */
  deadline: number;
  /** What is waited for, for the timeout message. */
  what: string;
  /** When set, the wait is a safe point: a stop request ends it with InterruptedError. */
  stop?: StopController;
  /** Where the wait stands (`stop.check` names it). */
  where?: string;
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Called with each observation, e.g. to render progress. */
  onPoll?: (elapsedMs: number) => void;
  /** Lets a wait extend its deadline while progress is made (returns the new deadline). */
  extend?: (deadline: number) => number;
  /**
   * How far the awaited thing has got, in [0, 1] (replay progress, transfers done), read
   * after each probe. While it rises, the wait extrapolates when it reaches 1 and probes
   * again then (never later than the backoff would), so the end is seen within about
   * `initialMs` instead of up to `maxMs` late, without polling faster all along.
   */
  progress?: () => number | undefined;
  /**
   * What the deadline means to the caller: its return value becomes the wait's result
   * (`() => undefined`: "not reached"), or it throws the caller's own error. Without it
   * the wait throws WaitTimeout.
   */
  onTimeout?: (timeout: WaitTimeout) => U;
}

export class WaitTimeout extends Error {
  constructor(
    readonly what: string,
    readonly waitedMs: number,
  ) {
    super(`timed out after ${Math.round(waitedMs)} ms waiting for ${what}`);
  }
}

/**
 * Calls `probe` until it returns a value other than undefined, then returns it.
 * At the deadline (after one last probe) returns what `onTimeout` makes of it, or
 * throws WaitTimeout.
 */
export async function waitFor<T, U = never>(probe: () => Promise<T | undefined>, o: WaitOptions<U>): Promise<T | U> {
  const start = Date.now();
  let delay = o.initialMs ?? 20;
  const max = o.maxMs ?? 250;
  const factor = o.factor ?? 1.4;
  const initial = delay;
  let deadline = o.deadline;
  let first: { t: number; p: number } | undefined;
  for (;;) {
    if (o.stop) o.stop.check(o.where ?? o.what);
    const got = await probe();
    if (got !== undefined) return got;
    o.onPoll?.(Date.now() - start);
    if (o.extend) deadline = o.extend(deadline);
    const left = deadline - Date.now();
    if (left <= 0) {
      const timeout = new WaitTimeout(o.what, Date.now() - start);
      if (o.onTimeout) return o.onTimeout(timeout);
      throw timeout;
    }
    await sleep(Math.min(delay, untilDone(), left), o.stop?.signal);
    delay = Math.min(max, delay * factor);
  }

  /** When progress will reach 1 at the rate seen so far (ms from now, at least `initial`); Infinity when unknown. */
  function untilDone(): number {
    const p = o.progress?.();
    if (p === undefined || !Number.isFinite(p)) return Infinity;
    const now = Date.now();
    if (!first || p < first.p) first = { t: now, p };
    if (p <= first.p || p >= 1) return Infinity;
    const eta = ((1 - p) * (now - first.t)) / (p - first.p);
    return Math.max(initial, eta);
  }
}
