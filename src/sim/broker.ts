/**
 * The data plane of one simulated node: a real MQTT 5 / 3.1.1 broker (aedes 2) on the
 * node's MQTT port, its sessions in the simulator's shared redis (aedes-persistence-redis
 * for sessions, subscriptions, QoS 1/2 in-flight and offline queues, retained messages;
 * mqemitter-redis to route messages between nodes). What aedes does not do the way Quantum
 * promises is fixed here, at run time, through aedes' own hooks (no patched dependency, so
 * the published package behaves exactly like the repo):
 *
 * - **Ack after store.** aedes writes a QoS 1 PUBACK *before* it stores and routes the
 *   message. `authorizePublish` (called before that PUBACK) routes QoS 1 messages itself —
 *   retained store, enqueue for every matching persistent subscriber in redis, emit — and
 *   only then lets aedes go on; aedes' own later `publish` of that packet is skipped. So a
 *   PUBACK always follows the store. (QoS 2 already stores, publishes, then PUBRECs.)
 * - **Session ownership.** aedes arms session-expiry timers in process memory and wipes the
 *   session in the shared store when one fires, even after the client resumed on another
 *   node. Every accepted CONNECT records `qr:owner:<client id>` = this broker's id before
 *   CONNACK; a wipe only happens when this broker still owns the session.
 * - **Cross-node takeover** sends the old MQTT 5 link DISCONNECT 0x8E (aedes just closes it).
 * - **Refusal while not accepting** (draining, replaying, …): MQTT 5 gets CONNACK 0x9C with a
 *   Server Reference (or 0x88 without one), MQTT 3.1.1 return code 3.
 * - **Operator DISCONNECTs** are written with mqtt-packet, then the link is half-closed:
 *   aedes' `client.disconnect()` silently drops the packet for a client between CONNACK and
 *   `connected`.
 * - A lost redis never crashes the node: every connection has an error handler.
 *
 * The port also keeps the simulator's older raw-TCP probe behaviour for connections that
 * send nothing: after `probeMs` without a first byte the socket is greeted with the node id
 * and echoed (tests use it to see where HAProxy sent a connection). An MQTT client sends
 * CONNECT (first byte 0x10) at once and never sees that.
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Aedes, type Client } from 'aedes';
import { Redis } from 'ioredis';
import mqttPacket from 'mqtt-packet';
import { type ConnectLine, type ConnectTrace, ConnectTracer } from './connect-trace.js';

const require = createRequire(import.meta.url);
const redisPersistence = require('aedes-persistence-redis') as (opts: { conn: Redis }) => unknown;
const mqEmitterRedis = require('mqemitter-redis') as (opts: { subConn: Redis; pubConn: Redis }) => MqEmitter;

interface MqEmitter {
  on(topic: string, fn: (packet: { topic: string; payload: Buffer }, done: () => void) => void, cb?: () => void): unknown;
  state: { on(event: 'error', fn: (e: Error) => void): void };
}

/** The parts of aedes' internals this module relies on (aedes 2.0.0-beta.1). */
interface AedesClient extends Client {
  id: string;
  version: number;
  conn: net.Socket;
  closed: boolean;
  connackSent: boolean;
  _authorized?: boolean;
}
interface AedesInternals {
  id: string;
  clients: Record<string, AedesClient>;
  registerClient(client: AedesClient): void;
  _finishRegisterClient(client: AedesClient): void;
  publish(packet: unknown, client: unknown, done?: (err?: Error | null) => void): void;
  _wipeSession(client: AedesClient): void;
  listen(): Promise<void>;
}

export type Admission =
  | { ok: true }
  /** `full`: the listener is at its max_sessions (refused like a draining node: 0x9C + Server Reference, or 0x88 / rc 3). */
  | { ok: false; draining: boolean; full?: boolean; serverReference: string | null; reasons?: string[] };

export interface BrokerOptions {
  nodeId: string;
  redisSocket: string;
  /** Asked on every CONNECT (and again before CONNACK). */
  admission: () => Admission;
  /** Raw-probe greeting after this many ms of silence; 0 = every connection is MQTT. */
  probeMs: number;
  /** The `storeLatencyMs` fault: wait before each store write that precedes an ack (PUBACK, or a CONNACK: the will). */
  storeLatencyMs: () => number;
  /** The `dropPublish` fault: PUBACK every PUBLISH, deliver none. */
  dropPublish?: () => boolean;
  log: (line: string) => void;
  /** This process's boot id: MQTT 5 CONNACKs and DISCONNECTs carry it (user property `boot_id`) beside `node_id`. */
  bootId?: string;
  /** The `holdConnect` fault: hold every CONNECT just after its owner write (stage `held`) while true. */
  holdConnect?: () => boolean;
  /** The `connectAnswerMs` fault: a CONNECT held this long is refused with 0x89 Server busy (0 = never). */
  connectAnswerMs?: () => number;
  /** Where the trace of every CONNECT goes (`connect`, `connect_pending` lines; see connect-trace.ts); absent = not traced. */
  recordConnects?: (lines: ConnectLine[]) => void;
}

