// Files a running simulator leaves in its state dir: quantum-roll.yaml (a ready
// orchestrator config, keys exactly as cli.md) and sim.json (URLs, pids, options).
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { SimNodeInfo, SimTlsPaths } from './types.js';

export const CONFIG_FILE = 'quantum-roll.yaml';
export const SIM_JSON = 'sim.json';
/** Environment variable the orchestrator reads the simulator's bearer token from. */
export const TOKEN_ENV = 'SIM_TOKEN';

export interface ConfigInput {
  stateDir: string;
  cpUrl: string;
  lbUrl: string;
  lb: 'http' | 'none' | 'haproxy';
  /** With lb haproxy: the Runtime API socket, the backend of the nodes and the MQTT front door (`127.0.0.1:<port>`). */
  haproxy?: { socket: string; backends: string[]; frontDoor?: string } | undefined;
  /** What the restart command runs: dist/sim/restart-node.js, or a CLI that takes `sim restart-node` (dist/cli.js). */
  cliPath: string;
  token: boolean;
  /** With `--tls`: every system trusts the simulator's CA (and presents the client cert under `--mtls`). */
  tls?: SimTlsPaths | undefined;
}

export function orchestratorConfig(c: ConfigInput): Record<string, unknown> {
  // Each system's TLS and token settings stand alone (nothing is inherited), so each gets its own copy.
  const access = (): Record<string, string> => ({
    ...(c.token ? { token_env: TOKEN_ENV } : {}),
    ...(c.tls ? { ca_file: c.tls.ca } : {}),
    ...(c.tls?.mtls ? { cert_file: c.tls.clientCert, key_file: c.tls.clientKey } : {}),
  });
  const nodeApi = access();
  return {
    control_plane: { url: c.cpUrl, ...access() },
    ...(Object.keys(nodeApi).length ? { node_api: nodeApi } : {}),
    lb:
      c.lb === 'http'
        ? { adapter: 'http', url: c.lbUrl, pool: 'mqtt', ...access() }
        : c.lb === 'haproxy' && c.haproxy
          ? { adapter: 'haproxy', socket: c.haproxy.socket, backends: c.haproxy.backends }
          : { adapter: 'none' },
    restart: {
      // dist/sim/restart-node.js is the command alone; a CLI (dist/cli.js, sim-cli.js) takes `sim restart-node`.
      command: [process.execPath, c.cliPath, ...(path.basename(c.cliPath) === 'restart-node.js' ? [] : ['sim', 'restart-node']), '--state-dir', c.stateDir, '{node}'],
      timeout: '30s',
    },
    // Behind the real front door the brokers have real clients: after the grace, send them
    // DISCONNECT 0x9C "use another server" pointing at the front door (the README says why).
    quiesce: {
      grace: '2s',
      target_sessions: 0,
      ...(c.lb === 'haproxy' && c.haproxy?.frontDoor
        ? { disconnect: { reason_code: 156, rate_per_s: 500, server_reference: c.haproxy.frontDoor } }
        : {}),
    },
    checks: { min_prgs_ready_ratio: 0.99, session_recovery_ratio: 0.9 },
    timeouts: { leader_transfer: '20s', ready: '30s', lb: '10s', recovery: '0s' },
    // Behind the real front door a client can prove a node is back: the MQTT canary goes
    // through HAProxy's MQTT frontend (and to each node's own port). Without HAProxy there is
    // no MQTT front door to point it at (a node would be one, and that node gets drained too).
    ...(c.lb === 'haproxy' && c.haproxy?.frontDoor ? { canary: { front_door: c.haproxy.frontDoor, timeout: '2s' } } : {}),
  };
}

export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export function writeConfig(c: ConfigInput): string {
  const file = path.join(c.stateDir, CONFIG_FILE);
  const header = c.token ? `# export ${TOKEN_ENV}=<the simulator token> before running quantum-roll\n` : '';
  writeAtomic(file, header + stringify(orchestratorConfig(c)));
  return file;
}

export interface SimInfo {
  pid: number;
  cpUrl: string;
  lbUrl: string;
  controlUrl: string;
  stateDir: string;
  configPath: string;
  virtualNodes: boolean;
  haproxy?: { socket: string; frontendPort: number; pid: number };
  /** Process mode: the brokers' shared session store. */
  redis?: { socket: string; pid: number };
  nodes: Array<SimNodeInfo & { pid: number | null }>;
  options: Record<string, unknown>;
  startedAt: string;
}

export function writeSimJson(stateDir: string, info: SimInfo): void {
  writeAtomic(path.join(stateDir, SIM_JSON), JSON.stringify(info, null, 2) + '\n');
}

export function readSimJson(stateDir: string): SimInfo | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, SIM_JSON), 'utf8')) as SimInfo;
  } catch {
    return null;
  }
}
