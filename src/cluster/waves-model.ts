/** The planner's conflict model: planned nodes as dense indices, the PRGs touching them in flat typed arrays (pure). */
import type { Prg } from '../clients/schemas.js';
import { quorumNeeded } from './quorum.js';

/**
 * Nodes as dense indices, PRGs touching them in flat typed arrays: the planner's hot
 * loops then run on integers instead of string-keyed maps.
 */
export interface Model {
  ids: string[];
  /** neighbours of each node (distinct, no self) */
  adj: Int32Array[];
  /** PRG p's replicas are rep[start[p] .. start[p+1]) (node index, or -1 for a node not planned) */
  start: Int32Array;
  rep: Int32Array;
  healthy: Uint8Array;
  needed: Int32Array;
  /** no leader or strict fallback: any planned node on it is blocked */
  unsafe: Uint8Array;
  /** the PRGs with a replica on each node, each listed once */
  prgsOf: Int32Array[];
}

export function buildModel(ids: readonly string[], prgs: readonly Prg[]): Model {
  const n = ids.length;
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i));

  // Pass 1: the PRGs that touch a planned node, flattened.
  const touching: Prg[] = [];
  let total = 0;
  for (const prg of prgs) {
    for (const r of prg.replicas) {
      if (index.has(r.node)) {
        touching.push(prg);
        total += prg.replicas.length;
        break;
      }
    }
  }
  const m = touching.length;
  const start = new Int32Array(m + 1);
  const rep = new Int32Array(total);
  const healthy = new Uint8Array(total);
  const needed = new Int32Array(m);
  const unsafe = new Uint8Array(m);
  const prgCount = new Int32Array(n);
  let k = 0;
  for (let p = 0; p < m; p++) {
    const prg = touching[p] as Prg;
    start[p] = k;
    needed[p] = quorumNeeded(prg.replicas.length);
    unsafe[p] = prg.leader === null || prg.strict_fallback ? 1 : 0;
    for (const r of prg.replicas) {
      const v = index.get(r.node) ?? -1;
      rep[k] = v;
      healthy[k] = r.state === 'healthy' ? 1 : 0;
      // count each node once per PRG (two replicas on one node happen: placement violation)
      if (v >= 0 && !seenBefore(rep, start[p] as number, k, v)) prgCount[v] = (prgCount[v] as number) + 1;
      k++;
    }
  }
  start[m] = k;

  const prgsOf = Array.from({ length: n }, (_, v) => new Int32Array(prgCount[v] as number));
  const fill = new Int32Array(n);
  // Conflict edges, deduplicated with a bit matrix (n² bits: 125 kB for 1,000 nodes),
  // or with sets for very large node counts.
  const useBits = n <= 16_384;
  const bits = useBits ? new Uint32Array(Math.ceil((n * n) / 32)) : null;
  const sets = useBits ? null : Array.from({ length: n }, () => new Set<number>());
  const lists: number[][] = Array.from({ length: n }, () => []);
  for (let p = 0; p < m; p++) {
    const s = start[p] as number;
    const e = start[p + 1] as number;
    for (let i = s; i < e; i++) {
      const a = rep[i] as number;
      if (a < 0 || seenBefore(rep, s, i, a)) continue;
      const f = fill[a] as number;
      (prgsOf[a] as Int32Array)[f] = p;
      fill[a] = f + 1;
      for (let j = i + 1; j < e; j++) {
        const b = rep[j] as number;
        if (b < 0 || b === a) continue;
        if (bits !== null) {
          const bit = a * n + b;
          const word = bit >>> 5;
          const mask = 1 << (bit & 31);
          if (((bits[word] as number) & mask) !== 0) continue;
          bits[word] = (bits[word] as number) | mask;
          const rbit = b * n + a;
          bits[rbit >>> 5] = (bits[rbit >>> 5] as number) | (1 << (rbit & 31));
        } else {
          const sa = (sets as Set<number>[])[a] as Set<number>;
          if (sa.has(b)) continue;
          sa.add(b);
          ((sets as Set<number>[])[b] as Set<number>).add(a);
        }
        (lists[a] as number[]).push(b);
        (lists[b] as number[]).push(a);
      }
    }
  }
  const adj = lists.map((l) => Int32Array.from(l));
  return { ids: [...ids], adj, start, rep, healthy, needed, unsafe, prgsOf };
}

function seenBefore(rep: Int32Array, from: number, to: number, v: number): boolean {
  for (let i = from; i < to; i++) if (rep[i] === v) return true;
  return false;
}

/** For each of `nodeIds`, the other nodes of `nodeIds` it shares at least one PRG with. */
export function conflictGraph(nodeIds: readonly string[], prgs: readonly Prg[]): Map<string, Set<string>> {
  const ids = [...new Set(nodeIds)];
  const model = buildModel(ids, prgs);
  const graph = new Map<string, Set<string>>();
  ids.forEach((id, v) => {
    const set = new Set<string>();
    for (const u of model.adj[v] as Int32Array) set.add(ids[u] as string);
    graph.set(id, set);
  });
  return graph;
}

/** Whether node `v`'s own removal is already blocked (quorum, no leader, strict fallback). */
export function blockedAlone(model: Model, v: number): boolean {
  for (const p of model.prgsOf[v] as Int32Array) {
    if (model.unsafe[p] === 1) return true;
    let h = 0;
    for (let i = model.start[p] as number; i < (model.start[p + 1] as number); i++) {
      if (model.rep[i] !== v && model.healthy[i] === 1) h++;
    }
    if (h < (model.needed[p] as number)) return true;
  }
  return false;
}
