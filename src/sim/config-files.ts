// Files a running simulator leaves in its state dir: quantum-roll.yaml (a ready
// orchestrator config, keys exactly as cli.md) and sim.json (URLs, pids, options).
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { SimNodeInfo } from './types.js';

export const CONFIG_FILE = 'quantum-roll.yaml';
export const SIM_JSON = 'sim.json';
/** Environment variable the orchestrator reads the simulator's bearer token from. */
export const TOKEN_ENV = 'SIM_TOKEN';

export interface ConfigInput {
  stateDir: string;
  cpUrl: string;
  lbUrl: string;
  lb: 'http' | 'none';
  cliPath: string;
  token: boolean;
}

export function orchestratorConfig(c: ConfigInput): Record<string, unknown> {
  const tokenEnv = c.token ? { token_env: TOKEN_ENV } : {};
  return {
    control_plane: { url: c.cpUrl, ...tokenEnv },
    ...(c.token ? { node_api: { token_env: TOKEN_ENV } } : {}),
    lb: c.lb === 'http' ? { adapter: 'http', url: c.lbUrl, pool: 'mqtt', ...tokenEnv } : { adapter: 'none' },
    restart: {
      command: [process.execPath, c.cliPath, 'sim', 'restart-node', '--state-dir', c.stateDir, '{node}'],
      timeout: '30s',
    },
    quiesce: { grace: '2s', target_sessions: 0 },
    checks: { min_prgs_ready_ratio: 0.99, session_recovery_ratio: 0.9 },
    timeouts: { leader_transfer: '20s', ready: '30s', lb: '10s', recovery: '0s' },
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
