/**
 * Runbook 6: re-admit. Wait until `/readyz` reasons are at most ["draining"] (the
 * deadline extends while replay progresses), clear the drain flag, put the LB member
 * back, and wait until the LB sees it healthy. If the LB never does, the node is
 * drained and taken out again: never left serving unready.
 */
import { isOutOfService, isServing } from '../adapters/lb/types.js';
import { readyButDrained } from '../cluster/verdicts.js';
import type { Readiness } from '../clients/schemas.js';
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import { formatDuration } from '../config/duration.js';
import { StepError } from '../util/errors.js';
import { waitFor } from '../util/wait.js';
import { DRAIN_REASON } from './drain.js';
import { type CanaryFigures, readmitCanary, readmitCanaryActions } from './canary.js';
import { reassertSameBoot } from './reassert.js';

export const readmitStep: Step<{ canary?: CanaryFigures }> = {
  name: 'readmit',
  label: 'readmit',
  doing: 'waiting for readiness (replay)',
  kind: 'change',
  boundBy: ['timeouts.ready', 'timeouts.ready_max', 'timeouts.lb'],
  drainFlag: 'clears',
  waits: (config, node) => ({
    for: node
      ? `${node.id} ready but for draining (replay; the wait extends while replay progresses), then the LB to see ${node.lbMember} healthy`
      : 'ready but for draining (replay; extends while it progresses), LB healthy',
    maxMs: (config.timeouts.ready_max ?? config.timeouts.ready * 4) + 2 * config.timeouts.lb,
    expectedMs: 30_000,
    expectedFrom: 'default',
  }),

  async plan(ctx: PlanContext): Promise<StepResult<{ canary?: CanaryFigures }>> {
    const { node, env } = ctx;
    return {
      summary: `would wait until ${node.id} is ready but for draining, clear the drain flag, put LB member ${node.lbMember} back and wait until the LB sees it healthy`,
      actions: [`wait /readyz reasons ⊆ [draining] (≤ ${formatDuration(env.config.timeouts.ready)})`, `DELETE ${node.adminUrl}/v1/drain`, `LB ${env.lb.name}: enable member ${node.lbMember}, wait healthy (≤ ${formatDuration(env.config.timeouts.lb)})`, ...readmitCanaryActions(env.config.canary, node.id)],
    };
  },

  async run(ctx: StepContext): Promise<StepResult<{ canary?: CanaryFigures }>> {
    const { env, node, runtime } = ctx;
    const readyMs = env.config.timeouts.ready;
    const cap = env.config.timeouts.ready_max ?? readyMs * 4;
    const start = Date.now();
    // The last answer the node gave, and when: a read that fails under load does not erase it.
    let last: Readiness | undefined;
    let lastAt = 0;
    let unanswered = false;
    let best = -1;
    await waitFor(
        async () => {
          const r = await runtime.readyz({ retry: false, deadline: Date.now() + 2_000 }).catch(() => undefined);
          unanswered = !r;
          if (!r) {
            ctx.say(`waiting for ${node.id} to answer /readyz`);
            return undefined;
          }
          last = r;
          lastAt = Date.now();
          ctx.say(`replay ${(last.replay.progress * 100).toFixed(0)} %, reasons [${last.reasons.join(', ')}]`);
          return readyButDrained(last) ? last : undefined;
        },
        {
          deadline: start + readyMs,
          what: `${node.id} to be ready`,
          stop: env.stop,
          where: `readmit of ${node.id} (waiting for readiness)`,
          initialMs: 20,
          maxMs: 100, // a node API read: seeing the end late costs the whole wave
          // Poll again when replay should be done, not up to maxMs after it.
          progress: () => last?.replay.progress,
          // A deadline without progress: while replay keeps rising, the wait extends (up to the hard cap).
          extend: (deadline) => {
            const p = last?.replay.progress ?? -1;
            if (p > best) {
              best = p;
              return Math.min(start + cap, Math.max(deadline, Date.now() + readyMs));
            }
            return deadline;
          },
          onTimeout: () => {
            const state = !last
              ? 'it did not answer /readyz'
              : `reasons [${last.reasons.join(', ')}], replay ${(last.replay.progress * 100).toFixed(0)} %${unanswered ? ` (its last answer, ${formatDuration(Date.now() - lastAt)} ago; /readyz did not answer since)` : ''}`;
            throw new StepError(
              `${node.id} did not become ready within ${formatDuration(Date.now() - start)} (timeouts.ready without progress): ${state}. It is left drained and out of the LB.`,
              { node: node.id, step: 'readmit', next: `investigate ${node.id}; once /readyz shows only "draining", run quantum-roll resume (or quantum-roll undrain ${node.id})`, evidence: { readiness: last } },
            );
          },
        },
      );

    await reassertSameBoot(ctx);
    const back = await returnToService(ctx, `ready after ${formatDuration(Date.now() - start)}; `);
    // A node is back only when a client says so (issue 12): else it goes back out (drained, out of the LB).
    const canary = await readmitCanary(ctx, () => takeBackOut(ctx));
    return { summary: canary.summary ? `${back.summary}; ${canary.summary}` : back.summary, ...(canary.canary ? { data: { canary: canary.canary } } : {}) };
  },
};

