/** `transfer-leaders <node>`: move PRG leadership off the node and wait until it leads none. */
import { leaderTransferStep } from '../steps/leader-transfer.js';
import { runSingleStep } from '../run/single-step.js';
import { renderOutcome } from '../render/outcome.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openSession } from './session.js';
import { installSignalHandlers } from './signals.js';

export async function transferLeadersAction(opts: GlobalOptions, node: string): Promise<number> {
  const s = await openSession(opts);
  try {
    const { outcome, plan } = await runSingleStep(s, {
      command: 'transfer-leaders',
      step: leaderTransferStep,
      node,
      confirm: () => confirm(opts, `quantum-roll will move every PRG leadership off ${node}.`),
      guard: () => (opts.dryRun ? () => {} : installSignalHandlers(s.stop)),
    });
    renderOutcome(outcome, { json: opts.json === true, dryRun: opts.dryRun === true, verbose: false, plan, runLog: s.runLog() });
    return outcome.exitCode;
  } finally {
    await s.close();
  }
}
