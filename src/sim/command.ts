// `quantum-roll sim …`: start/stop the bundled simulator, restart a simulated node
// (the restart command of the generated config), set faults, show status.
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { control, runningSim, startDetached, stopRunning } from './cli-support.js';
import { HAPROXY_INSTALL_HINT, findHaproxy } from './haproxy.js';
import { parseFaultArgs } from './faults.js';
import { loadCommand } from './load/command.js';
import { REDIS_INSTALL_HINT, findRedisServer } from './redis.js';
import { restartNode } from './restart-command.js';
import type { Faults, SimOptions } from './types.js';

const out = (s: string): void => {
  process.stdout.write(s + '\n');
};
const err = (s: string): void => {
  process.stderr.write(s + '\n');
};

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`--${name} must be a non-negative integer`);
    return n;
  };
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function stateDirOption(): Option {
  return new Option('--state-dir <dir>', 'simulator state directory').default('.sim');
}

interface StartFlags {
  nodes: number;
  racks: number;
  prgs: number;
  stateDir: string;
  replayMs: number;
  sessions: number;
  maxSessions?: string;
  lbCheckMs: number;
  rawProbeMs: number;
  token?: string;
  virtual?: boolean;
  lb: 'http' | 'none' | 'haproxy';
  fault?: string[];
  tls?: boolean;
  mtls?: boolean;
}

async function startAction(flags: StartFlags): Promise<void> {
  const stateDir = path.resolve(flags.stateDir);
  const running = await runningSim(stateDir);
  if (running) {
    err(`a simulator already runs in ${stateDir} (pid ${running.pid}); stop it with: quantum-roll sim stop --state-dir ${flags.stateDir}`);
    process.exitCode = 2;
    return;
  }
  let faults: Partial<Faults>;
  try {
    faults = parseFaultArgs(flags.fault ?? []);
  } catch (e) {
    err((e as Error).message);
    process.exitCode = 2;
    return;
  }
  const opts: SimOptions = {
    stateDir,
    nodes: flags.nodes,
    racks: flags.racks,
    prgs: flags.prgs,
    replayMs: flags.replayMs,
    sessionsPerNode: flags.sessions,
    lbCheckIntervalMs: flags.lbCheckMs,
    rawProbeMs: flags.rawProbeMs,
    lb: flags.lb,
    faults,
    virtualNodes: Boolean(flags.virtual),
  };
  if (flags.maxSessions !== undefined) opts.maxSessions = flags.maxSessions === 'null' ? null : Number(flags.maxSessions);
  if (flags.token) opts.token = flags.token;
  if (flags.tls || flags.mtls) opts.tls = true;
  if (flags.mtls) opts.mtls = true;
  if (!opts.virtualNodes && !findRedisServer()) {
    err(REDIS_INSTALL_HINT);
    process.exitCode = 2;
    return;
  }
  if (opts.lb === 'haproxy' && !findHaproxy()) {
    err(HAPROXY_INSTALL_HINT);
    process.exitCode = 2;
    return;
  }
  const info = await startDetached(opts);
  out(`simulator running (pid ${info.pid}, ${info.nodes.length} nodes${info.virtualNodes ? ', virtual' : ''})`);
  out(`  control plane: ${info.cpUrl}`);
  out(
    info.haproxy
      ? `  load balancer: HAProxy pid ${info.haproxy.pid}, MQTT on 127.0.0.1:${info.haproxy.frontendPort}, Runtime API ${info.haproxy.socket}`
      : `  load balancer: ${info.lbUrl} (pool mqtt)`,
  );
  if (info.redis) out(`  session store: redis-server pid ${info.redis.pid} on ${info.redis.socket} (every node is an MQTT 5/3.1.1 broker on it)`);
  out(`  sim control:   ${info.controlUrl}`);
  out(`  config:        ${info.configPath}`);
  if (opts.tls) out(`  TLS:           private CA ${path.join(stateDir, 'tls', 'ca.pem')}${opts.mtls ? ', client certificate required (tls/client.pem)' : ''}`);
  out(`export QUANTUM_ROLL_CONFIG=${info.configPath}`);
  if (flags.token) out(`export SIM_TOKEN=<the token you passed>`);
}

async function stopAction(flags: { stateDir: string }): Promise<void> {
  const stateDir = path.resolve(flags.stateDir);
  const info = await runningSim(stateDir);
  if (!info) {
    out(`no simulator running in ${stateDir}`);
    return;
  }
  await stopRunning(info);
  out(`simulator in ${stateDir} stopped (pid ${info.pid})`);
}

