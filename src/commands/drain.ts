/** `drain <node>` and `undrain <node>`: the runtime flag and the LB member together, under the lease. */
import type { Step } from '../steps/context.js';
import { drainStep } from '../steps/drain.js';
import { undrainStep } from '../steps/undrain.js';
import { runSingleStep } from '../run/single-step.js';
import { renderOutcome } from '../render/outcome.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openSession } from './session.js';
import { installSignalHandlers } from './signals.js';

async function singleStep(command: string, step: Step, opts: GlobalOptions, node: string, question: string): Promise<number> {
  const s = await openSession(opts);
  try {
    const { outcome, plan } = await runSingleStep(s, {
      command,
      step,
      node,
      confirm: () => confirm(opts, question),
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

export function drainAction(opts: GlobalOptions, node: string): Promise<number> {
  return singleStep('drain', drainStep, opts, node, `quantum-roll will drain ${node} and take it out of the LB.`);
}

export function undrainAction(opts: GlobalOptions, node: string): Promise<number> {
  return singleStep('undrain', undrainStep, opts, node, `quantum-roll will clear the drain flag of ${node} and put it back into the LB.`);
}
