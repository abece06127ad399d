import * as z from 'zod';
import { HttpError, LeaseHeldError, ProtocolError } from '../util/errors.js';
import { idSchema } from '../config/schema.js';
import { type HttpOptions, HttpClient } from './http.js';
import type { CallCtl } from './runtime.js';
import { retryOf } from './retry-policy.js';
import {
  type BatchTransfer,
  type ClusterState,
  type CpStatus,
  type Lease,
  type LeaseInfo,
  type LeaderTransfer,
  type Prg,
  batchTransferSchema,
  clusterStateSchema,
  cpStatusSchema,
  featuresSchema,
  leaderTransferSchema,
  leaseHeldBodySchema,
  leaseInfoSchema,
  leaseSchema,
  prgPageSchema,
} from './schemas.js';

/** A page of `GET /v1/prgs` read for its ids only. */
const prgIdPageSchema = z.object({ items: z.array(z.object({ id: idSchema })), next_cursor: z.string().nullable() });

export type TransferTarget = { to: string } | { exclude: string[] };

/** ControlPlaneRaft: membership, PRG placement and leadership, maintenance leases. */
export class ControlPlaneClient {
  readonly http: HttpClient;
  constructor(opts: Omit<HttpOptions, 'system' | 'configKey'>) {
    this.http = new HttpClient({ ...opts, system: 'control plane', configKey: 'control_plane' });
  }

  /** CP `/readyz`: a 503 with the cp body is a verdict ("not healthy"), not an error. */
  async readyz(ctl: CallCtl = {}): Promise<{ ok: boolean; cp: CpStatus }> {
    const r = await this.http.call('GET', '/readyz', { schema: cpStatusSchema, answerStatuses: [503], ...ctl });
    return { ok: r.status === 200, cp: r.data };
  }

  async clusterState(ctl: CallCtl = {}): Promise<ClusterState> {
    return (await this.http.call('GET', '/v1/cluster/state', { schema: clusterStateSchema, ...ctl })).data;
  }

  /** Every PRG matching the filter, following `next_cursor` until null; a repeated cursor is a protocol error. */
  async listPrgs(filter: { node?: string; leader?: string; limit?: number } = {}, ctl: CallCtl = {}): Promise<Prg[]> {
    const out: Prg[] = [];
    await this.eachPrgPage(filter, ctl, (items) => {
      for (let i = 0; i < items.length; i++) out.push(items[i]!);
    });
    return out;
  }

  /**
   * The same listing, page by page: `onPage` gets each page's PRGs (checked) before the
   * next page is read, and may keep what it needs of them. A reader that only counts
   * (`status`) so holds one page at a time instead of every PRG of the cluster.
   * `ctl` may be a function: called for each page, it gives each its own deadline (a
   * listing of 100,000 PRGs on a slow CP fails when a page does, not when the sum of
   * the pages exceeds one page's time).
   */
  async eachPrgPage(
    filter: { node?: string; leader?: string; limit?: number },
    ctl: CallCtl | (() => CallCtl),
    onPage: (items: readonly Prg[]) => void | Promise<void>,
  ): Promise<void> {
    await this.pages(prgPageSchema, filter, ctl, (page) => onPage(page.items));
  }

  /**
   * The ids of the PRGs matching the filter (as `listPrgs`, cursor checks included), for
   * callers that need nothing else (leader transfers): only `id` of each item is parsed
   * and kept, not a copy of every replica.
   */
  async listPrgIds(filter: { node?: string; leader?: string } = {}, ctl: CallCtl = {}): Promise<string[]> {
    const out: string[] = [];
    await this.pages(prgIdPageSchema, filter, ctl, (page) => {
      for (const p of page.items) out.push(p.id);
    });
    return out;
  }