async function restartNodeAction(node: string, flags: { stateDir: string }): Promise<void> {
  // The same function as dist/sim/restart-node.js, the generated config's restart command.
  process.exitCode = await restartNode(flags.stateDir, node, { out, err });
}

async function faultsAction(pairs: string[], flags: { stateDir: string }): Promise<void> {
  const info = await runningSim(path.resolve(flags.stateDir));
  if (!info) {
    err(`no simulator running in ${path.resolve(flags.stateDir)}`);
    process.exitCode = 1;
    return;
  }
  let patch: Partial<Faults>;
  try {
    patch = parseFaultArgs(pairs);
  } catch (e) {
    err((e as Error).message);
    process.exitCode = 2;
    return;
  }
  const r = pairs.length === 0 ? await control(info, 'GET', '/_sim/faults') : await control(info, 'POST', '/_sim/faults', patch);
  if (r.status !== 200) {
    err(`setting faults failed: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    process.exitCode = r.status === 400 ? 2 : 1;
    return;
  }
  out(JSON.stringify(r.json, null, 2));
}

async function statusAction(flags: { stateDir: string; json?: boolean }): Promise<void> {
  const info = await runningSim(path.resolve(flags.stateDir));
  if (!info) {
    out(`no simulator running in ${path.resolve(flags.stateDir)}`);
    process.exitCode = flags.json ? 1 : 0;
    return;
  }
  const stats = (await control(info, 'GET', '/_sim/stats')).json;
  if (flags.json) {
    out(JSON.stringify({ ...info, stats }, null, 2));
    return;
  }
  out(`simulator pid ${info.pid} since ${info.startedAt}${info.virtualNodes ? ' (virtual nodes)' : ''}`);
  out(`  control plane: ${info.cpUrl}\n  load balancer: ${info.lbUrl}\n  sim control:   ${info.controlUrl}\n  config:        ${info.configPath}`);
  for (const n of info.nodes) out(`  ${n.id.padEnd(10)} rack ${n.rack}  admin ${n.adminUrl}  mqtt 127.0.0.1:${n.mqttPort}  pid ${n.pid ?? '-'}`);
  out(`  stats: ${JSON.stringify(stats)}`);
}

export function simCommand(): Command {
  const sim = new Command('sim').description('run the bundled Quantum cluster simulator (CP, LB and node processes)');
  sim
    .command('start')
    .description('start a simulator in the background and write a ready quantum-roll config')
    .option('--nodes <n>', 'number of nodes', int('nodes'), 5)
    .option('--racks <n>', 'number of racks', int('racks'), 3)
    .option('--prgs <n>', 'number of PRGs', int('prgs'), 600)
    .addOption(stateDirOption())
    .option('--replay-ms <ms>', 'replay duration after a restart', int('replay-ms'), 800)
    .option('--sessions <n>', 'simulated sessions per node', int('sessions'), 200)
    .option('--max-sessions <n|null>', 'listener capacity (null = unknown)')
    .option('--lb-check-ms <ms>', 'LB health check interval', int('lb-check-ms'), 100)
    .option('--raw-probe-ms <ms>', 'greet MQTT-port connections silent this long with the node id (0 = every connection is MQTT)', int('raw-probe-ms'), 0)
    .option('--token <token>', 'require this bearer token on CP, LB and node APIs')
    .option('--tls', 'serve the CP, LB and node APIs over HTTPS with a generated private CA (written to <state-dir>/tls)')
    .option('--mtls', 'like --tls, and require a client certificate (the generated config carries one)')
    .option('--virtual', 'serve all nodes in-process (many-nodes mode)')
    .addOption(new Option('--lb <kind>', 'LB written to the config: the simulated HTTP pool, a real HAProxy, or none').choices(['http', 'haproxy', 'none']).default('http'))
    .option('--fault <key=value>', 'set a fault knob (repeatable)', collect)
    .action(startAction);
  sim.command('stop').description('stop the simulator (and its node processes)').addOption(stateDirOption()).action(stopAction);
  sim
    .command('restart-node')
    .description('restart one simulated node; returns once the new process listens')
    .addOption(stateDirOption())
    .argument('<node>', 'node id')
    .action(restartNodeAction);
  sim
    .command('faults')
    .description('show or set fault knobs at run time (key=value …)')
    .addOption(stateDirOption())
    .argument('[pairs...]', 'key=value pairs')
    .action(faultsAction);
  sim.command('status').description('show the running simulator').addOption(stateDirOption()).option('--json', 'JSON output').action(statusAction);
  sim.addCommand(loadCommand(stateDirOption));
  // Usage errors surface as CommanderError to the caller (which maps them to exit 2).
  for (const sub of sim.commands) sub.exitOverride();
  return sim;
}