/** The refusal's reason (`draining`, `not_ready`, `full`, `store`) and the node's readiness reasons then. */
function refusedWhy(tr: ConnectTrace | undefined): Record<string, unknown> {
  const t = tr as (ConnectTrace & { reason?: string; reasons?: string[] }) | undefined;
  return { reason: t?.reason ?? 'other', ...(t?.reasons ? { reasons: t.reasons } : {}) };
}

const clockNow = (): number => performance.timeOrigin + performance.now();

/**
 * MQTT 5 CONNACKs (success or refusal) and DISCONNECTs written on this process's broker
 * sockets carry user properties `node_id` and `boot_id`: a client (and the load report)
 * knows which node answered, and which life of it. aedes builds its CONNACK properties
 * itself and offers no hook to add to them, so the shared serializer is wrapped, once per
 * process, for the sockets a broker registered.
 *
 * The same wrapper keeps **CONNACK the first packet on a link** ([MQTT-3.2.0-1]). aedes
 * restores a resuming session's subscriptions before it writes the CONNACK (then stores
 * the will and registers the client), and a message published on one of those topics in
 * between is written at once: PUBLISH before CONNACK. A stock mqtt.js client then never
 * sees its CONNACK: it holds the PUBLISH's PUBACK until it is connected and stops reading
 * its input meanwhile, so it waits out its connect timeout (10 s in `sim load`, 30 s by
 * default) with the CONNACK in its socket buffer (seen on the wire in a demo under load).
 * Every other packet for a link whose CONNACK is not written yet is serialized at once and
 * held, then written right after a successful CONNACK (dropped after a refusal: a QoS 1/2
 * message is in the session's outgoing store by then and goes at the next resume).
 */
const identified = new WeakMap<object, Record<string, string>>();
/** Links whose CONNACK is written, and the packets held for those still waiting for it. */
const connackWritten = new WeakSet<object>();
const heldForConnack = new WeakMap<object, Buffer[]>();
/** Packets held until their link's CONNACK, over this process's life (`quantum_sim_publish_held_for_connack_total`). */
let heldForConnackTotal = 0;
export const packetsHeldForConnack = (): number => heldForConnackTotal;
let serializerWrapped = false;
function wrapSerializer(): void {
  if (serializerWrapped) return;
  serializerWrapped = true;
  type Write = (packet: Record<string, unknown>, stream: object, opts?: { protocolVersion?: number }) => boolean;
  const mp = mqttPacket as unknown as { writeToStream: Write; generate: (packet: Record<string, unknown>, opts?: { protocolVersion?: number }) => Buffer };
  const orig = mp.writeToStream.bind(mp);
  mp.writeToStream = (packet, stream, opts) => {
    const id = identified.get(stream);
    if (!id) return orig(packet, stream, opts);
    if (opts?.protocolVersion === 5 && (packet.cmd === 'connack' || packet.cmd === 'disconnect')) {
      const props = (packet.properties ?? {}) as Record<string, unknown>;
      packet.properties = { ...props, userProperties: { ...((props.userProperties as Record<string, string> | undefined) ?? {}), ...id } };
    }
    if (packet.cmd === 'connack') {
      const ok = orig(packet, stream, opts);
      connackWritten.add(stream);
      const held = heldForConnack.get(stream);
      heldForConnack.delete(stream);
      const accepted = ((packet.reasonCode ?? packet.returnCode ?? 0) as number) === 0;
      if (held && accepted) for (const b of held) (stream as net.Socket).write(b);
      return ok;
    }
    if (!connackWritten.has(stream)) {
      let q = heldForConnack.get(stream);
      if (!q) heldForConnack.set(stream, (q = []));
      q.push(mp.generate(packet, opts));
      heldForConnackTotal++;
      return true;
    }
    return orig(packet, stream, opts);
  };
}

