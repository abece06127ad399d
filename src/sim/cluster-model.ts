// The supervisor's view of the cluster: node liveness (from process events and
// heartbeats), replica states derived from it, leader elections, and the stats and
// events tests assert on.
import type { EventLog } from './recorder.js';
import type { Topology } from './topology.js';
import type { Faults, ReplicaState } from './types.js';

export type NodeClass = 'down' | 'replaying' | 'healthy';

export interface NodeView {
  id: string;
  idx: number;
  rack: string;
  adminUrl: string;
  mqttPort: number;
  processUp: boolean;
  pid: number | null;
  bootId: string | null;
  startedAt: number;
  replayProgress: number;
  draining: boolean;
  activeSessions: number;
  lastHeartbeat: number;
  cpCacheFresh: boolean;
}

interface ReplicaOverride {
  state: 'down' | 'lagging';
  prgs: Set<number> | null;
}

export class ClusterModel {
  readonly nodes: NodeView[];
  routingEpoch = 1;
  /** Bumped on every change that affects PRG readiness. */
  version = 0;
  readonly stats = {
    restarts: {} as Record<string, number>,
    boots: {} as Record<string, number>,
    maxUnavailablePerPrg: 0,
    leaderChanges: 0,
    transfersRequested: 0,
    transfersCompleted: 0,
  };
  private readonly overrides = new Map<number, ReplicaOverride[]>();
  private readonly pendingElections = new Set<number>();
  private electionTimer: NodeJS.Timeout | null = null;
  private readyCache: { version: number; ready: number } | null = null;
  private violationsCache: number | null = null;
  private strictCache: { version: number; n: number; counts: Int32Array } | null = null;
  private placementMoved: { p: number; slot: number; from: number } | null = null;
  readonly t0 = Date.now();
  /** True while the initial processes start: no elections, no availability stats. */
  booting = true;

  constructor(
    readonly topo: Topology,
    readonly faults: () => Faults,
    readonly events: EventLog,
  ) {
    this.nodes = topo.nodeIds.map((id, idx) => ({
      id,
      idx,
      rack: topo.nodeRack[idx] ?? 'r1',
      adminUrl: '',
      mqttPort: 0,
      processUp: false,
      pid: null,
      bootId: null,
      startedAt: 0,
      replayProgress: 0,
      draining: false,
      activeSessions: 0,
      lastHeartbeat: 0,
      cpCacheFresh: false,
    }));
  }

  node(id: string): NodeView | undefined {
    const i = this.topo.nodeIndex.get(id);
    return i === undefined ? undefined : this.nodes[i];
  }

  nodeClass(idx: number): NodeClass {
    const n = this.nodes[idx];
    if (!n?.processUp) return 'down';
    return n.replayProgress < 1 ? 'replaying' : 'healthy';
  }

  replicaState(p: number, node: number): ReplicaState {
    const cls = this.nodeClass(node);
    if (cls !== 'healthy') return cls;
    const ovs = this.overrides.get(node);
    if (ovs) for (const ov of ovs) if (!ov.prgs || ov.prgs.has(p)) return ov.state;
    return 'healthy';
  }

  healthyReplicas(p: number): number {
    let h = 0;
    for (let s = 0; s < this.topo.rf; s++) if (this.replicaState(p, this.topo.replica(p, s)) === 'healthy') h++;
    return h;
  }

  /** Ready = has a leader and a majority of its voters healthy. */
  prgReady(p: number): boolean {
    return (this.topo.leader[p] ?? -1) >= 0 && this.healthyReplicas(p) > this.topo.rf / 2;
  }

  readyCount(): number {
    if (this.readyCache?.version === this.version) return this.readyCache.ready;
    let ready = 0;
    for (let p = 0; p < this.topo.prgCount; p++) if (this.prgReady(p)) ready++;
    this.readyCache = { version: this.version, ready };
    return ready;
  }

  violations(): number {
    this.violationsCache ??= this.topo.violations();
    return this.violationsCache;
  }

