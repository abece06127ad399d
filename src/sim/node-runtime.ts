// One simulated Quantum runtime: readiness, drain flag, sessions, metrics and its admin
// API. Used by the node process (node-main) and by the in-process virtual node host.
import crypto from 'node:crypto';
import { error, isObject, isoNow, json, segments, type Ctx, type Reply } from './http-kit.js';

export interface DrainStatus {
  draining: boolean;
  since: string | null;
  reason: string | null;
  initiator: string | null;
}

export interface DrainStore {
  load(): DrainStatus;
  save(s: DrainStatus): void;
}

export class MemoryDrainStore implements DrainStore {
  private s: DrainStatus = { draining: false, since: null, reason: null, initiator: null };
  load(): DrainStatus {
    return { ...this.s };
  }
  save(s: DrainStatus): void {
    this.s = { ...s };
  }
}

export interface RuntimeOptions {
  nodeId: string;
  listener: string;
  mqttPort: number;
  maxSessions: number | null;
  replayMs: number;
  sessions: number;
  neverReady?: boolean;
  sessionDecay?: number;
  prgTotal?: number;
  store: DrainStore;
  /** Writes an event to the simulator's record (`events.ndjson`); absent = not recorded. */
  event?: (event: string, fields: Record<string, unknown>) => void;
}

export interface HeartbeatPayload {
  node_id: string;
  boot_id: string;
  replay_progress: number;
  draining: boolean;
  active_sessions: number;
  sim_sessions: number;
  shed_total: number;
  moved_out_total: number;
  tcp_connections: number;
}

export interface HeartbeatReply {
  routing_epoch: number;
  prg_total: number;
  strict_fallback: number;
  add_sessions: number;
  remove_sessions: number;
  never_ready: boolean;
  replay_ms: number | null;
  session_decay: number;
  cp_cache_stale: boolean;
  /** Where this node sends clients it refuses or disconnects (front door, or another ready node); null = nowhere. */
  server_reference?: string | null;
  /** The `storeLatencyMs` fault. */
  store_latency_ms?: number;
  /** The `dropPublish` and `acceptWhileDraining` faults, for this node. */
  drop_publish?: boolean;
  accept_while_draining?: boolean;
  /** The `holdConnect` fault for this node, and `connectAnswerMs`. */
  hold_connect?: boolean;
  connect_answer_ms?: number;
}

/** A node's real MQTT data plane (the broker in node-main); absent in virtual-nodes mode. */
export interface DataPlane {
  /** Real sessions: connected MQTT clients plus raw (non-MQTT) sockets. */
  sessions(): number;
  /** Connected MQTT clients. */
  mqttClients(): number;
  /** Open TCP connections on the MQTT port. */
  tcpConnections(): number;
  /** Disconnects up to n sessions (MQTT 5: DISCONNECT reasonCode + Server Reference); returns how many. */
  kick(n: number, reasonCode: number, serverReference: string | null): number;
  /** CONNECTs refused, by reason. */
  refused(): Record<string, number>;
  /** Disconnects nobody asked for (takeover, keep-alive timeout), by MQTT 5 reason code. */
  failures(): Record<string, number>;
  /** This process's broker id (fresh on every start). */
  brokerId(): string;
  /** Packets held until their link's CONNACK was written (CONNACK first, [MQTT-3.2.0-1]; broker.ts). */
  heldForConnack(): number;
  /** Session ends: wiped here, or skipped because the session now belongs to another node. */
  wipes(): { wiped: number; skipped: number };
  /** CONNECTs held by the `holdConnect` fault right now. */
  held(): number;
}

/** One `POST /v1/sessions/disconnect` request: its pacing, what it asked for and how far it got. */
interface DisconnectRequest {
  rate: number;
  code: number;
  /** Disconnects owed by the pacing but not yet made (fractional; a late tick never bursts). */
  budget: number;
  ref: string | null;
  /** How many this request disconnects (its `limit`, capped by the sessions connected at its start). */
  requested: number;
  disconnected: number;
  startedAtMs: number;
  inProgress: boolean;
}

export const MAX_DISCONNECT_LIMIT = 10_000_000;
export const VALID_DISCONNECT_CODES = new Set([139, 137, 156, 157]);
/**
 * The CP cache is fresh while a heartbeat succeeded less than this long ago. The bed's CP is
 * the supervisor process: on a loaded two-core box it answers late, and at 2 s healthy nodes
 * went `cp_cache_stale` and refused every CONNECT for 14 s in the middle of an eviction.
 */
const CACHE_FRESH_MS = 5000;
const STUCK_PROGRESS = 0.95;
const BROKER_PENDING_PROGRESS = 0.99;

