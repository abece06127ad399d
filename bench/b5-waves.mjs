/**
 * B5, waves: a whole-cluster roll of 12 nodes on 3 racks, `restart --all --parallel auto`
 * (placement-aware waves) and `--parallel 1` (serial), each on a fresh simulator (real
 * node processes, the generated config: grace 2 s; sessions made not to decay, so the
 * grace always runs out, as in B1).
 *
 * Baseline (issue 14): the sum, over the waves, of the slowest node's imposed waits, all
 * from the simulator's own record (events.ndjson, calls.ndjson), as B1 takes them per node:
 *   transfer   first leader-transfer request for the node → last `transfer_done` away from it
 *   grace      the LB member leaves `enabled` → + quiesce.grace
 *   restart    `restart_command` (the sim's restart command begins its work) → `replay_done`
 *   lb         drain flag cleared (the node answers /readyz 200) → `lb_health` up
 *   restore    first `{"to": node}` transfer once it is back → the last `transfer_done` onto it
 *              (leader_transfer.restore, default on)
 * A wave cannot end before its slowest node has had its waits, and the next wave cannot
 * start its first change before that: wall ÷ that sum is what the orchestrator adds. It
 * is itemised per wave: the gap from the previous wave's last node back (or from spawn)
 * to the wave's first change, and inside the wave what its slowest node spent beyond its
 * waits. The simulator's restart command is a whole CLI process (`quantum-roll sim
 * restart-node`) whose own start-up a real `ssh … systemctl restart` would not have:
 * shown apart, as in B1. Serial vs waves stays for context (how much waves save).
 * Both rolls must restart every node exactly once with no PRG ever missing two replicas.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { dist, expectExit, imposedWaits, json, loadavg, logLines, ms, r2, r3, runCli, startSim } from './lib.mjs';

const NODES = 12;
const RACKS = 3;


export async function roll(parallel) {
  const c = await startSim({ nodes: NODES, racks: RACKS, prgs: 360, replayMs: 500, sessionsPerNode: 40, faults: { sessionDecay: 0 } });
  try {
    const config = parse(readFileSync(c.sim.configPath, 'utf8'));
    const { parseDuration } = await dist('config/duration.js');
    const graceMs = parseDuration(String(config.quiesce.grace));
    const load = loadavg()?.[0];
    const r = await runCli(['restart', '--all', '--parallel', parallel, '--yes', '--json', '--config', c.sim.configPath], { timeoutMs: 600_000 });
    expectExit(r, 0, `quantum-roll restart --all --parallel ${parallel}`);
    const doc = json(r);
    const stats = await c.sim.stats();
    const restarts = Object.values(stats.restarts);
    const once = restarts.length === NODES && restarts.every((n) => n === 1);
    const [events, calls] = await Promise.all([c.sim.events(), c.sim.calls()]);
    const logs = logLines(r.stderr);
    const execAt = (node) => {
      const l = logs.find((x) => x.event === 'restart.exec' && x.node === node);
      return l ? (typeof l.time === 'number' ? l.time : Date.parse(l.time)) : undefined;
    };
    const waves = (doc?.waves ?? []).map(({ nodes }) => {
      const per = nodes.map((node) => ({ node, ...imposedWaits(events, calls, node, graceMs, r, 'B5'), exec: execAt(node) }));
      const slowest = per.reduce((a, b) => (b.sum > a.sum ? b : a));
      return {
        nodes,
        imposed_ms: Math.round(slowest.sum),
        slowest: slowest.node,
        slowest_waits: Object.fromEntries(Object.entries(slowest.waits).map(([k, v]) => [k, Math.round(v)])),
        first_change: Math.min(...per.map((p) => p.firstChange)),
        last_back: Math.max(...per.map((p) => p.back)),
        // the sim's restart command's own start-up (spawned → it records restart_command), the slowest of the wave
        restart_command_startup_ms: Math.round(Math.max(0, ...per.map((p) => (p.exec !== undefined ? p.restartCmd - p.exec : 0)))),
      };
    });
    let prev = r.t0;
    for (const w of waves) {
      w.gap_before_ms = Math.round(w.first_change - prev); // previous wave back (or spawn) → this wave's first change
      w.span_ms = Math.round(w.last_back - w.first_change);
      w.over_imposed_ms = w.span_ms - w.imposed_ms;
      prev = w.last_back;
    }
    const imposedSum = waves.reduce((a, w) => a + w.imposed_ms, 0);
    const cmdStartup = waves.reduce((a, w) => a + w.restart_command_startup_ms, 0);
    return {
      load_1m: load,
      wall_ms: Math.round(r.wallMs),
      waves: waves.length,
      imposed_ms: imposedSum,
      ratio: r3(r.wallMs / imposedSum),
      restart_command_startup_ms: cmdStartup,
      ratio_without_restart_command_startup: r3((r.wallMs - cmdStartup) / imposedSum),
      after_last_wave_ms: Math.round(r.t1 - prev),
      per_wave: waves.map((w) => Object.fromEntries(Object.entries(w).filter(([k]) => k !== 'first_change' && k !== 'last_back'))),
      every_node_once: once,
      max_unavailable_per_prg: stats.maxUnavailablePerPrg,
    };
  } finally {
    await c.stop();
  }
}

export async function b5() {
  const auto = await roll('auto');
  const serial = await roll('1');
  const vsSerial = auto.wall_ms / serial.wall_ms;
  const met = auto.ratio <= 1.05;
  const gaps = auto.per_wave.map((w) => w.gap_before_ms);
  const over = auto.per_wave.map((w) => w.over_imposed_ms);
  return {
    name: 'B5 waves',
    method: `restart --all on ${NODES} nodes / ${RACKS} racks (360 PRGs, 500 ms replay, config grace, no session decay), --parallel auto; baseline: the sum over waves of the slowest node's imposed waits (simulator's record); serial roll for context`,
    auto,
    serial,
    ratio: auto.ratio,
    ratio_without_restart_command_startup: auto.ratio_without_restart_command_startup,
    vs_serial: r2(vsSerial),
    target: '≤ 1.05 × the sum over waves of the slowest node\'s imposed waits',
    met,
    safe: serial.every_node_once && auto.every_node_once && serial.max_unavailable_per_prg <= 1 && auto.max_unavailable_per_prg <= 1,
    summary:
      `B5 waves: ${NODES} nodes/${RACKS} racks, --parallel auto ${ms(auto.wall_ms)} in ${auto.waves} waves vs imposed ${ms(auto.imposed_ms)} → ratio ${r2(auto.ratio)} (target ≤ 1.05, ${met ? 'met' : 'NOT met'}; ` +
      `without the sim restart command's start-up ${r2(auto.ratio_without_restart_command_startup)}) | gaps before each wave ${gaps.join('/')} ms, span over imposed ${over.join('/')} ms, after the last ${auto.after_last_wave_ms} ms | ` +
      `serial ${ms(serial.wall_ms)} in ${serial.waves} (ratio ${r2(serial.ratio)}), waves ÷ serial ${r2(vsSerial)}; max replicas unavailable per PRG ${Math.max(serial.max_unavailable_per_prg, auto.max_unavailable_per_prg)}`,
  };
}
