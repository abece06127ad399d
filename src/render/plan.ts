/**
 * The plan document: what `plan --json` (and `restart … --json`) print, documented in
 * docs/plan-schema.md, and the human plan rendered from that same document, so that
 * the table and the JSON never disagree.
 *
 * Built from facts read once at the start (cluster state, every PRG, the lease, run
 * history for the ETA) plus, when there is one, the outcome of the (dry) run: the
 * precheck evidence of every node and what each step did or would do.
 */
import type { ClusterState, LeaseInfo, Prg } from '../clients/schemas.js';
import type { Config } from '../config/schema.js';
import type { NodeTarget } from '../steps/context.js';
import { type NodeOutcome, resultOf } from '../run/pipeline.js';
import { placementViolations } from '../cluster/placement.js';
import { type QuorumBlocker, compareIds } from '../cluster/quorum.js';
import { restartArgv } from '../steps/restart-command.js';
import type { RollOutcome } from '../run/roll.js';
import { displayArgv } from '../util/run-argv.js';
import { validateWave } from '../cluster/waves.js';
import { type EtaModel, type PlanEta, type StepEstimate, planEta } from '../run/eta.js';
import { fmt } from '../config/duration.js';
import { stepNamed } from '../steps/index.js';
import { precheckStep } from '../steps/precheck.js';
import { leaderTransferStep } from '../steps/leader-transfer.js';

export const PLAN_SCHEMA = 'quantum-roll/plan@1';

export interface PlanFacts {
  generatedAt: string;
  configFile: string;
  config: Config;
  state: ClusterState;
  /** every PRG of the cluster */
  prgs: readonly Prg[];
  targets: readonly NodeTarget[];
  waves: readonly (readonly string[])[];
  lb: { name: string; endpoint: string };
  /** null when free */
  lease: LeaseInfo | null | { error: string };
  eta: EtaModel;
  options: { parallel: number | 'auto'; pauseMs: number; all: boolean; force: boolean; allowOverload: boolean; nodes: readonly string[] };
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'not_run';

export interface PlanCheck {
  id: 'cp_healthy' | 'prgs_ready' | 'placement' | 'lease' | 'wave_quorum' | 'precheck';
  scope: 'cluster' | 'wave' | 'node';
  wave?: number;
  node?: string;
  status: CheckStatus;
  summary: string;
  evidence?: Record<string, unknown>;
}

export type PlanNodeStatus = 'planned' | 'skipped' | 'refused' | 'failed' | 'not_checked' | 'pending' | 'done' | 'interrupted';

export interface PlanWait {
  step: string;
  for: string;
  expected_ms: number;
  max_ms: number;
}

export interface PlanNode {
  wave: number;
  status: PlanNodeStatus;
  rack: string;
  zone: string | null;
  state: string | null;
  admin_url: string;
  lb_member: string;
  hosts_cp_leader: boolean;
  prgs_hosted: number;
  prgs_led: string[];
  prgs_led_count: number;
  sessions: number | null;
  lb_actions: string[];
  restart_argv: string[] | null;
  waits: PlanWait[];
  expected_ms: number;
  max_ms: number;
  precheck: { status: CheckStatus; summary: string | null; warnings: string[] };
  steps: Array<{ step: string; outcome: string; duration_ms: number; summary: string; actions?: string[] }>;
  /** leadership actually moved (a real run) */
  prgs_moved?: string[];
  warnings: string[];
  error: string | null;
}

export interface PlanWave {
  index: number;
  nodes: string[];
  racks: string[];
  expected_ms: number;
  max_ms: number;
  quorum: { ok: boolean; prgs_checked: number; blockers: QuorumBlocker[] };
}

export interface PlanDocument {
  ok: boolean;
  exit_code: number;
  schema: typeof PLAN_SCHEMA;
  run_id: string;
  dry_run: boolean;
  status: 'planned' | 'done' | 'refused' | 'failed' | 'interrupted';
  generated_at: string;
  config_file: string;
  /** the command that carries this plan out */
  run_command: string;
  options: { parallel: number | 'auto'; pause_ms: number; all: boolean; force: boolean; allow_overload: boolean };
  cluster: {
    cp: { leader: string | null; term: number; healthy: boolean };
    nodes: number;
    prgs: { total: number; ready: number; strict_fallback: number };
    placement: { policy: string; violations: number };
    lease: { holder: string; expires_at: string } | null | { error: string };
    lb: { adapter: string; endpoint: string };
  };
  waves: PlanWave[];
  nodes: Record<string, PlanNode>;
  checks: PlanCheck[];
  eta: PlanEta & { basis: EtaModel['basis']; history: EtaModel['history']; steps: StepEstimate[] };
  journal: string | null;
  error?: Record<string, unknown> & { message: string };
}

function nodeStatus(o: NodeOutcome | undefined, dry: boolean): PlanNodeStatus {
  if (!o) return dry ? 'not_checked' : 'pending';
  if (o.status === 'failed' && o.error?.exitCode === 3) return 'refused';
  if (dry && o.status === 'done') return 'planned';
  return o.status;
}

function precheckOf(o: NodeOutcome | undefined): PlanNode['precheck'] {
  const p = o?.steps.find((s) => s.step === 'precheck');
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
    `drain member ${t.lbMember} (${via}), wait until it takes no new connections (≤ ${fmt(config.timeouts.lb)})`,
    `enable member ${t.lbMember} once ${t.id} is ready, wait until the LB sees it healthy (≤ ${fmt(config.timeouts.lb)})`,
  ];
}

