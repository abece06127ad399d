// Entry of one simulated node process:
//   node dist/sim/node-main.js --data-dir DIR --node-id ID --state-dir DIR --control-url URL --redis SOCKET [...]
// Durable state (ports, boot counter, drain flag) lives in DIR/state.json, so a restarted
// process keeps its admin_url and comes back drained when it was drained. Its MQTT port is a real
// broker (broker.ts) whose sessions live in the supervisor's redis, so they outlive this process.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { SimBroker } from './broker.js';
import { httpRequest } from './http-client.js';
import { createServer, listen, parkVia } from './http-kit.js';
import { NodeRuntime, type DrainStatus, type DrainStore, type HeartbeatReply } from './node-runtime.js';
import { CallRecorder, EventLog } from './recorder.js';

interface NodeState {
  node_id: string;
  admin_port: number;
  mqtt_port: number;
  boots: number;
  drain: DrainStatus;
}

class FileState implements DrainStore {
  readonly file: string;
  state: NodeState;
  constructor(dir: string, nodeId: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'state.json');
    let s: NodeState | null;
    try {
      s = JSON.parse(fs.readFileSync(this.file, 'utf8')) as NodeState;
    } catch {
      s = null;
    }
    this.state = s ?? {
      node_id: nodeId,
      admin_port: 0,
      mqtt_port: 0,
      boots: 0,
      drain: { draining: false, since: null, reason: null, initiator: null },
    };
  }
  load(): DrainStatus {
    return { ...this.state.drain };
  }
  save(d: DrainStatus): void {
    this.state.drain = { ...d };
    this.flush();
  }
  flush(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state, null, 2));
    fs.renameSync(tmp, this.file);
  }
}

