/** Runs the built CLI (dist/cli.js) as a real process, as operators and CI do. */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startSim } from '../../src/sim/index.js';
import type { SimHandle, SimOptions, RecordedCall } from '../../src/sim/index.js';

export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The one JSON document on stdout, when --json was given. */
  json: Record<string, unknown> | undefined;
}

export function spawnCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): ResultPromise {
  return execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: { ...opts.env, QUANTUM_ROLL_CONFIG: '' },
    cwd: opts.cwd,
    stdin: 'ignore',
    timeout: 120_000,
  });
}

export async function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  const r = await spawnCli(args, opts);
  return toResult(r);
}

export function toResult(r: { exitCode?: number; stdout?: unknown; stderr?: unknown }): CliResult {
  const stdout = String(r.stdout ?? '');
  let json: Record<string, unknown> | undefined;
  if (args(stdout)) {
    try {
      json = JSON.parse(stdout) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
  }
  return { code: r.exitCode ?? -1, stdout, stderr: String(r.stderr ?? ''), json };
}
const args = (s: string) => s.trim().startsWith('{');

export interface TestCluster {
  sim: SimHandle;
  dir: string;
  config: string;
  /** Runs the CLI against this cluster's config, with --json. */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** Rewrites the generated config (e.g. shorter timeouts). */
  patchConfig(change: (c: Record<string, any>) => void): Promise<void>;
  /** Calls recorded by the simulator since `since` (ms, same clock as `t`). */
  callsSince(since: number): Promise<RecordedCall[]>;
  stop(): Promise<void>;
}

export async function startCluster(opts: Partial<SimOptions> = {}): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'qr-it-'));
  const sim = await startSim({ nodes: 5, racks: 3, prgs: 120, replayMs: 300, sessionsPerNode: 50, ...opts, stateDir: dir });
  const config = sim.configPath;
  const cluster: TestCluster = {
    sim,
    dir,
    config,
    cli: (a, env) => runCli([...a, '--config', config, '--json'], { env, cwd: dir }),
    async patchConfig(change) {
      const c = parse(await readFile(config, 'utf8')) as Record<string, any>;
      change(c);
      await writeFile(config, stringify(c));
    },
    async callsSince(since) {
      return (await sim.calls()).filter((c) => c.t >= since);
    },
    stop: () => sim.stop(),
  };
  await cluster.patchConfig((c) => {
    c.quiesce = { ...c.quiesce, grace: '500ms' };
    c.timeouts = { ...c.timeouts, ready: '10s', lb: '5s', leader_transfer: '10s' };
  });
  return cluster;
}

/** Calls that change something (anything but GET), in order. */
export function changing(calls: RecordedCall[]): RecordedCall[] {
  return calls.filter((c) => c.method !== 'GET');
}

export const now = (): number => performance.timeOrigin + performance.now();
