/** One node of the plan document: where it stands, what it leads and hosts, what its steps will do and wait for. */
import type { ClusterNode } from '../../clients/schemas.js';
import type { Config } from '../../config/schema.js';
import { formatDuration } from '../../config/duration.js';
import { ExitCode } from '../../util/errors.js';
import { compareIds } from '../../cluster/quorum.js';
import type { PrgsPerNode } from '../../cluster/verdicts.js';
import type { NodeTarget } from '../../steps/context.js';
import { stepNamed } from '../../steps/index.js';
import { postcheckStep } from '../../steps/postcheck.js';
import { leaderTransferStep } from '../../steps/leader-transfer.js';
import { precheckStep } from '../../steps/precheck.js';
import { restartArgv } from '../../steps/restart-command.js';
import type { EtaModel } from '../eta.js';
import { type NodeOutcome, resultOf } from '../pipeline.js';
import type { CheckStatus, PlanFacts, PlanNode, PlanNodeStatus, PlanWait } from './types.js';

function nodeStatus(o: NodeOutcome | undefined, dry: boolean): PlanNodeStatus {
  if (!o) return dry ? 'not_checked' : 'pending';
  // The node's own refusal (its precheck), even when an earlier node's change makes the run exit 1.
  if (o.status === 'failed' && o.error?.classCode === ExitCode.refused) return 'refused';
  if (dry && o.status === 'done') return 'planned';
  return o.status;
}

function precheckOf(o: NodeOutcome | undefined): PlanNode['precheck'] {
  const p = o?.steps.find((s) => s.step === precheckStep.name);
  if (!p) return { status: 'not_run', summary: null, warnings: [] };
  const warnings = p.warnings ?? [];
  const status: CheckStatus = p.outcome === 'failed' ? 'fail' : p.outcome === 'skipped' ? 'skip' : warnings.length ? 'warn' : 'pass';
  return { status, summary: p.summary, warnings };
}

function lbActions(t: NodeTarget, lb: PlanFacts['lb'], config: Config): string[] {
  const via = `${lb.name}${lb.endpoint ? ` ${lb.endpoint}` : ''}`;
  if (lb.name === 'none') {
    return [`no LB adapter: traffic follows ${t.id}'s /readyz (the drain flag makes it answer 503)`];
  }
  return [
    `drain member ${t.lbMember} (${via}), wait until it takes no new connections (≤ ${formatDuration(config.timeouts.lb)})`,
    `enable member ${t.lbMember} once ${t.id} is ready, wait until the LB sees it healthy (≤ ${formatDuration(config.timeouts.lb)})`,
  ];
}

/** Every step's wait in this node's words (the step record's `waits(config, node)`), timed by the ETA model. */
function waitsOf(t: NodeTarget, led: number, sessions: number | null, eta: EtaModel, config: Config): PlanWait[] {
  return eta.steps.map((s) => {
    const w = stepNamed(s.step)?.waits(config, { id: t.id, lbMember: t.lbMember, prgsLed: led, sessions });
    return { step: s.step, for: w?.for ?? s.waits_for, expected_ms: w?.nothing ? 0 : s.expected_ms, max_ms: s.max_ms };
  });
}

function argvOf(config: Config, t: NodeTarget): string[] | null {
  try {
    return restartArgv(config.restart.command, t);
  } catch {
    return null;
  }
}

export interface NodeInputs {
  facts: PlanFacts;
  load: PrgsPerNode;
  wave: number;
  outcome: NodeOutcome | undefined;
  /** the CP's record of the node */
  cpNode: ClusterNode | undefined;
  dryRun: boolean;
  /** finished before this process (resume) */
  done: boolean;
}

export function planNode(t: NodeTarget, x: NodeInputs): PlanNode {
  const { facts: f, outcome: out } = x;
  const cpNode = x.cpNode;
  const sessions = resultOf(precheckStep, out?.steps)?.sessions ?? null;
  const ledIds = [...(x.load.led.get(t.id) ?? [])].sort(compareIds);
  const waits = waitsOf(t, ledIds.length, sessions, f.eta, f.config);
  const moved = resultOf(leaderTransferStep, out?.steps)?.prgs;
  const restored = resultOf(postcheckStep, out?.steps)?.leaders_restored;
  return {
    wave: x.wave,
    status: !out && x.done ? 'done' : nodeStatus(out, x.dryRun),
    rack: t.rack,
    zone: cpNode?.zone ?? null,
    state: cpNode?.state ?? null,
    admin_url: t.adminUrl,
    lb_member: t.lbMember,
    hosts_cp_leader: f.state.cp.leader === t.id,
    prgs_hosted: x.load.hosted.get(t.id) ?? 0,
    prgs_led: ledIds,
    prgs_led_count: ledIds.length,
    sessions,
    lb_actions: lbActions(t, f.lb, f.config),
    restart_argv: argvOf(f.config, t),
    waits,
    expected_ms: waits.reduce((s, w) => s + w.expected_ms, 0),
    max_ms: waits.reduce((s, w) => s + w.max_ms, 0),
    precheck: precheckOf(out),
    steps: (out?.steps ?? []).map((s) => ({ step: s.step, outcome: s.outcome, duration_ms: s.duration_ms, summary: s.summary, ...(s.actions ? { actions: s.actions } : {}) })),
    ...(!x.dryRun && moved ? { prgs_moved: moved } : {}),
    ...(restored ? { leaders_restored: restored } : {}),
    warnings: out?.warnings ?? [],
    error: out?.error?.message ?? null,
  };
}
