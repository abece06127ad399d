/**
 * One load client: an mqtt.js client with a persistent session (clean start false,
 * session expiry set for MQTT 5) that subscribes to its own topic at QoS 1, publishes
 * sequence-numbered QoS 1 messages to its peer's topic, and records everything the
 * report needs.
 *
 * Reconnecting is ours, not mqtt.js's fixed `reconnectPeriod`: after a lost link the
 * next CONNECT waits an exponential backoff with jitter (the first one only a jitter, so
 * a drained node's clients do not come back in one burst), and goes to the Server
 * Reference the broker gave (DISCONNECT property, or CONNACK 0x9C/0x9D), else to the
 * next front-door target. The same mqtt.js client object reconnects (`connect()` on it
 * again), so its outgoing store keeps the in-flight QoS 1 messages and resends them.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { MqttClient, type IClientOptions, type Packet } from 'mqtt';
import type { Endpoints } from './identify.js';
import { type AcceptRecord, type AttemptRecord, type ClientRecord, type DisconnectRecord, type Protocol, codeLabel, emptyRecord } from './report.js';
import { type Target, parseHostPort, targetLabel } from './target.js';

/** The simulator's clock: comparable across processes (calls.ndjson, events.ndjson). */
export const clock = (): number => performance.timeOrigin + performance.now();

export interface Backoff {
  /** First delay bound and growth base (ms). */
  baseMs: number;
  /** Cap of one delay (ms). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 100, maxMs: 5_000 };

/**
 * Delay before reconnect attempt `attempt` (0 = the first after a lost link): attempt 0
 * is a full jitter in [0, base); later ones "equal jitter" of min(max, base·2^attempt),
 * so they never come back faster than half the exponential bound.
 */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  if (attempt <= 0) return random() * b.baseMs;
  const d = Math.min(b.maxMs, b.baseMs * 2 ** attempt);
  return d / 2 + random() * (d / 2);
}

export interface LoadClientOptions {
  index: number;
  clientId: string;
  protocol: Protocol;
  /** Front-door targets; the client starts at `targets[index % n]` and rotates on failure. */
  targets: Target[];
  topicIn: string;
  topicOut: string;
  /** MQTT 5 Session Expiry Interval (s). */
  sessionExpiryS: number;
  backoff: Backoff;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  /** Called on every accepted CONNECT with the link's ports (to find out which node took it). */
  onAccepted?: (a: AcceptRecord, link: Endpoints) => void;
  /**
   * Stock-client behaviour (`--give-up-share`): once connected, the first refused CONNACK or
   * DISCONNECT with a reason code ends this client for good (mqtt.js stops after a CONNACK
   * refusal unless told otherwise; some applications treat a server's reason code as final).
   * A plain socket close (all an MQTT 3.1.1 client gets when evicted) is retried as usual.
   */
  givesUp?: boolean;
}

type Props = Record<string, unknown> | undefined;

/** Broker identity from CONNACK user properties (`node_id`/`node-id`, `boot_id`/`boot-id`), if the broker announces one. */
export function brokerIdentity(props: Props): { node?: string; bootId?: string } {
  const user = (props?.userProperties ?? {}) as Record<string, string | string[]>;
  const pick = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      const v = user[k];
      if (typeof v === 'string') return v;
      if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
    }
    return undefined;
  };
  const node = pick('node_id', 'node-id', 'quantum-node-id', 'node');
  const bootId = pick('boot_id', 'boot-id', 'quantum-boot-id');
  return { ...(node ? { node } : {}), ...(bootId ? { bootId } : {}) };
}

export class LoadClient {
  readonly rec: ClientRecord;
  private readonly mqtt: MqttClient;
  private target: Target;
  private rotation: number;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private pubTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private everConnected = false;
  private connectSentAt = 0;
  /** The disconnect being recovered from, if any. */
  private open: DisconnectRecord | null = null;
  private readonly pending = new Map<number, number>();
  private subscribed = false;
  private socket: net.Socket | null = null;
  /** The last error mqtt.js reported on the current link (connect failures are named by it). */
  private lastError: string | null = null;
  /** The attempt in progress (its record is in rec.attempts). */
  private attempt_: AttemptRecord | null = null;
  /** A CONNACK (success or refusal) arrived on the current link. */
  private answered = false;
  private firstConnect: { resolve: () => void; reject: (e: Error) => void } | null = null;
  /** Deliveries seen (all receipts, duplicates included): the drain watches it grow. */
  receipts = 0;
  /** Set when a `givesUp` client met a refusal or a reason code: it reconnects no more. */
  private quit: string | null = null;

