// Many-nodes mode: every node runtime lives in this process and one HTTP server serves
// them all under `/n/<id>` (admin_url = http://127.0.0.1:<port>/n/<id>). Heartbeats are
// direct calls on one shared 50 ms tick. A restart replaces the runtime (new boot_id,
// replay from 0, drain flag kept); a stopped node drops its connections.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ClusterModel } from './cluster-model.js';
import { answerHeartbeat } from './heartbeat.js';
import { closeServer, listen, parkingOf, serve } from './http-kit.js';
import type { NodeBackend } from './node-processes.js';
import { MemoryDrainStore, NodeRuntime } from './node-runtime.js';
import type { CallRecorder, EventLog } from './recorder.js';
import type { SessionBalancer } from './sessions.js';

export interface VirtualBackendOptions {
  replayMs: number;
  sessionsPerNode: number;
  maxSessions: number | null;
  token?: string | undefined;
  recorder: CallRecorder;
  events: EventLog;
  /** With `--tls`: the shared admin server speaks HTTPS with these options. */
  tls?: { server: https.ServerOptions } | undefined;
}

const TICK_MS = 50;

export class VirtualBackend implements NodeBackend {
  private readonly runtimes: Array<NodeRuntime | null>;
  private readonly stores: MemoryDrainStore[];
  private server: http.Server | null = null;
  private mqtt: net.Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private port = 0;

  constructor(
    private readonly model: ClusterModel,
    private readonly balancer: SessionBalancer,
    private readonly opts: VirtualBackendOptions,
  ) {
    this.runtimes = model.nodes.map(() => null);
    this.stores = model.nodes.map(() => new MemoryDrainStore());
  }

  async startAll(): Promise<void> {
    const route = (req: http.IncomingMessage, res: http.ServerResponse): void => this.route(req, res);
    this.server = this.opts.tls ? https.createServer(this.opts.tls.server, route) : http.createServer(route);
    this.port = await listen(this.server, 0);
    const scheme = this.opts.tls ? 'https' : 'http';
    this.mqtt = net.createServer((s) => s.destroy());
    const mqttPort = await listen(this.mqtt, 0);
    for (const n of this.model.nodes) {
      n.adminUrl = `${scheme}://127.0.0.1:${this.port}/n/${n.id}`;
      n.mqttPort = mqttPort;
      this.boot(n.idx, true);
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const m = /^\/n\/([^/?]+)/.exec(req.url ?? '');
    const idx = m?.[1] ? this.model.topo.nodeIndex.get(m[1]) : undefined;
    const runtime = idx === undefined ? null : this.runtimes[idx];
    const id = m?.[1] ?? '';
    if (idx === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'unknown node' } }));
      return;
    }
    if (!runtime) {
      req.socket.destroy();
      return;
    }
    void serve(
      req,
      res,
      {
        handler: (ctx) => runtime.handle(ctx),
        token: () => this.opts.token,
        park: (ctx) => parkingOf(this.model.faults()).gate('node', id, ctx.method, ctx.url, ctx.t, ctx.gone),
        record: (ctx, reply, tEnd) => this.opts.recorder.record('node', id, ctx, reply, tEnd),
      },
      `/n/${id}`,
    );
  }

  private boot(idx: number, initial: boolean): void {
    const node = this.model.nodes[idx];
    if (!node) return;
    const f = this.model.faults();
    const sessions = initial ? this.opts.sessionsPerNode : 0;
    const rt = new NodeRuntime({
      nodeId: node.id,
      listener: 'mqtt',
      mqttPort: node.mqttPort,
      maxSessions: this.opts.maxSessions,
      replayMs: initial ? 0 : (f.slowReady[node.id] ?? this.opts.replayMs),
      sessions,
      neverReady: !initial && f.neverReady.includes(node.id),
      sessionDecay: f.sessionDecay,
      prgTotal: this.model.topo.nodePrgs[idx]?.length ?? 0,
      store: this.stores[idx] ?? new MemoryDrainStore(),
      event: (event, fields) => this.opts.events.emit(event, { node: node.id, ...fields }),
    });
    this.runtimes[idx] = rt;
    this.balancer.onBoot(idx, sessions);
    this.model.onProcessUp(idx, { bootId: rt.bootId, startedAt: rt.startedAtMs, pid: null, replayProgress: rt.replayProgress() });
    this.beat(rt);
  }

  private beat(rt: NodeRuntime): void {
    const reply = answerHeartbeat(this.model, this.balancer, rt.heartbeat());
    if (reply) rt.applyReply(reply);
  }

  private tick(): void {
    for (const rt of this.runtimes) {
      if (!rt) continue;
      rt.tick(TICK_MS);
      this.beat(rt);
    }
  }

  private down(idx: number, detail: Record<string, unknown>): void {
    if (!this.runtimes[idx]) return;
    this.runtimes[idx] = null;
    this.model.onProcessDown(idx, detail);
    this.balancer.onDown(idx);
  }

  restart(idx: number): Promise<void> {
    this.down(idx, { signal: 'SIGTERM' });
    this.boot(idx, false);
    return Promise.resolve();
  }

  stop(idx: number): Promise<void> {
    this.down(idx, { signal: 'SIGKILL' });
    return Promise.resolve();
  }

  checkReady(idx: number): Promise<boolean> {
    return Promise.resolve(this.runtimes[idx]?.readiness().ready ?? false);
  }

  pids(): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (const n of this.model.nodes) out[n.id] = this.runtimes[n.idx] ? process.pid : null;
    return out;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.server) await closeServer(this.server);
    if (this.mqtt) await new Promise<void>((r) => this.mqtt?.close(() => r()));
  }
}
