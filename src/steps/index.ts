import type { Step } from './context.js';
import { drainStep } from './drain.js';
import { leaderTransferStep } from './leader-transfer.js';
import { postcheckStep } from './postcheck.js';
import { precheckStep } from './precheck.js';
import { quiesceStep } from './quiesce.js';
import { readmitStep } from './readmit.js';
import { restartStep } from './restart.js';

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
