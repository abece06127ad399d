/**
 * B6, clients through a whole roll: `restart --all --parallel auto` of 6 real MQTT brokers
 * (3 racks) behind a real HAProxy while 500 MQTT clients (2:1 MQTT 5 : 3.1.1, persistent
 * sessions, QoS 1 to a peer, 1 message/s each) publish through the front door. The drain
 * DISCONNECTs with 0x9C and the front door as Server Reference, at 500/s.
 *
 * Figures come from the clients' own record (`sim load`'s client-impact report): lost
 * (PUBACKed, never delivered), duplicates, reconnect time per disconnect (p50/p99/max),
 * longest PUBLISH → PUBACK wait per client (max and p99 across clients), CONNECTs refused,
 * connection attempts without a CONNACK; and the machine's load average (`uptime`) at
 * start and end, which these figures depend on. There is no baseline ratio: the target
 * is 0 lost and every client back; times are context.
 *
 * The simulator runs in its own process (bench/sim-host.mjs), the roll as a CLI process,
 * the load in this one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { dist, expectExit, json, loadavg, ms, runCli, startSim } from './lib.mjs';

const CLIENTS = 500;
const RATE = 500;
const NODES = 6;

export async function b6() {
  const load = await dist('sim/load/index.js');
  const { readSimJson } = await dist('sim/index.js');
  const { findHaproxy } = await dist('sim/haproxy.js');
  if (!findHaproxy()) throw new Error('B6 needs haproxy (apt-get install -y haproxy)');
  const loadStart = loadavg();
  const c = await startSim({ nodes: NODES, racks: 3, prgs: 600, replayMs: 1000, sessionsPerNode: 0, lb: 'haproxy', rawProbeMs: 0 });
  try {
    const door = load.frontDoor(undefined, readSimJson(c.dir));
    const reference = load.targetLabel(door.targets[0]);
    const cfg = parse(readFileSync(c.sim.configPath, 'utf8'));
    cfg.quiesce = { ...cfg.quiesce, grace: '1s', disconnect: { reason_code: 156, server_reference: reference, rate_per_s: 500 } };
    writeFileSync(c.sim.configPath, stringify(cfg));
    let roll;
    let rolled = false;
    const { report } = await load.runLoad({
      clients: CLIENTS,
      ratePerS: RATE,
      targets: door.targets,
      identifier: load.identifierFor(door),
      startTimeoutMs: 120_000,
      drainTimeoutMs: 120_000,
      onSteady: () => {
        roll = runCli(['restart', '--all', '--parallel', 'auto', '--yes', '--json', '--config', c.sim.configPath], { timeoutMs: 900_000 }).finally(() => (rolled = true));
      },
      until: () => rolled,
      drainWindows: (until) => {
        const lines = load.readCalls(join(c.dir, 'calls.ndjson'));
        return lines ? load.drainWindows(lines, until) : null;
      },
    });
    const r = await roll;
    expectExit(r, 0, 'quantum-roll restart --all --parallel auto');
    const doc = json(r);
    const stats = await c.sim.stats();
    const loadEnd = loadavg();
    const rc = report.reconnects;
    const d = report.draining_accepts;
    return {
      name: 'B6 MQTT clients through a whole roll',
      method: `restart --all --parallel auto on ${NODES} real brokers / 3 racks behind HAProxy, ${CLIENTS} clients (2:1 MQTT 5 : 3.1.1, persistent sessions) publishing ${RATE} msg/s QoS 1 to a peer; DISCONNECT 0x9C + front door at 500/s`,
      roll_wall_ms: Math.round(r.wallMs),
      waves: doc?.waves?.length ?? null,
      every_node_once: Object.values(stats.restarts).length === NODES && Object.values(stats.restarts).every((n) => n === 1),
      loadavg_at_start: loadStart,
      loadavg_at_end: loadEnd,
      report,
      figures: {
        lost: report.messages.lost,
        duplicates: report.messages.duplicates,
        published: report.messages.published,
        acked: report.messages.acked,
        delivered: report.messages.delivered,
        connected_at_end: report.clients.connected_at_end,
        disconnects: rc.disconnects,
        reconnect_p50_ms: rc.p50_ms,
        reconnect_p99_ms: rc.p99_ms,
        reconnect_max_ms: rc.max_ms,
        stall_max_ms: report.stall.max_ms,
        stall_p99_ms: report.stall.p99_ms,
        connects_refused: report.connects_refused,
        connect_failures: report.connect_failures,
        accepted_while_draining: d ? d.accepted_while_draining : null,
        identified_accepts: d ? d.checked : null,
      },
      summary: `B6 MQTT roll: ${CLIENTS} clients, ${NODES} nodes in ${doc?.waves?.length ?? '?'} waves (${ms(r.wallMs)}): lost ${report.messages.lost} of ${report.messages.acked} PUBACKed, ${report.messages.duplicates} duplicates, reconnect p50/p99/max ${rc.p50_ms}/${rc.p99_ms}/${rc.max_ms} ms over ${rc.disconnects} disconnects, longest stall max ${report.stall.max_ms} ms (p99 ${report.stall.p99_ms} ms), ${report.clients.connected_at_end}/${CLIENTS} connected at the end; load ${loadStart?.join(' ')} → ${loadEnd?.join(' ')}`,
    };
  } finally {
    await c.stop();
  }
}
