/**
 * Issue 21's start-up levers, each on its own, in one run: B3's interleaved rounds
 * (bench/b3-startup.mjs `startupRounds`) over several builds of the CLI and
 * environment switches, against `node -e 0` as the machine runs it and with
 * NODE_EXTRA_CA_CERTS unset.
 *
 *   node bench/levers.mjs [--rounds N] [--out FILE] [--config json] name=DIST[:VAR=VALUE,...] ...
 *
 * e.g. `before=.builds/before zod-ns=.builds/zodns flags-off=dist:QUANTUM_ROLL_LATE_V8_FLAGS=0 all=dist`
 * (a DIST is a copy of `dist/` after `npm run build` on the tree to measure, kept inside
 * the checkout so that packages resolve). Prints a table of medians and ratios; the
 * JSON goes to FILE (default bench/report-levers.json, gitignored). `--config json`: the
 * commands read the simulator's config converted to JSON (the same settings), for the
 * lever that reads a plain JSON config without the YAML parser.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { ROOT, loadavg, machine, requireBuild, startSim } from './lib.mjs';
import { ENVS, startupRounds } from './b3-startup.mjs';

function option(name) {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  process.argv.splice(i, 2);
  return v;
}

requireBuild();
const rounds = Number(option('--rounds') ?? 12);
const configKind = option('--config') ?? 'yaml';
if (!['yaml', 'json'].includes(configKind)) throw new Error('--config is yaml or json');
const out = option('--out') ?? join(ROOT, 'bench', 'report-levers.json');
const variants = process.argv.slice(2).map((spec) => {
  const [name, rest] = spec.split(/=(.*)/s);
  const [dir, vars = ''] = rest.split(/:(.*)/s);
  const env = Object.fromEntries(vars.split(',').filter(Boolean).map((kv) => kv.split(/=(.*)/s)));
  return { name, cli: join(resolve(ROOT, dir), 'cli.js'), env };
});
if (!variants.length) throw new Error('name at least one variant: name=DIST[:VAR=VALUE,...]');
const started = new Date().toISOString();
// The machine as it was at the start (its load average then); the end's load is loadavg_at_end.
const atStart = machine();
const sim = await startSim({ nodes: 5, racks: 3, prgs: 600, virtualNodes: true });
let c = sim;
if (configKind === 'json') {
  const { parse } = await import('yaml');
  const configPath = sim.sim.configPath.replace(/\.ya?ml$/, '') + '.json';
  writeFileSync(configPath, `${JSON.stringify(parse(readFileSync(sim.sim.configPath, 'utf8')), null, 2)}\n`);
  c = { ...sim, sim: { ...sim.sim, configPath } };
}
try {
  const r = await startupRounds(c, variants, rounds);
  const report = { started_at: started, machine: atStart, rounds, config: configKind, variants, ...r, loadavg_at_end: loadavg() };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`levers: ${rounds} rounds, ${configKind} config, load ${r.load.map((l) => l?.join(' ')).join(' → ')}`);
  for (const e of Object.keys(ENVS)) console.log(`node -e 0 (${e}): ${Math.round(r.med[`node_e_0.${e}`])} ms, ${r.cpu_ms[`node_e_0.${e}`]} ms CPU, ${r.peak_rss_mb[`node_e_0.${e}`]} MB`);
  console.log('| variant | env | plan node-3 wall | × | CPU | × | peak RSS | first request | × | CPU of that run | × |');
  for (const { name } of variants) {
    for (const e of Object.keys(ENVS)) {
      const p = `plan_node_3.${name}.${e}`;
      const f = `restart_first_request.${name}.${e}`;
      console.log(`| ${name} | ${e} | ${Math.round(r.med[p])} ms | ${r.ratios[p]} | ${r.cpu_ms[p]} ms | ${r.cpu_ratios[p]} | ${r.peak_rss_mb[p]} MB | ${Math.round(r.med[f])} ms | ${r.ratios[f]} | ${r.cpu_ms[f]} ms | ${r.cpu_ratios[f]} |`);
    }
  }
  console.log(`report: ${out}`);
} finally {
  await sim.stop();
}
process.exit(0);