  isStrict(p: number): boolean {
    return p < this.faults().strictFallback;
  }

  strictCount(): number {
    return Math.min(this.faults().strictFallback, this.topo.prgCount);
  }

  /** Strict-fallback PRGs led by a node (what its /readyz reports); cached per version. */
  strictLedBy(idx: number): number {
    const n = this.strictCount();
    if (n === 0) return 0;
    if (this.strictCache?.version !== this.version || this.strictCache.n !== n) {
      const counts = new Int32Array(this.nodes.length);
      for (let p = 0; p < n; p++) {
        const l = this.topo.leader[p] ?? -1;
        if (l >= 0) counts[l] = (counts[l] ?? 0) + 1;
      }
      this.strictCache = { version: this.version, n, counts };
    }
    return this.strictCache.counts[idx] ?? 0;
  }

  commitIndex(p: number): number {
    return 1000 + ((p * 37) % 5000) + Math.floor((Date.now() - this.t0) / 50);
  }

  // ---- node lifecycle -------------------------------------------------------------

  onProcessUp(idx: number, info: { bootId: string; startedAt: number; pid: number | null; replayProgress: number }): void {
    const n = this.nodes[idx];
    if (!n) return;
    const before = this.nodeClass(idx);
    n.processUp = true;
    n.bootId = info.bootId;
    n.startedAt = info.startedAt;
    n.pid = info.pid;
    n.replayProgress = info.replayProgress;
    n.lastHeartbeat = Date.now();
    this.stats.boots[n.id] = (this.stats.boots[n.id] ?? 0) + 1;
    this.events.emit('process_up', { node: n.id, boot_id: info.bootId, pid: info.pid });
    this.classChanged(idx, before);
  }

  onProcessDown(idx: number, detail: Record<string, unknown> = {}): void {
    const n = this.nodes[idx];
    if (!n?.processUp) return;
    const before = this.nodeClass(idx);
    n.processUp = false;
    n.pid = null;
    n.activeSessions = 0;
    n.cpCacheFresh = false;
    this.events.emit('process_down', { node: n.id, ...detail });
    this.classChanged(idx, before);
  }

  /** Heartbeat fields from a node; ignored when from a previous boot. */
  onHeartbeat(idx: number, hb: { bootId: string; replayProgress: number; draining: boolean; activeSessions: number }): boolean {
    const n = this.nodes[idx];
    if (!n?.processUp || n.bootId !== hb.bootId) return false;
    const before = this.nodeClass(idx);
    n.replayProgress = Math.max(0, Math.min(1, hb.replayProgress));
    n.lastHeartbeat = Date.now();
    n.cpCacheFresh = true;
    if (n.draining !== hb.draining) {
      n.draining = hb.draining;
      this.routingEpoch++;
      this.events.emit(hb.draining ? 'drain_on' : 'drain_off', { node: n.id });
    }
    n.activeSessions = hb.activeSessions;
    if (before === 'replaying' && this.nodeClass(idx) === 'healthy') this.events.emit('replay_done', { node: n.id, boot_id: n.bootId });
    this.classChanged(idx, before);
    return true;
  }

  private classChanged(idx: number, before: NodeClass): void {
    const after = this.nodeClass(idx);
    if (after === before) return;
    this.version++;
    this.routingEpoch++;
    if (this.booting) return;
    const prgs = this.topo.nodePrgs[idx] ?? [];
    if (after !== 'healthy') {
      for (const p of prgs) {
        let unavailable = 0;
        for (let s = 0; s < this.topo.rf; s++) if (this.nodeClass(this.topo.replica(p, s)) !== 'healthy') unavailable++;
        if (unavailable > this.stats.maxUnavailablePerPrg) this.stats.maxUnavailablePerPrg = unavailable;
      }
    }
    this.reconcileLeaders(prgs);
  }

  // ---- leadership -----------------------------------------------------------------

