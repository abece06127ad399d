import { type LbCallCtl, type LbDeps, type LbTarget, type MemberStatus, LbAdapterBase } from './types.js';

/**
 * No LB API: the LB (or VIP) must health-check the node's `/readyz`, which answers
 * 503 while the node drains. Status is read from the node itself, so "out of
 * service" and "serving" follow its readiness transitions.
 */
export class NoneLbAdapter extends LbAdapterBase {
  readonly name = 'none';
  readonly endpoint = 'node /readyz';
  constructor(private readonly deps: LbDeps) {
    super();
  }

  async status(t: LbTarget, ctl: LbCallCtl = {}): Promise<MemberStatus> {
    const r = await this.deps.runtimeFor(t).readyz(ctl);
    return {
      adminState: r.draining ? 'draining' : 'enabled',
      health: r.ready ? 'up' : 'down',
      activeConnections: r.listeners.reduce((n, l) => n + l.active_sessions, 0),
      detail: `/readyz reasons [${r.reasons.join(', ')}]`,
    };
  }

  async drain(): Promise<void> {}
  async enable(): Promise<void> {}
}
