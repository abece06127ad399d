/**
 * The runbook, in order: adding a step is one file in src/steps/ plus one line here.
 * Everything that names, labels, times or journals a step reads its record (Step in
 * context.ts) through these lists.
 */
import type { Step } from './context.js';
import { drainStep } from './drain.js';
import { leaderTransferStep } from './leader-transfer.js';
import { postcheckStep } from './postcheck.js';
import { precheckStep } from './precheck.js';
import { quiesceStep } from './quiesce.js';
import { readmitStep } from './readmit.js';
import { restartStep } from './restart.js';
import { undrainStep } from './undrain.js';

/** The runbook, in order. */
export const RESTART_STEPS: readonly Step[] = [
  precheckStep,
  leaderTransferStep,
  drainStep,
  quiesceStep,
  restartStep,
  readmitStep,
  postcheckStep,
];

/** Steps that run on their own only (a single-step command), outside the runbook. */
const OWN_STEPS: readonly Step[] = [undrainStep];

/** The record of a step by its name (as journals and events carry it). */
export function stepNamed(name: string): Step | undefined {
  return RESTART_STEPS.find((s) => s.name === name) ?? OWN_STEPS.find((s) => s.name === name);
}

/** The checks a list of steps opens with: they run for every node of a wave before any node changes. */
export function leadingChecks(steps: readonly Step[]): readonly Step[] {
  const i = steps.findIndex((s) => s.kind !== 'check');
  return i < 0 ? steps : steps.slice(0, i);
}