async function listenRetry(server: net.Server, port: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve((server.address() as net.AddressInfo).port);
        });
      });
    } catch (e) {
      if (attempt >= 40 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      'node-id': { type: 'string' },
      'state-dir': { type: 'string' },
      'control-url': { type: 'string' },
      listener: { type: 'string', default: 'mqtt' },
      'max-sessions': { type: 'string', default: '50000' },
      'replay-ms': { type: 'string', default: '800' },
      sessions: { type: 'string', default: '0' },
      'never-ready': { type: 'boolean', default: false },
      'session-decay': { type: 'string', default: '0.15' },
      'prg-total': { type: 'string', default: '0' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      mtls: { type: 'boolean', default: false },
      redis: { type: 'string' },
      'probe-ms': { type: 'string', default: '250' },
    },
  });
  const dataDir = values['data-dir'];
  const nodeId = values['node-id'];
  const stateDir = values['state-dir'];
  const controlUrl = values['control-url'];
  const redisSocket = values.redis;
  if (!dataDir || !nodeId || !stateDir || !controlUrl || !redisSocket) {
    throw new Error('--data-dir, --node-id, --state-dir, --control-url and --redis are required');
  }
  const token = process.env.SIM_NODE_TOKEN || undefined;

  const store = new FileState(dataDir, nodeId);
  store.state.boots++;
  const eventLog = new EventLog(stateDir);
  const maxRaw = values['max-sessions'];
  const runtime = new NodeRuntime({
    nodeId,
    listener: values.listener ?? 'mqtt',
    mqttPort: 0,
    maxSessions: maxRaw === 'null' ? null : Number(maxRaw),
    replayMs: Number(values['replay-ms']),
    sessions: Number(values.sessions),
    neverReady: values['never-ready'] ?? false,
    sessionDecay: Number(values['session-decay']),
    prgTotal: Number(values['prg-total']),
    store,
    event: (event, fields) => eventLog.emit(event, { node: nodeId, ...fields }),
  });

  // The data plane: a real MQTT broker on the MQTT port, sessions in the shared redis. The
  // port listens at once; the broker (aedes + ioredis: most of a node's start-up CPU) loads
  // in the background, and connections that arrive meanwhile wait for it. The process
  // reports `listening` first (a restart returns like `systemctl restart`), `broker_ready` after.
  let broker: SimBroker | null = null;
  const early: net.Socket[] = [];
  const mqtt = net.createServer((socket) => {
    if (broker) return broker.accept(socket);
    socket.pause();
    socket.on('error', () => undefined);
    early.push(socket);
  });
  runtime.dataPlaneStarting = true;
  const brokerReady = (async (): Promise<SimBroker> => {
    const { SimBroker: Broker, packetsHeldForConnack } = await import('./broker.js');
    const b = new Broker({
      nodeId,
      redisSocket,
      probeMs: Number(values['probe-ms']),
      storeLatencyMs: () => runtime.storeLatencyMs,
      dropPublish: () => runtime.dropPublish,
      holdConnect: () => runtime.holdConnect,
      connectAnswerMs: () => runtime.connectAnswerMs,
      bootId: runtime.bootId,
      recordConnects: (lines) => eventLog.appendLines(lines),
      log: (line) => process.stderr.write(`${nodeId}: ${line}\n`),
      admission: () => {
        const r = runtime.readiness();
        if (r.ready || (runtime.acceptWhileDraining && runtime.draining)) {
          // A listener at its max_sessions takes no more (the capacity the precheck counts on is real).
          if (runtime.full()) return { ok: false, draining: false, full: true, serverReference: runtime.serverReference };
          return { ok: true };
        }
        return { ok: false, draining: runtime.draining, serverReference: runtime.serverReference, reasons: (r.body as { reasons: string[] }).reasons };
      },
    });
    await b.startStore();
    runtime.dataPlane = {
      sessions: () => b.mqttClients() + b.rawSockets(),
      mqttClients: () => b.mqttClients(),
      tcpConnections: () => b.tcpConnections(),
      kick: (n, code, ref) => b.kick(n, code, ref),
      refused: () => b.refusedCounts(),
      failures: () => b.failureCounts(),
      wipes: () => ({ ...b.wipes }),
      held: () => b.heldCount(),
      brokerId: () => b.brokerId,
      heldForConnack: () => packetsHeldForConnack(),
    };
    broker = b;
    runtime.dataPlaneStarting = false;
    for (const s of early.splice(0)) if (!s.destroyed) b.accept(s);
    return b;
  })();
  const mqttPort = await listenRetry(mqtt, store.state.mqtt_port);
  runtime.opts.mqttPort = mqttPort;

  const recorder = new CallRecorder(stateDir);
  const tlsCert = values['tls-cert'];
  const tlsKey = values['tls-key'];
  const tlsCa = values['tls-ca'];
  const mtls = values.mtls === true;
  const tls =
    tlsCert && tlsKey && tlsCa
      ? {
          cert: fs.readFileSync(tlsCert),
          key: fs.readFileSync(tlsKey),
          ca: fs.readFileSync(tlsCa),
          requestCert: mtls,
          rejectUnauthorized: mtls,
          minVersion: 'TLSv1.2' as const,
        }
      : undefined;
  const admin = createServer({
    tls,
    handler: (ctx) => runtime.handle(ctx),
    token: () => token,
    park: parkVia(controlUrl, nodeId),
    record: (ctx, reply, tEnd) => {
      if (ctx.headers['x-sim-lb-check']) return;
      recorder.record('node', nodeId, ctx, reply, tEnd);
    },
  });
  const adminPort = store.state.admin_port ? await listenRetry(admin, store.state.admin_port) : await listen(admin, 0);
  store.state.admin_port = adminPort;
  store.state.mqtt_port = mqttPort;
  store.flush();

  process.send?.({
    type: 'listening',
    admin_port: adminPort,
    mqtt_port: mqttPort,
    boot_id: runtime.bootId,
    started_at: runtime.startedAtMs,
    replay_progress: runtime.replayProgress(),
    pid: process.pid,
  });
  brokerReady.then(
    (b) => process.send?.({ type: 'broker_ready', broker_id: b.brokerId }),
    (e: unknown) => {
      process.stderr.write(`node-main ${nodeId}: the MQTT broker did not start: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );

  const hbUrl = `${controlUrl}/_sim/heartbeat`;
  const beat = async (): Promise<void> => {
    try {
      const res = await httpRequest(hbUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(runtime.heartbeat()),
        timeoutMs: 3000, // a late answer still refreshes the CP cache (see CACHE_FRESH_MS)
      });
      if (res.status === 200) runtime.applyReply(JSON.parse(res.text) as HeartbeatReply);
    } catch {
      // the supervisor may be gone; the IPC disconnect handler exits us
    }
    setTimeout(() => void beat(), 25);
  };
  void beat();
  setInterval(() => runtime.tick(50), 50);

  const exit = (): void => process.exit(0);
  process.on('disconnect', exit);
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
}

main().catch((e: unknown) => {
  process.stderr.write(`node-main: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
