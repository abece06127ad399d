/** `drain <node>` and `undrain <node>`: the runtime flag and the LB member together, under the lease. */
import type { Step } from '../steps/context.js';
import { resolveTargets } from '../cluster/targets.js';
import { drainStep } from '../steps/drain.js';
import { undrainStep } from '../steps/undrain.js';
import { roll } from '../run/roll.js';
import { renderOutcome } from '../render/outcome.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openSession } from './session.js';
import { installSignalHandlers } from './signals.js';

export async function runSingleStep(command: string, step: Step, opts: GlobalOptions, node: string, question: string): Promise<number> {
  const s = await openSession(opts);
  try {
    const state = await s.cp.clusterState();
    const [target] = resolveTargets(s.loaded.config, state, [node]);
    await confirm(opts, question);
    const env = s.env();
    const plan = { command, nodes: [target!], waves: [[target!.id]], pauseMs: 0, configFile: s.loaded.file, options: {} };
    const uninstall = opts.dryRun ? () => {} : installSignalHandlers(s.stop);
    try {
      const outcome = await roll(env, plan, [step]);
      renderOutcome(outcome, { json: opts.json === true, dryRun: opts.dryRun === true, verbose: false, plan });
      return outcome.exitCode;
    } finally {
      uninstall();
    }
  } finally {
    await s.close();
  }
}

export function drainAction(opts: GlobalOptions, node: string): Promise<number> {
  return runSingleStep('drain', drainStep, opts, node, `quantum-roll will drain ${node} and take it out of the LB.`);
}

export function undrainAction(opts: GlobalOptions, node: string): Promise<number> {
  return runSingleStep('undrain', undrainStep, opts, node, `quantum-roll will clear the drain flag of ${node} and put it back into the LB.`);
}
