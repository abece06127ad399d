/**
 * B4, size: `quantum-roll plan --all --json` against a virtual-nodes simulator of
 * 1,000 nodes on 10 racks, with 1k, 10k and 100k PRGs; then `--parallel auto` at
 * 100k for the wave count. Wall time (spawn → exit) and the CLI process's own peak
 * RSS and CPU time (process.resourceUsage(), reported by a preload on exit).
 *
 * Baseline, measured in the same run against the same simulator: a bare reader
 * (bench/floor.mjs, a separate Node process) that fetches what a plan cannot do
 * without — the cluster state, every PRG page, and each node's /readyz, /v1/node and
 * LB member (3 × 1,000 reads, 32 at a time) — with plain fetch and JSON.parse, no
 * validation, no planning. `plan --all ÷ floor` is the price of validating, planning
 * and rendering on top of reading.
 */
import { join } from 'node:path';
import { ROOT, expectExit, json, ms, r2, runCli, runNode, startSim } from './lib.mjs';

const NODES = 1000;
const RACKS = 10;
const SIZES = [1_000, 10_000, 100_000];

function summaryOf(r) {
  return { wall_ms: Math.round(r.wallMs), cpu_ms: r.cpuMs === undefined ? null : Math.round(r.cpuMs), peak_rss_mb: r.maxRssMb === undefined ? null : Math.round(r.maxRssMb) };
}

async function plan(sim, extra = []) {
  const simCpu0 = await sim.cpuMs();
  const r = await runCli(['plan', '--all', '--json', '--config', sim.configPath, ...extra], { rss: true, timeoutMs: 300_000 });
  const simCpu = (await sim.cpuMs()) - simCpu0;
  expectExit(r, 0, `quantum-roll plan --all ${extra.join(' ')}`);
  const doc = json(r);
  const calls = (await sim.calls()).filter((c) => c.t >= r.t0 && c.t <= r.t1);
  return { ...summaryOf(r), sim_cpu_ms: Math.round(simCpu), waves: doc?.waves?.length ?? null, requests: calls.length, stdout_bytes: r.stdout.length };
}

export async function b4() {
  const sizes = [];
  let auto;
  for (const prgs of SIZES) {
    const c = await startSim({ nodes: NODES, racks: RACKS, prgs, virtualNodes: true, sessionsPerNode: 100 });
    try {
      const p = await plan(c.sim);
      const entry = { prgs, plan: p };
      if (prgs === SIZES[SIZES.length - 1]) {
        // The baseline where the target is: the bare read of the same cluster, right after.
        const simCpu0 = await c.sim.cpuMs();
        const floor = await runNode([join(ROOT, 'bench', 'floor.mjs'), c.sim.cpUrl, c.sim.lbUrl], { rss: true, timeoutMs: 300_000 });
        const floorSimCpu = (await c.sim.cpuMs()) - simCpu0;
        expectExit(floor, 0, 'bench/floor.mjs');
        entry.floor = { ...summaryOf(floor), sim_cpu_ms: Math.round(floorSimCpu) };
        entry.ratio_to_floor = r2(p.wall_ms / floor.wallMs);
        auto = await plan(c.sim, ['--parallel', 'auto']);
      }
      sizes.push(entry);
    } finally {
      await c.stop();
    }
  }
  const big = sizes[sizes.length - 1];
  const growth = sizes.slice(1).map((s, i) => ({
    from: sizes[i].prgs,
    to: s.prgs,
    prgs_x: s.prgs / sizes[i].prgs,
    wall_x: r2(s.plan.wall_ms / sizes[i].plan.wall_ms),
    cpu_x: s.plan.cpu_ms && sizes[i].plan.cpu_ms ? r2(s.plan.cpu_ms / sizes[i].plan.cpu_ms) : null,
  }));
  const metWall = big.plan.wall_ms <= 2000;
  const metRss = big.plan.peak_rss_mb !== null && big.plan.peak_rss_mb <= 200;
  return {
    name: 'B4 size',
    method: `plan --all --json, ${NODES} virtual nodes on ${RACKS} racks; bare reader (bench/floor.mjs) as baseline`,
    nodes: NODES,
    sizes,
    growth,
    auto_100k: auto,
    target: '≤ 2 s wall and ≤ 200 MB peak RSS at 100k PRGs',
    met: metWall && metRss,
    met_wall: metWall,
    met_rss: metRss,
    summary:
      `B4 size: plan --all, 1000 nodes/100k PRGs: ${ms(big.plan.wall_ms)}, ${big.plan.peak_rss_mb} MB peak (target ≤ 2 s ${metWall ? 'met' : 'NOT met'}, ≤ 200 MB ${metRss ? 'met' : 'NOT met'}); ` +
      `${r2(big.ratio_to_floor)}× the bare read (${ms(big.floor.wall_ms)}) | growth ${growth.map((g) => `${g.from / 1000}k→${g.to / 1000}k ×${g.wall_x}`).join(', ')} | auto: ${auto?.waves} waves in ${ms(auto?.wall_ms ?? 0)}`,
  };
}