/** Clears the drain flag, puts the LB member back and waits until the LB sees it healthy; rolls back on failure. */
export async function returnToService(ctx: StepContext, prefix = ''): Promise<StepResult> {
  const { env, node, runtime } = ctx;
  {
    await runtime.undrain();
    env.log.info({ event: 'drain.cleared', node: node.id, intent: 'planned' }, 'drain flag cleared');
    const deadline = Date.now() + env.config.timeouts.lb;
    // Why the LB did not take the node back (a failed call, or its deadline): then the node goes out again.
    let failed: { why: string; cause: unknown } | undefined;
    try {
      await env.lb.enable(ctx.lbTarget, { deadline });
      const s = await waitFor(
        async () => {
          const st = await env.lb.status(ctx.lbTarget, { deadline });
          ctx.say(`waiting for the LB to see ${node.lbMember} healthy (${st.adminState}/${st.health})`);
          return isServing(st) ? st : undefined;
        },
        {
          deadline,
          what: `the LB to see ${node.lbMember} healthy`,
          initialMs: 10,
          maxMs: 100,
          onTimeout: (t) => {
            failed = { why: `the LB did not see ${node.lbMember} healthy within ${formatDuration(env.config.timeouts.lb)}`, cause: t };
            return undefined;
          },
        },
      );
      if (s) {
        env.log.info({ event: 'readmit.done', node: node.id, member: node.lbMember, intent: 'planned' }, 'back in service');
        return { summary: `${prefix}drain cleared; LB member ${node.lbMember} ${s.adminState}/${s.health}` };
      }
    } catch (err) {
      failed = { why: (err as Error).message, cause: err };
    }
    {
      const { why, cause: err } = failed!;
      const rollback = await takeBackOut(ctx).then(
        () => undefined,
        (e: unknown) => {
          env.log.error({ event: 'readmit.rollback_failed', node: node.id, err: String(e) }, 'could not take the node back out');
          return e as Error;
        },
      );
      const left = rollback
        ? `Taking it back out failed too (${rollback.message}): its LB member may still be in service; check it with quantum-roll status and take it out with quantum-roll drain ${node.id} if so.`
        : `${node.id} was drained and taken out of the LB again (it is ready, restarted, but not serving).`;
      throw new StepError(
        `readmit of ${node.id} failed: ${why}. ${left}`,
        {
          node: node.id,
          step: 'readmit',
          endpoint: env.lb.endpoint,
          next: `check the LB and its health check for ${node.lbMember} (${env.lb.endpoint}), then quantum-roll resume`,
          evidence: { rollback_failed: rollback ? rollback.message : null },
        },
        { cause: err },
      );
    }
  }
}

async function takeBackOut(ctx: StepContext): Promise<void> {
  const deadline = Date.now() + ctx.env.config.timeouts.lb;
  await ctx.runtime.drain(DRAIN_REASON, ctx.env.initiator, { deadline });
  await ctx.env.lb.drain(ctx.lbTarget, { deadline });
  await waitFor(async () => (isOutOfService(await ctx.env.lb.status(ctx.lbTarget, { deadline })) ? true : undefined), {
    deadline,
    what: 'the LB member to leave service again',
  });
}
