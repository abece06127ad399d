/**
 * The plan document (docs/plan-schema.md), from facts read once at the start (cluster
 * state, the CP's /readyz, every PRG, the lease, run history for the ETA) plus, when
 * there is one, the outcome of the (dry) run: the precheck evidence of every node and
 * what each step did or would do. render/plan.ts draws it; `--json` prints it.
 */
import type { Prg } from '../../clients/schemas.js';
import { formatDuration } from '../../config/duration.js';
import { displayArgv } from '../../util/argv-text.js';
import { compareIds } from '../../cluster/quorum.js';
import { cpVerdict, prgsPerNode, seenEarlier } from '../../cluster/verdicts.js';
import { validateWave } from '../../cluster/waves.js';
import { type PlanEta, planEta } from '../eta.js';
import type { NodeOutcome } from '../pipeline.js';
import type { RollOutcome } from '../roll.js';
import { clusterChecks, waveChecks } from './checks.js';
import { planNode } from './nodes.js';
import { PLAN_SCHEMA, type PlanDocument, type PlanFacts, type PlanNode, type PlanWave } from './types.js';

export * from './types.js';

/** What a document is made for: a plan (dry run) or a run, its journal, and the nodes a resumed run found done. */
export interface DocumentRun {
  dryRun: boolean;
  journal?: string;
  done?: readonly string[];
}

/** The command that carries this plan out. */
function runCommand(f: PlanFacts): string {
  const parts = ['quantum-roll', 'restart'];
  if (f.options.all) parts.push('--all');
  else parts.push(...f.options.nodes);
  if (f.options.parallel !== 1) parts.push('--parallel', String(f.options.parallel));
  if (f.options.pauseMs > 0) parts.push('--pause', formatDuration(f.options.pauseMs));
  if (f.options.force) parts.push('--force');
  if (f.options.allowOverload) parts.push('--allow-overload');
  // The same config and state dir as the plan, wherever the command is pasted.
  if (f.options.configFile !== undefined) parts.push('--config', f.options.configFile);
  if (f.options.stateDir !== undefined) parts.push('--state-dir', f.options.stateDir);
  return displayArgv(parts);
}

/** The PRGs with a replica on any node of a wave (in listing order), from a node → positions index built once. */
function prgsOfWaves(prgs: readonly Prg[]): (wave: readonly string[]) => Prg[] {
  const touching = new Map<string, number[]>();
  for (let i = 0; i < prgs.length; i++) {
    const reps = prgs[i]!.replicas;
    for (let k = 0; k < reps.length; k++) {
      const n = reps[k]!.node;
      if (seenEarlier(reps, k, n)) continue;
      let t = touching.get(n);
      if (!t) touching.set(n, (t = []));
      t.push(i);
    }
  }
  return (w) => {
    // One node: its positions are already distinct and in listing order.
    if (w.length === 1) return (touching.get(w[0]!) ?? []).map((i) => prgs[i]!);
    const at = new Set<number>();
    for (const id of w) for (const i of touching.get(id) ?? []) at.add(i);
    return [...at].sort((x, y) => x - y).map((i) => prgs[i]!);
  };
}

/** Each wave: its nodes and racks, its ETA, and whether every PRG it touches keeps a healthy quorum without it. */
function planWaves(f: PlanFacts, eta: PlanEta): PlanWave[] {
  const rackOf = new Map(f.targets.map((t) => [t.id, t.rack]));
  const prgsOf = prgsOfWaves(f.prgs);
  return f.waves.map((w, i) => {
    const v = validateWave(w, prgsOf(w));
    return {
      index: i + 1,
      nodes: [...w],
      racks: [...new Set(w.map((id) => rackOf.get(id) ?? ''))].sort(compareIds),
      expected_ms: eta.waves[i]?.expected_ms ?? 0,
      max_ms: eta.waves[i]?.max_ms ?? 0,
      quorum: { ok: v.ok, prgs_checked: v.checked, blockers: v.blockers },
    };
  });
}

function planNodes(f: PlanFacts, waves: readonly PlanWave[], outcomes: ReadonlyMap<string, NodeOutcome>, r: DocumentRun): Record<string, PlanNode> {
  const byId = new Map(f.targets.map((t) => [t.id, t]));
  const cpNodes = new Map(f.state.nodes.map((n) => [n.id, n]));
  const load = prgsPerNode(f.prgs);
  const nodes: Record<string, PlanNode> = {};
  for (const w of waves) {
    for (const id of w.nodes) {
      const t = byId.get(id);
      if (!t) continue;
      nodes[id] = planNode(t, { facts: f, load, wave: w.index, outcome: outcomes.get(id), cpNode: cpNodes.get(id), dryRun: r.dryRun, done: r.done?.includes(id) === true });
    }
  }
  return nodes;
}

function clusterSummary(f: PlanFacts): PlanDocument['cluster'] {
  return {
    cp: { leader: f.state.cp.leader, term: f.state.cp.term, healthy: cpVerdict(f.cpReady).healthy },
    nodes: f.state.nodes.length,
    prgs: f.state.prgs,
    placement: f.state.placement,
    lease: f.lease === null ? null : 'error' in f.lease ? { error: f.lease.error } : { holder: f.lease.holder, expires_at: f.lease.expires_at },
    lb: { adapter: f.lb.name, endpoint: f.lb.endpoint },
  };
}

/** The document of a plan (dry run) or of a run; `o` is absent before anything ran. */
export function planDocument(f: PlanFacts, o: RollOutcome | undefined, r: DocumentRun): PlanDocument {
  const outcomes = new Map((o?.nodes ?? []).map((n) => [n.node, n]));
  const eta = planEta(f.waves, f.eta, f.options.pauseMs);
  const waves = planWaves(f, eta);
  const nodes = planNodes(f, waves, outcomes, r);
  const checks = [...clusterChecks(f, r.dryRun), ...waveChecks(waves, nodes, outcomes, o, r.dryRun)];
  const status: PlanDocument['status'] = !o ? 'planned' : r.dryRun && o.status === 'done' ? 'planned' : o.status;
  return {
    ok: (o?.exitCode ?? 0) === 0,
    exit_code: o?.exitCode ?? 0,
    schema: PLAN_SCHEMA,
    run_id: o?.runId ?? '',
    dry_run: r.dryRun,
    status,
    generated_at: f.generatedAt,
    config_file: f.configFile,
    run_command: runCommand(f),
    options: { parallel: f.options.parallel, pause_ms: f.options.pauseMs, all: f.options.all, force: f.options.force, allow_overload: f.options.allowOverload },
    cluster: clusterSummary(f),
    waves,
    nodes,
    checks,
    eta: { ...eta, basis: f.eta.basis, history: f.eta.history, steps: f.eta.steps },
    journal: r.journal ?? null,
    ...(o?.error ? { error: { message: o.error.message, kind: o.error.name, ...o.error.details } } : {}),
  };
}
