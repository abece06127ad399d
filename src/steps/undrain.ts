/** `undrain`: only a node that is ready but for the drain flag goes back into service. */
import { readyButDrained } from '../cluster/verdicts.js';
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import { RefusedError } from '../util/errors.js';
import { returnToService } from './readmit.js';

async function checkReady(ctx: PlanContext): Promise<void> {
  const r = await ctx.runtime.readyz();
  if (!readyButDrained(r)) {
    throw new RefusedError(
      `undrain refused: ${ctx.node.id} is not ready (reasons [${r.reasons.join(', ')}], replay ${(r.replay.progress * 100).toFixed(0)} %); it stays drained and out of the LB.`,
      { node: ctx.node.id, step: 'undrain', next: `wait until quantum-roll status shows ${ctx.node.id} ready but for draining, then undrain again`, evidence: { reasons: r.reasons } },
    );
  }
}

export const undrainStep: Step = {
  name: 'undrain',
  label: 'undrain',
  doing: 'clearing the drain flag, then putting the LB member back',
  kind: 'change',
  boundBy: ['timeouts.lb'],
  drainFlag: 'clears',
  waits: (config, node) => ({
    for: `the LB to see ${node ? node.lbMember : 'the member'} healthy`,
    maxMs: config.timeouts.lb,
    expectedMs: 1_000,
    expectedFrom: 'default',
  }),
  async plan(ctx: PlanContext): Promise<StepResult> {
    await checkReady(ctx);
    return { summary: `would clear the drain flag of ${ctx.node.id} and put LB member ${ctx.node.lbMember} back, then wait until the LB sees it healthy` };
  },
  async run(ctx: StepContext): Promise<StepResult> {
    await checkReady(ctx);
    return returnToService(ctx);
  },
};
