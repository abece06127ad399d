/**
 * B6, clients through a whole roll: `restart --all --parallel auto` of 6 real MQTT brokers
 * (3 racks) behind a real HAProxy (the generated config: `balance leastconn`) while MQTT
 * clients (2:1 MQTT 5 : 3.1.1, persistent sessions, QoS 1 to a peer, 1 message/s each)
 * publish through the front door. The drain DISCONNECTs with 0x9C and the front door as
 * Server Reference, at up to 500/s.
 *
 * Issue 19: fixed-rate and closed-loop eviction side by side in one run, at 500 clients and
 * at the top size (`B6_TOP`, default 2,000; `B6_SIZES=500,2000` to choose), a fresh cluster
 * for each roll, fixed first then closed-loop at each size:
 * - `fixed`: `pacing: fixed, cohort: false, absorb: {ratio: 0}`, the eviction before issue 19
 *   (one request at 500/s, the restart as soon as the node's own count reaches the target);
 * - `closed-loop`: the generated config's eviction (a cohort first, AIMD on pending clients
 *   capped at 500/s, the restart once 95 % of the evicted clients are connected elsewhere).
 *
 * Figures come from the clients' own record (`sim load`'s client-impact report): lost
 * (PUBACKed, never delivered), stranded (not connected at the end), CONNACK timeouts,
 * reconnect time per disconnect (p50/p99/max), disconnects per client beside the topology's
 * bound (1 + the share of clients on the first wave's nodes: they are evicted before any node
 * is back), the roll's wall time and its ratio closed-loop / fixed at the same size; and the
 * machine's load average (`uptime`) at the start and end of each roll.
 *
 * The simulator runs in its own process (bench/sim-host.mjs), the roll as a CLI process,
 * the load in this one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { dist, expectExit, json, loadavg, ms, r2, runCli, startSim } from './lib.mjs';

const NODES = 6;
const RATE_PER_CLIENT = 1; // msg/s
const CEILING = 500; // DISCONNECTs/s

function sizes() {
  if (process.env.B6_SIZES) return process.env.B6_SIZES.split(',').map(Number);
  return [500, Number(process.env.B6_TOP ?? 2000)];
}

/** The share of the roll's clients on its first wave's nodes (the precheck's counts), and the bound it sets. */
function topologyBound(doc) {
  const waves = doc?.waves ?? [];
  const nodes = doc?.nodes ?? {};
  const sessionsOf = (id) => nodes[id]?.sessions ?? 0;
  const all = Object.keys(nodes).reduce((s, id) => s + sessionsOf(id), 0);
  const first = (waves[0]?.nodes ?? []).reduce((s, id) => s + sessionsOf(id), 0);
  const share = all > 0 ? first / all : (waves[0]?.nodes?.length ?? 0) / NODES;
  return { first_wave: waves[0]?.nodes ?? [], first_wave_share: r2(share), bound: r2(1 + share) };
}

