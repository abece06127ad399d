// Static cluster layout: nodes, racks, PRG replica placement and leadership, kept in
// flat typed arrays with a per-node index so that 100k PRGs stay cheap.

export type PlacementPolicy = 'one_replica_per_rack' | 'one_replica_per_node';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];

export class Topology {
  readonly nodeIds: string[];
  readonly nodeRack: string[];
  readonly nodeIndex = new Map<string, number>();
  readonly policy: PlacementPolicy;
  /** Replicas per PRG (3, or fewer when the cluster has fewer nodes). */
  readonly rf: number;
  readonly prgCount: number;
  /** replicas[p * rf + slot] = node index. */
  readonly replicas: Int32Array;
  /** leader[p] = node index or -1. */
  readonly leader: Int32Array;
  readonly leadCount: Int32Array;
  /** Sorted PRG indices with a replica on each node. */
  readonly nodePrgs: number[][];

  constructor(nodes: number, racks: number, prgs: number) {
    if (nodes < 1) throw new Error('nodes must be >= 1');
    this.nodeIds = Array.from({ length: nodes }, (_, i) => `node-${i + 1}`);
    const usedRacks = Math.max(1, Math.min(racks, nodes));
    this.nodeRack = this.nodeIds.map((_, i) => `r${(i % usedRacks) + 1}`);
    this.nodeIds.forEach((id, i) => this.nodeIndex.set(id, i));
    this.policy = usedRacks >= 3 ? 'one_replica_per_rack' : 'one_replica_per_node';
    this.rf = Math.min(3, nodes);
    this.prgCount = prgs;
    this.replicas = new Int32Array(prgs * this.rf);
    this.leader = new Int32Array(prgs).fill(-1);
    this.leadCount = new Int32Array(nodes);
    this.nodePrgs = this.nodeIds.map(() => []);
    this.place(usedRacks);
  }

  private place(racks: number): void {
    const rackNodes: number[][] = Array.from({ length: racks }, () => []);
    this.nodeIds.forEach((_, i) => rackNodes[i % racks]?.push(i));
    const rackCursor = new Array<number>(racks).fill(0);
    const n = this.nodeIds.length;
    for (let p = 0; p < this.prgCount; p++) {
      for (let s = 0; s < this.rf; s++) {
        let node: number;
        if (this.policy === 'one_replica_per_rack') {
          const r = (p + s) % racks;
          const members = rackNodes[r] ?? [];
          const c = rackCursor[r] ?? 0;
          node = members[c % members.length] ?? 0;
          rackCursor[r] = c + 1;
        } else {
          node = (p + s) % n;
        }
        this.replicas[p * this.rf + s] = node;
        this.nodePrgs[node]?.push(p);
      }
      let best = -1;
      for (let s = 0; s < this.rf; s++) {
        const node = this.replicas[p * this.rf + s] ?? 0;
        if (best < 0 || (this.leadCount[node] ?? 0) < (this.leadCount[best] ?? 0)) best = node;
      }
      this.setLeader(p, best);
    }
  }

  prgId(p: number): string {
    return `prg-${String(p + 1).padStart(4, '0')}`;
  }

  /** PRG index from an id, or -1. */
  prgIndex(id: string): number {
    const m = /^prg-(\d+)$/.exec(id);
    if (!m?.[1]) return -1;
    const p = Number(m[1]) - 1;
    if (!Number.isInteger(p) || p < 0 || p >= this.prgCount || this.prgId(p) !== id) return -1;
    return p;
  }

  tenant(p: number): string {
    return TENANTS[p % TENANTS.length] ?? 'acme';
  }

  replica(p: number, slot: number): number {
    return this.replicas[p * this.rf + slot] ?? -1;
  }

  hasReplica(p: number, node: number): boolean {
    for (let s = 0; s < this.rf; s++) if (this.replica(p, s) === node) return true;
    return false;
  }

  setLeader(p: number, node: number): void {
    const old = this.leader[p] ?? -1;
    if (old === node) return;
    if (old >= 0) this.leadCount[old] = (this.leadCount[old] ?? 1) - 1;
    if (node >= 0) this.leadCount[node] = (this.leadCount[node] ?? 0) + 1;
    this.leader[p] = node;
  }

  /** Moves one replica slot of a PRG to another node, keeping the per-node index sorted. */
  moveReplica(p: number, slot: number, to: number): void {
    const from = this.replica(p, slot);
    if (from === to) return;
    if (this.leader[p] === from) this.setLeader(p, to);
    this.replicas[p * this.rf + slot] = to;
    if (!this.hasReplica(p, from)) removeSorted(this.nodePrgs[from] ?? [], p);
    const list = this.nodePrgs[to] ?? [];
    if (!list.includes(p)) insertSorted(list, p);
  }

  /** PRGs whose placement breaks the policy (two replicas on one node, or one rack). */
  violations(): number {
    let count = 0;
    for (let p = 0; p < this.prgCount; p++) if (this.violates(p)) count++;
    return count;
  }

  violates(p: number): boolean {
    const seen = new Set<string>();
    for (let s = 0; s < this.rf; s++) {
      const node = this.replica(p, s);
      const key = this.policy === 'one_replica_per_rack' ? (this.nodeRack[node] ?? '') : String(node);
      if (seen.has(key)) return true;
      seen.add(key);
    }
    return false;
  }
}

function lowerBound(list: number[], v: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] ?? 0) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: number[], v: number): void {
  list.splice(lowerBound(list, v), 0, v);
}

function removeSorted(list: number[], v: number): void {
  const i = lowerBound(list, v);
  if (list[i] === v) list.splice(i, 1);
}

export { lowerBound };