function waitsOf(t: NodeTarget, led: number, sessions: number | null, eta: EtaModel, config: Config): PlanWait[] {
  return eta.steps.map((s) => {
    const w = stepNamed(s.step)?.waits(config, { id: t.id, lbMember: t.lbMember, prgsLed: led, sessions });
    return { step: s.step, for: w?.for ?? s.waits_for, expected_ms: w?.nothing ? 0 : s.expected_ms, max_ms: s.max_ms };
  });
}

function runCommand(f: PlanFacts): string {
  const parts = ['quantum-roll', 'restart'];
  if (f.options.all) parts.push('--all');
  else parts.push(...f.options.nodes);
  if (f.options.parallel !== 1) parts.push('--parallel', String(f.options.parallel));
  if (f.options.pauseMs > 0) parts.push('--pause', fmt(f.options.pauseMs).replace(/ /g, ''));
  if (f.options.force) parts.push('--force');
  if (f.options.allowOverload) parts.push('--allow-overload');
  return parts.join(' ');
}

/** The document of a plan (dry run) or of a run; `outcome` is absent before anything ran. */
export function planDocument(f: PlanFacts, o: RollOutcome | undefined, r: { dryRun: boolean; journal?: string; done?: readonly string[] }): PlanDocument {
  const byId = new Map(f.targets.map((t) => [t.id, t]));
  const cpNode = new Map(f.state.nodes.map((n) => [n.id, n]));
  const led = new Map<string, string[]>();
  const hosted = new Map<string, number>();
  // node → positions in f.prgs of the PRGs it hosts: each wave is checked against its own PRGs, not all of them.
  const touching = new Map<string, number[]>();
  f.prgs.forEach((p, i) => {
    if (p.leader) {
      let l = led.get(p.leader);
      if (!l) led.set(p.leader, (l = []));
      l.push(p.id);
    }
    for (const n of new Set(p.replicas.map((x) => x.node))) {
      hosted.set(n, (hosted.get(n) ?? 0) + 1);
      let t = touching.get(n);
      if (!t) touching.set(n, (t = []));
      t.push(i);
    }
  });
  const prgsOfWave = (w: readonly string[]): Prg[] => {
    const at = new Set<number>();
    for (const id of w) for (const i of touching.get(id) ?? []) at.add(i);
    return [...at].sort((x, y) => x - y).map((i) => f.prgs[i]!);
  };
  const outcomes = new Map((o?.nodes ?? []).map((n) => [n.node, n]));
  const eta = planEta(f.waves, f.eta, f.options.pauseMs);

  const waves: PlanWave[] = f.waves.map((w, i) => {
    const v = validateWave(w, prgsOfWave(w));
    return {
      index: i + 1,
      nodes: [...w],
      racks: [...new Set(w.map((id) => byId.get(id)?.rack ?? ''))].sort(compareIds),
      expected_ms: eta.waves[i]?.expected_ms ?? 0,
      max_ms: eta.waves[i]?.max_ms ?? 0,
      quorum: { ok: v.ok, prgs_checked: v.checked, blockers: v.blockers },
    };
  });

  const nodes: Record<string, PlanNode> = {};
  waves.forEach((w) => {
    for (const id of w.nodes) {
      const t = byId.get(id);
      if (!t) continue;
      const out = outcomes.get(id);
      const sessions = resultOf(precheckStep, out?.steps)?.sessions ?? null;
      const ledIds = (led.get(id) ?? []).sort(compareIds);
      let argv: string[] | null;
      try {
        argv = restartArgv(f.config.restart.command, t);
      } catch {
        argv = null;
      }
      const waits = waitsOf(t, ledIds.length, sessions, f.eta, f.config);
      const moved = resultOf(leaderTransferStep, out?.steps)?.prgs;
      nodes[id] = {
        wave: w.index,
        status: !out && r.done?.includes(id) ? 'done' : nodeStatus(out, r.dryRun),
        rack: t.rack,
        zone: cpNode.get(id)?.zone ?? null,
        state: cpNode.get(id)?.state ?? null,
        admin_url: t.adminUrl,
        lb_member: t.lbMember,
        hosts_cp_leader: f.state.cp.leader === id,
        prgs_hosted: hosted.get(id) ?? 0,
        prgs_led: ledIds,
        prgs_led_count: ledIds.length,
        sessions,
        lb_actions: lbActions(t, f.lb, f.config),
        restart_argv: argv,
        waits,
        expected_ms: waits.reduce((s, x) => s + x.expected_ms, 0),
        max_ms: waits.reduce((s, x) => s + x.max_ms, 0),
        precheck: precheckOf(out),
        steps: (out?.steps ?? []).map((s) => ({ step: s.step, outcome: s.outcome, duration_ms: s.duration_ms, summary: s.summary, ...(s.actions ? { actions: s.actions } : {}) })),
        ...(!r.dryRun && moved ? { prgs_moved: moved } : {}),
        warnings: out?.warnings ?? [],
        error: out?.error?.message ?? null,
      };
    }
  });

  const checks = clusterChecks(f, r.dryRun);
  for (const w of waves) {
    const refusedHere = o?.error?.details.evidence?.wave === w.index;
    checks.push({
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
    });
    for (const id of w.nodes) {
      const n = nodes[id];
      if (!n) continue;
      const out = outcomes.get(id);
      const evidence = out?.status === 'failed' ? out.error?.details.evidence : resultOf(precheckStep, out?.steps);
      checks.push({
        id: 'precheck',
        scope: 'node',
        wave: w.index,
        node: id,
        status: n.precheck.status,
        summary:
          n.precheck.summary ??
          (n.status === 'not_checked' || n.status === 'pending' ? `not checked: an earlier wave stopped the ${r.dryRun ? 'plan' : 'run'}` : 'not run'),
        ...(evidence ? { evidence: evidence as unknown as Record<string, unknown> } : {}),
      });
    }
  }

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
    cluster: {
      cp: { leader: f.state.cp.leader, term: f.state.cp.term, healthy: f.state.cp.healthy },
      nodes: f.state.nodes.length,
      prgs: f.state.prgs,
      placement: f.state.placement,
      lease: f.lease === null ? null : 'error' in f.lease ? { error: f.lease.error } : { holder: f.lease.holder, expires_at: f.lease.expires_at },
      lb: { adapter: f.lb.name, endpoint: f.lb.endpoint },
    },
    waves,
    nodes,
    checks,
    eta: { ...eta, basis: f.eta.basis, history: f.eta.history, steps: f.eta.steps },
    journal: r.journal ?? null,
    ...(o?.error ? { error: { message: o.error.message, kind: o.error.name, ...o.error.details } } : {}),
  };
}