  constructor(private readonly o: LoadClientOptions) {
    this.rec = emptyRecord(o.index, o.clientId, o.protocol);
    this.rec.givesUp = o.givesUp ?? false;
    this.rotation = o.index % o.targets.length;
    this.target = o.targets[this.rotation]!;
    const options: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: o.protocol,
      clean: false,
      keepalive: o.keepaliveS ?? 10,
      // Generous: under overload a broker answers late, and giving up re-sends the whole
      // session resume to another broker (a retry storm); a dead server shows as a close.
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      // We schedule reconnects ourselves (backoff, jitter, Server Reference); per the
      // facts mqtt.js would otherwise stop after a CONNACK refusal.
      reconnectPeriod: 0,
      reconnectOnConnackError: true,
      resubscribe: false,
      manualConnect: true,
      ...(o.protocol === 5 ? { properties: { sessionExpiryInterval: o.sessionExpiryS } } : {}),
    };
    this.mqtt = new MqttClient(() => {
      const s = net.createConnection({ host: this.target.host, port: this.target.port });
      s.setNoDelay(true);
      this.socket = s;
      const a: AttemptRecord = { start: clock(), tcp: null, end: null, target: targetLabel(this.target), outcome: null };
      this.attempt_ = a;
      this.rec.attempts.push(a);
      s.once('connect', () => {
        a.tcp = clock();
      });
      return s;
    }, options);
    this.mqtt.on('packetsend', (p: Packet) => {
      if (p.cmd === 'connect') this.connectSentAt = clock();
    });
    this.mqtt.on('packetreceive', (p: Packet) => this.onPacket(p));
    this.mqtt.on('message', (_topic, payload) => this.onMessage(payload));
    this.mqtt.on('close', () => this.onClose());
    // Errors (refused CONNACK, ECONNREFUSED, keepalive) all end in `close`, handled there.
    this.mqtt.on('error', (e) => {
      this.lastError = (e as NodeJS.ErrnoException).code ?? e.message;
    });
  }

  get connected(): boolean {
    return this.mqtt.connected;
  }

  /** Gave up for good (`givesUp` and a refusal or a reason code met). */
  get gaveUp(): boolean {
    return this.quit !== null;
  }

  /** A `givesUp` client ends here, on what it met (`CONNACK 0x9C`, `DISCONNECT 0x8B`, …). */
  private giveUp(now: number, why: string): void {
    if (!this.o.givesUp || !this.everConnected || this.quit !== null) return;
    this.quit = why;
    this.rec.gaveUp = { at: now, why };
    this.stopPublishing();
  }

  /** Outstanding PUBLISHes (sent or queued, no PUBACK yet). */
  get inFlight(): number {
    return this.pending.size;
  }

  get targetLabel(): string {
    return targetLabel(this.target);
  }

  /** Connects and subscribes; resolves once the subscription is granted. Retries with backoff until `close()`. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstConnect = { resolve, reject };
      this.mqtt.connect();
    });
  }

  /** Publishes one message every `intervalMs`, the first after `phaseMs`. */
  startPublishing(intervalMs: number, phaseMs: number): void {
    // Drift-free: message k is due at start + phase + k·interval, late ticks catch up.
    const start = clock() + phaseMs;
    let k = 0;
    const tick = (): void => {
      const now = clock();
      while (start + k * intervalMs <= now) {
        this.publishOne();
        k++;
      }
      this.pubTimer = setTimeout(tick, Math.max(0, start + k * intervalMs - clock()));
    };
    this.pubTimer = setTimeout(tick, phaseMs);
  }

  stopPublishing(): void {
    if (this.pubTimer) clearTimeout(this.pubTimer);
    this.pubTimer = null;
  }

  publishOne(): void {
    const seq = ++this.rec.published;
    this.pending.set(seq, clock());
    this.send(seq);
  }

  private send(seq: number): void {
    this.mqtt.publish(this.o.topicOut, `${this.o.index}:${seq}`, { qos: 1 }, (err) => {
      // mqtt.js fails PUBLISHes it queued but never sent when the link drops while it
      // resends its stored ones: the same message goes again, as an application would.
      // Not synchronously: mqtt.js is iterating that queue right now and would loop.
      if (err && err.message === 'Connection closed' && !this.closing) {
        setImmediate(() => {
          if (this.closing) this.pending.delete(seq);
          else this.send(seq);
        });
        return;
      }
      const t = this.pending.get(seq);
      this.pending.delete(seq);
      if (err) {
        // not PUBACKed (a failure reason code, or the client closed): not the broker's promise
        this.rec.publishErrors[err.message] = (this.rec.publishErrors[err.message] ?? 0) + 1;
        return;
      }
      this.rec.acked.add(seq);
      if (t !== undefined) this.rec.maxStallMs = Math.max(this.rec.maxStallMs, clock() - t);
    });
  }

  /** Stops reconnecting, counts still-unacked publishes' waits up to now, closes the link. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.stopPublishing();
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.rec.connectedAtEnd = this.mqtt.connected;
    const now = clock();
    for (const t of this.pending.values()) this.rec.maxStallMs = Math.max(this.rec.maxStallMs, now - t);
    this.firstConnect?.reject(new Error(`${this.o.clientId}: closed before it connected`));
    this.firstConnect = null;
    await new Promise<void>((resolve) => this.mqtt.end(true, {}, () => resolve()));
  }

  private onPacket(p: Packet): void {
    const now = clock();
    if (p.cmd === 'connack') {
      this.answered = true;
      const props = p.properties as Props;
      const rc = (this.o.protocol === 5 ? p.reasonCode : p.returnCode) ?? 0;
      const a = this.attempt_;
      if (a && a.end === null) {
        a.end = now;
        a.outcome = rc === 0 ? 'connack' : 'refused';
        if (rc !== 0) a.code = rc;
        const who = brokerIdentity(props);
        if (who.node) a.node = who.node;
        if (who.bootId) a.bootId = who.bootId;
      }
      if (rc === 0) {
        this.attempt = 0;
        this.up = true;
        const id = brokerIdentity(props);
        const accept: AcceptRecord = { sentAt: this.connectSentAt || now, at: now, sessionPresent: Boolean(p.sessionPresent), ...id };
        this.rec.accepts.push(accept);
        if (!accept.node && this.socket?.localPort && this.socket.remotePort) this.o.onAccepted?.(accept, { localPort: this.socket.localPort, remotePort: this.socket.remotePort });
        if (this.open) {
          this.open.back = now;
          this.open = null;
        }
        const wasFirst = !this.everConnected;
        this.everConnected = true;
        if (!p.sessionPresent && !wasFirst) this.rec.sessionsLost++;
        if (!p.sessionPresent || !this.subscribed) this.subscribe();
        return;
      }
      const ref = typeof props?.serverReference === 'string' ? props.serverReference : undefined;
      this.rec.refusals.push({ at: now, protocol: this.o.protocol, code: rc, ...(ref ? { serverReference: ref } : {}) });
      this.giveUp(now, `CONNACK ${codeLabel(rc, this.o.protocol)}`);
      this.redirect(ref);
      return;
    }
    if (p.cmd === 'disconnect') {
      const props = p.properties as Props;
      const ref = typeof props?.serverReference === 'string' ? props.serverReference : undefined;
      this.lost(now, p.reasonCode ?? 0, ref);
      this.giveUp(now, `DISCONNECT ${codeLabel(p.reasonCode ?? 0)}`);
      this.redirect(ref);
    }
  }

  /** The next CONNECT goes to the Server Reference, when it names an endpoint. */
  private nextTarget: Target | null = null;
  private redirect(ref: string | undefined): void {
    const t = ref ? parseHostPort(ref) : null;
    if (t) this.nextTarget = t;
  }

  private lost(at: number, reasonCode: number | null, ref?: string): void {
    if (!this.up) return;
    this.up = false;
    this.open = { at, back: null, reasonCode, ...(ref ? { serverReference: ref } : {}) };
    this.rec.disconnects.push(this.open);
  }

  /** True between a CONNACK success and the loss of that link. */
  private up = false;

  private subscribe(): void {
    this.mqtt.subscribe(this.o.topicIn, { qos: 1 }, (err, granted) => {
      if (err || !granted || granted.some((g) => g.qos !== 1)) return; // the link went down; the next CONNACK subscribes again
      this.subscribed = true;
      this.firstConnect?.resolve();
      this.firstConnect = null;
    });
  }

  private onMessage(payload: Buffer): void {
    const text = payload.toString();
    const i = text.indexOf(':');
    const from = Number(text.slice(0, i));
    const seq = Number(text.slice(i + 1));
    if (!Number.isInteger(from) || !Number.isInteger(seq)) return;
    this.receipts++;
    let m = this.rec.received.get(from);
    if (!m) this.rec.received.set(from, (m = new Map()));
    m.set(seq, (m.get(seq) ?? 0) + 1);
  }

  private onClose(): void {
    if (this.closing) return;
    if (!this.answered) {
      const why = this.lastError ?? 'closed before CONNACK';
      this.rec.connectFailures[why] = (this.rec.connectFailures[why] ?? 0) + 1;
    }
    const a = this.attempt_;
    if (a && a.end === null) {
      a.end = clock();
      a.outcome = this.lastError ?? 'closed before CONNACK';
    }
    this.attempt_ = null;
    this.answered = false;
    this.lastError = null;
    this.lost(clock(), null);
    if (this.quit !== null) return; // gave up: no reconnect, ever
    if (this.timer) return;
    const ref = this.nextTarget;
    this.nextTarget = null;
    if (ref) {
      this.target = ref;
      this.rec.referencesFollowed++;
    } else {
      // Round the front-door list (one entry behind a load balancer; every node when
      // connecting straight to the brokers, where the node that dropped us is draining).
      this.rotation = (this.rotation + 1) % this.o.targets.length;
      this.target = this.o.targets[this.rotation]!;
    }
    // A Server Reference is an instruction, not a failure: follow it after a jitter only.
    const delay = backoffDelay(ref ? 0 : this.attempt, this.o.backoff);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closing) this.mqtt.connect();
    }, delay);
  }
}
