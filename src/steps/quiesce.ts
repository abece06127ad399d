/**
 * Runbook 4: wait for client quiescence. Ends when sessions reach
 * `quiesce.target_sessions`, or when `quiesce.grace` (counted from the moment the LB
 * member left service) has passed; then, if `quiesce.disconnect` is configured, evicts
 * the rest with an MQTT 5 DISCONNECT, paced by what the cluster takes back (issue 19):
 *
 * 1. a cohort first (a share of the node's sessions, with a floor): if the cluster does not
 *    take them back within `cohort.timeout`, the run stops here (exit 1), the rest of the
 *    node's clients untouched, the node drained and out of the LB;
 * 2. the rest, at up to `rate_per_s`, slower while evicted clients are slow to be accepted
 *    elsewhere (`quiesce-pacing.ts` says how and why);
 * 3. the restart waits until the cluster holds `absorb.ratio` of the evicted clients again,
 *    at most `absorb.timeout` (then a warning with the count): the roll moves on only once
 *    the clients it moved have a home, so a cluster that stops taking them back shows
 *    before the next node is touched, and the next wave's clients never pile onto brokers
 *    still taking in this one's.
 *
 * Every node's sessions are sampled into the run log while this step runs
 * (`quiesce-sessions.ts`). A safe point for stops.
 */