  /** The pages of `GET /v1/prgs`, each checked with `schema`, following `next_cursor` until null; a repeated cursor is a protocol error. */
  private async pages<S extends z.ZodType<{ next_cursor: string | null }>>(
    schema: S,
    filter: { node?: string; leader?: string; limit?: number },
    ctl: CallCtl | (() => CallCtl),
    onPage: (page: z.infer<S>) => void | Promise<void>,
  ): Promise<void> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const r = await this.http.call('GET', '/v1/prgs', {
        schema,
        query: { node: filter.node, leader: filter.leader, limit: filter.limit ?? 1000, cursor },
        ...(typeof ctl === 'function' ? ctl() : ctl),
      });
      await onPage(r.data);
      const next = r.data.next_cursor;
      if (next === null) return;
      if (seen.has(next)) {
        throw new ProtocolError(
          `control plane: invalid response from GET ${this.http.url('/v1/prgs')}: field "next_cursor": cursor "${next.slice(0, 40)}" was already seen in this listing (the CP is looping)`,
          { endpoint: this.http.url('/v1/prgs') },
        );
      }
      seen.add(next);
      cursor = next;
    }
  }

  async transferLeader(id: string, target: TransferTarget, ctl: CallCtl = {}): Promise<LeaderTransfer> {
    return (
      await this.http.call('POST', `/v1/prgs/${encodeURIComponent(id)}/leader-transfer`, {
        schema: leaderTransferSchema,
        body: target,
        ...ctl,
        retry: retryOf('POST /v1/prgs/{id}/leader-transfer', ctl),
      })
    ).data;
  }

  async features(ctl: CallCtl = {}): Promise<{ batch: boolean }> {
    try {
      const r = await this.http.call('GET', '/v1/features', { schema: featuresSchema, ...ctl });
      return { batch: r.data.batch_leader_transfer === true };
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return { batch: false };
      throw err;
    }
  }

  /** Starts a batch transfer; undefined when the CP has no batch endpoint (404). */
  async startBatchTransfer(
    body: { away_from: string; exclude?: string[]; max_parallel: number },
    ctl: CallCtl = {},
  ): Promise<BatchTransfer | undefined> {
    try {
      return (await this.http.call('POST', '/v1/leader-transfers', { schema: batchTransferSchema, body, ...ctl, retry: retryOf('POST /v1/leader-transfers', ctl) })).data;
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return undefined;
      throw err;
    }
  }

  async batchTransfer(id: string, ctl: CallCtl = {}): Promise<BatchTransfer> {
    return (await this.http.call('GET', `/v1/leader-transfers/${encodeURIComponent(id)}`, { schema: batchTransferSchema, ...ctl })).data;
  }

  // --- maintenance leases --------------------------------------------------

  async acquireLease(name: string, holder: string, ttlMs: number, ctl: CallCtl = {}): Promise<Lease> {
    try {
      const r = await this.http.call('POST', '/v1/leases', {
        schema: leaseSchema,
        body: { name, holder, ttl_ms: ttlMs },
        ...ctl,
        retry: retryOf('POST /v1/leases', ctl),
      });
      return r.data;
    } catch (err) {
      throw this.leaseConflict(err, holder);
    }
  }

  /** Renews with the token; a 409 means the lease was lost. */
  async renewLease(name: string, token: string, ttlMs: number, ctl: CallCtl = {}): Promise<void> {
    await this.http.call('PUT', `/v1/leases/${encodeURIComponent(name)}`, {
      schema: z.unknown(),
      body: { token, ttl_ms: ttlMs },
      ...ctl,
      retry: retryOf('PUT /v1/leases/{name}', ctl),
    });
  }

  async releaseLease(name: string, token: string, ctl: CallCtl = {}): Promise<void> {
    await this.http.call('DELETE', `/v1/leases/${encodeURIComponent(name)}`, {
      schema: z.unknown(),
      query: { token },
      ...ctl,
      retry: retryOf('DELETE /v1/leases/{name}', ctl),
    });
  }

  async lease(name: string, ctl: CallCtl = {}): Promise<LeaseInfo | undefined> {
    try {
      return (await this.http.call('GET', `/v1/leases/${encodeURIComponent(name)}`, { schema: leaseInfoSchema, ...ctl })).data;
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return undefined;
      throw err;
    }
  }

  private leaseConflict(err: unknown, ours: string): unknown {
    if (err instanceof HttpError && err.status === 409) {
      const b = leaseHeldBodySchema.safeParse(err.body);
      const self = b.success && b.data.holder === ours;
      return new LeaseHeldError(b.success ? b.data.holder : 'another holder', b.success ? b.data.expires_at : undefined, {
        endpoint: err.details.endpoint,
        // Our own holder: a first answer was lost and this CP refuses the retry instead of answering it with the lease (apis.md).
        ...(self ? { next: 'this run took the lease but its answer was lost, and the control plane refused the retry (apis.md: a POST by the same holder answers 200 with the lease); it expires by itself after lease.ttl: run again then' } : {}),
      });
    }
    return err;
  }
}

export function isConflict(err: unknown, code?: string): err is HttpError {
  return err instanceof HttpError && err.status === 409 && (code === undefined || err.code === code);
}

