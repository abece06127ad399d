/**
 * A dry run reads the cluster once. It changes nothing and waits for nothing, so the
 * plan of every node and every wave can be made from one snapshot: each read is made
 * once and shared (the CP's `/readyz`, cluster state and PRG listings, each node's
 * `/readyz` and `/v1/node`, each LB member's status). Without it `plan --all` on N
 * nodes reads every node's `/readyz` once per node (N² reads) and lists PRGs per node.
 *
 * PRG listings: once the whole listing has been read (a plan of several nodes reads
 * it to make waves), `node=` and `leader=` listings are answered from it, through an
 * index built once, instead of paging through the CP again. The index holds references
 * into the one listing (no copy of any PRG), and its lists are handed out frozen.
 *
 * A failed read is not kept: the step that needs it reads again and reports the
 * failure in its own words.
 */
import type { LbAdapter, LbCallCtl, LbTarget, MemberStatus } from '../adapters/lb/types.js';
import { ControlPlaneClient } from './control-plane.js';
import { type CallCtl, RuntimeClient } from './runtime.js';
import type { ClusterState, CpStatus, LeaseInfo, NodeInfo, Prg, Readiness } from './schemas.js';

/** Memoizes a promise per key; a rejected one is forgotten so the next caller retries. */
class Memo {
  private readonly map = new Map<string, Promise<unknown>>();
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.map.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.map.set(key, p);
      p.catch(() => this.map.delete(key));
    }
    return p;
  }
}

const NONE: Prg[] = Object.freeze([]) as unknown as Prg[];

type PrgFilter = { node?: string; leader?: string; limit?: number };

/** The CP client of a dry run: every read once. Writes pass through (a dry run sends none). */
export class SnapshotControlPlane extends ControlPlaneClient {
  private readonly memo = new Memo();
  private all: Prg[] | undefined;
  private index: { byNode: Map<string, Prg[]>; byLeader: Map<string, Prg[]> } | undefined;

  override readyz(ctl: CallCtl = {}): Promise<{ ok: boolean; cp: CpStatus }> {
    return this.memo.get('readyz', () => super.readyz(ctl));
  }

  override clusterState(ctl: CallCtl = {}): Promise<ClusterState> {
    return this.memo.get('state', () => super.clusterState(ctl));
  }

  override features(ctl: CallCtl = {}): Promise<{ batch: boolean }> {
    return this.memo.get('features', () => super.features(ctl));
  }

  override lease(name: string, ctl: CallCtl = {}): Promise<LeaseInfo | undefined> {
    return this.memo.get(`lease:${name}`, () => super.lease(name, ctl));
  }

  override async listPrgs(filter: PrgFilter = {}, ctl: CallCtl = {}): Promise<Prg[]> {
    if (filter.node === undefined && filter.leader === undefined) {
      const all = await this.memo.get('prgs', () => super.listPrgs({ limit: filter.limit }, ctl));
      this.all = all;
      return all;
    }
    if (this.all) return this.filtered(filter);
    return this.memo.get(`prgs:${filter.node ?? ''}:${filter.leader ?? ''}`, () => super.listPrgs(filter, ctl));
  }

  private filtered(filter: PrgFilter): Prg[] {
    const ix = this.indexed();
    if (filter.node !== undefined && filter.leader !== undefined) {
      return (ix.byLeader.get(filter.leader) ?? []).filter((p) => p.replicas.some((r) => r.node === filter.node));
    }
    // The index's own (frozen) lists: no copy per precheck, and no caller can change them.
    if (filter.node !== undefined) return ix.byNode.get(filter.node) ?? NONE;
    return ix.byLeader.get(filter.leader!) ?? NONE;
  }

  private indexed(): NonNullable<SnapshotControlPlane['index']> {
    if (this.index) return this.index;
    const byNode = new Map<string, Prg[]>();
    const byLeader = new Map<string, Prg[]>();
    const push = (m: Map<string, Prg[]>, k: string, p: Prg) => {
      const l = m.get(k);
      if (l) l.push(p);
      else m.set(k, [p]);
    };
    for (const p of this.all ?? []) {
      if (p.leader !== null) push(byLeader, p.leader, p);
      const reps = p.replicas;
      for (let i = 0; i < reps.length; i++) {
        const node = reps[i]!.node;
        // Listed once per node, even with two replicas there (a placement violation).
        let dup = false;
        for (let j = 0; j < i && !dup; j++) dup = reps[j]!.node === node;
        if (!dup) push(byNode, node, p);
      }
    }
    for (const l of byNode.values()) Object.freeze(l);
    for (const l of byLeader.values()) Object.freeze(l);
    this.index = { byNode, byLeader };
    return this.index;
  }
}

/** A node's admin API in a dry run: `/readyz` and `/v1/node` read once. */
export class SnapshotRuntime extends RuntimeClient {
  private readonly memo = new Memo();

  override readyz(ctl: CallCtl = {}): Promise<Readiness> {
    return this.memo.get('readyz', () => super.readyz(ctl));
  }

  override node(ctl: CallCtl = {}): Promise<NodeInfo> {
    return this.memo.get('node', () => super.node(ctl));
  }
}

/** The LB adapter in a dry run: each member's status read once. */
export function snapshotLb(lb: LbAdapter): LbAdapter {
  const memo = new Memo();
  return {
    get name() {
      return lb.name;
    },
    get endpoint() {
      return lb.endpoint;
    },
    status: (t: LbTarget, ctl?: LbCallCtl): Promise<MemberStatus> => memo.get(`${t.node}\u0000${t.member}`, () => lb.status(t, ctl)),
    drain: (t, ctl) => lb.drain(t, ctl),
    enable: (t, ctl) => lb.enable(t, ctl),
    close: () => lb.close(),
  };
}