import { activeSessions } from '../cluster/verdicts.js';
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import type { Config, DisconnectConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { waitFor } from '../util/wait.js';
import { loadRunner } from '../util/run-argv.js';
import { BATCH_S, Eviction, evictionBoundMs, floorOf } from './quiesce-evict.js';
import { cohortSize, increaseStep, mustReturn, pendingSetPoint } from './quiesce-pacing.js';
import { type Quiescing, clusterSessions } from './quiesce-sessions.js';

/** The eviction in words: the plan's and the live view's "then …". */
function evictionText(d: DisconnectConfig, sessions: number | null, canary = false): string {
  if (d.pacing === 'fixed') return `DISCONNECT ${d.reason_code} at ${d.rate_per_s}/s`;
  const cohort = d.cohort
    ? `a cohort of ${sessions === null ? `${Math.round(d.cohort.share * 100)} % (≥ ${d.cohort.min})` : cohortSize(sessions, d.cohort)} back within ${formatDuration(d.cohort.timeout)}, then `
    : '';
  return `DISCONNECT ${d.reason_code}: ${cohort}the rest at ≤ ${d.rate_per_s}/s paced by clients pending${canary ? ' and the front door\'s CONNACK time' : ''}, then ${Math.round(d.absorb.ratio * 100)} % back elsewhere`;
}

/** The most the eviction waits: the cohort's check, the paced eviction (at the floor's pace), the cluster taking the clients back. */
function evictionMaxMs(d: DisconnectConfig, sessions: number | null): number {
  const evict = sessions === null ? 1_000 : evictionBoundMs(d, sessions);
  return (d.pacing === 'adaptive' && d.cohort ? d.cohort.timeout : 0) + evict + d.absorb.timeout;
}

function pacingActions(config: Config, node: string, adminUrl: string, sessions: number | null): string[] {
  const d = config.quiesce.disconnect;
  if (!d) return [];
  const post = `POST ${adminUrl}/v1/sessions/disconnect reason ${d.reason_code}${d.server_reference ? ` (Server Reference ${d.server_reference})` : ''}`;
  const of = sessions === null ? 'its sessions' : `its ${sessions} session(s)`;
  const back = `then wait until ${Math.round(d.absorb.ratio * 100)} % of the evicted clients are connected elsewhere, at most ${formatDuration(d.absorb.timeout)} (else a warning)`;
  if (d.pacing === 'fixed') return [`then ${post} at ${d.rate_per_s}/s for ${of}`, back];
  const out: string[] = [];
  if (d.cohort) {
    const size = sessions === null ? `max(${d.cohort.min}, ${d.cohort.share} × sessions)` : String(cohortSize(sessions, d.cohort));
    const need = sessions === null ? `${Math.round(d.absorb.ratio * 100)} %` : String(mustReturn(cohortSize(sessions, d.cohort), d.absorb.ratio));
    out.push(
      `then a cohort: ${post} at ${d.rate_per_s}/s, limit ${size} (share ${d.cohort.share}, at least ${d.cohort.min}); ${need} of them must be connected elsewhere within ${formatDuration(d.cohort.timeout)}, else stop (exit 1) with ${node} drained and out of the LB`,
    );
  }
  const lag = d.max_lag / 1000;
  out.push(
    `then the rest of ${of}: ${post} in batches (limit ≈ ${BATCH_S} s at the pace), the pace at most ${d.rate_per_s}/s, halved while more clients are pending than pace × ${lag} s, ` +
      `raised by ${increaseStep(d.rate_per_s)}/s while fewer than half that, never below ${floorOf(d)}/s, stopped while more than ${Math.round(2 * pendingSetPoint(d.rate_per_s, d.max_lag))} are pending` +
      (config.canary ? `; halved too while the front door ${config.canary.front_door} answers a CONNECT (one every ${formatDuration(d.max_lag / 2)}) more than ${formatDuration(d.max_lag / 2)} slower than its quickest` : '') +
      (sessions === null ? '' : `; at most ${formatDuration(evictionBoundMs(d, sessions))}`),
    back,
  );
  return out;
}

export const quiesceStep: Step = {
  name: 'quiesce',
  label: 'quiesce',
  doing: 'waiting for sessions to leave',
  kind: 'change',
  boundBy: ['quiesce.grace', 'quiesce.disconnect.cohort.timeout', 'quiesce.disconnect.min_rate_per_s', 'quiesce.disconnect.absorb.timeout'],
  waits: (config, node) => {
    const q = config.quiesce;
    const sessions = node?.sessions ?? null;
    const who = !node ? 'sessions ≤' : `${sessions === null ? 'sessions' : `${sessions} session(s)`} to reach ≤`;
    return {
      for: `${who} ${q.target_sessions}${node ? ',' : ''} or the ${formatDuration(q.grace)} grace${q.disconnect ? `, then ${evictionText(q.disconnect, sessions, config.canary !== undefined)}` : ''}`,
      maxMs: q.grace + (q.disconnect ? evictionMaxMs(q.disconnect, sessions) : 0),
      // Without history, the grace: a quiesce that waits for nothing is rare.
      expectedMs: q.grace,
      expectedFrom: 'config',
    };
  },

  async plan(ctx: PlanContext): Promise<StepResult> {
    const q = ctx.env.config.quiesce;
    const actions = [`wait until ${ctx.node.id} has ≤ ${q.target_sessions} sessions, at most ${formatDuration(q.grace)} after the LB change`];
    if (q.disconnect) {
      const sessions = await ctx.runtime.readyz().then(activeSessions, () => null);
      actions.push(...pacingActions(ctx.env.config, ctx.node.id, ctx.node.adminUrl, sessions));
    }
    return { summary: actions.join('; '), actions };
  },

  async run(ctx: StepContext): Promise<StepResult> {
    const { env, node, runtime } = ctx;
    const q = env.config.quiesce;
    loadRunner().catch(() => undefined); // the restart command's runner loads while this step waits anyway
    const watch = clusterSessions(env);
    const me: Quiescing = { node: node.id, runtime, phase: 'quiesce', rate: null, progress: null, baseline: null };
    const leave = watch.join(me);
    try {
      const from = ctx.record.lb_out_at ? Date.parse(ctx.record.lb_out_at) : Date.now();
      const left = await waitOutGrace(ctx, from);
      if (left <= q.target_sessions) return { summary: `${left} session(s) left after ${formatDuration(Date.now() - from)}` };
      const d = q.disconnect;
      if (!d) return { summary: `grace of ${formatDuration(q.grace)} passed with ${left} session(s) left` };

      const eviction = new Eviction(ctx, d, watch, me);
      await eviction.begin();
      const cohort = d.pacing === 'adaptive' && d.cohort ? await eviction.cohort(d.cohort, d.absorb.ratio) : undefined;
      await eviction.rest(q.target_sessions);
      const back = await eviction.absorb(d.absorb.ratio, d.absorb.timeout);

      const still = eviction.nodeSessions;
      const warnings: string[] = [];
      if (still > q.target_sessions) warnings.push(`${still} session(s) still on ${node.id} at restart; they will reconnect elsewhere`);
      if (!back.ok) {
        warnings.push(
          `${back.evicted - back.returned} of ${back.evicted} client(s) evicted from ${node.id} were not connected elsewhere after ${formatDuration(d.absorb.timeout)} (quiesce.disconnect.absorb.timeout); restarting anyway`,
        );
      }
      const paced = eviction.pacer.rate === d.rate_per_s ? `at ${d.rate_per_s}/s` : `at up to ${d.rate_per_s}/s (${eviction.pacer.rate}/s at the end)`;
      return {
        summary:
          `grace passed; DISCONNECT ${d.reason_code} ${paced} in ${eviction.requests} request(s)` +
          `${cohort ? `, a cohort of ${cohort.size} first (${cohort.returned} back)` : ''}; ${back.returned} of ${back.evicted} evicted back elsewhere, ${still} left`,
        warnings,
      };
    } finally {
      leave();
    }
  },
};

/** Waits until the node's sessions reach the target or the grace passes; returns the sessions left. */
async function waitOutGrace(ctx: StepContext, from: number): Promise<number> {
  const { env, node, runtime } = ctx;
  const q = env.config.quiesce;
  let left = 0;
  const reached = await waitFor(
    async () => {
      const n = activeSessions(await runtime.readyz());
      left = n;
      ctx.say(`${n} sessions left, ${formatDuration(Math.max(0, Date.now() - from))} of ${formatDuration(q.grace)} grace`);
      return n <= q.target_sessions ? n : undefined;
    },
    // The grace passing is no failure: it ends the wait, and a DISCONNECT (if configured) follows.
    { deadline: from + q.grace, what: 'sessions to dwindle', stop: env.stop, where: `quiesce of ${node.id}`, initialMs: 20, maxMs: 250, onTimeout: () => undefined },
  );
  return reached ?? left;
}
