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

/** Per node, the PRGs it leads (ids, in listing order) and how many PRGs it hosts a replica of. */
export interface PrgLoad {
  led: Map<string, string[]>;
  hosted: Map<string, number>;
}

export function prgLoad(prgs: readonly Prg[]): PrgLoad {
  const led = new Map<string, string[]>();
  const hosted = new Map<string, number>();
  for (const p of prgs) {
    if (p.leader) {
      let l = led.get(p.leader);
      if (!l) led.set(p.leader, (l = []));
      l.push(p.id);
    }
    for (const n of new Set(p.replicas.map((x) => x.node))) hosted.set(n, (hosted.get(n) ?? 0) + 1);
  }
  return { led, hosted };
}

/** Placement violations the policy forbids (same node, same rack); replicas on nodes the CP does not list are not counted. */
export function hardPlacementViolations(prgs: readonly Prg[], nodes: readonly ClusterNode[], policy: PlacementPolicy): PlacementViolation[] {
  return placementViolations(prgs, nodes, policy).filter((v) => v.kind !== 'unknown_node');
}
