/**
 * `npm run bench`: the benchmarks of issue 7 (B1–B5), issue 11 (B6) and the LB drain detection moved out of the tests (B7), one after another. Each starts its
 * own simulator (in a separate process), measures, and prints one summary line with
 * its ratio against a baseline taken in the same run; the whole report goes to
 * bench/report.json (gitignored). BENCHMARKS.md explains the method and holds one run.
 *
 *   node bench/run.mjs [--only b1,b3] [--out bench/report.json]
 *
 * Exit code: 0 when every benchmark ran (a target not met is reported, not fatal),
 * 1 when one of them could not run.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { b1 } from './b1-overhead.mjs';
import { b2 } from './b2-transfers.mjs';
import { b3 } from './b3-startup.mjs';
import { b4 } from './b4-size.mjs';
import { b5 } from './b5-waves.mjs';
import { b6 } from './b6-mqtt.mjs';
import { b7 } from './b7-lb-detection.mjs';
import { ROOT, loadavg, machine, r2, requireBuild } from './lib.mjs';

const ALL = { b1, b2, b3, b4, b5, b6, b7 };

function option(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * How much of a core this process gets right now: wall ÷ CPU time of a fixed busy
 * loop (1.0 = a core to itself; 3 = it ran a third of the time). Machines here are
 * shared; the report says how contended this one was.
 */
function contention() {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let x = 0;
  for (let i = 0; i < 30_000_000; i++) x = (x + i * 7) % 1_000_003;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1000;
  return { factor: r2((performance.now() - t0) / Math.max(1, cpu)), cpu_ms: Math.round(cpu), checksum: x };
}

async function main() {
  requireBuild();
  const only = (option('--only') ?? Object.keys(ALL).join(','))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const k of only) if (!(k in ALL)) throw new Error(`unknown benchmark "${k}" (have: ${Object.keys(ALL).join(', ')})`);
  const out = option('--out') ?? join(ROOT, 'bench', 'report.json');
  const started = performance.now();
  const report = {
    started_at: new Date().toISOString(),
    machine: machine(),
    contention_at_start: contention(),
    results: {},
    errors: {},
  };
  console.log(`quantum-roll bench: node ${report.machine.node}, ${report.machine.cpus} CPUs, ${report.machine.memory_gb} GB, load ${report.machine.loadavg_at_start?.join(' ')}, contention ×${report.contention_at_start.factor}`);
  for (const k of only) {
    const t = performance.now();
    try {
      const r = await ALL[k]();
      r.duration_s = Math.round((performance.now() - t) / 100) / 10;
      report.results[k] = r;
      console.log(r.summary);
    } catch (err) {
      report.errors[k] = String(err?.stack ?? err);
      console.log(`${k.toUpperCase()} could not run: ${err?.message ?? err}`);
    }
  }
  report.contention_at_end = contention();
  report.loadavg_at_end = loadavg();
  report.duration_s = Math.round((performance.now() - started) / 100) / 10;
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`done in ${report.duration_s} s (load at end ${report.loadavg_at_end?.join(' ')}, contention ×${report.contention_at_end.factor}); report: ${out}`);
  return Object.keys(report.errors).length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err?.stack ?? err);
    process.exit(1);
  },
);