export class NodeRuntime {
  readonly bootId = crypto.randomBytes(8).toString('hex');
  readonly startedAtMs = Date.now();
  private readonly startMono = performance.now();
  private drain: DrainStatus;
  simSessions: number;
  shedTotal = 0;
  movedOutTotal = 0;
  /** The real broker (process mode); null in virtual-nodes mode and while it starts. */
  dataPlane: DataPlane | null = null;
  /** True while the broker of a (re)started node loads: the replay does not finish before it. */
  dataPlaneStarting = false;
  /** The Server Reference this node hands out (from the supervisor's heartbeat reply). */
  serverReference: string | null = null;
  /** The `storeLatencyMs` fault, applied by the broker before every store write. */
  storeLatencyMs = 0;
  /** The `dropPublish` / `acceptWhileDraining` faults, applied by the broker. */
  dropPublish = false;
  acceptWhileDraining = false;
  /** The `holdConnect` / `connectAnswerMs` faults, applied by the broker. */
  holdConnect = false;
  connectAnswerMs = 5_000;
  /** The disconnect request in progress (null when none is). */
  private disconnect: DisconnectRequest | null = null;
  /** The current or last disconnect request, for `GET /v1/sessions/disconnect` (null before any). */
  private lastDisconnect: DisconnectRequest | null = null;
  private readonly disconnects = new Map<string, number>();
  private replayMs: number;
  private neverReady: boolean;
  private replayDone = false;
  private lastCpOk = performance.now();
  private routingEpoch = 0;
  private prgTotal: number;
  private strictFallback = 0;
  private cpStaleForced = false;
  private sessionDecay: number;

  constructor(readonly opts: RuntimeOptions) {
    this.drain = opts.store.load();
    this.simSessions = opts.sessions;
    this.replayMs = opts.replayMs;
    this.neverReady = opts.neverReady ?? false;
    this.sessionDecay = opts.sessionDecay ?? 0.15;
    this.prgTotal = opts.prgTotal ?? 0;
  }

  get draining(): boolean {
    return this.drain.draining;
  }

  get tcpConnections(): number {
    return this.dataPlane?.tcpConnections() ?? 0;
  }

  /** The listener is at its `max_sessions` (never with an unknown capacity). */
  full(): boolean {
    return this.opts.maxSessions !== null && this.activeSessions() >= this.opts.maxSessions;
  }

  activeSessions(): number {
    return this.simSessions + (this.dataPlane?.sessions() ?? 0);
  }

  replayProgress(): number {
    if (this.replayDone) return 1;
    const elapsed = performance.now() - this.startMono;
    let p = this.replayMs <= 0 ? 1 : Math.min(1, elapsed / this.replayMs);
    if (this.neverReady) p = Math.min(p, STUCK_PROGRESS);
    // A node replays its data plane too: it is not ready before its broker serves.
    if (this.dataPlaneStarting && this.replayMs > 0) p = Math.min(p, BROKER_PENDING_PROGRESS);
    if (p >= 1) this.replayDone = true;
    return p;
  }

  private cacheAgeMs(): number {
    return Math.round(performance.now() - this.lastCpOk);
  }

  readiness(): { ready: boolean; body: Record<string, unknown>; listener: Record<string, unknown> } {
    const progress = this.replayProgress();
    const fresh = !this.cpStaleForced && this.cacheAgeMs() < CACHE_FRESH_MS;
    const reasons: string[] = [];
    if (this.drain.draining) reasons.push('draining');
    if (!fresh) reasons.push('cp_cache_stale');
    if (progress < 1) reasons.push('prgs_replaying');
    if (this.strictFallback > 0) reasons.push('prgs_strict_fallback');
    if (this.replayMs > 0 && performance.now() - this.startMono < 50) reasons.push('starting');
    const ready = reasons.length === 0;
    const replaying = progress < 1 ? Math.ceil(this.prgTotal * (1 - progress)) : 0;
    const listener: Record<string, unknown> = {
      name: this.opts.listener,
      port: this.opts.mqttPort,
      accepting: ready,
      active_sessions: this.activeSessions(),
    };
    if (this.opts.maxSessions !== null) listener.max_sessions = this.opts.maxSessions;
    const body = {
      ready,
      node_id: this.opts.nodeId,
      reasons,
      draining: this.drain.draining,
      cp_cache: { fresh, age_ms: this.cacheAgeMs(), routing_epoch: this.routingEpoch },
      prgs: { total: this.prgTotal, ready: this.prgTotal - replaying, replaying, strict_fallback: this.strictFallback },
      replay: { progress: Math.floor(progress * 1000) / 1000 },
      listeners: [listener],
    };
    return { ready, body, listener };
  }

