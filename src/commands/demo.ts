/**
 * `demo`: start the bundled simulator in a temp dir, show the cluster, roll one
 * node with live progress, print the outcome, stop the simulator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GlobalOptions } from './session.js';
import { colorFor, painter } from '../render/style.js';

export async function demoAction(opts: GlobalOptions & { nodes?: string }): Promise<number> {
  const { startSim } = await import('../sim/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'quantum-roll-demo-'));
  const nodes = Number(opts.nodes ?? 6);
  const { bold } = painter(colorFor(process.stderr));
  const say = (t: string) => process.stderr.write(`\n${bold(`== ${t}`)}\n`);
  say(`starting a simulated cluster: ${nodes} nodes, 3 racks, 600 PRGs (state in ${dir})`);
  const sim = await startSim({ stateDir: dir, nodes, racks: 3, prgs: 600, replayMs: 1500, sessionsPerNode: 300 });
  try {
    // The demo is for people: off a TTY it prints the summaries, not the ndjson events (--log-level info brings them back).
    const common = { config: sim.configPath, json: opts.json, logLevel: opts.logLevel ?? 'warn', stateDir: join(dir, '.quantum-roll') };
    say('quantum-roll status');
    const { statusAction } = await import('./status.js');
    await statusAction({ ...common, json: false });
    const target = sim.nodes[2]?.id ?? sim.nodes[0]!.id;
    say(`quantum-roll plan ${target}`);
    const { planAction, restartAction } = await import('./restart.js');
    await planAction({ ...common, json: false }, [target]);
    say(`quantum-roll restart ${target} --yes`);
    const code = await restartAction({ ...common, yes: true }, [target]);
    const stats = await sim.stats();
    say(`simulator: ${target} restarted ${stats.restarts[target] ?? 0} time(s); no PRG ever had more than ${stats.maxUnavailablePerPrg} replica(s) unavailable`);
    say('quantum-roll status');
    await statusAction({ ...common, json: false });
    return code;
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
