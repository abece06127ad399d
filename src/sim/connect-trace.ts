/**
 * What a broker did with each CONNECT it received, for the simulator's record
 * (`events.ndjson`): when it arrived, which stage it waited in and how long, and how it
 * ended (CONNACK success, refusal with its code, or the link closed first). The load
 * report joins these lines with its clients' attempts by client id and time, so a slow
 * reconnect is explained by what the broker was doing, not guessed.
 *
 * Stages, in the order aedes runs them (a stage's wait is the time from its start to
 * the next stage's):
 * - `parse`: the TCP connection accepted → its CONNECT parsed (the event loop is busy,
 *   or the broker was still loading: an overloaded or starting node);
 * - `admission`: the node's admission check (ready, not draining, capacity);
 * - `owner`: writing `qr:owner:<id>` to the session store (waiting on redis);
 * - `held`: held by the `holdConnect` fault (after the owner write: a takeover in its middle);
 * - `session`: reading the session's subscriptions from the store;
 * - `restore`: re-subscribing them (a SUBSCRIBE per topic on redis pub/sub);
 * - `will`: deleting / storing the will in the store;
 * - `takeover`: a connection of the same client id still open on this node is closed first;
 * - `connack`: writing the CONNACK.
 *
 * Cheap at thousands of clients: one line per CONNECT, written in batches every 100 ms
 * (one write(2) each), plus one `connect_pending` line for a CONNECT still unanswered
 * after `PENDING_MS`, and, when the process exits, one for every CONNECT it still held.
 */
import { performance } from 'node:perf_hooks';

export type ConnectStage = 'parse' | 'admission' | 'owner' | 'held' | 'session' | 'restore' | 'will' | 'takeover' | 'connack';

/** A CONNECT unanswered this long gets a `connect_pending` line (once). */
export const PENDING_MS = 500;
const FLUSH_MS = 100;

const now = (): number => performance.timeOrigin + performance.now();

export interface ConnectTrace {
  client: string;
  proto: number;
  /** The TCP connection accepted, and the CONNECT parsed (sim clock, ms). */
  acceptedAt: number;
  at: number;
  stage: ConnectStage;
  stageAt: number;
  waits: Partial<Record<ConnectStage, number>>;
  pendingReported: boolean;
  done: boolean;
}

export interface ConnectLine {
  t: number;
  system: 'sim';
  event: 'connect' | 'connect_pending';
  node: string;
  boot_id: string;
  client: string;
  proto: number;
  [k: string]: unknown;
}

export class ConnectTracer {
  private readonly pending = new Set<ConnectTrace>();
  private readonly latest = new Map<string, ConnectTrace>();
  private out: ConnectLine[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly node: string,
    private readonly bootId: string,
    private readonly write: (lines: ConnectLine[]) => void,
  ) {
    this.timer = setInterval(() => this.flush(false), FLUSH_MS);
    this.timer.unref();
    process.once('exit', () => this.flush(true));
  }

  /** A CONNECT parsed (`acceptedAt`: when its TCP connection was accepted). */
  start(client: string, proto: number, acceptedAt: number): ConnectTrace {
    const t = now();
    const tr: ConnectTrace = {
      client,
      proto,
      acceptedAt,
      at: t,
      stage: 'admission',
      stageAt: t,
      waits: { parse: Math.max(0, Math.round(t - acceptedAt)) },
      pendingReported: false,
      done: false,
    };
    this.pending.add(tr);
    this.latest.set(client, tr);
    return tr;
  }

  /** The CONNECT of this client id in progress here, if any. */
  current(client: string): ConnectTrace | undefined {
    const tr = this.latest.get(client);
    return tr && !tr.done ? tr : undefined;
  }

  mark(tr: ConnectTrace | undefined, stage: ConnectStage): void {
    if (!tr || tr.done || tr.stage === stage) return;
    const t = now();
    tr.waits[tr.stage] = Math.round((tr.waits[tr.stage] ?? 0) + (t - tr.stageAt));
    tr.stage = stage;
    tr.stageAt = t;
  }

  /** The CONNECT ended: `connack` (code 0), `refused` (its code), or `closed` before any CONNACK. */
  finish(tr: ConnectTrace | undefined, outcome: 'connack' | 'refused' | 'closed', extra: Record<string, unknown> = {}): void {
    if (!tr || tr.done) return;
    const t = now();
    const last = tr.stage;
    this.mark(tr, 'connack');
    tr.waits.connack = Math.round((tr.waits.connack ?? 0) + (t - tr.stageAt));
    tr.done = true;
    this.pending.delete(tr);
    if (this.latest.get(tr.client) === tr) this.latest.delete(tr.client);
    this.out.push({
      ...this.base(tr),
      event: 'connect',
      outcome,
      ms: Math.round(t - tr.at),
      ...(outcome === 'closed' ? { stage: last } : {}),
      waits: tr.waits,
      ...extra,
    });
  }

  private base(tr: ConnectTrace): ConnectLine {
    return { t: tr.at, system: 'sim', event: 'connect', node: this.node, boot_id: this.bootId, client: tr.client, proto: tr.proto };
  }

  /** Writes what ended, and a `connect_pending` line for every CONNECT held too long (all of them at exit). */
  flush(atExit: boolean): void {
    const t = now();
    for (const tr of this.pending) {
      if (tr.pendingReported && !atExit) continue;
      if (!atExit && t - tr.at < PENDING_MS) continue;
      tr.pendingReported = true;
      const waits = { ...tr.waits, [tr.stage]: Math.round((tr.waits[tr.stage] ?? 0) + (t - tr.stageAt)) };
      this.out.push({ ...this.base(tr), event: 'connect_pending', stage: tr.stage, ms: Math.round(t - tr.at), waits, at_exit: atExit, seen_at: t });
    }
    if (this.out.length === 0) return;
    const lines = this.out;
    this.out = [];
    this.write(lines);
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush(false);
  }
}
