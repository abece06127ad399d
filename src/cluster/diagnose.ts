/**
 * What `status` says needs a person's attention, from what it read (pure, no I/O).
 * Above all a leaked drain: a node drained with no run in progress, which keeps a
 * healthy node out of service until someone notices. Every verdict about the cluster
 * comes from cluster/verdicts.ts, the same ones the precheck and the plan use.
 */
import type { ClusterState, CpStatus, LeaseInfo } from '../clients/schemas.js';
import type { PlacementViolation } from './placement.js';
import { cpVerdict, prgReadyRatio, prgsHealthy } from './verdicts.js';

export type Failed = { error: string };

export interface DrainView {
  draining: boolean;
  reason: string | null;
  since: string | null;
  initiator: string | null;
  run_id: string | null;
}

export interface LbView {
  member: string;
  admin_state: 'enabled' | 'draining' | 'disabled';
  health: 'up' | 'down' | 'unknown';
  active_connections: number | null;
}

/** One node as `status --json` shows it (`null`: that read failed). */
export interface StatusNode {
  id: string;
  state: string;
  rack: string;
  zone: string;
  admin_url: string;
  ready: boolean | null;
  reasons: string[] | null;
  replay_progress: number | null;
  sessions: number | null;
  drain: DrainView | Failed;
  lb: LbView | ({ member: string } & Failed);
  prgs_hosted: number;
  prgs_led: number;
  boot_id: string | null;
  started_at: string | null;
  version: string | null;
  leaked_drain: boolean;
  error?: string;
}

export interface Attention {
  node?: string;
  kind: 'leaked_drain' | 'left_drained' | 'lb_out_not_drained' | 'lb_down' | 'not_ready' | 'unreachable' | 'node_state' | 'cp' | 'prgs' | 'placement' | 'journal';
  severity: 'warning' | 'info';
  message: string;
  next?: string;
}

/** The last run's journal, as far as status needs it. */
export interface JournalView {
  file: string;
  run_id: string;
  status: string;
  unfinished: boolean;
  error?: string | null;
}

/** Everything status read, already shaped per node. */
export interface StatusFacts {
  cpReady: { ok: boolean; cp: CpStatus };
  state: ClusterState;
  /** Hard placement violations (cluster/verdicts.ts `hardPlacementViolations`). */
  violations: PlacementViolation[];
  lease: LeaseInfo | null | Failed;
  nodes: StatusNode[];
  journal: JournalView | undefined;
  minPrgsReadyRatio: number;
  now: number;
}

export const isFailed = (v: object | null): v is Failed => v !== null && 'error' in v;

/** `quantum-roll@host:pid/<run_id>` → run_id */
export const runOf = (initiator: string | null): string | undefined => /\/([^/]+)$/.exec(initiator ?? '')?.[1];

/** A drain belongs to the running roll when the lease holder is the run that set it (same initiator or run id). */
export const setByHolder = (initiator: string | null, holder: string | null): boolean =>
  holder !== null && (initiator === holder || runOf(initiator) === runOf(holder));

/** The lease holder, when the lease was read and is held. */
export const holderOf = (lease: LeaseInfo | null | Failed): string | null => (lease !== null && !isFailed(lease) ? lease.holder : null);

/** A drain with no run of its own in progress: nobody is going to undo it. */
export function isLeakedDrain(drain: DrainView | Failed, holder: string | null): boolean {
  return !isFailed(drain) && drain.draining && !setByHolder(drain.initiator, holder);
}