type Kind = 'probe' | 'raw' | 'mqtt';
const CONNECT_BYTE = 0x10;
const OWNER = (id: string): string => `qr:owner:${id}`;
/** Why a CONNECT was refused, for `quantum_sim_connects_refused_total{reason}`. */
const refusal = (a: Exclude<Admission, { ok: true }>): string => (a.draining ? 'draining' : a.full ? 'full' : 'not_ready');
/** Time a kicked client has to close its side after our DISCONNECT before we close it. */
const KICK_CLOSE_MS = 1_000;

export class SimBroker {
  private aedes!: Aedes;
  private broker!: AedesInternals;
  private readonly sockets = new Map<net.Socket, Kind>();
  private readonly kicked = new WeakSet<AedesClient>();
  private readonly preRouted = new WeakSet<object>();
  private readonly conns: Redis[] = [];
  private storeDown = false;
  private tracer!: ConnectTracer;
  /** CONNECTs in progress (parsed, unanswered): their aedes client, for the answer bound. */
  private readonly inProgress = new Map<ConnectTrace, AedesClient>();
  /** Continuations of CONNECTs held by the `holdConnect` fault. */
  private held: Array<{ client: AedesClient; go: () => void }> = [];
  private readonly acceptedAt = new WeakMap<net.Socket, number>();
  /** The CONNECT trace of each aedes client, and of each socket (to see a close before CONNACK). */
  private readonly traceOf = new WeakMap<object, ConnectTrace>();
  /** Session ends (expiry, or a clean session's close): wiped, or skipped because another broker owns it now. */
  readonly wipes = { wiped: 0, skipped: 0 };
  /** CONNECTs refused, by reason (`draining`, `not_ready`, `full`, `store`). */
  readonly refused = new Map<string, number>();
  /** Disconnects nobody asked for, by MQTT 5 reason code: a cross-node takeover (0x8E), a keep-alive timeout (0x8D). */
  readonly failures = new Map<number, number>();

  constructor(private readonly opts: BrokerOptions) {}

  get brokerId(): string {
    return this.broker.id;
  }

  private redis(name: string): Redis {
    // A few retries per command, not ioredis' 20: with the store gone a CONNECT is refused within a
    // second or so instead of hanging (the simulator's redis never blips unless someone kills it).
    const r = new Redis({ path: this.opts.redisSocket, maxRetriesPerRequest: 3, connectionName: `${this.opts.nodeId}-${name}` });
    r.on('error', (e: Error) => {
      if (!this.storeDown) this.opts.log(`session store (redis ${this.opts.redisSocket}) unreachable: ${e.message}; retrying`);
      this.storeDown = true;
    });
    r.on('ready', () => {
      if (this.storeDown) this.opts.log('session store reachable again');
      this.storeDown = false;
    });
    this.conns.push(r);
    return r;
  }

