/** One definition of each verdict about the cluster, shared by the prechecks, the plan and `status`. */
import type { ClusterState, Readiness } from '../clients/schemas.js';

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
