import { type HttpOptions, HttpClient } from './http.js';
import {
  type DrainStatus,
  type NodeInfo,
  type Readiness,
  type DisconnectProgress,
  disconnectAnswerSchema,
  disconnectProgressSchema,
  drainStatusSchema,
  nodeInfoSchema,
  readinessSchema,
} from './schemas.js';

export interface CallCtl {
  deadline?: number;
  signal?: AbortSignal;
  /** false: a transient failure is returned at once instead of retried. */
  retry?: boolean;
}

export interface DisconnectRequest {
  reason_code: 139 | 137 | 156 | 157;
  rate_per_s: number;
  server_reference?: string;
  /** At most this many of the sessions connected now (absent: all; 0 stops a request in progress). */
  limit?: number;
}

/** The admin API of one Quantum node runtime. */
export class RuntimeClient {
  readonly http: HttpClient;
  constructor(
    readonly nodeId: string,
    opts: Omit<HttpOptions, 'system' | 'configKey'>,
  ) {
    this.http = new HttpClient({ ...opts, system: `node ${nodeId}`, configKey: 'node_api' });
  }

  get adminUrl(): string {
    return this.http.baseUrl;
  }

  /** `/readyz`: 200 and 503 both carry the verdict. */
  async readyz(ctl: CallCtl = {}): Promise<Readiness> {
    const r = await this.http.call('GET', '/readyz', { schema: readinessSchema, answerStatuses: [503], ...ctl });
    return r.data;
  }

  async node(ctl: CallCtl = {}): Promise<NodeInfo> {
    return (await this.http.call('GET', '/v1/node', { schema: nodeInfoSchema, ...ctl })).data;
  }

  async drainStatus(ctl: CallCtl = {}): Promise<DrainStatus> {
    return (await this.http.call('GET', '/v1/drain', { schema: drainStatusSchema, ...ctl })).data;
  }

  async drain(reason: string, initiator: string, ctl: CallCtl = {}): Promise<DrainStatus> {
    return (await this.http.call('PUT', '/v1/drain', { schema: drainStatusSchema, body: { reason, initiator }, ...ctl })).data;
  }

  async undrain(ctl: CallCtl = {}): Promise<DrainStatus> {
    return (await this.http.call('DELETE', '/v1/drain', { schema: drainStatusSchema, ...ctl })).data;
  }

  async disconnect(req: DisconnectRequest, ctl: CallCtl = {}): Promise<number> {
    const r = await this.http.call('POST', '/v1/sessions/disconnect', { schema: disconnectAnswerSchema, body: req, ...ctl });
    return r.data.requested;
  }

  /** The current or last DISCONNECT request's progress (`disconnected` counts this request's only). */
  async disconnectProgress(ctl: CallCtl = {}): Promise<DisconnectProgress> {
    return (await this.http.call('GET', '/v1/sessions/disconnect', { schema: disconnectProgressSchema, ...ctl })).data;
  }
}
