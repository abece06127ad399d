/**
 * The eviction of one node's clients (quiesce, after the grace): the mechanics behind
 * the step's four lines (cohort, its check, the paced rest, the wait for the cluster to
 * take them in). The pace is `quiesce-pacing.ts`; where the clients are, `quiesce-sessions.ts`.
 *
 * Every request is a `POST /v1/sessions/disconnect` with a `limit`: the cohort's size, then
 * batches of about two seconds at the pace in force, each replacing the last before it runs
 * dry (a new pace replaces it at once; `limit` 0 stops it). A node is never left evicting
 * on its own beyond the batch in force: if quantum-roll dies, the eviction stops within
 * seconds instead of emptying the node at a pace nobody watches.
 */
import type { DisconnectConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { StepError } from '../util/errors.js';
import type { StepContext } from './context.js';
import { type DoorSignal, Pacer, cohortSize, defaultFloor, mustReturn } from './quiesce-pacing.js';
import { watchFrontDoor } from './canary.js';
import type { ClusterSessions, Quiescing, Sweep } from './quiesce-sessions.js';

/** A batch covers this many seconds at the pace in force… */
/** A batch asks for about this many seconds of evictions at the pace in force. */
export const BATCH_S = 2;
/** …and is replaced when less than this many seconds of it are left. */
const REFILL_S = 1;

/** The most the paced eviction of `sessions` can take (the floor's pace, plus one lag). */
export function evictionBoundMs(d: DisconnectConfig, sessions: number): number {
  if (d.pacing === 'fixed') return Math.ceil((sessions / d.rate_per_s) * 1000 * 1.5) + 1000;
  return Math.ceil((sessions / floorOf(d)) * 1000) + d.max_lag;
}

export const floorOf = (d: DisconnectConfig): number => d.min_rate_per_s ?? defaultFloor(d.rate_per_s);

/** What the node and the cluster did since a point in the eviction (the cohort's start, the eviction's start). */
interface Mark {
  pending: number;
  evicted: ReadonlyMap<string, number>;
}

export class Eviction {
  private sweep!: Sweep;
  private start!: Mark;
  readonly pacer: Pacer;
  requests = 0;
  private lastRequestAt = 0;

  constructor(
    private readonly ctx: StepContext,
    private readonly d: DisconnectConfig,
    private readonly watch: ClusterSessions,
    private readonly me: Quiescing,
  ) {
    this.pacer = new Pacer({ mode: d.pacing, ceiling: d.rate_per_s, floor: floorOf(d), maxLagMs: d.max_lag });
  }

  get nodeSessions(): number {
    return this.sweep.sessions[this.ctx.node.id] ?? 0;
  }

  /** Reads the cluster once and marks where the eviction begins. */
  async begin(): Promise<void> {
    this.sweep = await this.watch.next();
    this.me.baseline = this.nodeSessions;
    this.start = this.mark();
  }

  mark(): Mark {
    return { pending: this.sweep.pending, evicted: this.sweep.evicted };
  }

  /** The next sweep (a safe point for stops). */
  async observe(): Promise<Sweep> {
    this.ctx.env.stop.check(`quiesce of ${this.ctx.node.id}`);
    this.sweep = await this.watch.next();
    return this.sweep;
  }

  /**
   * This node's clients let go since `from`, and how many of them are connected again
   * somewhere. The cluster's pending clients that were not pending at `from` are shared
   * among the nodes that evicted since then, in proportion to what each evicted: counts
   * cannot say whose client is missing, and a node of the wave evicting beside this one
   * must not make this one's clients look lost (nor hide them).
   */
  since(from: Mark = this.start): { evicted: number; returned: number } {
    const node = this.ctx.node.id;
    const mine = (this.sweep.evicted.get(node) ?? 0) - (from.evicted.get(node) ?? 0);
    let all = 0;
    for (const [n, e] of this.sweep.evicted) all += e - (from.evicted.get(n) ?? 0);
    const rise = Math.max(0, this.sweep.pending - from.pending);
    const missing = all > 0 ? Math.min(mine, Math.round((rise * mine) / all)) : Math.min(mine, rise);
    return { evicted: mine, returned: mine - missing };
  }

  /** One `POST /v1/sessions/disconnect` (a replacement when one is in progress). */
  async request(phase: 'cohort' | 'main', rate: number, limit: number): Promise<number> {
    const { ctx, d } = this;
    // limit 0 stops a request in progress; its rate must still be a valid one
    const requested = await ctx.runtime.disconnect({
      reason_code: d.reason_code,
      rate_per_s: Math.max(1, rate),
      limit,
      ...(d.server_reference ? { server_reference: d.server_reference } : {}),
    });
    this.requests++;
    this.lastRequestAt = Date.now();
    this.me.rate = rate;
    this.me.progress = { in_progress: requested > 0, requested, disconnected: 0, rate_per_s: Math.max(1, rate), reason_code: d.reason_code, started_at: new Date().toISOString() };
    ctx.env.log.info(
      { event: 'quiesce.disconnect', node: ctx.node.id, phase, requested, rate_per_s: Math.max(1, rate), limit, reason_code: d.reason_code, intent: 'planned' },
      `${ctx.node.id}: DISCONNECT ${d.reason_code} (${phase}) for ${requested} session(s) at ${rate}/s`,
    );
    return requested;
  }

  /**
   * The cohort: evict `size` clients at the ceiling, then wait (at most `cohort.timeout`
   * from the request) until the cluster has taken enough of them back. Throws a StepError
   * naming the node, the cohort and what came back when it has not.
   */
  async cohort(c: { share: number; min: number; timeout: number }, ratio: number): Promise<{ size: number; returned: number }> {
    const { ctx, d } = this;
    const size = cohortSize(this.nodeSessions, c);
    const from = this.mark();
    const began = Date.now();
    const deadline = began + c.timeout;
    const requested = await this.request('cohort', d.rate_per_s, size);
    const need = mustReturn(Math.min(size, requested), ratio);
    let got: { evicted: number; returned: number };
    for (;;) {
      await this.observe();
      got = this.since(from);
      ctx.say(`cohort of ${size}: ${got.evicted} evicted, ${got.returned} back elsewhere (need ${need})`);
      if (got.evicted >= Math.min(size, requested) && got.returned >= need) break;
      if (Date.now() >= deadline) break;
    }
    const ok = got.evicted >= Math.min(size, requested) && got.returned >= need;
    ctx.env.log.info({ event: 'quiesce.cohort', node: ctx.node.id, size, returned: got.returned, ok, bound_ms: c.timeout }, `${ctx.node.id}: cohort of ${size}, ${got.returned} back`);
    if (!ok) {
      const silent = this.sweep.unanswered;
      const stale = silent.length > 0 ? ` (${silent.join(', ')} did not answer /readyz in the last read: counted with their last answer)` : '';
      throw new StepError(
        `quiesce of ${ctx.node.id}: of a cohort of ${size} client(s) evicted with DISCONNECT ${d.reason_code}, ${got.returned} came back within ${formatDuration(c.timeout)}${stale} ` +
          `(${need} needed, quiesce.disconnect.absorb.ratio ${ratio}); the other ${Math.max(0, this.nodeSessions)} client(s) of ${ctx.node.id} were not evicted. ` +
          `${ctx.node.id} is left drained and out of the LB.`,
        {
          node: ctx.node.id,
          step: 'quiesce',
          endpoint: `${ctx.runtime.adminUrl}/v1/sessions/disconnect`,
          next:
            `find why evicted clients do not reconnect (clients that stop after a refused CONNACK, as mqtt.js does by default, or that treat reason ${d.reason_code} as final; ` +
            `the other nodes refusing CONNECTs: quantum-roll status); then quantum-roll resume, or quantum-roll undrain ${ctx.node.id} to put it back as it is`,
          evidence: { cohort: { size, evicted: got.evicted, returned: got.returned, needed: need, bound_ms: c.timeout }, sessions_left: this.nodeSessions, unanswered: silent },
        },
      );
    }
    return { size, returned: got.returned };
  }

  /** The rest, paced: until the node has ≤ `target` sessions or the bound passes. */
  async rest(target: number): Promise<void> {
    const { ctx, d, pacer } = this;
    const deadline = Date.now() + evictionBoundMs(d, Math.max(0, this.nodeSessions - target));
    const batch = () => Math.max(1, Math.min(this.nodeSessions - target, Math.ceil(pacer.rate * BATCH_S)));
    if (this.nodeSessions <= target) return;
    // The front door's CONNACK time, a second signal when the canary is configured (a CONNECT every max_lag / 2).
    const door = d.pacing === 'adaptive' ? watchFrontDoor(ctx, Math.max(100, d.max_lag / 2)) : undefined;
    const doorNow = (): DoorSignal | undefined => {
      const connectMs = door?.latest();
      const baselineMs = door?.baseline();
      return connectMs === undefined || baselineMs === undefined ? undefined : { connectMs, baselineMs };
    };
    try {
      await this.paced(target, deadline, batch, doorNow);
    } finally {
      door?.stop();
    }
  }

  private async paced(target: number, deadline: number, batch: () => number, doorNow: () => DoorSignal | undefined): Promise<void> {
    const { ctx, d, pacer } = this;
    await this.request('main', pacer.rate, batch());
    while (Date.now() < deadline) {
      const s = await this.observe();
      if (this.nodeSessions <= target) return;
      const change = pacer.observe(Date.now(), s.pending, doorNow());
      if (change) {
        ctx.env.log.info({ event: 'quiesce.pace', node: ctx.node.id, rate_per_s: change.rate, previous_rate_per_s: change.previous, reason: change.reason }, `${ctx.node.id}: ${change.reason}`);
        await this.request('main', change.rate, pacer.stopped ? 0 : batch());
        continue;
      }
      const p = this.me.progress;
      const left = p ? (p.in_progress ? p.requested - p.disconnected : 0) : 0;
      // (a sweep that began before the last request may still show the one it replaced)
      if (!pacer.stopped && left < pacer.rate * REFILL_S && Date.now() - this.lastRequestAt >= (REFILL_S * 1000) / 2) await this.request('main', pacer.rate, batch());
      ctx.say(`DISCONNECT ${d.reason_code} at ${pacer.rate}/s: ${this.nodeSessions} sessions left, ${s.pending} client(s) pending in the cluster`);
    }
  }

  /** After the eviction: until the cluster has taken back `ratio` of what this node let go, at most `timeout`. */
  async absorb(ratio: number, timeout: number): Promise<{ evicted: number; returned: number; ok: boolean }> {
    this.me.phase = 'absorb';
    const deadline = Date.now() + timeout;
    for (;;) {
      const got = this.since();
      const need = mustReturn(got.evicted, ratio);
      if (got.returned >= need) return { ...got, ok: true };
      if (Date.now() >= deadline) return { ...got, ok: false };
      this.ctx.say(`${got.returned} of ${got.evicted} evicted client(s) back elsewhere (waiting for ${need})`);
      await this.observe();
    }
  }
}
