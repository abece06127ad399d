// Conserves simulated MQTT sessions across the cluster: sessions a node sheds (drain
// decay, operator DISCONNECT, process death) reconnect to the other up, non-draining,
// healthy nodes; an under-loaded node slowly receives a share back (rebalance).
// Transfers to nodes ride on heartbeat replies (`add_sessions` / `remove_sessions`).

export interface SessionReport {
  simSessions: number;
  shedTotal: number;
  movedOutTotal: number;
}

interface Slot {
  sim: number;
  lastShed: number;
  lastMoved: number;
  pendingAdd: number;
  pendingRemove: number;
}

export class SessionBalancer {
  private readonly slots: Slot[];
  /** Sessions waiting for an eligible node. */
  pool = 0;
  /** Sessions moved out by rebalance, waiting for their target. */
  private moving = 0;

  constructor(
    nodes: number,
    private readonly eligible: (idx: number) => boolean,
    private readonly rebalanceOn: boolean,
  ) {
    this.slots = Array.from({ length: nodes }, () => ({ sim: 0, lastShed: 0, lastMoved: 0, pendingAdd: 0, pendingRemove: 0 }));
  }

  onBoot(idx: number, initialSessions: number): void {
    const s = this.slots[idx];
    if (!s) return;
    s.sim = initialSessions;
    s.lastShed = 0;
    s.lastMoved = 0;
    s.pendingRemove = 0;
  }

  onDown(idx: number): void {
    const s = this.slots[idx];
    if (!s) return;
    this.pool += s.sim + s.pendingAdd;
    s.sim = 0;
    s.pendingAdd = 0;
    s.pendingRemove = 0;
    this.distribute();
  }

  /** Accounts a heartbeat and returns what the node must add/remove. */
  onReport(idx: number, r: SessionReport): { add: number; remove: number } {
    const s = this.slots[idx];
    if (!s) return { add: 0, remove: 0 };
    const shed = Math.max(0, r.shedTotal - s.lastShed);
    const moved = Math.max(0, r.movedOutTotal - s.lastMoved);
    s.lastShed = r.shedTotal;
    s.lastMoved = r.movedOutTotal;
    s.sim = r.simSessions;
    this.pool += shed;
    this.moving += moved;
    if (moved > 0) {
      const target = this.poorest(idx);
      if (target >= 0) {
        const t = this.slots[target];
        if (t) t.pendingAdd += this.moving;
        this.moving = 0;
      }
    }
    if (this.moving > 0) {
      this.pool += this.moving;
      this.moving = 0;
    }
    if (this.pool > 0) this.distribute();
    const out = { add: s.pendingAdd, remove: s.pendingRemove };
    s.sim += s.pendingAdd;
    s.pendingAdd = 0;
    s.pendingRemove = 0;
    return out;
  }

  private distribute(): void {
    const targets: number[] = [];
    this.slots.forEach((_, i) => {
      if (this.eligible(i)) targets.push(i);
    });
    if (targets.length === 0 || this.pool <= 0) return;
    const share = Math.floor(this.pool / targets.length);
    let rest = this.pool - share * targets.length;
    for (const i of targets) {
      const s = this.slots[i];
      if (!s) continue;
      s.pendingAdd += share + (rest > 0 ? 1 : 0);
      if (rest > 0) rest--;
    }
    this.pool = 0;
  }

  private load(i: number): number {
    const s = this.slots[i];
    return s ? s.sim + s.pendingAdd : 0;
  }

  private poorest(except: number): number {
    let best = -1;
    this.slots.forEach((_, i) => {
      if (i === except || !this.eligible(i)) return;
      if (best < 0 || this.load(i) < this.load(best)) best = i;
    });
    return best;
  }

  /** Periodic: asks the most loaded eligible node to hand sessions to a starving one. */
  rebalance(): void {
    if (!this.rebalanceOn) return;
    const el = this.slots.map((_, i) => i).filter((i) => this.eligible(i));
    if (el.length < 2) return;
    const mean = el.reduce((a, i) => a + this.load(i), 0) / el.length;
    const poor = this.poorest(-1);
    if (poor < 0 || this.load(poor) >= mean * 0.5) return;
    let rich = -1;
    for (const i of el) if (rich < 0 || this.load(i) > this.load(rich)) rich = i;
    const r = this.slots[rich];
    if (!r || r.pendingRemove > 0) return;
    const need = Math.floor((mean - this.load(poor)) * 0.25);
    if (need > 0) r.pendingRemove = Math.min(need, r.sim);
  }

  perNode(): number[] {
    return this.slots.map((s) => s.sim + s.pendingAdd);
  }

  total(): number {
    return this.perNode().reduce((a, b) => a + b, 0) + this.pool + this.moving;
  }
}
