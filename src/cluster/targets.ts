/** The nodes a run addresses: CP facts overridden by the config, and the ids named on the command line. */
import type { ClusterNode, ClusterState } from '../clients/schemas.js';
import type { Config } from '../config/schema.js';
import { UsageError } from '../util/errors.js';

export interface NodeTarget {
  id: string;
  adminUrl: string;
  lbMember: string;
  rack: string;
}

/** The node as the tool addresses it: CP facts, overridden by `nodes.<id>` of the config. */
export function targetOf(config: Config, n: ClusterNode): NodeTarget {
  const o = config.nodes[n.id];
  return { id: n.id, adminUrl: o?.admin_url ?? n.admin_url, lbMember: o?.lb_member ?? n.id, rack: n.rack };
}

/** Resolves node ids given on the command line against the cluster; unknown ids are usage errors (exit 2). */
export function resolveTargets(config: Config, state: ClusterState, ids: readonly string[]): NodeTarget[] {
  const known = new Map(state.nodes.map((n) => [n.id, n]));
  const seen = new Set<string>();
  return ids.map((id) => {
    const n = known.get(id);
    if (!n) {
      const near = nearest(id, [...known.keys()]);
      throw new UsageError(
        `unknown node "${id}"${near ? ` (did you mean ${near}?)` : ''}; the cluster has: ${[...known.keys()].join(', ')}`,
        { node: id, evidence: { known: [...known.keys()] } },
      );
    }
    if (seen.has(id)) throw new UsageError(`node "${id}" is named twice`, { node: id });
    seen.add(id);
    return targetOf(config, n);
  });
}

function nearest(id: string, ids: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of ids) {
    const d = levenshtein(id, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(id.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
