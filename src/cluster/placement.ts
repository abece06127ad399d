/**
 * Placement hygiene audit (pure, no I/O), for `quantum-roll placement check` and `status`.
 *
 * - `same_node`: two or more replicas of one PRG on one node. Always a violation: that
 *   node's restart takes several voters down at once.
 * - `same_rack`: under `one_replica_per_rack`, replicas of one PRG on two or more distinct
 *   nodes of one rack (a rack failure, or a rack-wide wave, takes them down together).
 * - `unknown_node`: under `one_replica_per_rack`, a replica on a node the cluster state does
 *   not list (or lists with an empty rack). Its rack is unknown, so it is not counted for
 *   `same_rack`; it is reported so that the audit does not pass silently. Callers that
 *   only want hard violations filter on `kind`.
 *
 * Order: by PRG id, then kind (`same_node`, `same_rack`, `unknown_node`), then `where`.
 */
import type { ClusterNode, Prg } from '../clients/schemas.js';
import { compareIds } from './quorum.js';

export type PlacementPolicy = 'one_replica_per_node' | 'one_replica_per_rack';

export interface PlacementViolation {
  prg: string;
  kind: 'same_node' | 'same_rack' | 'unknown_node';
  /** the node id (`same_node`, `unknown_node`) or the rack (`same_rack`) */
  where: string;
  /** the distinct nodes involved, sorted by id */
  nodes: string[];
  /** how many replicas of the PRG are involved (≥ 2 for `same_node` and `same_rack`) */
  replicas: number;
}

const KIND_ORDER: Record<PlacementViolation['kind'], number> = { same_node: 0, same_rack: 1, unknown_node: 2 };

export function placementViolations(
  prgs: readonly Prg[],
  nodes: readonly ClusterNode[],
  policy: PlacementPolicy,
): PlacementViolation[] {
  const rackOf = new Map<string, string>();
  for (const n of nodes) rackOf.set(n.id, n.rack);
  const perRack = policy === 'one_replica_per_rack';
  const out: PlacementViolation[] = [];

  for (const prg of prgs) {
    if (clean(prg, rackOf, perRack)) continue;
    const found: PlacementViolation[] = [];
    const perNode = new Map<string, number>();
    for (const r of prg.replicas) perNode.set(r.node, (perNode.get(r.node) ?? 0) + 1);
    for (const [node, count] of perNode) {
      if (count > 1) found.push({ prg: prg.id, kind: 'same_node', where: node, nodes: [node], replicas: count });
    }
    if (perRack) {
      const racks = new Map<string, { nodes: string[]; replicas: number }>();
      for (const [node, count] of perNode) {
        const rack = rackOf.get(node);
        if (rack === undefined || rack === '') {
          found.push({ prg: prg.id, kind: 'unknown_node', where: node, nodes: [node], replicas: count });
          continue;
        }
        const entry = racks.get(rack) ?? { nodes: [], replicas: 0 };
        entry.nodes.push(node);
        entry.replicas += count;
        racks.set(rack, entry);
      }
      for (const [rack, entry] of racks) {
        // one node with two replicas is already `same_node`; `same_rack` needs distinct nodes
        if (entry.nodes.length > 1) {
          found.push({
            prg: prg.id,
            kind: 'same_rack',
            where: rack,
            nodes: entry.nodes.sort(compareIds),
            replicas: entry.replicas,
          });
        }
      }
    }
    out.push(...found);
  }

  return sortViolations(out);
}

/** The audit's order (by PRG id, kind, where), in place: also for violations gathered page by page. */
export function sortViolations(list: PlacementViolation[]): PlacementViolation[] {
  return list.sort((a, b) => compareIds(a.prg, b.prg) || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compareIds(a.where, b.where));
}

/**
 * The common case, without allocating: every replica on its own node and, under
 * `one_replica_per_rack`, on its own known rack. Such a PRG has no violation of any kind;
 * every other PRG goes through the full audit above.
 */
function clean(prg: Prg, rackOf: ReadonlyMap<string, string>, perRack: boolean): boolean {
  const reps = prg.replicas;
  for (let i = 0; i < reps.length; i++) {
    const node = reps[i]!.node;
    const rack = perRack ? rackOf.get(node) : undefined;
    if (perRack && (rack === undefined || rack === '')) return false;
    for (let j = 0; j < i; j++) {
      const other = reps[j]!.node;
      if (other === node || (perRack && rackOf.get(other) === rack)) return false;
    }
  }
  return true;
}
