// The supervisor: hosts the CP, LB and control servers in this process, runs the node
// backend (child processes, or virtual nodes), and exposes the programmatic SimHandle.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { ClusterModel } from './cluster-model.js';
import { readSimJson, writeConfig, writeSimJson, type SimInfo } from './config-files.js';
import { handleControl, type SimControl } from './control-server.js';
import { CpApi } from './cp-server.js';
import { defaultFaults, parseFaultsPatch } from './faults.js';
import { answerHeartbeat } from './heartbeat.js';
import { closeServer, createServer, listen, segments } from './http-kit.js';
import { LbPool } from './lb-server.js';
import { type RunningHaproxy, freePort, launchHaproxy } from './haproxy.js';
import { LeaseStore } from './leases.js';
import { ProcessBackend, type NodeBackend } from './node-processes.js';
import { type RunningRedis, launchRedis } from './redis.js';
import type { HeartbeatPayload, HeartbeatReply } from './node-runtime.js';
import { defaultCliPath } from './paths.js';
import { CALLS_FILE, CallRecorder, EVENTS_FILE, EventLog } from './recorder.js';
import { SessionBalancer } from './sessions.js';
import { generateSimTls, serverTlsOptions, type ServerTlsOptions } from './tls.js';
import { Topology } from './topology.js';
import { Transfers } from './transfers.js';
import type { Faults, RecordedCall, SimEvent, SimHandle, SimOptions, SimStats, SimTlsPaths } from './types.js';
import { VirtualBackend } from './virtual-nodes.js';

