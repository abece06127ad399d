/** One definition of each verdict about the cluster, shared by the prechecks, the plan and `status`. */
import type { ClusterNode, ClusterState, CpStatus, Prg, Readiness } from '../clients/schemas.js';
import { type PlacementPolicy, type PlacementViolation, placementViolations } from './placement.js';

/**
 * The contract's rule for "the CP is healthy": its `/readyz` answered 200. The plan,
 * the precheck and `status` all judge by this answer, never by `cluster/state`'s
 * `cp.healthy` alone, so a plan cannot pass what the precheck then refuses.
 */
export interface CpVerdict {
  healthy: boolean;
  /** "leader cp-1, term 7" plus the unhealthy members, for messages. */
  detail: string;
  unhealthyMembers: string[];
}

export function cpVerdict(readyz: { ok: boolean; cp: CpStatus }): CpVerdict {
  const unhealthyMembers = readyz.cp.members.filter((m) => !m.healthy).map((m) => m.id);
  const detail = `leader ${readyz.cp.leader ?? 'none'}, term ${readyz.cp.term}${unhealthyMembers.length ? `, unhealthy members: ${unhealthyMembers.join(', ')}` : ''}`;
  return { healthy: readyz.ok, detail, unhealthyMembers };
}

/** Cluster-wide active MQTT sessions over the nodes that answered. */
export function totalSessions(readiness: Map<string, Readiness | Error>): number {
  let n = 0;
  for (const r of readiness.values()) if (!(r instanceof Error)) n += activeSessions(r);
  return n;
}

export function prgReadyRatio(state: ClusterState): number {
  return state.prgs.total === 0 ? 1 : state.prgs.ready / state.prgs.total;
}

/** Sum of active sessions over a node's listeners. */
export function activeSessions(r: Readiness): number {
  return r.listeners.reduce((n, l) => n + l.active_sessions, 0);
}

/** Free capacity of a node, or undefined when any listener's capacity is unknown. */
export function spareCapacity(r: Readiness): number | undefined {
  let spare = 0;
  for (const l of r.listeners) {
    if (l.max_sessions === undefined || l.max_sessions === null) return undefined;
    spare += Math.max(0, l.max_sessions - l.active_sessions);
  }
  return spare;
}

/** True when the only thing keeping the node out of service is the drain flag. */
export function readyButDrained(r: Readiness): boolean {
  return r.reasons.every((x) => x === 'draining');
}

/** The PRGs each node leads (ids, in listing order) and how many it hosts. */
export interface PrgsPerNode {
  led: Map<string, string[]>;
  /** A PRG with two replicas on one node (a placement violation) is hosted there once. */
  hosted: Map<string, number>;
}

/** Led and hosted PRGs per node, from one PRG listing: for status, the plan and the waves. */
export function prgsPerNode(prgs: readonly Prg[]): PrgsPerNode {
  return addPrgsPerNode({ led: new Map(), hosted: new Map() }, prgs);
}

/** Adds `prgs` (e.g. one page of a listing) to the counts of `acc`; returns `acc`. */
export function addPrgsPerNode(acc: PrgsPerNode, prgs: readonly Prg[]): PrgsPerNode {
  const { led, hosted } = acc;
  for (const p of prgs) {
    if (p.leader) {
      const l = led.get(p.leader);
      if (l) l.push(p.id);
      else led.set(p.leader, [p.id]);
    }
    const reps = p.replicas;
    for (let i = 0; i < reps.length; i++) {
      const n = reps[i]!.node;
      if (!seenEarlier(reps, i, n)) hosted.set(n, (hosted.get(n) ?? 0) + 1);
    }
  }
  return acc;
}

/** Whether a replica before index `i` is on `node` (two replicas on one node: a placement violation), so a node is counted once per PRG. */
export function seenEarlier(reps: Prg['replicas'], i: number, node: string): boolean {
  for (let j = 0; j < i; j++) if (reps[j]!.node === node) return true;
  return false;
}

/**
 * The cluster-wide PRG rule of the precheck and the postcheck: at least `minReadyRatio`
 * of the PRGs ready and none in strict fallback (both from `prgs` of cluster/state).
 */
export function prgsHealthy(state: ClusterState, minReadyRatio: number): boolean {
  return state.prgs.strict_fallback === 0 && prgReadyRatio(state) >= minReadyRatio;
}

/**
 * The placement audit split in two: hard violations (`same_node`, `same_rack`: a restart
 * or a rack failure takes several voters of one PRG down) and replicas on nodes the
 * cluster state does not list (`unknown_node`: rack unknown, a note, not a violation).
 */
export function placementAudit(
  prgs: readonly Prg[],
  nodes: readonly ClusterNode[],
  policy: PlacementPolicy,
): { hard: PlacementViolation[]; unknownNodes: PlacementViolation[] } {
  const all = placementViolations(prgs, nodes, policy);
  return { hard: all.filter((v) => v.kind !== 'unknown_node'), unknownNodes: all.filter((v) => v.kind === 'unknown_node') };
}

/** The hard placement violations (see {@link placementAudit}). */
export function hardPlacementViolations(prgs: readonly Prg[], nodes: readonly ClusterNode[], policy: PlacementPolicy): PlacementViolation[] {
  return placementAudit(prgs, nodes, policy).hard;
}
