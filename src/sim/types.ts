// Public types of the simulator. The simulator never imports orchestrator code:
// everything it needs is declared here.

export type ReplicaState = 'healthy' | 'lagging' | 'replaying' | 'down';

/** A replica forced into a state by the `replicaDown` fault. */
export interface ReplicaFault {
  node: string;
  /** PRG ids; all PRGs with a replica on `node` when omitted. */
  prgs?: string[];
  /** `down` (default) or `lagging`. */
  state?: 'down' | 'lagging';
}

export interface MalformedFault {
  /** Request path (no query) whose answer is corrupted, e.g. `/v1/cluster/state`. */
  path: string;
  /** Dotted field path (`routing_epoch`, `nodes.0.id`); whole body becomes invalid JSON when omitted. */
  field?: string;
  /** `wrong_type` (default: value becomes the string "x"), `remove` (field deleted) or `set` (field becomes `value`). */
  mode?: 'wrong_type' | 'remove' | 'set';
  /** With mode `set`: the value to put there (e.g. -5, or a ratio above 1). */
  value?: unknown;
}

/**
 * The `park` fault: calls that match wait, before the simulator handles them, until the
 * knob is set again (to anything, `null` included). Lets a test act at a certain moment
 * of a run: the CLI is blocked on that call, nothing of it has happened yet.
 */
export interface ParkRule {
  /** `cp`: the CP API; `node`: a node's admin API; `sim`: the control API's `/_sim/nodes/{id}/…` (what `sim restart-node` calls). */
  system: 'cp' | 'node' | 'sim';
  /** HTTP method (any when omitted). */
  method?: string;
  /** Prefix of the path with its query, e.g. `/v1/prgs?leader=node-1`. */
  path?: string;
  /** Regular expression the path with its query must match (with `path`, both must). */
  pattern?: string;
  /** Node id: the node whose admin API (`node`) or control route (`sim`) is called. */
  node?: string;
}

/** A call the `park` fault is holding (`GET /_sim/parked`). */
export interface ParkedCall {
  /** Increases with every parked call of this simulator. */
  seq: number;
  system: ParkRule['system'];
  node?: string;
  method: string;
  path: string;
  /** Receipt time, same clock as recorded calls. */
  t: number;
}

export interface Faults {
  noBatch: boolean;
  transferDelayMs: number;
  transfersNeverComplete: boolean;
  /** Max concurrent per-PRG transfer requests; 0 = unlimited. */
  transferConcurrency: number;
  /** Time the CP takes to answer one per-PRG transfer request. */
  transferServiceMs: number;
  noEligibleTarget: boolean;
  replicaDown: ReplicaFault[];
  neverReady: string[];
  /** Per-node replay duration override in ms, e.g. {"node-2": 5000}. */
  slowReady: Record<string, number>;
  /** Nodes whose CP cache is reported stale (reason `cp_cache_stale`). */
  cpCacheStale: string[];
  lbNeverHealthy: string[];
  lbError: boolean;
  cpUnavailable: boolean;
  /** CP answers `/readyz` 503 with `healthy: false` (a verdict, not a transient error). */
  cpUnhealthy: boolean;
  /** CP `/readyz` answers 503 while `cluster/state` still says the CP is healthy (the two disagree). */
  cpReadyzFails: boolean;
  cpFlakyRatio: number;
  cpMalformed: MalformedFault | null;
  restartNoop: boolean | string[];
  restartFail: boolean | string[];
  restartHang: boolean | string[];
  strictFallback: number;
  leaseHeldBy: string | null;
  /** true → node-1 is reported as `node-1;reboot`; a string → that id instead. */
  hostileNodeId: boolean | string;
  cursorLoop: boolean;
  hugeBodyBytes: number;
  placementViolation: boolean;
  /** Fraction of simulated sessions a draining node loses every 50 ms (0 = never). */
  sessionDecay: number;
  /** Delay before a leaderless PRG elects a healthy replica. */
  electionDelayMs: number;
  /** Hold matching calls until the knob is set again (see ParkRule). */
  park: ParkRule | null;
  /** Every broker waits this long before each write to the shared session store (widens the ack-vs-store window). */
  storeLatencyMs: number;
  /** These nodes' brokers PUBACK every PUBLISH but never deliver it (a broken data plane behind a healthy /readyz). */
  dropPublish: string[];
  /** These nodes' brokers accept new CONNECTs while draining (a drain flag the listener ignores). */
  acceptWhileDraining: string[];
  /** These nodes' brokers hold every CONNECT they read just after its owner write (stage `held`), until the knob no longer names them. */
  holdConnect: string[];
  /** A broker answers a CONNECT it has held this long with CONNACK 0x89 Server busy (MQTT 3.1.1: return code 3) and closes the link; 0 = never. */
  connectAnswerMs: number;
}

