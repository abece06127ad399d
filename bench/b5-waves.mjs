/**
 * B5, waves: a whole-cluster roll of 12 nodes on 3 racks, serial (`--parallel 1`)
 * vs placement-aware waves (`--parallel auto`), on the simulator. The baseline is the
 * serial roll measured in the same run: the ratio is how much of it waves save.
 * Both rolls must restart every node exactly once with no PRG ever missing two replicas.
 */
import { expectExit, json, ms, r2, runCli, startSim } from './lib.mjs';

const NODES = 12;
const RACKS = 3;

async function roll(parallel) {
  const c = await startSim({ nodes: NODES, racks: RACKS, prgs: 360, replayMs: 500, sessionsPerNode: 40 });
  try {
    const r = await runCli(['restart', '--all', '--parallel', parallel, '--yes', '--json', '--config', c.sim.configPath], { timeoutMs: 600_000 });
    expectExit(r, 0, `quantum-roll restart --all --parallel ${parallel}`);
    const doc = json(r);
    const stats = await c.sim.stats();
    const restarts = Object.values(stats.restarts);
    const once = restarts.length === NODES && restarts.every((n) => n === 1);
    return { wall_ms: Math.round(r.wallMs), waves: doc?.waves?.length ?? null, every_node_once: once, max_unavailable_per_prg: stats.maxUnavailablePerPrg };
  } finally {
    await c.stop();
  }
}

export async function b5() {
  const serial = await roll('1');
  const auto = await roll('auto');
  const ratio = auto.wall_ms / serial.wall_ms;
  return {
    name: 'B5 waves',
    method: `restart --all on ${NODES} nodes / ${RACKS} racks (360 PRGs, 500 ms replay, config grace), serial vs --parallel auto; baseline: the serial roll`,
    serial,
    auto,
    ratio: r2(ratio),
    speedup: r2(1 / ratio),
    safe: serial.every_node_once && auto.every_node_once && serial.max_unavailable_per_prg <= 1 && auto.max_unavailable_per_prg <= 1,
    summary: `B5 waves: ${NODES} nodes/${RACKS} racks, --parallel auto ${ms(auto.wall_ms)} in ${auto.waves} waves vs serial ${ms(serial.wall_ms)} in ${serial.waves}: ratio ${r2(ratio)} (×${r2(1 / ratio)} faster); max replicas unavailable per PRG ${Math.max(serial.max_unavailable_per_prg, auto.max_unavailable_per_prg)}`,
  };
}
