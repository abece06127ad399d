/**
 * Runbook 3: drain the listener, then take the node out of the LB pool and wait
 * until the LB itself shows it takes no new connections. The two changes are one
 * step: a stop request never lands between them.
 */
import { isOutOfService } from '../adapters/lb/types.js';
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import { StepError } from '../util/errors.js';
import { waitFor } from '../util/wait.js';
import { type DrainProbe, drainCanary, drainCanaryActions } from './canary.js';

export const DRAIN_REASON = 'rolling-restart';

export const drainStep: Step<{ canary?: DrainProbe }> = {
  name: 'drain',
  label: 'drain',
  doing: 'setting the drain flag, then taking the LB member out',
  kind: 'change',
  boundBy: ['timeouts.lb'],
  drainFlag: 'sets',
  waits: (config, node) => ({
    for: node ? `the LB to show ${node.lbMember} out of service` : 'drain flag set, then the LB showing the member out of service',
    maxMs: config.timeouts.lb,
    expectedMs: 1_000,
    expectedFrom: 'default',
  }),

  async plan(ctx: PlanContext): Promise<StepResult<{ canary?: DrainProbe }>> {
    const { node, env } = ctx;
    return {
      summary: `would set the drain flag on ${node.id}, then take LB member ${node.lbMember} out of service (${env.lb.name})`,
      actions: [`PUT ${node.adminUrl}/v1/drain`, `LB ${env.lb.name}: drain member ${node.lbMember} and wait until it takes no new connections`, ...drainCanaryActions(env.config.canary, node.id)],
    };
  },

  async run(ctx: StepContext): Promise<StepResult<{ canary?: DrainProbe }>> {
    const { node, env, runtime } = ctx;
    // The LB must answer before the first change: a broken LB fails here with nothing changed.
    await env.lb.status(ctx.lbTarget);
    const status = await runtime.drain(DRAIN_REASON, env.initiator);
    if (!status.draining) {
      throw new StepError(`${node.id} answered PUT /v1/drain but does not report draining`, { node: node.id, step: 'drain', endpoint: runtime.adminUrl });
    }
    env.log.info({ event: 'drain.start', node: node.id, intent: 'planned', sessions: status.active_sessions }, 'drain flag set');
    const deadline = Date.now() + env.config.timeouts.lb;
    const lbFailed = (why: string, cause: unknown) =>
      new StepError(
        `drain of ${node.id}: the drain flag is set but the LB step failed: ${why}. ${node.id} is drained; check the LB (${env.lb.endpoint}).`,
        { node: node.id, step: 'drain', endpoint: env.lb.endpoint, next: `quantum-roll resume (or quantum-roll undrain ${node.id} to put it back)` },
        { cause },
      );
    let lb;
    let timedOut: StepError | undefined;
    try {
      await env.lb.drain(ctx.lbTarget, { deadline });
      lb = await waitFor(
        async () => {
          const s = await env.lb.status(ctx.lbTarget, { deadline });
          ctx.say(`waiting for the LB to take ${node.lbMember} out of service (${s.adminState}/${s.health})`);
          return isOutOfService(s) ? s : undefined;
        },
        {
          deadline,
          what: `LB member ${node.lbMember} to leave service`,
          initialMs: 10,
          maxMs: 100,
          onTimeout: (t) => {
            throw (timedOut = lbFailed(`the LB did not show ${node.lbMember} out of service within ${env.config.timeouts.lb} ms`, t));
          },
        },
      );
    } catch (err) {
      throw err === timedOut ? err : lbFailed((err as Error).message, err);
    }
    ctx.save((r) => {
      r.lb_out_at = new Date().toISOString();
    });
    env.log.info({ event: 'lb.out', node: node.id, member: node.lbMember, intent: 'planned' }, 'LB member out of service');
    // The drain is enforced by the listener, not only reported by /readyz (issue 12; a warning when not).
    const probe = await drainCanary(ctx);
    return {
      summary: `drain flag set; LB member ${node.lbMember} ${lb.adminState} (${status.active_sessions} sessions on the node)${probe.summary ? `; ${probe.summary}` : ''}`,
      warnings: probe.warnings,
      ...(probe.probe ? { data: { canary: probe.probe } } : {}),
    };
  },
};
