/** Types of chaos/check.mjs, for the tests that exercise the checker. */
export interface Violation {
  invariant: string;
  node?: string;
  detail: string;
  exposure?: boolean;
  finding?: boolean;
}
export function checkRun(r: Record<string, unknown>): Violation[];
export function drainWindowsOf(calls: Array<Record<string, unknown>>): Array<{ node: string; from: number; to: number }>;
