/**
 * `transfer-leaders <node>`: move PRG leadership off the node and wait until it leads none.
 * `transfer-leaders --restore <node>`: the inverse: move back the leadership the last
 * run's journal says the node had before its drain.
 */
import type { Step } from '../steps/context.js';
import { leaderTransferStep } from '../steps/leader-transfer.js';
import { restoreLeadersStep } from '../steps/restore-leaders.js';
import { runSingleStep } from '../run/single-step.js';
import { Journal } from '../run/journal.js';
import { renderOutcome } from '../render/outcome.js';
import { UsageError } from '../util/errors.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openSession } from './session.js';
import { installSignalHandlers } from './signals.js';

export async function transferLeadersAction(opts: GlobalOptions & { restore?: boolean }, node: string): Promise<number> {
  const s = await openSession(opts);
  try {
    let step: Step = leaderTransferStep;
    let what = `quantum-roll will move every PRG leadership off ${node}.`;
    if (opts.restore) {
      const before = Journal.read(s.stateDir)?.data.nodes[node]?.leaders_before;
      if (!before) throw new UsageError(`transfer-leaders --restore ${node}: the last run's journal (${Journal.path(s.stateDir)}) has no record of what ${node} led before its drain`);
      step = restoreLeadersStep(before);
      what = `quantum-roll will move leadership of up to ${before.length} PRG(s) back to ${node}.`;
    }
    const { outcome, plan } = await runSingleStep(s, {
      command: 'transfer-leaders',
      step,
      node,
      confirm: () => confirm(opts, what),
      guard: () => (opts.dryRun ? () => {} : installSignalHandlers(s.stop, undefined, { runLog: s.runLog })),
    });
    renderOutcome(outcome, { json: opts.json === true, dryRun: opts.dryRun === true, verbose: false, plan, runLog: s.runLog() });
    return outcome.exitCode;
  } catch (err) {
    throw s.failed(err);
  } finally {
    await s.close();
  }
}
