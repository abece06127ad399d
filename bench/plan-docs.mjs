/**
 * Plan documents of one simulated cluster, saved and compared: that a change to planning
 * leaves `plan --json` as it was (issue 14: "plan --json documents stay identical for the
 * same cluster"). The simulator's cluster is deterministic for given sizes, so two saves,
 * e.g. one from a build before a change and one after, can be compared.
 *
 *   node bench/plan-docs.mjs save <dir> [prgs]      # plan --all, node-3, --parallel auto (--json) and --all --verbose (text)
 *   node bench/plan-docs.mjs compare <dirA> <dirB>  # exit 0 when all are identical
 *
 * Compared after normalising what differs between two simulators or two runs and nothing
 * else: run id, generated_at, step durations, the simulator's ports and temp dir, and
 * where the CLI is (the restart command names it; the text's column widths follow it, so
 * two trees compared by their text output sit at paths of the same length).
 * Default cluster: 1,000 virtual nodes on 10 racks, 100,000 PRGs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { runCli, startSim } from './lib.mjs';

export const DOCS = {
  'plan-all.json': ['plan', '--all', '--json'],
  'plan-node-3.json': ['plan', 'node-3', '--json'],
  'plan-auto.json': ['plan', '--all', '--parallel', 'auto', '--json'],
  'plan-all-verbose.txt': ['plan', '--all', '--verbose'],
};

const VOLATILE = new Set(['generated_at', 'duration_ms', 'run_id']);
const scrub = (s) =>
  s
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\/tmp\/qr-bench-[A-Za-z0-9]+/g, '/tmp/SIM')
    // The simulator's restart command (its choice, not the planner's): the whole CLI before issue 14, a small entry since.
    .replace(/"[^"]*\/dist\/cli\.js","sim","restart-node"/g, '"SIM-RESTART"')
    .replace(/"[^"]*\/dist\/sim\/restart-node\.js"/g, '"SIM-RESTART"')
    .replace(/\S*\/dist\/cli\.js sim restart-node/g, 'SIM-RESTART')
    .replace(/\S*\/dist\/sim\/restart-node\.js/g, 'SIM-RESTART')
    .replace(/\S*\/dist\/cli\.js/g, '…/dist/cli.js')
    .replace(/\d{8}T\d{6}-[0-9a-f]{6}/g, 'RUN-ID');

function normalise(x) {
  if (typeof x === 'string') return scrub(x);
  if (Array.isArray(x)) {
    // restart_argv of the simulator's restart command, in either form (see scrub)
    if (typeof x[1] === 'string' && /\/dist\/cli\.js$/.test(x[1]) && x[2] === 'sim' && x[3] === 'restart-node') return [x[0], 'SIM-RESTART', ...x.slice(4).map(normalise)];
    if (typeof x[1] === 'string' && /\/dist\/sim\/restart-node\.js$/.test(x[1])) return [x[0], 'SIM-RESTART', ...x.slice(2).map(normalise)];
    return x.map(normalise);
  }
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, VOLATILE.has(k) ? '…' : normalise(v)]));
  return x;
}

/** The document as compared: JSON normalised (key order kept), text scrubbed. */
export function comparable(text) {
  try {
    return JSON.stringify(normalise(JSON.parse(text)));
  } catch {
    return scrub(text);
  }
}

async function save(dir, prgs) {
  mkdirSync(dir, { recursive: true });
  const c = await startSim({ nodes: 1000, racks: 10, prgs, virtualNodes: true, sessionsPerNode: 100 });
  try {
    for (const [file, args] of Object.entries(DOCS)) {
      const r = await runCli([...args, '--config', c.sim.configPath], { timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`${args.join(' ')}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
      writeFileSync(join(dir, file), r.stdout);
      console.log(`${file}: ${r.stdout.length} bytes`);
    }
  } finally {
    await c.stop();
  }
}

function compare(a, b) {
  let same = true;
  for (const file of Object.keys(DOCS)) {
    const x = comparable(readFileSync(join(a, file), 'utf8'));
    const y = comparable(readFileSync(join(b, file), 'utf8'));
    if (x === y) {
      console.log(`${file}: identical`);
      continue;
    }
    same = false;
    let i = 0;
    while (x[i] === y[i]) i++;
    console.log(`${file}: DIFFERENT at character ${i}:\n  ${x.slice(Math.max(0, i - 120), i + 120)}\n  ${y.slice(Math.max(0, i - 120), i + 120)}`);
  }
  return same;
}

const [cmd, p1, p2] = process.argv.slice(2);
if (cmd === 'save' && p1) await save(p1, Number(p2 ?? 100_000));
else if (cmd === 'compare' && p1 && p2) process.exitCode = compare(p1, p2) ? 0 : 1;
else {
  console.error('usage: node bench/plan-docs.mjs save <dir> [prgs] | compare <dirA> <dirB>');
  process.exitCode = 2;
}