  /** Connects to the store and starts aedes; then hand it connections with `accept`. */
  async startStore(): Promise<void> {
    wrapSerializer();
    this.tracer = new ConnectTracer(this.opts.nodeId, this.opts.bootId ?? '', this.opts.recordConnects ?? (() => undefined));
    const tracer = this.tracer;
    // Every 50 ms: let held CONNECTs go once the fault is off, and answer those past the bound.
    setInterval(() => this.watch(), 50).unref();
    const db = this.redis('store');
    const mq = mqEmitterRedis({ subConn: this.redis('sub'), pubConn: this.redis('pub') });
    mq.state.on('error', () => undefined); // logged by the connection handlers above
    const persistence = redisPersistence({ conn: db }) as Record<string, (...a: unknown[]) => Promise<unknown>>;
    // The will's write and delete too: they precede a CONNACK as the others precede a PUBACK.
    for (const m of ['storeRetained', 'outgoingEnqueueCombi', 'incomingStorePacket', 'putWill', 'delWill']) {
      const orig = persistence[m]?.bind(persistence);
      if (!orig) throw new Error(`aedes-persistence-redis has no ${m}: unsupported version`);
      persistence[m] = async (...a: unknown[]) => {
        const ms = this.opts.storeLatencyMs();
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
        return orig(...a);
      };
    }
    // Stage marks of a CONNECT in progress (connect-trace.ts): the session read ends the
    // `session` stage, the will's delete begins `will`.
    {
      for (const m of ['subscriptionsByClient', 'cleanSubscriptions']) {
        const orig = persistence[m]?.bind(persistence);
        if (!orig) throw new Error(`aedes-persistence-redis has no ${m}: unsupported version`);
        persistence[m] = async (...a: unknown[]) => {
          const r = await orig(...a);
          const tr = tracer.current((a[0] as { id: string }).id);
          if (tr?.stage === 'session') tracer.mark(tr, 'restore');
          return r;
        };
      }
      const delWill = persistence.delWill?.bind(persistence);
      if (!delWill) throw new Error('aedes-persistence-redis has no delWill: unsupported version');
      persistence.delWill = (...a: unknown[]) => {
        const tr = tracer.current((a[0] as { id: string }).id);
        if (tr?.stage === 'session' || tr?.stage === 'restore') tracer.mark(tr, 'will');
        return delWill(...a);
      };
    }
    const aedes = new Aedes({
      mq,
      persistence,
      preConnect: (client, packet, cb) => {
        const conn = (client as AedesClient).conn;
        const tr = tracer.start(packet.clientId, packet.protocolVersion ?? 4, this.acceptedAt.get(conn) ?? clockNow());
        this.traceOf.set(client, tr);
        this.traceOf.set(conn, tr);
        this.inProgress.set(tr, client as AedesClient);
        const a = this.opts.admission();
        if (a.ok) return cb(null, true);
        this.refusing(client, refusal(a), a.reasons);
        if (packet.protocolVersion === 5 && a.serverReference) {
          this.count(refusal(a));
          return cb(Object.assign(new Error('node not accepting connections'), { serverReference: a.serverReference }), false);
        }
        // No reference to give (or MQTT 3.1.1): `authenticate` answers with "server unavailable".
        (client as AedesClient & { qrRefuse?: boolean }).qrRefuse = true;
        cb(null, true);
      },
      authenticate: (client, _u, _p, cb) => {
        const c = client as AedesClient & { qrRefuse?: boolean };
        const a = this.opts.admission();
        if (c.qrRefuse || !a.ok) {
          this.count(a.ok ? 'not_ready' : refusal(a));
          if (!c.qrRefuse) this.refusing(client, a.ok ? 'not_ready' : refusal(a), a.ok ? undefined : a.reasons);
          const e = Object.assign(new Error('server unavailable'), { returnCode: 3 as const });
          if (!a.ok && a.serverReference && c.version === 5) Object.assign(e, { serverReference: a.serverReference });
          return cb(e, null);
        }
        // Record the owner before CONNACK (and before aedes announces the client to the other
        // nodes), so an old owner's close that this announcement triggers already sees it.
        const tr = this.traceOf.get(client);
        tracer.mark(tr, 'owner');
        db.set(OWNER(c.id), this.broker.id).then(
          () => {
            // The `holdConnect` fault holds it here: this node owns the session now, the
            // previous owner has not been told (a takeover in its middle).
            const go = (): void => {
              tracer.mark(tr, 'session');
              cb(null, true);
            };
            if (!this.opts.holdConnect?.()) return go();
            tracer.mark(tr, 'held');
            this.held.push({ client: c, go });
          },
          () => {
            this.count('store');
            this.refusing(client, 'store');
            cb(Object.assign(new Error('session store unavailable'), { returnCode: 3 as const }), null);
          },
        );
      },
      authorizePublish: (client, packet, cb) => {
        if (packet.topic.startsWith('$SYS')) return cb(new Error('$SYS topic is reserved'));
        if (client && this.opts.dropPublish?.()) {
          this.preRouted.add(packet); // acked as usual, routed never: aedes' own publish of it is skipped
          return cb(null);
        }
        if (!client || packet.qos !== 1) return cb(null);
        // Ack after store: route now (store, enqueue for every subscriber, emit), PUBACK after.
        this.broker.publish(packet, client, (err) => {
          if (err) {
            (client as AedesClient).conn.destroy(); // nothing acked: the client sends it again
            return cb(err);
          }
          this.preRouted.add(packet);
          cb(null);
        });
      },
    });
    const broker = aedes as unknown as AedesInternals;
    this.aedes = aedes;
    this.broker = broker;

    const publish = broker.publish.bind(aedes);
    broker.publish = (packet, client, done) => {
      if (typeof packet === 'object' && packet !== null && this.preRouted.has(packet)) {
        this.preRouted.delete(packet);
        const cb = typeof client === 'function' ? (client as (e?: Error | null) => void) : done;
        cb?.(null);
        return;
      }
      publish(packet, client, done);
    };

    {
      const register = broker.registerClient.bind(aedes);
      broker.registerClient = (client) => {
        tracer.mark(this.traceOf.get(client), broker.clients[client.id] ? 'takeover' : 'connack');
        register(client);
      };
      const finishRegister = broker._finishRegisterClient.bind(aedes);
      broker._finishRegisterClient = (client) => {
        tracer.mark(this.traceOf.get(client), 'connack');
        finishRegister(client);
      };
      aedes.on('connackSent', (packet, client) => {
        const p = packet as { reasonCode?: number; returnCode?: number; sessionPresent?: boolean };
        const code = p.reasonCode ?? p.returnCode ?? 0;
        const tr = this.traceOf.get(client);
        if (tr) this.inProgress.delete(tr);
        tracer.finish(tr, code === 0 ? 'connack' : 'refused', {
          code,
          ...(code === 0 ? { session_present: Boolean(p.sessionPresent) } : refusedWhy(tr)),
        });
      });
    }

    const wipe = broker._wipeSession.bind(aedes);
    broker._wipeSession = (client) => {
      db.get(OWNER(client.id)).then(
        (owner) => {
          if (owner !== null && owner !== broker.id) {
            this.wipes.skipped++; // resumed elsewhere: not ours to expire
            return;
          }
          this.wipes.wiped++;
          wipe(client);
        },
        () => undefined, // store down: keep the session (never lose it by accident)
      );
    };

    (aedes as unknown as EventEmitter).on('error', (e: Error) => this.opts.log(`broker: ${e.message}`));
    aedes.on('clientError', () => undefined);
    aedes.on('connectionError', () => undefined);
    aedes.on('keepaliveTimeout', () => this.failed(0x8d));

    // Registered before aedes' own handler, so it runs first: tell the old link why it closes.
    mq.on('$SYS/+/new/clients', (packet, done) => {
      const serverId = packet.topic.split('/')[1];
      const c = broker.clients[packet.payload.toString()];
      if (c && serverId !== broker.id && c.connackSent && !c.closed) {
        this.failed(0x8e);
        if (c.version === 5) this.writeDisconnect(c, 0x8e, null);
      }
      done();
    });
    await broker.listen();
  }

