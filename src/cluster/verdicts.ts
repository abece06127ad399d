/** One definition of each verdict about the cluster, shared by the prechecks, the plan and `status`. */
import type { ClusterState, CpStatus, Readiness } from '../clients/schemas.js';

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
