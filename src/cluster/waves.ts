/**
 * Placement-aware restart waves (pure, no I/O).
 *
 * Two nodes conflict when some PRG has replicas on both: they never share a wave. On top
 * of that each wave must pass the quorum check as a whole (`checkQuorumWithout`), so an
 * already-degraded PRG can force nodes apart; a node whose own removal is blocked gets a
 * wave of its own (the precheck on fresh state refuses it later, with the reasons).
 *
 * Waves are a greedy graph colouring of the conflict graph. Two colourings are tried and
 * the one with fewer waves wins (ties go to the rack one, which operators find natural):
 *  - rack by rack: each rack's nodes are first-fit into waves of their own. With a clean
 *    one-replica-per-rack placement over R racks no two nodes of a rack share a PRG, so
 *    this gives exactly R waves (DSatur alone does not guarantee that for R ≥ 3);
 *  - DSatur over the whole graph, which copes with placements that are not rack-clean.
 *
 * Order: waves, and nodes inside waves, by ascending PRGs led (the nodes leading most go
 * last); the wave with the node hosting the CP leader goes last, that node last in it.
 * Ties break by id, so equal inputs give equal plans.
 *
 * Cost: the conflict graph comes from each PRG's replica list (O(Σ replicas²)), the
 * quorum checks only look at the PRGs of the node being placed (index node → PRGs).
 */
import type { Prg } from '../clients/schemas.js';
import { RefusedError } from '../util/errors.js';
import { checkQuorumWithout, compareIds, describeBlockers, quorumNeeded, type QuorumVerdict } from './quorum.js';

export interface WaveNode {
  id: string;
  rack: string;
  prgsLed: number;
  hostsCpLeader?: boolean;
}

export interface WavePlanOptions {
  /** a cap on nodes per wave (1 = serial), or `auto` = as few waves as possible */
  maxWaveSize: number | 'auto';
}

/**
 * Nodes as dense indices, PRGs touching them in flat typed arrays: the planner's hot
 * loops then run on integers instead of string-keyed maps.
 */