  /** CONNECTs held by the `holdConnect` fault right now. */
  heldCount(): number {
    return this.held.length;
  }

  /**
   * A CONNECT always gets an answer within a bound: one read and still unanswered after
   * `connectAnswerMs` (a stuck store, a wedged takeover, a held fault) is refused with
   * CONNACK 0x89 Server busy (MQTT 3.1.1: return code 3, server unavailable) and its link
   * closed, so the client retries at once instead of waiting out its own timeout (mqtt.js:
   * 30 s). Held CONNECTs go on as soon as the `holdConnect` fault is off.
   */
  private watch(): void {
    if (this.held.length > 0 && !this.opts.holdConnect?.()) {
      const go = this.held;
      this.held = [];
      for (const h of go) if (!h.client.closed) h.go();
    }
    const bound = this.opts.connectAnswerMs?.() ?? 0;
    if (bound <= 0) return;
    const now = clockNow();
    for (const [tr, c] of this.inProgress) {
      if (tr.done || c.closed) {
        this.inProgress.delete(tr);
        continue;
      }
      if (now - tr.at < bound) continue;
      this.inProgress.delete(tr);
      this.held = this.held.filter((h) => h.client !== c);
      const v5 = tr.proto === 5;
      const stage = tr.stage;
      const packet = v5
        ? { cmd: 'connack' as const, reasonCode: 0x89, sessionPresent: false, properties: { reasonString: `CONNECT unanswered for ${Math.round(now - tr.at)} ms (in ${stage})` } }
        : { cmd: 'connack' as const, returnCode: 3, sessionPresent: false };
      try {
        mqttPacket.writeToStream(packet, c.conn, { protocolVersion: v5 ? 5 : 4 });
      } catch {
        // the link is gone already
      }
      this.count('busy');
      this.tracer.finish(tr, 'refused', { code: v5 ? 0x89 : 3, reason: 'busy', stage });
      // Nothing more is written on this link (aedes' write needs `connecting`); half-close it so the
      // CONNACK reaches the client, and close it for good soon after.
      (c as AedesClient & { connecting: boolean }).connecting = false;
      c.conn.end();
      setTimeout(() => c.close(), KICK_CLOSE_MS).unref();
    }
  }