async function rollOnce(load, readSimJson, clients, pacing) {
  const loadStart = loadavg();
  const c = await startSim({ nodes: NODES, racks: 3, prgs: 600, replayMs: 1000, sessionsPerNode: 0, lb: 'haproxy', rawProbeMs: 0 });
  try {
    const door = load.frontDoor(undefined, readSimJson(c.dir));
    const reference = load.targetLabel(door.targets[0]);
    const cfg = parse(readFileSync(c.sim.configPath, 'utf8'));
    const base = { reason_code: 156, server_reference: reference, rate_per_s: CEILING };
    cfg.quiesce = {
      ...cfg.quiesce,
      grace: '1s',
      disconnect: pacing === 'fixed' ? { ...base, pacing: 'fixed', cohort: false, absorb: { ratio: 0 } } : base,
    };
    // a loaded machine restarts a broker slowly
    cfg.timeouts = { ...cfg.timeouts, ready: '120s' };
    // No MQTT canary: B6 measures the clients' own record. On a loaded machine the canary's
    // front-door round trip fails whenever HAProxy's 100 ms health checks flap every node DOWN
    // at once ("closed before CONNACK"), and that stops the roll it is measuring.
    delete cfg.canary;
    writeFileSync(c.sim.configPath, stringify(cfg));
    let roll;
    let rolled = false;
    const { report } = await load.runLoad({
      clients,
      ratePerS: clients * RATE_PER_CLIENT,
      targets: door.targets,
      identifier: load.identifierFor(door),
      startTimeoutMs: 300_000,
      drainTimeoutMs: 120_000,
      connectConcurrency: 100,
      // the simulator's record (CONNECT traces, node lifecycles, drains) explains every slow reconnect
      simStateDir: c.dir,
      onSteady: () => {
        roll = runCli(['restart', '--all', '--parallel', 'auto', '--yes', '--json', '--config', c.sim.configPath], { timeoutMs: 1_800_000 }).finally(() => (rolled = true));
      },
      until: () => rolled,
      drainWindows: (until) => {
        const lines = load.readCalls(join(c.dir, 'calls.ndjson'));
        return lines ? load.drainWindows(lines, until) : null;
      },
    });
    const r = await roll;
    expectExit(r, 0, `quantum-roll restart --all --parallel auto (${pacing}, ${clients} clients)`);
    const doc = json(r);
    const stats = await c.sim.stats();
    const calls = load.readCalls(join(c.dir, 'calls.ndjson')) ?? [];
    const posts = calls.filter((x) => x.method === 'POST' && String(x.path).startsWith('/v1/sessions/disconnect'));
    const rc = report.reconnects;
    const bound = topologyBound(doc);
    return {
      pacing,
      clients,
      roll_wall_ms: Math.round(r.wallMs),
      waves: doc?.waves?.length ?? null,
      every_node_once: Object.values(stats.restarts).length === NODES && Object.values(stats.restarts).every((n) => n === 1),
      loadavg_at_start: loadStart,
      loadavg_at_end: loadavg(),
      disconnect_requests: posts.map((p) => ({ node: p.node, rate_per_s: p.body?.rate_per_s, limit: p.body?.limit ?? null, status: p.status })),
      figures: {
        lost: report.messages.lost,
        stranded: report.clients.not_connected.length,
        connack_timeouts: report.connect_failures['connack timeout'] ?? 0,
        connect_failures: report.connect_failures,
        acked: report.messages.acked,
        duplicates: report.messages.duplicates,
        connected_at_end: report.clients.connected_at_end,
        disconnects: rc.disconnects,
        disconnects_per_client: r2(rc.disconnects / clients),
        ...bound,
        reconnect_p50_ms: rc.p50_ms,
        reconnect_p99_ms: rc.p99_ms,
        reconnect_max_ms: rc.max_ms,
        stall_max_ms: report.stall.max_ms,
        stall_p99_ms: report.stall.p99_ms,
        connects_refused: report.connects_refused,
        accepted_while_draining: report.draining_accepts ? report.draining_accepts.accepted_while_draining : null,
        slow_reconnects: report.slow_reconnects ? { threshold_ms: report.slow_reconnects.threshold_ms, count: report.slow_reconnects.count, by_cause: report.slow_reconnects.by_cause } : null,
      },
      report,
    };
  } finally {
    await c.stop();
  }
}

export async function b6() {
  const load = await dist('sim/load/index.js');
  const { readSimJson } = await dist('sim/index.js');
  const { findHaproxy } = await dist('sim/haproxy.js');
  if (!findHaproxy()) throw new Error('B6 needs haproxy (apt-get install -y haproxy)');
  const runs = [];
  const lines = [];
  for (const clients of sizes()) {
    const fixed = await rollOnce(load, readSimJson, clients, 'fixed');
    const closed = await rollOnce(load, readSimJson, clients, 'closed-loop');
    const ratio = r2(closed.roll_wall_ms / fixed.roll_wall_ms);
    runs.push({ clients, fixed, closed_loop: closed, wall_ratio_closed_over_fixed: ratio });
    const line = (x) => {
      const f = x.figures;
      return `${x.pacing}: lost ${f.lost}, stranded ${f.stranded}, CONNACK timeouts ${f.connack_timeouts}, reconnect p50/p99/max ${f.reconnect_p50_ms}/${f.reconnect_p99_ms}/${f.reconnect_max_ms} ms, ${f.disconnects_per_client} disconnects/client (bound ${f.bound}), slow reconnects ${JSON.stringify(f.slow_reconnects?.by_cause ?? {})}, roll ${ms(x.roll_wall_ms)} (load ${x.loadavg_at_start?.[0]} → ${x.loadavg_at_end?.[0]})`;
    };
    lines.push(`${clients} clients: ${line(fixed)}; ${line(closed)}; wall closed/fixed ${ratio}`);
  }
  return {
    name: 'B6 MQTT clients through a whole roll: fixed-rate vs closed-loop eviction',
    method: `restart --all --parallel auto on ${NODES} real brokers / 3 racks behind HAProxy (balance leastconn), clients 2:1 MQTT 5 : 3.1.1 with persistent sessions publishing ${RATE_PER_CLIENT} msg/s each QoS 1 to a peer; DISCONNECT 0x9C + front door, fixed at ${CEILING}/s vs closed-loop capped at ${CEILING}/s; a fresh cluster per roll`,
    runs,
    summary: `B6 ${lines.join(' | ')}`,
  };
}
