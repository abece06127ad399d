/**
 * B1, orchestration overhead: `quantum-roll restart <node>` on the simulator (real node
 * processes, the generated config as shipped: grace 2 s), run as a real CLI process.
 * Wall time (spawn → exit) ÷ the waits the simulator imposed, all taken from the
 * simulator's own record (events.ndjson, calls.ndjson):
 *   transfer   first leader-transfer request received → last `transfer_done` away from the node
 *   grace      `lb_admin_state` draining → + quiesce.grace (sessions are made not to decay
 *              on their own, so the grace always runs out: the quiesce wait is the grace)
 *   restart    `restart_command` (the sim's restart command, dist/sim/restart-node.js, begins its work) → `replay_done`
 *              (old process stops, new one starts, replays for replayMs)
 *   lb         drain flag cleared (the node answers /readyz 200) → `lb_health` up (the LB's
 *              own health check; the member is enabled meanwhile)
 *   restore    first leader transfer back to the node (`leader_transfer.restore`, after the
 *              postcheck) → last `transfer_done` to it: the CP's own time to move leadership
 *              back, counted like the transfer away (request → done)
 * Everything else is overhead: process start-up, reads, prechecks, lease, polling lag,
 * the restart command's own process start-up (a bare Node start since it is a small entry),
 * postcheck, exit. It is itemised below.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { dist, expectExit, imposedWaits, logLines, median, ms, r2, r3, runCli, startSim } from './lib.mjs';

const REPLAY_MS = 2000;
const SETTLE_MS = 1500;
const RUNS = ['node-2', 'node-3', 'node-4'];


/** Where the overhead went, between the simulator's marks (ms). */
function gaps(m, restartExecAt) {
  const d = (a, b) => (a !== undefined && b !== undefined ? Math.max(0, b - a) : undefined);
  return {
    cli_startup: d(m.spawn, m.first_request),
    before_transfer: d(m.first_request, m.transfer_request ?? m.lb_out),
    transfer_to_lb_out: d(m.transfers_done ?? m.transfer_request, m.lb_out),
    grace_end_to_restart_exec: d(m.grace_end, restartExecAt),
    restart_command_startup: d(restartExecAt, m.restart_command),
    // negative when the orchestrator saw the replay end before the simulator's record did (heartbeat lag)
    replay_done_to_drain_cleared: m.replay_done !== undefined && m.drain_cleared !== undefined ? m.drain_cleared - m.replay_done : undefined,
    // postcheck reads, then the restore's own request (its wait is imposed, above)
    lb_up_to_restore: m.restore_request !== undefined ? d(Math.max(m.lb_up, m.lb_enabled), m.restore_request) : undefined,
    // the last reads of the restore, lease release, exit
    restore_done_to_exit: m.restore_done !== undefined ? d(m.restore_done, m.exit) : undefined,
    lb_up_to_exit: d(Math.max(m.lb_up, m.lb_enabled), m.exit),
  };
}

export async function b1() {
  const c = await startSim({ nodes: 5, racks: 3, prgs: 600, replayMs: REPLAY_MS, sessionsPerNode: 200, lbCheckIntervalMs: 100, faults: { sessionDecay: 0 } });
  try {
    const config = parse(readFileSync(c.sim.configPath, 'utf8'));
    const { parseDuration } = await dist('config/duration.js');
    const graceMs = parseDuration(String(config.quiesce.grace));
    if (graceMs === undefined) throw new Error(`B1: unexpected quiesce.grace ${config.quiesce.grace}`);
    const runs = [];
    for (const node of RUNS) {
      // Let the simulator settle (fresh node processes warming up, sessions rebalancing after the
      // previous restart) so that its own start-up work is not measured as the CLI's.
      await delay(SETTLE_MS);
      const r = await runCli(['restart', node, '--yes', '--json', '--config', c.sim.configPath]);
      expectExit(r, 0, `quantum-roll restart ${node}`);
      const [events, calls] = await Promise.all([c.sim.events(), c.sim.calls()]);
      const { waits, marks } = imposedWaits(events, calls, node, graceMs, r, 'B1');
      // When the orchestrator spawned the restart command: its own log (pino `time`, epoch ms).
      const exec = logLines(r.stderr).find((l) => l.event === 'restart.exec' && l.node === node);
      const execAt = exec ? (typeof exec.time === 'number' ? exec.time : Date.parse(exec.time)) : undefined;
      const sum = waits.transfer + waits.grace + waits.restart + waits.lb_detection + waits.restore;
      // The simulator's restart command is a Node process (dist/sim/restart-node.js): its own
      // start-up, before it records `restart_command`, is counted above as overhead. Also shown without it.
      const cmdStartup = execAt !== undefined ? Math.max(0, marks.restart_command - execAt) : 0;
      runs.push({
        node,
        wall_ms: Math.round(r.wallMs),
        imposed_ms: Math.round(sum),
        overhead_ms: Math.round(r.wallMs - sum),
        ratio: r3(r.wallMs / sum),
        ratio_without_restart_command_startup: r3((r.wallMs - cmdStartup) / sum),
        overhead_without_restart_command_startup_ms: Math.round(r.wallMs - cmdStartup - sum),
        waits: Object.fromEntries(Object.entries(waits).map(([k, v]) => [k, Math.round(v)])),
        overhead: Object.fromEntries(Object.entries(gaps(marks, execAt)).map(([k, v]) => [k, v === undefined ? null : Math.round(v)])),
      });
    }
    const ratio = median(runs.map((x) => x.ratio));
    const overhead = median(runs.map((x) => x.overhead_ms));
    const ratioOwn = median(runs.map((x) => x.ratio_without_restart_command_startup));
    const overheadOwn = median(runs.map((x) => x.overhead_without_restart_command_startup_ms));
    const met = ratio <= 1.05 && overhead <= 300;
    return {
      name: 'B1 orchestration overhead',
      method: 'quantum-roll restart <node> via the CLI (real processes, 5 nodes, 600 PRGs, replay 2 s, grace 2 s, LB check 100 ms); median of 3 nodes',
      baseline: 'sum of the waits the simulator imposed, from its own record',
      runs,
      ratio,
      overhead_ms: overhead,
      ratio_without_restart_command_startup: ratioOwn,
      overhead_without_restart_command_startup_ms: overheadOwn,
      target: '≤ 1.05× the imposed waits and ≤ +300 ms',
      met,
      summary:
        `B1 overhead: restart 1 node ${ms(median(runs.map((x) => x.wall_ms)))} vs imposed waits ${ms(median(runs.map((x) => x.imposed_ms)))} → ratio ${r2(ratio)} (+${ms(overhead)}; target ≤ 1.05 and ≤ +300 ms, ${met ? 'met' : 'NOT met'}) | ` +
        `without the sim restart command's own start-up: ${r2(ratioOwn)} (+${ms(overheadOwn)}) | CLI start-up ${ms(median(runs.map((x) => x.overhead.cli_startup ?? 0)))}`,
    };
  } finally {
    await c.stop();
  }
}