export interface SimOptions {
  nodes?: number;
  racks?: number;
  prgs?: number;
  stateDir: string;
  replayMs?: number;
  sessionsPerNode?: number;
  maxSessions?: number | null;
  lbCheckIntervalMs?: number;
  token?: string;
  faults?: Partial<Faults>;
  /** `haproxy` starts a real HAProxy (Debian package) in front of the nodes and writes the haproxy adapter into the config. */
  lb?: 'http' | 'none' | 'haproxy';
  /** Path to dist/cli.js for the restart command; default resolved from this module. */
  cliPath?: string;
  /** Nodes served in-process under `/n/<id>` (no child processes). */
  virtualNodes?: boolean;
  /** Move sessions back to an under-loaded node over time (default true). */
  rebalance?: boolean;
  /** Serve the CP, LB and node admin APIs over HTTPS with a generated private CA (`<stateDir>/tls`). */
  tls?: boolean;
  /** Like `tls`, and every API requires a client certificate signed by that CA. Implies `tls`. */
  mtls?: boolean;
  /**
   * A connection to a node's MQTT port that sends nothing for this long is treated as a raw
   * TCP probe: greeted with the node id and echoed (default 0: every connection is MQTT).
   */
  rawProbeMs?: number;
}

/** The TLS files of a simulator started with `tls`/`mtls` (all absolute paths). */
export interface SimTlsPaths {
  dir: string;
  /** CA certificate that signed every server and client certificate. */
  ca: string;
  /** Client certificate and key (accepted under mTLS). */
  clientCert: string;
  clientKey: string;
  /** Server certificate and key (SAN 127.0.0.1, localhost, ::1) that every API presents. */
  serverCert: string;
  serverKey: string;
  mtls: boolean;
}

export interface SimNodeInfo {
  id: string;
  adminUrl: string;
  mqttPort: number;
  rack: string;
}

export interface RecordedCall {
  t: number;
  system: 'cp' | 'lb' | 'node';
  node?: string;
  method: string;
  path: string;
  body: unknown;
  status: number;
  t_end?: number;
}

export interface SimEvent {
  t: number;
  system: 'sim';
  event: string;
  node?: string;
  [k: string]: unknown;
}

export interface SimStats {
  restarts: Record<string, number>;
  boots: Record<string, number>;
  maxUnavailablePerPrg: number;
  leaderChanges: number;
  transfersRequested: number;
  transfersCompleted: number;
  sessions: { total: number; perNode: Record<string, number>; pool: number };
}

export interface SimHandle {
  cpUrl: string;
  lbUrl: string;
  controlUrl: string;
  stateDir: string;
  configPath: string;
  nodes: SimNodeInfo[];
  /** Set when started with `tls`/`mtls`. */
  tls?: SimTlsPaths;
  setFaults(f: Partial<Faults>): Promise<void>;
  calls(): Promise<RecordedCall[]>;
  events(): Promise<SimEvent[]>;
  stats(): Promise<SimStats>;
  restartNode(id: string): Promise<void>;
  stopNode(id: string): Promise<void>;
  stop(): Promise<void>;
}