  /** Deposes leaders on unhealthy replicas and schedules elections for leaderless PRGs. */
  reconcileLeaders(prgs: Iterable<number>): void {
    for (const p of prgs) {
      const l = this.topo.leader[p] ?? -1;
      if (l >= 0 && this.replicaState(p, l) !== 'healthy') this.changeLeader(p, -1, 'leader_unhealthy');
      if ((this.topo.leader[p] ?? -1) < 0) this.pendingElections.add(p);
    }
    if (this.pendingElections.size > 0 && !this.electionTimer) {
      this.electionTimer = setTimeout(() => this.runElections(), this.faults().electionDelayMs);
      this.electionTimer.unref();
    }
  }

  reconcileAllLeaders(): void {
    const all = Array.from({ length: this.topo.prgCount }, (_, p) => p);
    this.reconcileLeaders(all);
  }

  private runElections(): void {
    this.electionTimer = null;
    const pending = [...this.pendingElections];
    this.pendingElections.clear();
    for (const p of pending) {
      if ((this.topo.leader[p] ?? -1) >= 0) continue;
      let best = -1;
      for (let s = 0; s < this.topo.rf; s++) {
        const node = this.topo.replica(p, s);
        if (this.replicaState(p, node) !== 'healthy') continue;
        if (best < 0 || (this.topo.leadCount[node] ?? 0) < (this.topo.leadCount[best] ?? 0)) best = node;
      }
      if (best >= 0) this.changeLeader(p, best, 'election');
    }
  }

  changeLeader(p: number, to: number, cause: string): void {
    const from = this.topo.leader[p] ?? -1;
    if (from === to) return;
    this.topo.setLeader(p, to);
    this.version++;
    this.routingEpoch++;
    this.stats.leaderChanges++;
    this.events.emit('leader_change', {
      prg: this.topo.prgId(p),
      from: from >= 0 ? this.topo.nodeIds[from] : null,
      to: to >= 0 ? this.topo.nodeIds[to] : null,
      cause,
    });
  }

  // ---- faults ---------------------------------------------------------------------

  /** Re-derives fault-driven state after the fault set changed. */
  applyFaults(): void {
    const f = this.faults();
    this.overrides.clear();
    for (const rf of f.replicaDown) {
      const idx = this.topo.nodeIndex.get(rf.node);
      if (idx === undefined) continue;
      let set: Set<number> | null = null;
      if (rf.prgs) {
        set = new Set();
        for (const id of rf.prgs) {
          const p = this.topo.prgIndex(id);
          if (p >= 0) set.add(p);
        }
      }
      const list = this.overrides.get(idx) ?? [];
      list.push({ state: rf.state ?? 'down', prgs: set });
      this.overrides.set(idx, list);
    }
    this.applyPlacementFault(f.placementViolation);
    this.version++;
    this.routingEpoch++;
    this.reconcileAllLeaders();
  }

  private applyPlacementFault(on: boolean): void {
    const topo = this.topo;
    if (on && !this.placementMoved && topo.prgCount > 0 && topo.rf >= 2) {
      // Put the last replica of prg-0001 on another node of its first replica's rack
      // (or on that very node when the rack has no other).
      const first = topo.replica(0, 0);
      const rack = topo.nodeRack[first];
      const slot = topo.rf - 1;
      const from = topo.replica(0, slot);
      let to = first;
      for (let i = 0; i < topo.nodeIds.length; i++) {
        if (i !== first && topo.nodeRack[i] === rack && !topo.hasReplica(0, i)) to = i;
      }
      topo.moveReplica(0, slot, to);
      this.placementMoved = { p: 0, slot, from };
      this.violationsCache = null;
    } else if (!on && this.placementMoved) {
      topo.moveReplica(this.placementMoved.p, this.placementMoved.slot, this.placementMoved.from);
      this.placementMoved = null;
      this.violationsCache = null;
    }
  }

  close(): void {
    if (this.electionTimer) clearTimeout(this.electionTimer);
    this.electionTimer = null;
  }
}