  /** Why the CONNECT of this client is being refused (its trace line says it, with the node's readiness reasons). */
  private refusing(client: object, reason: string, reasons?: string[]): void {
    const tr = this.traceOf.get(client) as (ConnectTrace & { reason?: string; reasons?: string[] }) | undefined;
    if (tr) {
      tr.reason = reason;
      if (reasons) tr.reasons = reasons;
      this.tracer?.mark(tr, 'connack');
    }
  }

  private failed(reasonCode: number): void {
    this.failures.set(reasonCode, (this.failures.get(reasonCode) ?? 0) + 1);
  }

  private count(reason: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }

  /** Takes one accepted connection on the MQTT port (a paused one is resumed). */
  accept(socket: net.Socket): void {
    if (socket.destroyed) return;
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    this.sockets.set(socket, 'probe');
    this.acceptedAt.set(socket, clockNow());
    identified.set(socket, { node_id: this.opts.nodeId, ...(this.opts.bootId ? { boot_id: this.opts.bootId } : {}) });
    socket.once('close', () => {
      this.sockets.delete(socket);
      // A CONNECT still unanswered when its link closed (the client gave up waiting, or we closed it).
      const tr = this.traceOf.get(socket);
      if (tr) this.inProgress.delete(tr);
      this.tracer?.finish(tr, 'closed');
    });
    if (this.opts.probeMs <= 0) return this.toBroker(socket);
    let decided = false;
    const decide = (chunk: Buffer | null): void => {
      if (decided) return;
      decided = true;
      clearTimeout(timer);
      socket.off('data', onData);
      if (chunk) {
        socket.pause();
        socket.unshift(chunk);
      }
      if (chunk && chunk[0] === CONNECT_BYTE) this.toBroker(socket);
      else this.toRaw(socket);
    };
    const onData = (chunk: Buffer): void => decide(chunk);
    socket.on('data', onData);
    socket.resume();
    // setImmediate: run after the poll phase, so a CONNECT that already arrived wins over the timer.
    const timer = setTimeout(() => setImmediate(() => decide(null)), this.opts.probeMs);
  }

  private toBroker(socket: net.Socket): void {
    this.sockets.set(socket, 'mqtt');
    this.aedes.handle(socket);
  }

  private toRaw(socket: net.Socket): void {
    const a = this.opts.admission();
    if (!a.ok && a.draining) {
      socket.destroy();
      return;
    }
    this.sockets.set(socket, 'raw');
    socket.write(`${this.opts.nodeId}\n`);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.resume();
  }

  private liveClients(): AedesClient[] {
    return Object.values(this.broker.clients).filter((c) => c.connackSent && !c.closed && !this.kicked.has(c));
  }

  /** Connected MQTT clients (CONNACK sent, not closed, not being disconnected). */
  mqttClients(): number {
    return this.liveClients().length;
  }

  /** Open non-MQTT sockets (raw probes, and connections still silent). */
  rawSockets(): number {
    let n = 0;
    for (const k of this.sockets.values()) if (k !== 'mqtt') n++;
    return n;
  }

  /** Every open TCP connection on the MQTT port. */
  tcpConnections(): number {
    return this.sockets.size;
  }

  private writeDisconnect(c: AedesClient, reasonCode: number, serverReference: string | null): void {
    const packet = { cmd: 'disconnect' as const, reasonCode, ...(serverReference ? { properties: { serverReference } } : {}) };
    const buf = mqttPacket.generate(packet, { protocolVersion: 5 });
    c.conn.write(buf);
  }

  /**
   * Disconnects up to n sessions: MQTT 5 clients get DISCONNECT `reasonCode` (+ Server
   * Reference), MQTT 3.1.1 clients and raw sockets a socket close. Returns how many.
   */
  kick(n: number, reasonCode: number, serverReference: string | null): number {
    let done = 0;
    for (const c of this.liveClients()) {
      if (done >= n) return done;
      this.kicked.add(c);
      done++;
      if (c.version === 5) {
        this.writeDisconnect(c, reasonCode, serverReference);
        c.conn.end(); // half-close: the client closes its side, aedes then tears the session link down
        setTimeout(() => c.close(), KICK_CLOSE_MS).unref();
      } else {
        c.close();
      }
    }
    for (const [s, k] of this.sockets) {
      if (done >= n) break;
      if (k === 'mqtt') continue;
      s.destroy();
      this.sockets.delete(s);
      done++;
    }
    return done;
  }

  refusedCounts(): Record<string, number> {
    return Object.fromEntries(this.refused);
  }

  failureCounts(): Record<string, number> {
    return Object.fromEntries(this.failures);
  }
}