  /** Advances drain decay and rate-limited disconnects by dtMs. */
  tick(dtMs: number): void {
    if (!this.drain.draining) return;
    if (this.sessionDecay > 0 && this.simSessions > 0) {
      const lost = Math.min(this.simSessions, Math.ceil(this.simSessions * this.sessionDecay * (dtMs / 50)));
      this.simSessions -= lost;
      this.shedTotal += lost;
    }
    const d = this.disconnect;
    if (d) {
      d.budget += (d.rate * dtMs) / 1000;
      let n = Math.min(Math.floor(d.budget), d.requested - d.disconnected);
      if (n > 0) {
        d.budget -= n;
        const sim = Math.min(n, this.simSessions);
        this.simSessions -= sim;
        this.shedTotal += sim;
        n -= sim;
        const tcp = n > 0 && this.dataPlane ? this.dataPlane.kick(n, d.code, d.ref) : 0;
        d.disconnected += sim + tcp;
        const key = `${d.code}|drain`;
        this.disconnects.set(key, (this.disconnects.get(key) ?? 0) + sim + tcp);
      }
      // Done when it disconnected what it asked for, or nobody is left to disconnect.
      if (d.disconnected >= d.requested) this.endDisconnect('done');
      else if (this.activeSessions() === 0) this.endDisconnect('no_sessions');
    }
  }

  /** Ends the request in progress; `why`: done, no_sessions (nobody left), replaced, undrained. */
  private endDisconnect(why: 'done' | 'no_sessions' | 'replaced' | 'undrained'): void {
    const d = this.disconnect;
    if (!d) return;
    d.inProgress = false;
    this.disconnect = null;
    this.opts.event?.('disconnect_end', { why, requested: d.requested, disconnected: d.disconnected, rate_per_s: d.rate });
  }

  heartbeat(): HeartbeatPayload {
    return {
      node_id: this.opts.nodeId,
      boot_id: this.bootId,
      replay_progress: this.replayProgress(),
      draining: this.drain.draining,
      active_sessions: this.activeSessions(),
      sim_sessions: this.simSessions,
      shed_total: this.shedTotal,
      moved_out_total: this.movedOutTotal,
      tcp_connections: this.tcpConnections,
    };
  }

  applyReply(r: HeartbeatReply): void {
    this.lastCpOk = performance.now();
    this.routingEpoch = r.routing_epoch;
    this.prgTotal = r.prg_total;
    this.strictFallback = r.strict_fallback;
    this.simSessions += Math.max(0, r.add_sessions);
    const remove = Math.min(this.simSessions, Math.max(0, r.remove_sessions));
    this.simSessions -= remove;
    this.movedOutTotal += remove;
    this.neverReady = r.never_ready;
    if (r.replay_ms !== null && !this.replayDone) this.replayMs = r.replay_ms;
    this.sessionDecay = r.session_decay;
    this.cpStaleForced = r.cp_cache_stale;
    if (r.server_reference !== undefined) this.serverReference = r.server_reference;
    if (r.store_latency_ms !== undefined) this.storeLatencyMs = r.store_latency_ms;
    if (r.drop_publish !== undefined) this.dropPublish = r.drop_publish;
    if (r.accept_while_draining !== undefined) this.acceptWhileDraining = r.accept_while_draining;
    if (r.hold_connect !== undefined) this.holdConnect = r.hold_connect;
    if (r.connect_answer_ms !== undefined) this.connectAnswerMs = r.connect_answer_ms;
  }

  private drainStatus(): Record<string, unknown> {
    return { ...this.drain, active_sessions: this.activeSessions() };
  }

  handle(ctx: Ctx): Reply {
    const seg = segments(ctx.path);
    const route = seg.join('/');
    const m = ctx.method;
    if (route === 'livez') return m === 'GET' ? json(200, { status: 'ok' }) : notAllowed();
    if (route === 'readyz') {
      if (m !== 'GET') return notAllowed();
      const r = this.readiness();
      return json(r.ready ? 200 : 503, r.body);
    }
    if (seg[0] === 'readyz' && seg[1] === 'listeners' && seg.length === 3) {
      if (m !== 'GET') return notAllowed();
      if (seg[2] !== this.opts.listener) return error(404, 'unknown_listener', `no listener ${seg[2] ?? ''}`);
      const r = this.readiness();
      return json(r.ready ? 200 : 503, r.listener);
    }
    if (route === 'v1/node') {
      if (m !== 'GET') return notAllowed();
      return json(200, { node_id: this.opts.nodeId, version: '1.14.2', boot_id: this.bootId, started_at: isoNow(this.startedAtMs) });
    }
    if (route === 'v1/drain') return this.handleDrain(ctx);
    if (route === 'v1/sessions/disconnect') {
      if (m === 'POST') return this.handleDisconnect(ctx);
      return m === 'GET' ? json(200, this.disconnectStatus()) : notAllowed();
    }
    if (route === 'metrics') return m === 'GET' ? { status: 200, text: this.metrics(), contentType: 'text/plain; version=0.0.4' } : notAllowed();
    return error(404, 'not_found', `no route ${ctx.method} ${ctx.path}`);
  }

