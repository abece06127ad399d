/**
 * Runbook 4: wait for client quiescence. Ends when sessions reach
 * `quiesce.target_sessions`, or when `quiesce.grace` (counted from the moment the LB
 * member left service) has passed; then, if configured, asks for a rate-limited
 * MQTT 5 DISCONNECT and waits for it to take effect. Every node's sessions are sampled
 * into the run log while it waits (`quiesce-sessions.ts`). A safe point for stops.
 */
import { activeSessions } from '../cluster/verdicts.js';
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import { formatDuration } from '../config/duration.js';
import { waitFor } from '../util/wait.js';
import { loadRunner } from '../util/run-argv.js';
import { type Quiescing, clusterSessions } from './quiesce-sessions.js';

export const quiesceStep: Step = {
  name: 'quiesce',
  label: 'quiesce',
  doing: 'waiting for sessions to leave',
  kind: 'change',
  boundBy: ['quiesce.grace'],
  waits: (config, node) => {
    const q = config.quiesce;
    const who = !node ? 'sessions ≤' : `${node.sessions === null ? 'sessions' : `${node.sessions} session(s)`} to reach ≤`;
    return {
      for: `${who} ${q.target_sessions}${node ? ',' : ''} or the ${formatDuration(q.grace)} grace${q.disconnect ? `, then DISCONNECT ${q.disconnect.reason_code} at ${q.disconnect.rate_per_s}/s` : ''}`,
      maxMs: q.grace + (q.disconnect ? 1_000 : 0),
      // Without history, the grace: a quiesce that waits for nothing is rare.
      expectedMs: q.grace,
      expectedFrom: 'config',
    };
  },

  async plan(ctx: PlanContext): Promise<StepResult> {
    const q = ctx.env.config.quiesce;
    const actions = [`wait until ${ctx.node.id} has ≤ ${q.target_sessions} sessions, at most ${formatDuration(q.grace)} after the LB change`];
    if (q.disconnect) {
      actions.push(`then POST ${ctx.node.adminUrl}/v1/sessions/disconnect reason ${q.disconnect.reason_code} at ${q.disconnect.rate_per_s}/s`);
    }
    return { summary: actions.join('; '), actions };
  },

  async run(ctx: StepContext): Promise<StepResult> {
    const me: Quiescing = { node: ctx.node.id, runtime: ctx.runtime, phase: 'quiesce', rate: null, progress: null, baseline: null };
    const leave = clusterSessions(ctx.env).join(me);
    try {
      return await quiesce(ctx, me);
    } finally {
      leave();
    }
  },
};

async function quiesce(ctx: StepContext, me: Quiescing): Promise<StepResult> {
  const { env, node, runtime } = ctx;
  const q = env.config.quiesce;
  loadRunner().catch(() => undefined); // the restart command's runner loads while this step waits anyway
  const from = ctx.record.lb_out_at ? Date.parse(ctx.record.lb_out_at) : Date.now();
  const graceEnd = from + q.grace;
  const sessions = async () => activeSessions(await runtime.readyz());
  let left = 0;
  const reached = await waitFor(
    async () => {
      const n = await sessions();
      left = n;
      ctx.say(`${n} sessions left, ${formatDuration(Math.max(0, Date.now() - from))} of ${formatDuration(q.grace)} grace`);
      return n <= q.target_sessions ? n : undefined;
    },
    // The grace passing is no failure: it ends the wait, and a DISCONNECT (if configured) follows.
    { deadline: graceEnd, what: 'sessions to dwindle', stop: env.stop, where: `quiesce of ${node.id}`, initialMs: 20, maxMs: 250, onTimeout: () => undefined },
  );
  if (reached !== undefined) return { summary: `${reached} session(s) left after ${formatDuration(Date.now() - from)}` };
  if (!q.disconnect) return { summary: `grace of ${formatDuration(q.grace)} passed with ${left} session(s) left` };

  const d = q.disconnect;
  const requested = await runtime.disconnect({
    reason_code: d.reason_code,
    rate_per_s: d.rate_per_s,
    ...(d.server_reference ? { server_reference: d.server_reference } : {}),
  });
  me.rate = d.rate_per_s;
  me.progress = { in_progress: requested > 0, requested, disconnected: 0, rate_per_s: d.rate_per_s, reason_code: d.reason_code, started_at: new Date().toISOString() };
  env.log.info({ event: 'quiesce.disconnect', node: node.id, phase: 'main', requested, rate_per_s: d.rate_per_s, limit: null, reason_code: d.reason_code, intent: 'planned' }, 'DISCONNECT requested');
  const budget = Math.ceil((requested / d.rate_per_s) * 1000 * 1.5) + 1000;
  left = await waitFor(
    async () => {
      const n = await sessions();
      ctx.say(`DISCONNECT ${d.reason_code} at ${d.rate_per_s}/s: ${n} sessions left`);
      return n <= q.target_sessions ? n : undefined;
    },
    // Sessions still left at the budget's end reconnect elsewhere: a warning below, not a failure.
    { deadline: Date.now() + budget, what: 'disconnects to complete', stop: env.stop, where: `quiesce of ${node.id}`, initialMs: 20, maxMs: 250, onTimeout: () => left },
  );
  return {
    summary: `grace passed; DISCONNECT ${d.reason_code} sent to ${requested} session(s) at ${d.rate_per_s}/s, ${left} left`,
    warnings: left > q.target_sessions ? [`${left} session(s) still on ${node.id} at restart; they will reconnect elsewhere`] : [],
  };
}
