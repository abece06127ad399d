/** Runbook 2: move PRG leadership away so writes stay available when the node leaves. */
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import { transferLeadersAway } from './transfer.js';
import { StepError } from '../util/errors.js';

/** The PRGs whose leadership moved (or, in a plan, would move), and how. */
export interface LeaderTransferResult {
  prgs: string[];
  via?: string;
}

export const leaderTransferStep: Step<LeaderTransferResult> = {
  name: 'leader-transfer',
  label: 'leaders',
  doing: 'moving PRG leadership outside the wave',
  kind: 'change',
  boundBy: ['timeouts.leader_transfer'],
  waits: (config, node) => ({
    for: !node
      ? 'the CP to show the node leading no PRG (moved outside the wave)'
      : node.prgsLed
        ? `leadership of ${node.prgsLed} PRG(s) to leave ${node.id} (the CP shows it leading none)`
        : `nothing: ${node.id} leads no PRG`,
    maxMs: config.timeouts.leader_transfer,
    expectedMs: 2_000,
    expectedFrom: 'default',
    ...(node && node.prgsLed === 0 ? { nothing: true } : {}),
  }),

  async plan(ctx: PlanContext): Promise<StepResult<LeaderTransferResult>> {
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

  async run(ctx: StepContext): Promise<StepResult<LeaderTransferResult>> {
    const { env, node } = ctx;
    const started = Date.now();
    const out = await transferLeadersAway(env.cp, {
      node: node.id,
      exclude: ctx.wave,
      deadline: started + env.config.timeouts.leader_transfer,
      concurrency: env.config.leader_transfer.concurrency,
      batchMaxParallel: env.config.leader_transfer.batch_max_parallel,
      onProgress: ctx.say,
      // What it led before (the first read, on a resume too): leadership of those comes back after its postcheck.
      onLed: (ids) => {
        if (ctx.record.leaders_before === null) ctx.save((r) => (r.leaders_before = ids));
      },
      onTimeout: (t) => {
        throw new StepError(
          `leadership did not leave ${node.id} within ${Math.round(env.config.timeouts.leader_transfer / 1000)} s (timeouts.leader_transfer): ${t.message}. ${node.id} was not drained and still serves.`,
          { node: node.id, step: 'leader-transfer', next: 'check the CP (quantum-roll status), then quantum-roll resume' },
        );
      },
    });
    env.log.info({ event: 'leader_transfer.done', node: node.id, moved: out.moved.length, via: out.via, intent: 'planned' }, 'leadership moved');
    return {
      summary: out.moved.length ? `moved leadership of ${out.moved.length} PRG(s) (${out.via}); ${node.id} leads none` : `${node.id} leads no PRG`,
      data: { prgs: out.moved, via: out.via },
    };
  },
};
