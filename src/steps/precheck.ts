/**
 * Runbook 1, pre-checks. Reads only. The CP is healthy, the cluster is ready enough
 * and not in strict fallback, every PRG on the node keeps a healthy quorum without
 * it, the LB answers, and the other nodes can take the node's sessions.
 */
import { activeSessions, cpVerdict, prgReadyRatio } from '../cluster/verdicts.js';
import { readinessOfAll, sessionsOfAll, spareElsewhere } from './readiness.js';
import type { MemberStatus } from '../adapters/lb/types.js';
import type { PlanContext, Step, StepResult } from './context.js';
import { RefusedError } from '../util/errors.js';
import { checkQuorumWithout, describeBlockers } from '../cluster/quorum.js';
import { precheckCanary } from './canary.js';
import type { RoundTrip } from '../clients/mqtt-canary.js';

/** What the precheck found (the plan shows it as the node's evidence). */
export interface PrecheckResult {
  prgs_on_node: number;
  sessions: number;
  spare: number;
  lb: MemberStatus;
  /** the MQTT canary's round trip through the front door (the run's first precheck only) */
  canary?: RoundTrip;
}

/** A read whose failure is thrown where it is awaited, and never unhandled when a check before it refuses. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** Reads only: the same function is the step's run and its plan. */
async function precheck(ctx: PlanContext): Promise<StepResult<PrecheckResult>> {
  const { env, node } = ctx;
  const { cp, config } = env;
  const warnings: string[] = [];
  const next = `fix the cause, then run the same command again`;

  // These reads are independent of the verdicts before them: all are sent at once, and judged
  // below in the runbook's order (the first failing check refuses, as if read one by one).
  // Only the readiness of the other nodes needs the node list first. The node's own boot
  // (restarted by someone else?) is read last, after every other check passed, as before.
  const readyP = quiet(cp.readyz());
  const stateP = quiet(cp.clusterState());
  const prgsP = quiet(cp.listPrgs({ node: node.id }));
  const lbP = quiet(env.lb.status(ctx.lbTarget));
  const readinessP = quiet(stateP.then((s) => readinessOfAll(env, s.nodes)));

  const cpReady = await readyP;
  const cpState = cpVerdict(cpReady);
  if (!cpState.healthy) {
    throw new RefusedError(
      `precheck refused ${node.id}: the control plane is not healthy (${cpState.detail}); nothing was changed.`,
      { node: node.id, step: 'precheck', next, evidence: { cp: cpReady.cp } },
    );
  }

  const state = await stateP;
  const ratio = prgReadyRatio(state);
  const min = config.checks.min_prgs_ready_ratio;
  if (state.prgs.strict_fallback > 0 || ratio < min) {
    throw new RefusedError(
      `precheck refused ${node.id}: ${state.prgs.ready}/${state.prgs.total} PRGs ready (${(ratio * 100).toFixed(2)} %, need ≥ ${(min * 100).toFixed(2)} %) and ${state.prgs.strict_fallback} in strict fallback (need 0); nothing was changed.`,
      { node: node.id, step: 'precheck', next: 'wait for the cluster to recover (quantum-roll status), then run again', evidence: { prgs: state.prgs } },
    );
  }
  const me = state.nodes.find((n) => n.id === node.id);
  if (!me) {
    throw new RefusedError(`precheck refused ${node.id}: the control plane no longer lists this node; nothing was changed.`, {
      node: node.id,
      step: 'precheck',
      next: 'check the cluster membership (quantum-roll status), then run again without this node',
    });
  }

  const prgs = await prgsP;
  const verdict = checkQuorumWithout(prgs, ctx.wave);
  if (!verdict.ok) {
    throw new RefusedError(
      `precheck refused ${node.id}: ${verdict.blockers.length} PRG(s) would lose their healthy quorum without ${ctx.wave.join(', ')}; nothing was changed.\n${describeBlockers(verdict, [...ctx.wave])}`,
      { node: node.id, step: 'precheck', next, evidence: { blockers: verdict.blockers } },
    );
  }

  // The LB answers a read before anything changes.
  const lb = await lbP;

  // Spare capacity on the other ready nodes for this node's sessions.
  const readiness = await readinessP;
  const mine = readiness.get(node.id);
  if (mine instanceof Error) throw mine;
  const sessions = mine ? activeSessions(mine) : 0;
  const { spare, unknown } = spareElsewhere(readiness, state.nodes, ctx.wave);
  if (unknown.length) {
    warnings.push(`spare capacity unknown on ${unknown.join(', ')} (no max_sessions): cannot prove the other nodes can take ${sessions} sessions`);
  } else if (spare < sessions) {
    const text = `the other ready nodes have room for ${spare} more sessions but ${node.id} holds ${sessions} (shortfall ${sessions - spare})`;
    if (!env.options.allowOverload) {
      throw new RefusedError(`precheck refused ${node.id}: ${text}; nothing was changed.`, {
        node: node.id,
        step: 'precheck',
        next: 'add capacity, or pass --allow-overload to proceed knowingly',
        evidence: { sessions, spare, shortfall: sessions - spare },
      });
    }
    warnings.push(`${text}; proceeding because of --allow-overload`);
  }

  // A node that booted after this run began was restarted by someone else.
  if (!env.options.force) {
    const info = await ctx.runtime.node();
    const started = Date.parse(info.started_at);
    if (!Number.isNaN(started) && started > env.startedAt && ctx.record.boot_id_before === null) {
      return {
        summary: `skipped: ${node.id} already booted at ${info.started_at}, after this run began (use --force to restart it anyway)`,
        skipNode: true,
        warnings,
      };
    }
  }

  // A client through the front door, once per run (issue 12): exit 3 when it cannot carry a message.
  const canary = await precheckCanary(ctx);

  ctx.save((r) => {
    r.sessions_before = sessionsOfAll(readiness);
  });
  return {
    summary: `CP healthy, ${state.prgs.ready}/${state.prgs.total} PRGs ready, ${prgs.length} PRGs on ${node.id} keep quorum, LB member ${lb.adminState}/${lb.health}, ${sessions} sessions (spare elsewhere: ${spare})${canary.summary ? `; ${canary.summary}` : ''}`,
    warnings,
    ...(canary.actions ? { actions: canary.actions } : {}),
    data: { prgs_on_node: prgs.length, sessions, spare, lb, ...(canary.front_door ? { canary: canary.front_door } : {}) },
  };
}

export const precheckStep: Step<PrecheckResult> = {
  name: 'precheck',
  label: 'precheck',
  doing: 'checking CP, PRG quorum, LB and capacity on fresh state',
  kind: 'check',
  boundBy: ['control_plane.request_timeout'],
  waits: (config) => ({
    for: 'CP, PRG, LB and spare-capacity reads on fresh state',
    maxMs: config.control_plane.request_timeout + 10_000,
    expectedMs: 500,
    expectedFrom: 'default',
  }),
  run: precheck,
  plan: precheck,
};