/** "12s ago", "4m ago", "2h05m ago", "3d ago". */
export function ago(iso: string | null, now: number): string {
  if (!iso) return '?';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Cluster-wide rules: the CP (by its `/readyz`, the contract's rule), PRG readiness, placement. */
export function clusterAttention(f: StatusFacts): Attention[] {
  const out: Attention[] = [];
  const { state } = f;
  if (!cpVerdict(f.cpReady).healthy) {
    const cp = f.cpReady.cp;
    out.push({ kind: 'cp', severity: 'warning', message: `the control plane is not healthy (leader ${cp.leader ?? 'none'}, term ${cp.term})`, next: 'no restart can pass its prechecks until it is' });
  }
  if (!prgsHealthy(state, f.minPrgsReadyRatio)) {
    out.push({
      kind: 'prgs',
      severity: 'warning',
      message: `${state.prgs.ready}/${state.prgs.total} PRGs ready, ${state.prgs.strict_fallback} in strict fallback (a restart needs ≥ ${f.minPrgsReadyRatio} and none)`,
    });
  }
  const v = f.violations;
  if (v.length || state.placement.violations) {
    const some = v.length ? `: ${v.slice(0, 3).map((x) => `${x.prg} (${x.nodes.join(', ')})`).join(', ')}${v.length > 3 ? ', …' : ''}` : '';
    out.push({
      kind: 'placement',
      severity: 'warning',
      message: `${Math.max(v.length, state.placement.violations)} placement violation(s) under ${state.placement.policy}${some}`,
      next: 'quantum-roll placement check',
    });
  }
  return out;
}

/** Per-node rules: unreachable, leaked or left drain, LB out or down, not ready, CP node state. */
export function nodeAttention(n: StatusNode, unfinished: JournalView | undefined, now: number): Attention[] {
  if (isFailed(n.drain)) return [{ node: n.id, kind: 'unreachable', severity: 'warning', message: `${n.id}: admin API unreachable (${n.drain.error})` }];
  const out: Attention[] = [];
  const d = n.drain;
  if (n.leaked_drain) {
    const who = `reason ${d.reason ?? '?'}, since ${d.since ?? '?'} (${ago(d.since, now)}), by ${d.initiator ?? '?'}`;
    if (unfinished && d.run_id === unfinished.run_id) {
      const how = unfinished.status === 'running' ? 'stopped without finishing' : unfinished.status;
      out.push({ node: n.id, kind: 'left_drained', severity: 'warning', message: `${n.id} was left drained by run ${unfinished.run_id}, which ${how} (${who})`, next: 'quantum-roll resume' });
    } else {
      const sick = n.ready === false && n.reasons?.some((r) => r !== 'draining');
      out.push({
        node: n.id,
        kind: 'leaked_drain',
        severity: 'warning',
        message: `${n.id} is drained with no run in progress: a leaked drain (${who})`,
        next: sick ? `investigate ${n.id} (not ready: ${n.reasons!.join(', ')}), then quantum-roll undrain ${n.id}` : `quantum-roll undrain ${n.id}`,
      });
    }
  }
  const lb = isFailed(n.lb) ? undefined : (n.lb as LbView);
  if (lb && !d.draining && lb.admin_state !== 'enabled') {
    out.push({ node: n.id, kind: 'lb_out_not_drained', severity: 'warning', message: `${n.id}: LB member ${lb.member} is ${lb.admin_state} but the node is not drained`, next: `quantum-roll undrain ${n.id} (puts the member back once the node is ready)` });
  } else if (lb && lb.admin_state === 'enabled' && lb.health !== 'up') {
    out.push({ node: n.id, kind: 'lb_down', severity: 'warning', message: `${n.id}: LB member ${lb.member} is enabled but its health check says ${lb.health}` });
  }
  const extra = (n.reasons ?? []).filter((r) => r !== 'draining');
  if (n.ready === false && extra.length && !d.draining) {
    const replay = n.replay_progress !== null && n.replay_progress < 1 ? ` (replay ${(n.replay_progress * 100).toFixed(0)} %)` : '';
    out.push({ node: n.id, kind: 'not_ready', severity: 'info', message: `${n.id} is not ready: ${extra.join(', ')}${replay}` });
  }
  if (n.state === 'down' || n.state === 'unknown') out.push({ node: n.id, kind: 'node_state', severity: 'warning', message: `the CP reports ${n.id} as ${n.state}` });
  return out;
}

/** Everything that needs a person, in the order status lists it. */
export function diagnose(f: StatusFacts): Attention[] {
  const unfinished = f.journal?.unfinished === true ? f.journal : undefined;
  const out = clusterAttention(f);
  for (const n of f.nodes) out.push(...nodeAttention(n, unfinished, f.now));
  if (unfinished) {
    const why = unfinished.error ? `: ${unfinished.error.split('\n')[0]}` : '';
    out.push({ kind: 'journal', severity: 'info', message: `unfinished run ${unfinished.run_id} (${unfinished.status}${why})`, next: 'quantum-roll resume' });
  }
  return out;
}

/** The `status --json` document (key order is part of the output). */
export function statusDocument(f: StatusFacts) {
  const holder = holderOf(f.lease);
  return {
    ok: true as const,
    exit_code: 0 as const,
    cp: f.state.cp,
    routing_epoch: f.state.routing_epoch,
    prgs: { ...f.state.prgs, ready_ratio: prgReadyRatio(f.state) },
    placement: { ...f.state.placement, found: f.violations.length },
    lease: f.lease,
    run_in_progress: holder !== null && holder.startsWith('quantum-roll@') ? { holder, run_id: runOf(holder) ?? null } : null,
    nodes: f.nodes,
    leaked_drains: f.nodes.filter((n) => n.leaked_drain).map((n) => n.id),
    attention: diagnose(f),
    journal: f.journal
      ? { file: f.journal.file, run_id: f.journal.run_id, status: f.journal.status, unfinished: f.journal.unfinished, ...(f.journal.unfinished ? { hint: 'quantum-roll resume' } : {}) }
      : null,
  };
}
export type StatusDocument = ReturnType<typeof statusDocument>;