class Supervisor implements SimControl {
  readonly stateDir: string;
  readonly faultState: Faults;
  readonly topo: Topology;
  readonly eventLog: EventLog;
  readonly recorder: CallRecorder;
  readonly model: ClusterModel;
  readonly balancer: SessionBalancer;
  readonly transfers: Transfers;
  readonly leases: LeaseStore;
  readonly cp: CpApi;
  backend!: NodeBackend;
  lb!: LbPool;
  private servers: http.Server[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly locks = new Map<number, Promise<unknown>>();
  urls = { cp: '', lb: '', control: '' };
  haproxy: { socket: string; frontendPort: number; running: RunningHaproxy } | undefined;
  /** The shared session store of the brokers (process mode only). */
  redis: RunningRedis | undefined;
  configPath = '';
  onShutdown: (() => void) | null = null;
  private stopped = false;
  /** With `tls`/`mtls`: the generated files and the options every API server uses. */
  tls: { paths: SimTlsPaths; server: ServerTlsOptions } | null = null;

  constructor(readonly opts: SimOptions) {
    this.stateDir = path.resolve(opts.stateDir);
    fs.mkdirSync(this.stateDir, { recursive: true });
    for (const f of [CALLS_FILE, EVENTS_FILE]) fs.rmSync(path.join(this.stateDir, f), { force: true });
    this.faultState = { ...defaultFaults(), ...parseFaultsPatch(opts.faults ?? {}) };
    this.topo = new Topology(opts.nodes ?? 5, opts.racks ?? 3, opts.prgs ?? 600);
    this.eventLog = new EventLog(this.stateDir);
    this.recorder = new CallRecorder(this.stateDir);
    this.model = new ClusterModel(this.topo, () => this.faultState, this.eventLog);
    this.balancer = new SessionBalancer(
      this.topo.nodeIds.length,
      (i) => this.model.nodeClass(i) === 'healthy' && !(this.model.nodes[i]?.draining ?? true),
      opts.rebalance ?? true,
    );
    this.transfers = new Transfers(this.model);
    this.leases = new LeaseStore(() => this.faultState.leaseHeldBy);
    this.cp = new CpApi(this.model, this.transfers, this.leases);
  }

  private async serve(handler: Parameters<typeof createServer>[0], tls = false): Promise<string> {
    const server = createServer(tls && this.tls ? { ...handler, tls: this.tls.server } : handler);
    this.servers.push(server);
    return `${tls && this.tls ? 'https' : 'http'}://127.0.0.1:${await listen(server, 0)}`;
  }

  async start(): Promise<void> {
    const token = this.opts.token;
    const tokenFn = (): string | undefined => token;
    if (this.opts.tls || this.opts.mtls) {
      const files = generateSimTls(this.stateDir, Boolean(this.opts.mtls));
      const paths: SimTlsPaths = {
        dir: files.dir,
        ca: files.ca,
        clientCert: files.client.cert,
        clientKey: files.client.key,
        serverCert: files.server.cert,
        serverKey: files.server.key,
        mtls: files.mtls,
      };
      this.tls = { paths, server: serverTlsOptions(files) };
    }
    // The control API (`/_sim/*`) is not part of the contract and stays plain HTTP on loopback.
    this.urls.control = await this.serve({ handler: (ctx) => handleControl(this, ctx) });
    this.urls.cp = await this.serve({
      handler: (ctx) => this.cp.handle(ctx),
      token: tokenFn,
      record: (ctx, reply, tEnd) => this.recorder.record('cp', undefined, ctx, reply, tEnd),
    }, true);
    const backendOpts = {
      replayMs: this.opts.replayMs ?? 800,
      sessionsPerNode: this.opts.sessionsPerNode ?? 200,
      maxSessions: this.opts.maxSessions === undefined ? 50000 : this.opts.maxSessions,
      token,
      tls: this.tls ?? undefined,
    };
    if (!this.opts.virtualNodes) {
      this.redis = await launchRedis(this.stateDir);
      this.eventLog.emit('redis_ready', { socket: this.redis.socket, pid: this.redis.pid });
    }
    this.backend =
      this.opts.virtualNodes || !this.redis
        ? new VirtualBackend(this.model, this.balancer, { ...backendOpts, recorder: this.recorder, events: this.eventLog })
        : new ProcessBackend(this.model, this.balancer, {
            ...backendOpts,
            stateDir: this.stateDir,
            controlUrl: () => this.urls.control,
            redisSocket: this.redis.socket,
            rawProbeMs: this.opts.rawProbeMs ?? 0,
          });
    this.lb = new LbPool(this.model, (i) => this.backend.checkReady(i), this.opts.lbCheckIntervalMs ?? 100);
    this.urls.lb = await this.serve({
      handler: (ctx) => this.lb.handle(ctx),
      token: tokenFn,
      record: (ctx, reply, tEnd) => this.recorder.record('lb', segments(ctx.path)[4], ctx, reply, tEnd),
    }, true);
    await this.backend.startAll();
    this.model.booting = false;
    this.model.applyFaults();
    await this.lb.checkAll();
    this.lb.start();
    const t = setInterval(() => this.balancer.rebalance(), 250);
    this.timers.push(t);
    if (this.opts.lb === 'haproxy') await this.startHaproxy();
    this.configPath = writeConfig({
      stateDir: this.stateDir,
      cpUrl: this.urls.cp,
      lbUrl: this.urls.lb,
      lb: this.opts.lb ?? 'http',
      haproxy: this.haproxy
        ? { socket: this.haproxy.socket, backends: ['mqtt'], frontDoor: `127.0.0.1:${this.haproxy.frontendPort}` }
        : undefined,
      cliPath: this.opts.cliPath ?? defaultCliPath(),
      token: Boolean(token),
      tls: this.tls?.paths,
    });
    this.writeInfo();
    this.eventLog.emit('sim_ready', { nodes: this.topo.nodeIds.length, prgs: this.topo.prgCount });
  }

  /** `--lb haproxy`: a real HAProxy balancing the nodes' MQTT ports, checking their `/readyz`. */
  private async startHaproxy(): Promise<void> {
    const socket = path.join(this.stateDir, 'haproxy.sock');
    const frontendPort = await freePort();
    const running = await launchHaproxy(this.stateDir, {
      socketPath: socket,
      inter: this.opts.lbCheckIntervalMs ?? 100,
      checkSsl: Boolean(this.tls),
      checkCrt: this.tls?.paths.mtls ? this.haproxyClientPem(this.tls.paths) : undefined,
      backends: [
        {
          name: 'mqtt',
          frontendPort,
          servers: this.model.nodes.map((n) => ({ name: n.id, port: n.mqttPort, checkPort: Number(new URL(n.adminUrl).port) })),
        },
      ],
    });
    this.haproxy = { socket, frontendPort, running };
    this.eventLog.emit('haproxy_ready', { socket, frontend_port: frontendPort, pid: running.pid });
  }

  /** HAProxy wants the client certificate and its key in one PEM file. */
  private haproxyClientPem(p: SimTlsPaths): string {
    const file = path.join(p.dir, 'haproxy-client.pem');
    fs.writeFileSync(file, fs.readFileSync(p.clientCert, 'utf8') + fs.readFileSync(p.clientKey, 'utf8'), { mode: 0o600 });
    return file;
  }

  info(): Record<string, unknown> {
    return this.simInfo() as unknown as Record<string, unknown>;
  }

  simInfo(): SimInfo {
    const pids = this.backend.pids();
    const { faults: _f, ...options } = this.opts;
    return {
      pid: process.pid,
      cpUrl: this.urls.cp,
      lbUrl: this.urls.lb,
      controlUrl: this.urls.control,
      stateDir: this.stateDir,
      configPath: this.configPath,
      virtualNodes: Boolean(this.opts.virtualNodes),
      ...(this.haproxy ? { haproxy: { socket: this.haproxy.socket, frontendPort: this.haproxy.frontendPort, pid: this.haproxy.running.pid } } : {}),
      ...(this.redis ? { redis: { socket: this.redis.socket, pid: this.redis.pid } } : {}),
      nodes: this.model.nodes.map((n) => ({ id: n.id, adminUrl: n.adminUrl, mqttPort: n.mqttPort, rack: n.rack, pid: pids[n.id] ?? null })),
      options: { ...options, token: options.token ? '***' : undefined, faults: this.faultState },
      startedAt: new Date(this.model.t0).toISOString(),
    };
  }

  private writeInfo(): void {
    if (!this.stopped) writeSimJson(this.stateDir, this.simInfo());
  }

  heartbeat(hb: HeartbeatPayload): HeartbeatReply | null {
    return answerHeartbeat(this.model, this.balancer, hb, (idx) => this.serverReference(idx));
  }

  /**
   * Where node `idx` sends MQTT clients it refuses or disconnects: the front door (HAProxy
   * only balances to ready nodes), else the next up, ready, non-draining node's MQTT endpoint.
   */
  serverReference(idx: number): string | null {
    if (this.haproxy) return `127.0.0.1:${this.haproxy.frontendPort}`;
    const nodes = this.model.nodes;
    for (let k = 1; k < nodes.length; k++) {
      const j = (idx + k) % nodes.length;
      const n = nodes[j];
      if (n && this.model.nodeClass(j) === 'healthy' && !n.draining && n.mqttPort) return `127.0.0.1:${n.mqttPort}`;
    }
    return null;
  }

  faults(): Faults {
    return this.faultState;
  }

  setFaults(patch: unknown): Faults {
    const parsed = parseFaultsPatch(patch);
    Object.assign(this.faultState, parsed);
    this.model.applyFaults();
    this.eventLog.emit('faults', { patch: parsed });
    return this.faultState;
  }

  calls(): RecordedCall[] {
    return this.recorder.all();
  }

  events(): SimEvent[] {
    return this.eventLog.all();
  }

  stats(): SimStats {
    const per = this.balancer.perNode();
    const perNode: Record<string, number> = {};
    this.topo.nodeIds.forEach((id, i) => (perNode[id] = per[i] ?? 0));
    return {
      ...this.model.stats,
      restarts: { ...this.model.stats.restarts },
      boots: { ...this.model.stats.boots },
      sessions: { total: this.balancer.total(), perNode, pool: this.balancer.pool },
    };
  }

  hasNode(id: string): boolean {
    return this.topo.nodeIndex.has(id);
  }

  private withLock<T>(idx: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(idx) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(idx, next.catch(() => undefined));
    return next;
  }

  restartNode(id: string): Promise<Record<string, unknown>> {
    const idx = this.topo.nodeIndex.get(id);
    if (idx === undefined) return Promise.reject(new Error(`unknown node ${id}`));
    return this.withLock(idx, async () => {
      this.model.stats.restarts[id] = (this.model.stats.restarts[id] ?? 0) + 1;
      this.eventLog.emit('restart', { node: id });
      await this.backend.restart(idx);
      this.writeInfo();
      const n = this.model.nodes[idx];
      return { node: id, boot_id: n?.bootId ?? null, pid: n?.pid ?? null };
    });
  }

  stopNode(id: string): Promise<void> {
    const idx = this.topo.nodeIndex.get(id);
    if (idx === undefined) return Promise.reject(new Error(`unknown node ${id}`));
    return this.withLock(idx, async () => {
      this.eventLog.emit('stop', { node: id });
      await this.backend.stop(idx);
    });
  }

  recordEvent(event: string, fields: Record<string, unknown>): void {
    this.eventLog.emit(event, fields);
  }

  requestShutdown(): void {
    void this.stop().then(() => this.onShutdown?.());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.lb?.stop();
    await this.haproxy?.running.stop();
    for (const t of this.timers) clearInterval(t);
    this.model.close();
    await this.backend?.close();
    await this.redis?.stop();
    await Promise.all(this.servers.map((s) => closeServer(s)));
    const info = readSimJson(this.stateDir);
    if (info?.pid === process.pid) fs.rmSync(path.join(this.stateDir, 'sim.json'), { force: true });
  }
}

export interface StartedSim extends SimHandle {
  /** Called after a `POST /_sim/stop` finished stopping the simulator. */
  onShutdown(fn: () => void): void;
}

/** Starts CP, LB and control servers in this process and the nodes as children. */
export async function startSim(opts: SimOptions): Promise<StartedSim> {
  const sup = new Supervisor(opts);
  try {
    await sup.start();
  } catch (e) {
    await sup.stop().catch(() => undefined);
    throw e;
  }
  const nodes = sup.model.nodes.map((n) => ({ id: n.id, adminUrl: n.adminUrl, mqttPort: n.mqttPort, rack: n.rack }));
  return {
    cpUrl: sup.urls.cp,
    lbUrl: sup.urls.lb,
    controlUrl: sup.urls.control,
    stateDir: sup.stateDir,
    configPath: sup.configPath,
    nodes,
    ...(sup.tls ? { tls: sup.tls.paths } : {}),
    setFaults: (f) => {
      sup.setFaults(f);
      return Promise.resolve();
    },
    calls: () => Promise.resolve(sup.calls()),
    events: () => Promise.resolve(sup.events()),
    stats: () => Promise.resolve(sup.stats()),
    restartNode: async (id) => {
      await sup.restartNode(id);
    },
    stopNode: (id) => sup.stopNode(id),
    stop: () => sup.stop(),
    onShutdown: (fn) => {
      sup.onShutdown = fn;
    },
  };
}
