/**
 * Runbook 7: post-checks. No PRG in strict fallback and the cluster back at the
 * ready ratio (waited for briefly: replicas catch up just after readmit); then how
 * far cluster-wide sessions recovered towards their pre-drain total, waited for up
 * to `timeouts.recovery`. Session recovery warns, it never fails.
 */
import { prgReadyRatio, totalSessions } from '../cluster/verdicts.js';
import { readinessOfAll } from './readiness.js';
import type { ClusterState } from '../clients/schemas.js';
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import { formatDuration } from '../config/duration.js';
import { StepError } from '../util/errors.js';
import { waitFor } from '../util/wait.js';
import { type RestoreResult, planRestore, restoreLeaders } from './restore-leaders.js';

/** How far cluster-wide sessions came back towards their total before the drain. */
export interface PostcheckResult {
  session_recovery_ratio: number;
  sessions_before: number | null;
  sessions_now: number;
  /** Leadership moved back to the node once the cluster was back (invariant 10). */
  leaders_restored?: RestoreResult;
}

export const postcheckStep: Step<PostcheckResult> = {
  name: 'postcheck',
  label: 'postcheck',
  doing: 'checking the cluster is back',
  kind: 'check',
  boundBy: ['timeouts.recovery', 'checks.min_prgs_ready_ratio', 'checks.session_recovery_ratio', 'timeouts.leader_transfer'],
  waits: (config, node) => {
    const t = config.timeouts;
    const c = config.checks;
    return {
      for: node
        ? `the cluster back at ≥ ${c.min_prgs_ready_ratio} PRGs ready, none in strict fallback${config.leader_transfer.restore && node.prgsLed ? `, then leadership of ${node.prgsLed} PRG(s) back to ${node.id}` : ''}`
        : `≥ ${c.min_prgs_ready_ratio} PRGs ready, none in strict fallback${t.recovery ? `; sessions back to ${c.session_recovery_ratio} (≤ ${formatDuration(t.recovery)})` : ''}${config.leader_transfer.restore ? '; leadership moved back' : ''}`,
      maxMs: Math.max(t.recovery, 10_000) + t.recovery + (config.leader_transfer.restore ? t.leader_transfer : 0),
      expectedMs: 1_000,
      expectedFrom: 'default',
    };
  },

  async plan(ctx: PlanContext): Promise<StepResult<PostcheckResult>> {
    const c = ctx.env.config;
    const restore = await planRestore(ctx);
    return {
      summary: `would confirm no PRG in strict fallback, ≥ ${c.checks.min_prgs_ready_ratio} PRGs ready, and report session recovery (target ${c.checks.session_recovery_ratio}, wait ≤ ${formatDuration(c.timeouts.recovery)}); ${restore.summary}`,
      actions: restore.actions,
      data: { session_recovery_ratio: 1, sessions_before: null, sessions_now: 0, leaders_restored: restore.result },
    };
  },

  async run(ctx: StepContext): Promise<StepResult<PostcheckResult>> {
    const { env, node } = ctx;
    const { checks, timeouts } = env.config;
    // Replicas catch up just after readmit: give the cluster a moment (at most timeouts.ready, 10 s) to be back.
    const settle = Math.max(timeouts.recovery, Math.min(10_000, timeouts.ready));
    const settleEnd = Date.now() + settle;
    let last: ClusterState | undefined;
    const notBack = (state: ClusterState): never => {
      throw new StepError(
        `postcheck after ${node.id} failed: the cluster is not back to health after ${formatDuration(settle)}: ${state.prgs.ready}/${state.prgs.total} PRGs ready (need ≥ ${(checks.min_prgs_ready_ratio * 100).toFixed(2)} %) and ${state.prgs.strict_fallback} in strict fallback (need 0). ${node.id} itself was ready and is back in service; the run stops before any other node. Investigate the PRGs (quantum-roll status); once the cluster is healthy, run quantum-roll resume to check again and continue.`,
        { node: node.id, step: 'postcheck', next: 'quantum-roll status; then quantum-roll resume', evidence: { prgs: state.prgs } },
      );
    };
    const state = await waitFor(
      async () => {
        const s = (last = await env.cp.clusterState({ deadline: Math.max(settleEnd, Date.now() + 1_000) }));
        const ok = s.prgs.strict_fallback === 0 && prgReadyRatio(s) >= checks.min_prgs_ready_ratio;
        ctx.say(`${s.prgs.ready}/${s.prgs.total} PRGs ready, ${s.prgs.strict_fallback} in strict fallback`);
        return ok ? s : undefined;
      },
      {
        deadline: settleEnd,
        what: 'the cluster to be back at its ready ratio',
        initialMs: 20,
        maxMs: 250,
        // The probe answered at least once before the deadline (else its error ended the wait).
        onTimeout: (t) => {
          if (!last) throw t;
          return notBack(last);
        },
      },
    );

    const before = ctx.record.sessions_before;
    const warnings: string[] = [];
    let recovered = 1;
    let now = 0;
    if (before !== null && before > 0) {
      const measure = async () => {
        now = totalSessions(await readinessOfAll(env, state.nodes));
        recovered = now / before;
        ctx.say(`sessions ${now}/${before} (${(recovered * 100).toFixed(0)} %)`);
        return recovered >= checks.session_recovery_ratio ? recovered : undefined;
      };
      await waitFor(measure, {
        deadline: Date.now() + timeouts.recovery,
        what: 'sessions to recover',
        stop: undefined,
        initialMs: 50,
        maxMs: 500,
        // Session recovery warns, it never fails.
        onTimeout: () => {
          warnings.push(
            `sessions recovered to ${(recovered * 100).toFixed(0)} % of the ${before} before the drain (target ${(checks.session_recovery_ratio * 100).toFixed(0)} %, waited ${formatDuration(timeouts.recovery)})`,
          );
          return recovered;
        },
      });
    }
    // The cluster is back: leadership the node had before its drain comes back to it (invariant 10).
    const restore = await restoreLeaders(ctx);
    warnings.push(...restore.warnings);
    const r = restore.result;
    const back = r.enabled && r.led_before > 0 ? `; leadership of ${r.moved}/${r.planned} PRG(s) moved back` : '';
    return {
      summary: `${state.prgs.ready}/${state.prgs.total} PRGs ready, none in strict fallback; sessions at ${(recovered * 100).toFixed(0)} % of pre-drain${before !== null ? ` (${now}/${before})` : ''}${back}`,
      warnings,
      data: { session_recovery_ratio: recovered, sessions_before: before, sessions_now: now, leaders_restored: r },
    };
  },
};
