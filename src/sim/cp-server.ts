// The ControlPlaneRaft HTTP API (apis.md § ControlPlaneRaft), with the CP-side faults:
// unavailability, flakiness, malformed answers, huge bodies and parked calls.
import type { ClusterModel } from './cluster-model.js';
import { clusterState, cpObject, listPrgs, prgItem } from './cp-views.js';
import { error, json, parkingOf, segments, type Ctx, type Reply } from './http-kit.js';
import type { LeaseStore } from './leases.js';
import type { Transfers } from './transfers.js';

export class CpApi {
  constructor(
    private readonly model: ClusterModel,
    private readonly transfers: Transfers,
    private readonly leases: LeaseStore,
  ) {}

  async handle(ctx: Ctx): Promise<Reply> {
    await parkingOf(this.model.faults()).gate('cp', undefined, ctx.method, ctx.url, ctx.t, ctx.gone);
    if (ctx.gone()) return { status: 499, dropped: true }; // its client went away while it was parked
    const f = this.model.faults();
    if (f.cpUnavailable) return { ...error(503, 'unavailable', 'control plane unavailable'), headers: { 'retry-after': '1' } };
    if (f.cpFlakyRatio > 0 && Math.random() < f.cpFlakyRatio) {
      return { ...error(503, 'unavailable', 'control plane busy, retry'), headers: { 'retry-after': '0' } };
    }
    const reply = await this.route(ctx);
    return this.dropAnswer(ctx, this.corrupt(ctx, reply));
  }

  /** Answers dropped so far per `cpDropAnswer` rule (a new rule object starts again at 0). */
  private readonly dropped = new WeakMap<object, number>();

  /** The `cpDropAnswer` fault: the call was handled (the CP acted); its answer is lost (the connection is reset). */
  private dropAnswer(ctx: Ctx, reply: Reply): Reply {
    const rule = this.model.faults().cpDropAnswer;
    if (!rule) return reply;
    if (rule.method !== undefined && rule.method.toUpperCase() !== ctx.method) return reply;
    if (rule.path !== undefined && !ctx.url.startsWith(rule.path)) return reply;
    if (rule.pattern !== undefined && !new RegExp(rule.pattern).test(ctx.url)) return reply;
    const n = this.dropped.get(rule) ?? 0;
    if (n >= (rule.times ?? 1)) return reply;
    this.dropped.set(rule, n + 1);
    return { ...reply, reset: true };
  }

  private async route(ctx: Ctx): Promise<Reply> {
    const seg = segments(ctx.path);
    const m = ctx.method;
    const [a, b, c, d] = seg;
    if (a === 'readyz' && seg.length === 1) {
      if (m !== 'GET') return notAllowed();
      const cp = cpObject(this.model);
      return json(cp.healthy && !this.model.faults().cpReadyzFails ? 200 : 503, cp);
    }
    if (a !== 'v1') return notFound(ctx);
    if (b === 'cluster' && c === 'state' && seg.length === 3) return m === 'GET' ? json(200, clusterState(this.model)) : notAllowed();
    if (b === 'features' && seg.length === 2) {
      return m === 'GET' ? json(200, { batch_leader_transfer: !this.model.faults().noBatch }) : notAllowed();
    }
    if (b === 'prgs') {
      if (seg.length === 2) return m === 'GET' ? listPrgs(this.model, ctx) : notAllowed();
      if (c === undefined) return notFound(ctx);
      if (seg.length === 3) {
        if (m !== 'GET') return notAllowed();
        const p = this.model.topo.prgIndex(c);
        return p < 0 ? error(404, 'unknown_prg', `no PRG ${c}`) : json(200, prgItem(this.model, p));
      }
      if (seg.length === 4 && d === 'leader-transfer') return m === 'POST' ? this.transfers.single(ctx, c) : notAllowed();
      return notFound(ctx);
    }
    if (b === 'leader-transfers') {
      if (seg.length === 2) return m === 'POST' ? this.transfers.batchCreate(ctx) : notAllowed();
      if (seg.length === 3 && c !== undefined) return m === 'GET' ? this.transfers.batchGet(c) : notAllowed();
      return notFound(ctx);
    }
    if (b === 'leases' && seg.length <= 3) return this.leases.handle(ctx, c);
    return notFound(ctx);
  }

  private corrupt(ctx: Ctx, reply: Reply): Reply {
    const f = this.model.faults();
    let out = reply;
    const mal = f.cpMalformed;
    if (mal && ctx.path === mal.path && reply.json !== undefined && reply.status < 300) {
      if (!mal.field) out = { status: reply.status, text: '{"truncated": ', contentType: 'application/json' };
      else out = { ...reply, json: mutate(reply.json, mal.field, mal.mode ?? 'wrong_type', mal.value) };
    }
    if (f.hugeBodyBytes > 0 && ctx.path === '/v1/cluster/state' && out.json !== undefined && typeof out.json === 'object') {
      const base = { ...(out.json as Record<string, unknown>), padding: '' };
      const pad = Math.max(0, f.hugeBodyBytes - Buffer.byteLength(JSON.stringify(base)));
      out = { ...out, json: { ...base, padding: 'x'.repeat(pad) } };
    }
    return out;
  }
}

/** Deep-copies `body` and breaks the value at the dotted `field` path. */
function mutate(body: unknown, field: string, mode: 'wrong_type' | 'remove' | 'set', value?: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(body)) as unknown;
  const keys = field.split('.');
  let cur: unknown = copy;
  for (let i = 0; i < keys.length - 1; i++) {
    if (typeof cur !== 'object' || cur === null) return copy;
    cur = (cur as Record<string, unknown>)[keys[i] ?? ''];
  }
  const last = keys[keys.length - 1] ?? '';
  if (typeof cur !== 'object' || cur === null) return copy;
  const obj = cur as Record<string, unknown>;
  if (mode === 'remove') delete obj[last];
  else if (mode === 'set') obj[last] = value;
  else obj[last] = typeof obj[last] === 'string' ? 42 : 'x';
  return copy;
}

function notAllowed(): Reply {
  return error(405, 'method_not_allowed', 'method not allowed');
}

function notFound(ctx: Ctx): Reply {
  return error(404, 'not_found', `no route ${ctx.method} ${ctx.path}`);
}