function clusterChecks(f: PlanFacts, dry: boolean): PlanCheck[] {
  const { state, config } = f;
  const checks: PlanCheck[] = [];
  const sick = state.cp.members.filter((m) => !m.healthy).map((m) => m.id);
  checks.push({
    id: 'cp_healthy',
    scope: 'cluster',
    status: state.cp.healthy && state.cp.leader ? 'pass' : 'fail',
    summary: `control plane ${state.cp.healthy ? 'healthy' : 'NOT healthy'}: leader ${state.cp.leader ?? 'none'}, term ${state.cp.term}${sick.length ? `, unhealthy members ${sick.join(', ')}` : ''}`,
    evidence: { cp: state.cp },
  });
  const ratio = state.prgs.total === 0 ? 1 : state.prgs.ready / state.prgs.total;
  const min = config.checks.min_prgs_ready_ratio;
  checks.push({
    id: 'prgs_ready',
    scope: 'cluster',
    status: ratio >= min && state.prgs.strict_fallback === 0 ? 'pass' : 'fail',
    summary: `${state.prgs.ready}/${state.prgs.total} PRGs ready (${(ratio * 100).toFixed(2)} %, need ≥ ${(min * 100).toFixed(2)} %), ${state.prgs.strict_fallback} in strict fallback`,
    evidence: { prgs: state.prgs, min_prgs_ready_ratio: min },
  });
  const violations = placementViolations(f.prgs, state.nodes, state.placement.policy).filter((v) => v.kind !== 'unknown_node');
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

// ---- human rendering ------------------------------------------------------------

export interface TextOptions {
  verbose: boolean;
  color: boolean;
  /** `plan`: the cluster and wave checks only (the confirmation view: no precheck has run yet) */
  withChecks: boolean | 'plan';
  /** terminal width: a node table wider than this puts each restart argv on a line of its own */
  width?: number;
}

const MARK: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗', skip: '–', not_run: '·' };

function painter(color: boolean) {
  const wrap = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { bold: wrap('1'), dim: wrap('2'), red: wrap('31'), green: wrap('32'), yellow: wrap('33'), cyan: wrap('36') };
}

export function table(header: string[], rows: string[][], indent = ''): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmtRow = (r: string[]) => `${indent}${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd();
  return [fmtRow(header), ...rows.map(fmtRow)];
}

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length;

function wrapList(items: readonly string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const it of items) {
    if (cur && indent.length + cur.length + it.length + 2 > width) {
      lines.push(`${indent}${cur},`);
      cur = '';
    }
    cur = cur ? `${cur}, ${it}` : it;
  }
  if (cur) lines.push(`${indent}${cur}`);
  return lines;
}

function basisText(d: PlanDocument): string {
  const h = d.eta.history;
  if (d.eta.basis === 'history') return `observed over ${h.node_restarts} node restart(s) in ${h.runs} earlier run(s)`;
  const defaults = d.eta.steps.filter((s) => s.source === 'default').map((s) => `${s.step} ${fmt(s.expected_ms)}`);
  if (d.eta.basis === 'defaults') return `no earlier run to learn from yet: quiesce is the grace, ${defaults.join(', ')} are defaults`;
  return `partly observed (${h.node_restarts} node restart(s)); defaults for ${defaults.join(', ')}`;
}

/** The plan for a person: per wave a table, the waits, the ETA and the evidence. */
export function renderPlanText(d: PlanDocument, o: TextOptions): string {
  const p = painter(o.color);
  const out: string[] = [];
  const n = Object.keys(d.nodes).length;
  const par = d.options.parallel === 1 ? 'one node at a time' : d.options.parallel === 'auto' ? '--parallel auto' : `--parallel ${d.options.parallel}`;
  out.push(
    p.bold(`Plan: restart ${n} node${n === 1 ? '' : 's'} in ${d.waves.length} wave${d.waves.length === 1 ? '' : 's'} (${par}${d.options.pause_ms ? `, ${fmt(d.options.pause_ms)} pause between waves` : ''})`) +
      (d.dry_run ? p.dim(' — dry run, nothing changed') : ''),
  );
  const c = d.cluster;
  const lease = c.lease === null ? 'lease free' : 'error' in c.lease ? 'lease unknown' : `lease held by ${c.lease.holder}`;
  out.push(
    p.dim(
      `cluster: CP leader ${c.cp.leader ?? 'none'} (term ${c.cp.term}, ${c.cp.healthy ? 'healthy' : 'UNHEALTHY'}) · ${c.prgs.ready}/${c.prgs.total} PRGs ready · ${c.placement.policy}, ${c.placement.violations} violation(s) · ${lease} · LB ${c.lb.adapter}`,
    ),
  );
  for (const w of d.waves) {
    out.push('');
    const head = `Wave ${w.index}/${d.waves.length}  ${w.nodes.join(', ')}`;
    const racks = w.racks.length === 1 ? `rack ${w.racks[0]}` : `racks ${w.racks.join(', ')}`;
    const q = w.quorum.ok ? p.green(`quorum ok (${w.quorum.prgs_checked} PRGs)`) : p.red(`UNSAFE: ${w.quorum.blockers.length} PRG(s) would lose quorum`);
    out.push(`${p.bold(head)}  ${p.dim(racks)}  ${q}  ${p.dim(`≈ ${fmt(w.expected_ms)}, ≤ ${fmt(w.max_ms)}`)}`);
    const rows = w.nodes.map((id) => {
      const x = d.nodes[id]!;
      const status = x.status === 'planned' || x.status === 'pending' ? '' : x.status === 'done' ? p.green('done') : x.status === 'skipped' || x.status === 'not_checked' ? p.yellow(x.status) : p.red(x.status);
      return [
        id,
        x.rack,
        String(x.prgs_led_count) + (x.hosts_cp_leader ? ' +CP' : ''),
        String(x.prgs_hosted),
        x.sessions === null ? '?' : String(x.sessions),
        c.lb.adapter === 'none' ? '(readyz)' : `${x.lb_member}: drain → enable`,
        x.restart_argv ? displayArgv(x.restart_argv) : p.red('invalid'),
        status,
      ];
    });
    const header = ['NODE', 'RACK', 'LEADS', 'HOSTS', 'SESSIONS', `LB (${c.lb.adapter})`, 'RESTART', ''];
    let lines = table(header, rows, '  ');
    // Too wide for the terminal: the restart argv goes on its own line under each node.
    const argvBelow = lines.some((l) => visibleLength(l) > (o.width ?? Infinity));
    if (argvBelow) lines = table([...header.slice(0, 6), ''], rows.map((r) => [...r.slice(0, 6), r[7] ?? '']), '  ');
    out.push(p.dim(lines[0] ?? ''));
    w.nodes.forEach((id, i) => {
      out.push(lines[i + 1] ?? '');
      const x = d.nodes[id]!;
      if (argvBelow) out.push(`${' '.repeat(10)}${p.dim('$')} ${x.restart_argv ? displayArgv(x.restart_argv) : p.red('invalid restart.command for this node')}`);
      if (o.verbose && x.prgs_led.length) out.push(...wrapList(x.prgs_led, 120, '      leads: ').map((l, k) => (k === 0 ? p.dim(l) : p.dim(l.replace('leads: ', '       ')))));
      if (x.error && x.status !== 'done') out.push(`      ${p.red(x.error.split('\n')[0] ?? '')}`);
      for (const wn of x.warnings) out.push(`      ${p.yellow(`warning: ${wn}`)}`);
    });
  }
  out.push('');
  out.push(p.bold('Each node waits for'));
  const waitRows = d.eta.steps.map((s) => [s.step, `≈ ${fmt(s.expected_ms)}`, `≤ ${fmt(s.max_ms)}`, s.source === 'history' ? `observed (${s.samples})` : s.source, s.waits_for]);
  out.push(...table(['STEP', 'EXPECTED', 'AT MOST', 'FROM', 'WAITS FOR'], waitRows, '  ').map((l, i) => (i === 0 ? p.dim(l) : l)));
  out.push('');
  out.push(
    `${p.bold('ETA')} ≈ ${fmt(d.eta.expected_ms)} for ${d.waves.length} wave(s)${d.eta.pause_ms ? ` including ${fmt(d.eta.pause_ms * Math.max(0, d.waves.length - 1))} of pauses` : ''}; at most ${fmt(d.eta.max_ms)} if every wait runs to its timeout.`,
  );
  out.push(p.dim(`  (${basisText(d)})`));
  if (o.withChecks) {
    out.push('');
    out.push(`${p.bold('Checks')} ${p.dim('on the current state; before each wave the plan is validated again and every node prechecked on fresh state')}`);
    for (const ch of d.checks) {
      if (o.withChecks === 'plan' && ch.scope === 'node') continue;
      const mark = ch.status === 'pass' ? p.green(MARK.pass) : ch.status === 'fail' ? p.red(MARK.fail) : ch.status === 'warn' ? p.yellow(MARK.warn) : p.dim(MARK[ch.status]);
      const who = ch.scope === 'node' ? `${ch.node}: ` : '';
      const [first, ...rest] = ch.summary.split('\n');
      out.push(`  ${mark} ${who}${first}`);
      for (const l of rest.slice(0, o.verbose ? undefined : 12)) out.push(`      ${l}`);
      if (!o.verbose && rest.length > 12) out.push(p.dim(`      … ${rest.length - 12} more line(s) (--verbose or --json)`));
    }
  }
  return out.join('\n');
}

/** The closing lines of a plan: the verdict and how to run it. */
export function planVerdict(d: PlanDocument, color: boolean): string {
  const p = painter(color);
  if (d.ok) return `${p.green('Plan OK.')} Run it: ${p.bold(d.run_command)}${p.dim('  (asks for confirmation; --yes in scripts)')}`;
  const msg = d.error?.message ?? 'the plan is not safe';
  const next = typeof d.error?.next === 'string' ? `\n  next: ${d.error.next}` : '';
  return `${p.red(`Plan refused (exit ${d.exit_code}):`)} ${msg}${next}`;
}
