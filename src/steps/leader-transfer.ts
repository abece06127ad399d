/** Runbook 2: move PRG leadership away so writes stay available when the node leaves. */
import type { Step, StepContext, StepResult } from './context.js';
import { transferLeadersAway } from './transfer.js';
import { WaitTimeout } from '../util/wait.js';
import { StepError } from '../util/errors.js';

export const leaderTransferStep: Step = {
  name: 'leader-transfer',
  title: 'Leader transfer',

  async plan(ctx: StepContext): Promise<StepResult> {
    const led = await ctx.env.cp.listPrgs({ leader: ctx.node.id });
    const ids = led.map((p) => p.id);
    const others = ctx.wave.filter((n) => n !== ctx.node.id);
    return {
      summary: ids.length
        ? `would move leadership of ${ids.length} PRG(s) off ${ctx.node.id}${others.length ? ` (not onto ${others.join(', ')})` : ''}`
        : `${ctx.node.id} leads no PRG: nothing to move`,
      actions: ids.length ? [`move leadership of ${ids.length} PRGs: ${ids.join(', ')}`] : [],
      data: { prgs: ids },
    };
  },

  async run(ctx: StepContext): Promise<StepResult> {
    const { env, node } = ctx;
    const started = Date.now();
    try {
      const out = await transferLeadersAway(env.cp, {
        node: node.id,
        exclude: ctx.wave,
        deadline: started + env.config.timeouts.leader_transfer,
        concurrency: env.config.leader_transfer.concurrency,
        batchMaxParallel: env.config.leader_transfer.batch_max_parallel,
        onProgress: ctx.say,
      });
      env.log.info({ event: 'leader_transfer.done', node: node.id, moved: out.moved.length, via: out.via, intent: 'planned' }, 'leadership moved');
      return {
        summary: out.moved.length ? `moved leadership of ${out.moved.length} PRG(s) (${out.via}); ${node.id} leads none` : `${node.id} leads no PRG`,
        data: { prgs: out.moved, via: out.via },
      };
    } catch (err) {
      if (err instanceof WaitTimeout) {
        throw new StepError(
          `leadership did not leave ${node.id} within ${Math.round(env.config.timeouts.leader_transfer / 1000)} s (timeouts.leader_transfer): ${err.message}. ${node.id} was not drained and still serves.`,
          { node: node.id, step: 'leader-transfer', next: 'check the CP (quantum-roll status), then quantum-roll resume' },
        );
      }
      throw err;
    }
  },
};