  private handleDrain(ctx: Ctx): Reply {
    if (ctx.method === 'GET') return json(200, this.drainStatus());
    if (ctx.method === 'PUT') {
      if (ctx.bodyInvalid || (ctx.body !== undefined && !isObject(ctx.body))) return error(400, 'invalid_body', 'body must be a JSON object');
      const b = (ctx.body ?? {}) as Record<string, unknown>;
      for (const k of ['reason', 'initiator']) {
        if (b[k] !== undefined && b[k] !== null && typeof b[k] !== 'string') return error(400, 'invalid_body', `${k} must be a string`);
      }
      const reason = typeof b.reason === 'string' ? b.reason : null;
      const initiator = typeof b.initiator === 'string' ? b.initiator : null;
      if (!this.drain.draining) {
        this.drain = { draining: true, since: isoNow(), reason, initiator };
      } else {
        this.drain = { ...this.drain, reason: reason ?? this.drain.reason, initiator: initiator ?? this.drain.initiator };
      }
      this.opts.store.save(this.drain);
      return json(200, this.drainStatus());
    }
    if (ctx.method === 'DELETE') {
      this.drain = { draining: false, since: null, reason: null, initiator: null };
      this.endDisconnect('undrained'); // an undrained node disconnects nobody
      this.opts.store.save(this.drain);
      return json(200, this.drainStatus());
    }
    return notAllowed();
  }