interface Model {
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

function buildModel(ids: readonly string[], prgs: readonly Prg[]): Model {
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

/** The quorum verdict for taking every node of `wave` down at once (run on fresh state). */
export function validateWave(wave: readonly string[], prgs: readonly Prg[]): QuorumVerdict {
  return checkQuorumWithout(prgs, wave);
}

/**
 * Re-validates wave `index` (1-based) of `total` against fresh PRGs, right before it
 * starts: placement or replica health may have changed since the plan was made. The
 * PRGs are read per wave node (`fetchPrgs(node)`, i.e. `/v1/prgs?node=`), deduplicated.
 * Throws a `RefusedError` (exit 3) naming every blocking PRG and its unavailable
 * replicas; nothing of the wave has changed at that point.
 */
export async function revalidateWave(
  index: number,
  total: number,
  wave: readonly string[],
  fetchPrgs: (node: string) => Promise<readonly Prg[]>,
): Promise<QuorumVerdict> {
  const byId = new Map<string, Prg>();
  for (const list of await Promise.all(wave.map((id) => fetchPrgs(id)))) for (const p of list) byId.set(p.id, p);
  const verdict = validateWave(wave, [...byId.values()]);
  if (verdict.ok) return verdict;
  const nodes = [...wave].sort(compareIds);
  throw new RefusedError(
    `wave ${index} of ${total} (${nodes.join(', ')}) is no longer safe to restart together on fresh state; ` +
      `placement or replica health changed since the plan was made. Nothing in this wave was changed` +
      `${index === 2 ? ' (wave 1 is done)' : index > 2 ? ` (waves 1–${index - 1} are done)` : ''}.\n${describeBlockers(verdict, nodes)}`,
    {
      step: 'precheck',
      next: 'check placement (quantum-roll placement check) and the cluster (quantum-roll status), then run the same command again: a new plan is made from fresh state',
      evidence: { wave: index, nodes, blockers: verdict.blockers },
    },
  );
}

/** Whether node `v`'s own removal is already blocked (quorum, no leader, strict fallback). */
function blockedAlone(model: Model, v: number): boolean {
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

class Colouring {
  readonly waves: number[][] = [];
  private readonly sealed: boolean[] = [];
  readonly waveOf: Int32Array;
  /** for each node, the waves that hold one of its neighbours */
  readonly neighbourWaves: Set<number>[];

  constructor(
    private readonly model: Model,
    private readonly cap: number,
  ) {
    this.waveOf = new Int32Array(model.ids.length).fill(-1);
    this.neighbourWaves = model.ids.map(() => new Set<number>());
  }

  /** Put node `v` into the first wave at index ≥ `from` that takes it, else a new one. */
  place(v: number, from: number, sealed: boolean): number {
    let w = -1;
    if (!sealed) {
      for (let c = from; c < this.waves.length; c++) {
        if (this.fits(v, c)) {
          w = c;
          break;
        }
      }
    }
    if (w < 0) {
      w = this.waves.length;
      this.waves.push([]);
      this.sealed.push(sealed);
    }
    (this.waves[w] as number[]).push(v);
    this.waveOf[v] = w;
    for (const u of this.model.adj[v] as Int32Array) (this.neighbourWaves[u] as Set<number>).add(w);
    return w;
  }

  private fits(v: number, w: number): boolean {
    if (this.sealed[w] === true || (this.waves[w] as number[]).length >= this.cap) return false;
    if ((this.neighbourWaves[v] as Set<number>).has(w)) return false;
    // Quorum of the wave with `v` added: only PRGs touching `v` can change verdict. (With no
    // conflicting pair in a wave this cannot fail once `v` alone is fine; it is kept so that
    // the wave invariant never rests on that reasoning alone.)
    const { start, rep, healthy, needed, prgsOf } = this.model;
    for (const p of prgsOf[v] as Int32Array) {
      let h = 0;
      for (let i = start[p] as number; i < (start[p + 1] as number); i++) {
        const u = rep[i] as number;
        if (healthy[i] === 1 && u !== v && (u < 0 || this.waveOf[u] !== w)) h++;
      }
      if (h < (needed[p] as number)) return false;
    }
    return true;
  }
}

/**
 * Split `nodes` into restart waves. Every node appears in exactly one wave; duplicates
 * in `nodes` are ignored (first occurrence wins).
 */
export function planWaves(nodes: readonly WaveNode[], prgs: readonly Prg[], opts: WavePlanOptions): string[][] {
  const byId = new Map<string, WaveNode>();
  for (const n of nodes) if (!byId.has(n.id)) byId.set(n.id, n);
  if (byId.size === 0) return [];
  const cap = capOf(opts.maxWaveSize);
  const ids = [...byId.keys()].sort(compareIds);
  const model = buildModel(ids, prgs);

  // Nodes whose own removal is already blocked go alone.
  const blocked: boolean[] = ids.map((_, v) => blockedAlone(model, v));

  const racks = ids.map((id) => (byId.get(id) as WaveNode).rack);
  const byRack = colourByRack(model, racks, blocked, cap);
  const dsatur = colourDsatur(model, blocked, cap);
  const best = dsatur.length < byRack.length ? dsatur : byRack;
  return order(
    best.map((w) => w.map((v) => ids[v] as string)),
    byId,
  );
}

function capOf(max: number | 'auto'): number {
  if (max === 'auto') return Infinity;
  if (!Number.isFinite(max)) return max > 0 ? Infinity : 1;
  return Math.max(1, Math.floor(max));
}

function colourByRack(model: Model, racks: readonly string[], blocked: readonly boolean[], cap: number): number[][] {
  const c = new Colouring(model, cap);
  blocked.forEach((b, v) => {
    if (b) c.place(v, 0, true);
  });
  const members = new Map<string, number[]>();
  racks.forEach((rack, v) => {
    if (blocked[v] === true) return;
    let list = members.get(rack);
    if (list === undefined) members.set(rack, (list = []));
    list.push(v);
  });
  for (const rack of [...members.keys()].sort(compareIds)) {
    const from = c.waves.length;
    for (const v of members.get(rack) as number[]) c.place(v, from, false);
  }
  return c.waves;
}

function colourDsatur(model: Model, blocked: readonly boolean[], cap: number): number[][] {
  const c = new Colouring(model, cap);
  const pending: number[] = []; // in id order: the final tie-break
  blocked.forEach((b, v) => {
    if (b) c.place(v, 0, true);
    else pending.push(v);
  });
  while (pending.length > 0) {
    let bi = 0;
    let bestSat = -1;
    let bestDeg = -1;
    for (let i = 0; i < pending.length; i++) {
      const v = pending[i] as number;
      const s = (c.neighbourWaves[v] as Set<number>).size;
      if (s < bestSat) continue;
      const d = (model.adj[v] as Int32Array).length;
      if (s > bestSat || d > bestDeg) {
        bi = i;
        bestSat = s;
        bestDeg = d;
      }
    }
    const v = pending[bi] as number;
    pending.splice(bi, 1);
    c.place(v, 0, false);
  }
  return c.waves;
}

function order(waves: string[][], byId: Map<string, WaveNode>): string[][] {
  const led = (id: string): number => (byId.get(id) as WaveNode).prgsLed;
  const cp = (id: string): boolean => (byId.get(id) as WaveNode).hostsCpLeader === true;
  const byNode = (a: string, b: string): number =>
    Number(cp(a)) - Number(cp(b)) || led(a) - led(b) || compareIds(a, b);
  const sorted = waves.filter((w) => w.length > 0).map((w) => [...w].sort(byNode));
  const key = (w: string[]) => ({
    cp: w.some(cp),
    max: Math.max(...w.map(led)),
    sum: w.reduce((s, id) => s + led(id), 0),
    first: w[0] as string,
  });
  const keyed = sorted.map((w) => ({ w, k: key(w) }));
  keyed.sort(
    (a, b) =>
      Number(a.k.cp) - Number(b.k.cp) || a.k.max - b.k.max || a.k.sum - b.k.sum || compareIds(a.k.first, b.k.first),
  );
  return keyed.map((x) => x.w);
}
