// The LB/VIP generic HTTP pool API (pool `mqtt`, one member per node). `health` is the
// LB's own verdict from probing each node's /readyz every `intervalMs` with rise = fall = 1:
// one passing probe marks a member up, one failing probe marks it down.
import type { ClusterModel } from './cluster-model.js';
import { error, isObject, json, segments, type Ctx, type Reply } from './http-kit.js';

export type AdminState = 'enabled' | 'draining' | 'disabled';
export type Health = 'up' | 'down' | 'unknown';

interface Member {
  adminState: AdminState;
  health: Health;
  probing: boolean;
}

export const POOL = 'mqtt';
const ADMIN_STATES = new Set<AdminState>(['enabled', 'draining', 'disabled']);

export class LbPool {
  private readonly members: Member[];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly model: ClusterModel,
    private readonly probe: (idx: number) => Promise<boolean>,
    private readonly intervalMs: number,
  ) {
    this.members = model.nodes.map(() => ({ adminState: 'enabled', health: 'unknown', probing: false }));
  }

  start(): void {
    this.timer = setInterval(() => void this.checkAll(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One probe round over every member (skips members whose last probe is still running). */
  async checkAll(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.check(i)));
  }

  private async check(idx: number): Promise<void> {
    const m = this.members[idx];
    const node = this.model.nodes[idx];
    if (!m || !node || m.probing) return;
    m.probing = true;
    let ok: boolean;
    try {
      ok = this.model.faults().lbNeverHealthy.includes(node.id) ? false : await this.probe(idx);
    } finally {
      m.probing = false;
    }
    const health: Health = ok ? 'up' : 'down';
    if (health !== m.health) {
      m.health = health;
      this.model.events.emit('lb_health', { node: node.id, health });
    }
  }

  private view(idx: number): Record<string, unknown> {
    const node = this.model.nodes[idx];
    const m = this.members[idx];
    return {
      member: node?.id,
      address: `127.0.0.1:${node?.mqttPort ?? 0}`,
      admin_state: m?.adminState,
      health: m?.health,
      active_connections: node?.processUp ? node.activeSessions : 0,
    };
  }

  handle(ctx: Ctx): Reply {
    if (this.model.faults().lbError) return error(500, 'lb_error', 'load balancer internal error');
    const seg = segments(ctx.path);
    const [v1, pools, pool, members, member, tail] = seg;
    if (v1 !== 'v1' || pools !== 'pools' || members !== 'members' || member === undefined || seg.length > 6) {
      return error(404, 'not_found', `no route ${ctx.method} ${ctx.path}`);
    }
    if (pool !== POOL) return error(404, 'unknown_pool', `no pool ${pool ?? ''}`);
    const idx = this.model.topo.nodeIndex.get(member);
    if (idx === undefined) return error(404, 'unknown_member', `no member ${member} in pool ${POOL}`);
    if (seg.length === 5) {
      return ctx.method === 'GET' ? json(200, this.view(idx)) : error(405, 'method_not_allowed', 'method not allowed');
    }
    if (tail !== 'admin-state') return error(404, 'not_found', `no route ${ctx.method} ${ctx.path}`);
    if (ctx.method !== 'PUT') return error(405, 'method_not_allowed', 'method not allowed');
    const b = ctx.body;
    const state = isObject(b) ? b.admin_state : undefined;
    if (typeof state !== 'string' || !ADMIN_STATES.has(state as AdminState)) {
      return error(400, 'invalid_admin_state', 'admin_state must be enabled, draining or disabled');
    }
    const m = this.members[idx];
    if (m && m.adminState !== state) {
      m.adminState = state as AdminState;
      this.model.events.emit('lb_admin_state', { node: member, admin_state: state });
    }
    return json(200, this.view(idx));
  }

  adminStates(): Record<string, { admin_state: AdminState; health: Health }> {
    const out: Record<string, { admin_state: AdminState; health: Health }> = {};
    this.model.nodes.forEach((n, i) => {
      const m = this.members[i];
      if (m) out[n.id] = { admin_state: m.adminState, health: m.health };
    });
    return out;
  }
}