  /**
   * `POST /v1/sessions/disconnect`: validates every field (a 400 names it), then starts a
   * request that replaces the one in progress: its rate and limit apply from now on, the
   * sessions already disconnected stay so, and its counters start at 0. `limit: 0` stops the
   * request in progress without disconnecting more.
   */
  private handleDisconnect(ctx: Ctx): Reply {
    if (ctx.bodyInvalid || !isObject(ctx.body)) return error(400, 'invalid_body', 'body must be a JSON object');
    const b = ctx.body;
    const code = b.reason_code;
    if (typeof code !== 'number' || !VALID_DISCONNECT_CODES.has(code)) {
      const hint = code === 136 ? ' (136 is a CONNACK code, not a DISCONNECT code)' : '';
      return error(400, 'invalid_reason_code', `reason_code must be one of 139, 137, 156, 157${hint}`);
    }
    const rate = b.rate_per_s;
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1 || rate > 100000) {
      return error(400, 'invalid_rate', 'rate_per_s must be an integer in 1..100000');
    }
    const limit = b.limit;
    if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > MAX_DISCONNECT_LIMIT)) {
      return error(400, 'invalid_limit', `limit must be an integer in 0..${MAX_DISCONNECT_LIMIT} (absent = every session connected now)`);
    }
    if (b.server_reference !== undefined && b.server_reference !== null && typeof b.server_reference !== 'string') {
      return error(400, 'invalid_server_reference', 'server_reference must be a string');
    }
    if (!this.drain.draining) return error(409, 'not_draining', 'the node is not draining');
    // The requested reference; 0x9C/0x9D without one point at this node's default (front door or a ready peer).
    const ref = typeof b.server_reference === 'string' && b.server_reference ? b.server_reference : code === 156 || code === 157 ? this.serverReference : null;
    const now = this.activeSessions();
    const requested = typeof limit === 'number' ? Math.min(limit, now) : now;
    this.endDisconnect('replaced');
    const d: DisconnectRequest = { rate, code, budget: 0, ref, requested, disconnected: 0, startedAtMs: Date.now(), inProgress: requested > 0 };
    this.lastDisconnect = d;
    if (d.inProgress) this.disconnect = d;
    this.opts.event?.('disconnect_request', {
      reason_code: code,
      rate_per_s: rate,
      limit: typeof limit === 'number' ? limit : null,
      server_reference: ref,
      sessions: now,
      requested,
    });
    return json(202, { requested });
  }

  /** `GET /v1/sessions/disconnect`: the current or last request (all null/0 before any since this process started). */
  disconnectStatus(): Record<string, unknown> {
    const d = this.lastDisconnect;
    if (!d) return { in_progress: false, requested: 0, disconnected: 0, rate_per_s: null, reason_code: null, started_at: null };
    return {
      in_progress: d.inProgress,
      requested: d.requested,
      disconnected: d.disconnected,
      rate_per_s: d.rate,
      reason_code: d.code,
      started_at: isoNow(d.startedAtMs),
    };
  }

  metrics(): string {
    const r = this.readiness().body as { prgs: { total: number; ready: number; replaying: number; strict_fallback: number } };
    const lines = [
      '# TYPE quantum_mqtt_active_sessions gauge',
      `quantum_mqtt_active_sessions{listener="${this.opts.listener}"} ${this.activeSessions()}`,
      '# TYPE quantum_drain_active gauge',
      `quantum_drain_active{reason="${escapeLabel(this.drain.reason ?? '')}"} ${this.drain.draining ? 1 : 0}`,
      '# TYPE quantum_prg_total gauge',
      `quantum_prg_total ${r.prgs.total}`,
      '# TYPE quantum_prg_ready gauge',
      `quantum_prg_ready ${r.prgs.ready}`,
      '# TYPE quantum_prg_replaying gauge',
      `quantum_prg_replaying ${r.prgs.replaying}`,
      '# TYPE quantum_prg_strict_fallback gauge',
      `quantum_prg_strict_fallback ${r.prgs.strict_fallback}`,
      '# TYPE quantum_replay_progress_ratio gauge',
      `quantum_replay_progress_ratio ${this.replayProgress()}`,
      '# TYPE quantum_cp_cache_age_seconds gauge',
      `quantum_cp_cache_age_seconds ${this.cacheAgeMs() / 1000}`,
      '# TYPE quantum_sim_tcp_connections gauge',
      `quantum_sim_tcp_connections ${this.tcpConnections}`,
      ...(this.dataPlane ? ['# TYPE quantum_sim_broker_info gauge', `quantum_sim_broker_info{broker_id="${this.dataPlane.brokerId()}"} 1`] : []),
      '# TYPE quantum_sim_mqtt_clients gauge',
      `quantum_sim_mqtt_clients ${this.dataPlane?.mqttClients() ?? 0}`,
      '# TYPE quantum_sim_store_latency_ms gauge',
      `quantum_sim_store_latency_ms ${this.storeLatencyMs}`,
      `quantum_sim_drop_publish ${this.dropPublish ? 1 : 0}`,
      `quantum_sim_accept_while_draining ${this.acceptWhileDraining ? 1 : 0}`,
      `quantum_sim_hold_connect ${this.holdConnect ? 1 : 0}`,
      `quantum_sim_connect_answer_ms ${this.connectAnswerMs}`,
      '# TYPE quantum_sim_connects_held gauge',
      `quantum_sim_connects_held ${this.dataPlane?.held() ?? 0}`,
      '# TYPE quantum_sim_publish_held_for_connack_total counter',
      `quantum_sim_publish_held_for_connack_total ${this.dataPlane?.heldForConnack() ?? 0}`,
      '# TYPE quantum_sim_session_wipes_total counter',
      `quantum_sim_session_wipes_total{outcome="wiped"} ${this.dataPlane?.wipes().wiped ?? 0}`,
      `quantum_sim_session_wipes_total{outcome="skipped"} ${this.dataPlane?.wipes().skipped ?? 0}`,
      '# TYPE quantum_sim_connects_refused_total counter',
      ...Object.entries(this.dataPlane?.refused() ?? {}).map(([reason, v]) => `quantum_sim_connects_refused_total{reason="${reason}"} ${v}`),
      '# TYPE quantum_disconnects_total counter',
    ];
    const counts = new Map(this.disconnects);
    for (const [code, v] of Object.entries(this.dataPlane?.failures() ?? {})) counts.set(`${code}|failure`, (counts.get(`${code}|failure`) ?? 0) + v);
    if (!counts.has('139|drain')) counts.set('139|drain', 0);
    if (!counts.has('139|failure')) counts.set('139|failure', 0);
    for (const [key, v] of counts) {
      const [code, cause] = key.split('|');
      lines.push(`quantum_disconnects_total{reason_code="${code ?? ''}",cause="${cause ?? ''}"} ${v}`);
    }
    return lines.join('\n') + '\n';
  }
}

function notAllowed(): Reply {
  return error(405, 'method_not_allowed', 'method not allowed');
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
