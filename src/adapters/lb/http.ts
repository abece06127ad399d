import { type HttpClient } from '../../clients/http.js';
import { retryOf } from '../../clients/retry-policy.js';
import { type PoolMember, poolMemberSchema } from '../../clients/schemas.js';
import { type LbCallCtl, type LbTarget, type MemberStatus, LbAdapterBase } from './types.js';

/** The generic HTTP pool API of apis.md (appliances, VIP managers with REST). */
export class HttpLbAdapter extends LbAdapterBase {
  readonly name = 'http';
  constructor(
    private readonly http: HttpClient,
    private readonly pool: string,
  ) {
    super();
  }

  get endpoint(): string {
    return `${this.http.baseUrl} pool ${this.pool}`;
  }

  private path(t: LbTarget): string {
    return `/v1/pools/${encodeURIComponent(this.pool)}/members/${encodeURIComponent(t.member)}`;
  }

  async status(t: LbTarget, ctl: LbCallCtl = {}): Promise<MemberStatus> {
    const r = await this.http.call('GET', this.path(t), { schema: poolMemberSchema, ...ctl });
    return toStatus(r.data);
  }

  async drain(t: LbTarget, ctl: LbCallCtl = {}): Promise<void> {
    await this.setState(t, 'draining', ctl);
  }

  async enable(t: LbTarget, ctl: LbCallCtl = {}): Promise<void> {
    await this.setState(t, 'enabled', ctl);
  }

  private async setState(t: LbTarget, admin_state: 'draining' | 'enabled', ctl: LbCallCtl): Promise<void> {
    await this.http.call('PUT', `${this.path(t)}/admin-state`, {
      schema: poolMemberSchema,
      body: { admin_state },
      ...ctl,
      retry: retryOf('PUT /v1/pools/{pool}/members/{member}/admin-state'),
    });
  }

  /** The client's connection pool (keep-alive sockets to the LB API) would otherwise outlive the run. */
  override async close(): Promise<void> {
    await this.http.close();
  }
}

function toStatus(m: PoolMember): MemberStatus {
  return { adminState: m.admin_state, health: m.health, activeConnections: m.active_connections };
}
