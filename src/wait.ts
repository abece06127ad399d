/**
 * Closed-loop waiting: ask the cluster, and stop the moment it says so. Polls start
 * fast and back off gently, so a wait costs at most a fraction of what it waited.
 */
import { sleep } from './clients/http.js';
import type { StopController } from './stop.js';

export interface WaitOptions {
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
 * Throws WaitTimeout at the deadline (after one last probe).
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, o: WaitOptions): Promise<T> {
  const start = Date.now();
  let delay = o.initialMs ?? 20;
  const max = o.maxMs ?? 250;
  const factor = o.factor ?? 1.4;
  let deadline = o.deadline;
  for (;;) {
    if (o.stop) o.stop.check(o.where ?? o.what);
    const got = await probe();
    if (got !== undefined) return got;
    o.onPoll?.(Date.now() - start);
    if (o.extend) deadline = o.extend(deadline);
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeout(o.what, Date.now() - start);
    await sleep(Math.min(delay, left), o.stop?.signal);
    delay = Math.min(max, delay * factor);
  }
}
