/**
 * The checks of a plan document: the cluster's (CP, PRGs ready, placement, lease),
 * then per wave its quorum check and each node's precheck. The verdicts are those of
 * cluster/verdicts.ts, the same the precheck judges by: a plan never passes what the
 * precheck then refuses.
 */
import { cpVerdict, hardPlacementViolations, prgReadyRatio } from '../../cluster/verdicts.js';
import type { RollOutcome } from '../roll.js';
import type { NodeOutcome } from '../pipeline.js';
import { resultOf } from '../pipeline.js';
import { precheckStep } from '../../steps/precheck.js';
import type { PlanCheck, PlanFacts, PlanNode, PlanWave } from './types.js';

export function clusterChecks(f: PlanFacts, dry: boolean): PlanCheck[] {
  const { state, config } = f;
  const checks: PlanCheck[] = [];
  const cp = cpVerdict(f.cpReady);
  checks.push({
    id: 'cp_healthy',
    scope: 'cluster',
    status: cp.healthy ? 'pass' : 'fail',
    summary: `control plane ${cp.healthy ? 'healthy' : 'NOT healthy'}: ${cp.detail}`,
    evidence: { cp: state.cp, ...(cp.healthy ? {} : { readyz: { ok: f.cpReady.ok, cp: f.cpReady.cp } }) },
  });
  const ratio = prgReadyRatio(state);
  const min = config.checks.min_prgs_ready_ratio;
  checks.push({
    id: 'prgs_ready',
    scope: 'cluster',
    status: ratio >= min && state.prgs.strict_fallback === 0 ? 'pass' : 'fail',
    summary: `${state.prgs.ready}/${state.prgs.total} PRGs ready (${(ratio * 100).toFixed(2)} %, need ≥ ${(min * 100).toFixed(2)} %), ${state.prgs.strict_fallback} in strict fallback`,
    evidence: { prgs: state.prgs, min_prgs_ready_ratio: min },
  });
  const violations = hardPlacementViolations(f.prgs, state.nodes, state.placement.policy);
  checks.push({
    id: 'placement',
    scope: 'cluster',
    status: violations.length ? 'warn' : 'pass',
    summary: violations.length
      ? `${violations.length} placement violation(s) under ${state.placement.policy} (the waves keep those replicas apart): ${violations
          .slice(0, 5)
          .map((v) => `${v.prg} on ${v.kind === 'same_node' ? 'node' : 'rack'} ${v.where} (${v.nodes.join(', ')})`)
          .join('; ')}${violations.length > 5 ? '; …' : ''}`
      : `placement ${state.placement.policy}: no violation`,
    ...(violations.length ? { evidence: { violations } } : {}),
  });
  const lease = f.lease;
  checks.push({
    id: 'lease',
    scope: 'cluster',
    status: lease === null ? 'pass' : 'warn',
    summary:
      lease === null
        ? 'maintenance lease rolling-restart is free'
        : 'error' in lease
          ? `maintenance lease rolling-restart: unknown (${lease.error})`
          : `maintenance lease rolling-restart is held by ${lease.holder} until ${lease.expires_at}${dry ? ': a restart now would exit 4' : ''}`,
  });
  return checks;
}

function waveQuorumCheck(w: PlanWave, refusedHere: boolean): PlanCheck {
  return {
    id: 'wave_quorum',
    scope: 'wave',
    wave: w.index,
    status: !w.quorum.ok || refusedHere ? 'fail' : 'pass',
    summary: w.quorum.ok
      ? `wave ${w.index} (${w.nodes.join(', ')}): all ${w.quorum.prgs_checked} PRGs with a replica there keep a healthy quorum without ${w.nodes.length > 1 ? 'them' : 'it'}`
      : `wave ${w.index} (${w.nodes.join(', ')}): ${w.quorum.blockers.length} PRG(s) would lose their healthy quorum: ${w.quorum.blockers
          .slice(0, 5)
          .map((b) => b.prg)
          .join(', ')}${w.quorum.blockers.length > 5 ? ', …' : ''}`,
    ...(w.quorum.ok ? {} : { evidence: { blockers: w.quorum.blockers } }),
  };
}

function precheckCheck(w: PlanWave, id: string, n: PlanNode, out: NodeOutcome | undefined, dry: boolean): PlanCheck {
  const evidence = out?.status === 'failed' ? out.error?.details.evidence : resultOf(precheckStep, out?.steps);
  return {
    id: 'precheck',
    scope: 'node',
    wave: w.index,
    node: id,
    status: n.precheck.status,
    summary: n.precheck.summary ?? (n.status === 'not_checked' || n.status === 'pending' ? `not checked: an earlier wave stopped the ${dry ? 'plan' : 'run'}` : 'not run'),
    ...(evidence ? { evidence: evidence as unknown as Record<string, unknown> } : {}),
  };
}

/** Per wave: its quorum check, then the precheck of each of its nodes. */
export function waveChecks(
  waves: readonly PlanWave[],
  nodes: Readonly<Record<string, PlanNode>>,
  outcomes: ReadonlyMap<string, NodeOutcome>,
  o: RollOutcome | undefined,
  dry: boolean,
): PlanCheck[] {
  const checks: PlanCheck[] = [];
  for (const w of waves) {
    checks.push(waveQuorumCheck(w, o?.error?.details.evidence?.wave === w.index));
    for (const id of w.nodes) {
      const n = nodes[id];
      if (n) checks.push(precheckCheck(w, id, n, outcomes.get(id), dry));
    }
  }
  return checks;
}
