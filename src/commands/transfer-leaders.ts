import { leaderTransferStep } from '../steps/leader-transfer.js';
import type { GlobalOptions } from './session.js';
import { runSingleStep } from './drain.js';

/** `transfer-leaders <node>`: move PRG leadership off the node and wait until it leads none. */
export function transferLeadersAction(opts: GlobalOptions, node: string): Promise<number> {
  return runSingleStep('transfer-leaders', leaderTransferStep, opts, node, `quantum-roll will move every PRG leadership off ${node}.`);
}
