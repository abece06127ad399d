// Process-mode node backend: every node is a child process (dist/sim/node-main.js).
// A restart is a real kill + spawn; the child's `exit` event marks it down at once.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { ClusterModel } from './cluster-model.js';
import { httpRequest } from './http-client.js';
import { nodeMainPath } from './paths.js';
import type { SessionBalancer } from './sessions.js';
import type { SimTlsPaths } from './types.js';

export interface NodeBackend {
  startAll(): Promise<void>;
  /** Kills the node if it runs, starts it again; resolves once it listens. */
  restart(idx: number): Promise<void>;
  /** Kills the node (SIGKILL, like a crash); it stays down. */
  stop(idx: number): Promise<void>;
  /** The LB's health probe of a node's /readyz. */
  checkReady(idx: number): Promise<boolean>;
  pids(): Record<string, number | null>;
  close(): Promise<void>;
}

export interface ProcessBackendOptions {
  stateDir: string;
  controlUrl: () => string;
  replayMs: number;
  sessionsPerNode: number;
  maxSessions: number | null;
  token?: string | undefined;
  /** With `--tls`: nodes serve their admin API over HTTPS with these files (passed as argv paths). */
  tls?: { paths: SimTlsPaths } | undefined;
  /** The shared session store's unix socket (every node's broker keeps its sessions there). */
  redisSocket: string;
  /** Raw-probe greeting delay on the MQTT port (0 = off). */
  rawProbeMs: number;
}

interface Listening {
  type: 'listening';
  admin_port: number;
  mqtt_port: number;
  boot_id: string;
  started_at: number;
  replay_progress: number;
  pid: number;
}

export class ProcessBackend implements NodeBackend {
  private readonly children: Array<ChildProcess | null>;
  private closing = false;
  /** The LB probe's TLS agent: trusts the simulator CA, presents the client certificate under mTLS. */
  private readonly probeAgent: https.Agent | undefined;

  constructor(
    private readonly model: ClusterModel,
    private readonly balancer: SessionBalancer,
    private readonly opts: ProcessBackendOptions,
  ) {
    this.children = model.nodes.map(() => null);
    const t = opts.tls?.paths;
    this.probeAgent = t
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 64,
          ca: fs.readFileSync(t.ca),
          ...(t.mtls ? { cert: fs.readFileSync(t.clientCert), key: fs.readFileSync(t.clientKey) } : {}),
        })
      : undefined;
  }

  dataDir(idx: number): string {
    return path.join(this.opts.stateDir, 'nodes', this.model.nodes[idx]?.id ?? String(idx));
  }

  async startAll(): Promise<void> {
    for (const n of this.model.nodes) fs.rmSync(this.dataDir(n.idx), { recursive: true, force: true });
    await Promise.all(this.model.nodes.map((n) => this.spawnNode(n.idx, true)));
  }

  private spawnNode(idx: number, initial: boolean): Promise<void> {
    const node = this.model.nodes[idx];
    if (!node) return Promise.reject(new Error(`no node ${idx}`));
    const f = this.model.faults();
    const replayMs = initial ? 0 : (f.slowReady[node.id] ?? this.opts.replayMs);
    const sessions = initial ? this.opts.sessionsPerNode : 0;
    const args = [
      nodeMainPath(),
      '--data-dir', this.dataDir(idx),
      '--node-id', node.id,
      '--state-dir', this.opts.stateDir,
      '--control-url', this.opts.controlUrl(),
      '--max-sessions', this.opts.maxSessions === null ? 'null' : String(this.opts.maxSessions),
      '--replay-ms', String(replayMs),
      '--sessions', String(sessions),
      '--session-decay', String(f.sessionDecay),
      '--prg-total', String(this.model.topo.nodePrgs[idx]?.length ?? 0),
      '--redis', this.opts.redisSocket,
      '--probe-ms', String(this.opts.rawProbeMs),
    ];
    if (!initial && f.neverReady.includes(node.id)) args.push('--never-ready');
    const tls = this.opts.tls?.paths;
    if (tls) {
      args.push('--tls-cert', tls.serverCert, '--tls-key', tls.serverKey, '--tls-ca', tls.ca);
      if (tls.mtls) args.push('--mtls');
    }
    const env = { ...process.env };
    if (this.opts.token) env.SIM_NODE_TOKEN = this.opts.token;
    else delete env.SIM_NODE_TOKEN;
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
    this.children[idx] = child;
    // A restart resolves once the process listens (like `systemctl restart`); the initial
    // boot also waits for the node's MQTT broker, so a fresh simulator is whole at once.
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      let brokerReady = false;
      const timer = setTimeout(() => {
        if (!listening) reject(new Error(`${node.id} did not start listening within 15s`));
      }, 15_000);
      const brokerTimer = initial
        ? setTimeout(() => {
            if (!brokerReady) reject(new Error(`${node.id}: its MQTT broker did not start within 60s`));
          }, 60_000)
        : undefined;
      child.on('message', (m: unknown) => {
        const msg = m as Listening | { type: 'broker_ready'; broker_id: string };
        if (msg?.type === 'broker_ready') {
          brokerReady = true;
          clearTimeout(brokerTimer);
          if (initial && listening) resolve();
          return;
        }
        if (msg?.type !== 'listening' || listening) return;
        listening = true;
        clearTimeout(timer);
        node.adminUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${msg.admin_port}`;
        node.mqttPort = msg.mqtt_port;
        this.balancer.onBoot(idx, sessions);
        this.model.onProcessUp(idx, { bootId: msg.boot_id, startedAt: msg.started_at, pid: msg.pid, replayProgress: msg.replay_progress });
        if (!initial || brokerReady) resolve();
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(brokerTimer);
        if (this.children[idx] === child) this.children[idx] = null;
        if (!listening || (initial && !brokerReady)) {
          reject(new Error(`${node.id} exited before ${listening ? 'its MQTT broker started' : 'listening'} (code ${code}, signal ${signal})`));
          if (!listening) return;
        }
        this.model.onProcessDown(idx, { code, signal, closing: this.closing });
        this.balancer.onDown(idx);
      });
    });
  }

  private kill(idx: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.children[idx];
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async restart(idx: number): Promise<void> {
    await this.kill(idx, 'SIGTERM');
    await this.spawnNode(idx, false);
  }

  async stop(idx: number): Promise<void> {
    await this.kill(idx, 'SIGKILL');
  }

  async checkReady(idx: number): Promise<boolean> {
    const node = this.model.nodes[idx];
    if (!node?.adminUrl || !node.processUp) return false;
    try {
      const headers: Record<string, string> = { 'x-sim-lb-check': '1' };
      if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
      const res = await httpRequest(`${node.adminUrl}/readyz`, { headers, timeoutMs: 500, tlsAgent: this.probeAgent });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  pids(): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    this.model.nodes.forEach((n, i) => (out[n.id] = this.children[i]?.pid ?? null));
    return out;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.model.nodes.map((n) => this.kill(n.idx, 'SIGKILL')));
    this.probeAgent?.destroy();
  }
}
