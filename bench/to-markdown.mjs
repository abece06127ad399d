/**
 * Prints the figures of a bench report as the Markdown tables of BENCHMARKS.md:
 *   node bench/to-markdown.mjs [bench/report.json]
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';

const file = process.argv[2] ?? new URL('./report.json', import.meta.url).pathname;
const r = JSON.parse(readFileSync(file, 'utf8'));
const b = r.results;
const s = (ms) => (ms === undefined || ms === null ? '–' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const yes = (x) => (x ? 'met' : '**not met**');
const out = [];
const p = (line = '') => out.push(line);

p(`Run of ${r.started_at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}: Node ${r.machine.node}, ${r.machine.platform}, ${r.machine.cpus} vCPUs (${r.machine.cpu_model}), ${r.machine.memory_gb} GB;`);
p(`load average ${r.machine.loadavg_at_start?.join(' / ')} at start, ${r.loadavg_at_end?.join(' / ')} at end; contention ×${r.contention_at_start.factor} at start, ×${r.contention_at_end.factor} at end; the suite took ${r.duration_s} s.`);
p();
p('| | figure | ratio | target | |');
p('| --- | --- | --- | --- | --- |');
if (b.b1) p(`| B1 restart, 1 node | ${s(median(b.b1.runs.map((x) => x.wall_ms)))} vs ${s(median(b.b1.runs.map((x) => x.imposed_ms)))} of imposed waits (+${s(b.b1.overhead_ms)}) | **${b.b1.ratio.toFixed(2)}** | ≤ 1.05 and < +1 s | ${yes(b.b1.met)} |`);
if (b.b2) p(`| B2 3,000 transfers, no batch | ${s(b.b2.per_prg.wallMs)} vs ${b.b2.baseline_ms} ms | **${b.b2.per_prg.ratio.toFixed(2)}** (bare client: ${b.b2.measured_floor.ratio.toFixed(2)}) | ≤ 1.3 | ${yes(b.b2.met)} |`);
if (b.b3) p(`| B3 \`--help\` start-up | ${s(b.b3.median_ms.help)} vs \`node -e 0\` ${s(b.b3.median_ms.node_e_0)} | **${b.b3.help_ratio.toFixed(2)}** | ≤ 2 | ${yes(b.b3.met)} |`);
if (b.b4) {
  const big = b.b4.sizes[b.b4.sizes.length - 1];
  for (const cmd of ['plan', 'status', 'restart']) {
    const x = big[cmd];
    const m = b.b4.met_by_command?.[cmd];
    if (x) p(`| B4 \`${cmd === 'restart' ? 'restart --all` to its first change' : cmd === 'plan' ? 'plan --all --json`' : 'status --json`'}, 1,000 nodes / 100k PRGs | ${s(x.wall_ms)}, ${x.peak_rss_mb} MB peak RSS | **${x.ratio_to_floor?.toFixed(2)}** × bare read (${s(x.floor.wall_ms)}) | ≤ 1.3 ×, ≤ 150 MB, linear growth | ${yes(m?.ratio)}, ${yes(m?.rss)}, ${yes(m?.growth)} |`);
  }
}
if (b.b5) p(`| B5 12-node roll, waves vs serial | ${s(b.b5.auto?.wall_ms)} vs ${s(b.b5.serial?.wall_ms)} | **${Number(b.b5.ratio).toFixed(2)}** | (issue 5) | |`);
p();

if (b.b1) {
  p('B1 runs (ms):');
  p();
  p('| node | wall | imposed: transfer + grace + restart + LB | overhead | ratio | CLI start-up | before transfer | restart command start-up | poll lags (transfer→drain, grace→restart, replay→undrain) | LB up → exit |');
  p('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const x of b.b1.runs) {
    const o = x.overhead;
    p(
      `| ${x.node} | ${x.wall_ms} | ${x.imposed_ms} = ${x.waits.transfer} + ${x.waits.grace} + ${x.waits.restart} + ${x.waits.lb_detection} | ${x.overhead_ms} | ${x.ratio.toFixed(2)} | ${o.cli_startup} | ${o.before_transfer} | ${o.restart_command_startup} | ${o.transfer_to_lb_out}, ${o.grace_end_to_restart_exec}, ${o.replay_done_to_drain_cleared} | ${o.lb_up_to_exit} |`,
    );
  }
  p();
  p(`Without the simulator's restart-command start-up: ratio ${b.b1.ratio_without_restart_command_startup.toFixed(2)}, +${b.b1.overhead_without_restart_command_startup_ms} ms.`);
  p();
}
if (b.b2) {
  const row = (name, x) => `| ${name} | ${s(x.wallMs ?? x.wall_ms)} | ${(x.ratio ?? 0).toFixed(2)} | ${x.requests ?? '–'} | ${x.rejected_503 ?? x.retried_503 ?? '–'} | ${x.client_cpu_ms ?? '–'} | ${x.sim_cpu_ms ?? '–'} |`;
  p(`B2 (baseline ceil(3000/64) × 20 ms = ${b.b2.baseline_ms} ms):`);
  p();
  p('| client | wall | ÷ baseline | requests | 503s | client CPU ms | simulator CPU ms |');
  p('| --- | --- | --- | --- | --- | --- | --- |');
  p(row('bare undici loop, exactly 64 in flight (measured floor)', b.b2.measured_floor));
  p(row(`quantum-roll, default ceiling ${b.b2.default_concurrency}`, b.b2.per_prg));
  p(row('quantum-roll, ceiling 256 (must find 64 itself)', b.b2.per_prg_ceiling_256));
  p(row('batch endpoint (CP-side, max_parallel 64, 20 ms each)', b.b2.batch));
  p(`| \`quantum-roll transfer-leaders node-1\` (CLI, start-up ${s(b.b2.cli.startupMs)}, lease) | ${s(b.b2.cli.wallMs)} | ${b.b2.cli.ratio.toFixed(2)} | | | | |`);
  p();
}
if (b.b3) {
  p(`B3 medians of ${b.b3.runs_ms.help.length} interleaved runs: \`node -e 0\` ${s(b.b3.median_ms.node_e_0)}, \`--help\` ${s(b.b3.median_ms.help)}, \`plan node-3\` ${s(b.b3.median_ms.plan_node_3)} (${b.b3.plan_node_3_ratio}×); \`--help\` loads ${b.b3.help_loads.modules} modules, packages: ${b.b3.help_loads.packages.join(', ') || 'none'}.`);
  p();
}
if (b.b4) {
  p('B4 (1,000 virtual nodes, 10 racks; each command right after its bare read, bench/floor.mjs):');
  p();
  p('| PRGs | command | wall | CLI CPU | peak RSS | bare read: wall, CPU, peak RSS | ÷ bare read | simulator CPU | requests | load |');
  p('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const x of b.b4.sizes) {
    for (const cmd of ['plan', 'status', 'restart']) {
      const c = x[cmd];
      if (!c) continue;
      const f = c.floor;
      p(`| ${x.prgs.toLocaleString('en')} | ${cmd} | ${s(c.wall_ms)} | ${s(c.cpu_ms)} | ${c.peak_rss_mb} MB | ${s(f.wall_ms)}, ${s(f.cpu_ms)}, ${f.peak_rss_mb} MB | ${c.ratio_to_floor} | ${s(c.sim_cpu_ms)} | ${c.requests} | ${c.load_1m ?? '–'} |`);
    }
  }
  const a = b.b4.auto_100k;
  if (a) p(`| 100,000 | plan \`--parallel auto\` | ${s(a.wall_ms)} | ${s(a.cpu_ms)} | ${a.peak_rss_mb} MB | | | ${s(a.sim_cpu_ms)} | ${a.requests} | **${a.waves}** waves |`);
  p();
  for (const [cmd, gs] of Object.entries(b.b4.growth ?? {})) {
    p(`Growth, ${cmd}: ${gs.map((g) => `${g.from / 1000}k → ${g.to / 1000}k PRGs (×${g.prgs_x}): wall ×${g.wall_x}, CPU ×${g.cpu_x}, peak RSS ×${g.rss_x}`).join('; ')}.`);
  }
  p();
}
if (b.b5) {
  p(`B5: serial ${s(b.b5.serial?.wall_ms)} in ${b.b5.serial?.waves} waves, \`--parallel auto\` ${s(b.b5.auto?.wall_ms)} in ${b.b5.auto?.waves} waves; ratio ${Number(b.b5.ratio).toFixed(2)}.`);
  p();
}
for (const [k, e] of Object.entries(r.errors ?? {})) p(`${k.toUpperCase()} did not run: ${String(e).split('\n')[0]}`);
process.stdout.write(`${out.join('\n')}\n`);

function median(xs) {
  const v = [...xs].sort((x, y) => x - y);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
