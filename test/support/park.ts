/**
 * Acting at a certain moment of a run: the simulator's `park` fault holds the CLI on a
 * chosen call (nothing of that call has happened yet) until the knob is set again.
 */
import type { ResultPromise } from 'execa';
import type { ParkedCall, ParkRule } from '../../src/sim/types.js';
import type { TestCluster } from './cli.js';
import type { CliResult } from './cli.js';
import { finish, startCli, withConfig } from './inspect.js';

export type { ParkRule } from '../../src/sim/types.js';

/** Calls of a run worth holding it at (node ids are plain `[a-z0-9-]`, safe in a pattern). */
export const on = {
  /** leader-transfer's first read: the PRGs the node leads. */
  ledBy: (n: string): ParkRule => ({ system: 'cp', method: 'GET', pattern: `^/v1/prgs\\?(.*&)?leader=${n}(&|$)` }),
  batchStart: { system: 'cp', method: 'POST', path: '/v1/leader-transfers' } as ParkRule,
  batchPoll: { system: 'cp', method: 'GET', path: '/v1/leader-transfers/' } as ParkRule,
  /** The drain step's first change (the node's drain flag): past every precheck of its wave. */
  drainFlag: (n: string): ParkRule => ({ system: 'node', node: n, method: 'PUT', path: '/v1/drain' }),
  readyz: (n: string): ParkRule => ({ system: 'node', node: n, method: 'GET', pattern: '^/readyz(\\?|$)' }),
  nodeInfo: (n: string): ParkRule => ({ system: 'node', node: n, method: 'GET', path: '/v1/node' }),
  /** What the generated restart command (`sim restart-node`) calls: the command runs, the node is not restarted yet. */
  restartCommand: (n: string): ParkRule => ({ system: 'sim', node: n, method: 'POST', path: `/_sim/nodes/${n}/restart` }),
  clusterState: { system: 'cp', method: 'GET', path: '/v1/cluster/state' } as ParkRule,
};

/** The calls the simulator holds now (`GET /_sim/parked`). */
export async function parkedCalls(c: TestCluster): Promise<ParkedCall[]> {
  const r = await fetch(`${c.sim.controlUrl}/_sim/parked`, { signal: AbortSignal.timeout(10_000) });
  if (r.status !== 200) throw new Error(`GET /_sim/parked answered ${r.status}`);
  return (await r.json()) as ParkedCall[];
}

/**
 * Sets the knob to `rule` (which lets go of what an earlier rule held) and returns
 * once the simulator holds a call that matches it. Throws as soon as `proc` (the CLI
 * being held) exits, with its output: the call never came.
 */
export async function parkAt(c: TestCluster, rule: ParkRule, proc?: ResultPromise): Promise<ParkedCall> {
  await c.sim.setFaults({ park: rule });
  for (;;) {
    const held = await parkedCalls(c);
    if (held[0]) return held[0];
    if (proc && proc.exitCode !== null) {
      const r = await finish(proc);
      throw new Error(`the CLI exited ${r.code} before a call matched ${JSON.stringify(rule)}: ${r.stdout.slice(0, 1500)}\n${r.stderr.slice(-1500)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Parks at each rule in turn (each one lets go of the last): the CLI is held at the last. */
export async function parkThrough(c: TestCluster, rules: readonly ParkRule[], proc?: ResultPromise): Promise<ParkedCall> {
  let last: ParkedCall | undefined;
  for (const rule of rules) last = await parkAt(c, rule, proc);
  if (!last) throw new Error('parkThrough needs at least one rule');
  return last;
}

/**
 * Returns once the simulator holds nothing: after the CLI holding a call was killed,
 * that call is dropped (never handled) as soon as the simulator sees its client gone.
 */
export async function untilDropped(c: TestCluster): Promise<void> {
  while ((await parkedCalls(c)).length > 0) await new Promise((r) => setTimeout(r, 10));
}

/** Lets go of every parked call and parks no more. */
export async function unpark(c: TestCluster): Promise<void> {
  await c.sim.setFaults({ park: null });
}

/**
 * `restart <node>` with a PRG falling into strict fallback while the node restarts: held on
 * the restart command (past the re-read of quorum just before it, where strict fallback
 * would hold the restart back), the fault armed, then let go. `ready` bounds the readiness
 * wait: this is about the postcheck, so a loaded machine's bound, not a tight one.
 */
export async function restartWithStrictFallback(c: TestCluster, node: string, ready: string): Promise<CliResult> {
  return withConfig(
    c,
    (cfg) => (cfg.timeouts.ready = ready),
    async () => {
      const p = startCli(c, ['restart', node, '--yes']);
      await parkAt(c, on.restartCommand(node), p);
      await c.sim.setFaults({ strictFallback: 1 });
      await unpark(c);
      return finish(p);
    },
  );
}
