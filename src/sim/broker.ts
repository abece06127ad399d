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
  publish(packet: unknown, client: unknown, done?: (err?: Error | null) => void): void;
  _wipeSession(client: AedesClient): void;
  listen(): Promise<void>;
}

export type Admission =
  | { ok: true }
  /** `full`: the listener is at its max_sessions (refused like a draining node: 0x9C + Server Reference, or 0x88 / rc 3). */
  | { ok: false; draining: boolean; full?: boolean; serverReference: string | null };

export interface BrokerOptions {
  nodeId: string;
  redisSocket: string;
  /** Asked on every CONNECT (and again before CONNACK). */
  admission: () => Admission;
  /** Raw-probe greeting after this many ms of silence; 0 = every connection is MQTT. */
  probeMs: number;
  /** The `storeLatencyMs` fault: wait before each store write that precedes an ack. */
  storeLatencyMs: () => number;
  /** The `dropPublish` fault: PUBACK every PUBLISH, deliver none. */
  dropPublish?: () => boolean;
  log: (line: string) => void;
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
    const db = this.redis('store');
    const mq = mqEmitterRedis({ subConn: this.redis('sub'), pubConn: this.redis('pub') });
    mq.state.on('error', () => undefined); // logged by the connection handlers above
    const persistence = redisPersistence({ conn: db }) as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const m of ['storeRetained', 'outgoingEnqueueCombi', 'incomingStorePacket']) {
      const orig = persistence[m]?.bind(persistence);
      if (!orig) throw new Error(`aedes-persistence-redis has no ${m}: unsupported version`);
      persistence[m] = async (...a: unknown[]) => {
        const ms = this.opts.storeLatencyMs();
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
        return orig(...a);
      };
    }
    const aedes = new Aedes({
      mq,
      persistence,
      preConnect: (client, packet, cb) => {
        const a = this.opts.admission();
        if (a.ok) return cb(null, true);
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
          const e = Object.assign(new Error('server unavailable'), { returnCode: 3 as const });
          if (!a.ok && a.serverReference && c.version === 5) Object.assign(e, { serverReference: a.serverReference });
          return cb(e, null);
        }
        // Record the owner before CONNACK (and before aedes announces the client to the other
        // nodes), so an old owner's close that this announcement triggers already sees it.
        db.set(OWNER(c.id), this.broker.id).then(
          () => cb(null, true),
          () => {
            this.count('store');
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
    socket.once('close', () => this.sockets.delete(socket));
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
