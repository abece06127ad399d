/**
 * B3, start-up: `quantum-roll --help` and `quantum-roll plan node-3` (a 5-node
 * simulator, --json) against `node -e 0`, interleaved round by round so that load
 * drifting on a shared machine hits all three alike; medians of ROUNDS runs each.
 * Also lists the packages `--help` loads: none of undici, zod, pino, yaml, execa
 * may be among them (commands load lazily).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT, expectExit, median, ms, r2, runNode, startSim } from './lib.mjs';

const ROUNDS = 12;
const HEAVY = ['undici', 'zod', 'pino', 'yaml', 'execa', 'p-retry'];

async function packagesLoaded(args) {
  const dir = mkdtempSync(join(tmpdir(), 'qr-loads-'));
  const file = join(dir, 'loads');
  try {
    const r = await runNode(['--import', join(ROOT, 'bench', 'loads-hook.mjs'), CLI, ...args], { env: { QR_BENCH_LOADS_FILE: file } });
    expectExit(r, 0, `quantum-roll ${args.join(' ')}`);
    const urls = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const pkgs = new Set();
    let own = 0;
    for (const u of urls) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
      if (m) pkgs.add(m[1]);
      else if (u.includes('/dist/')) own++;
    }
    return { modules: urls.length, own_modules: own, packages: [...pkgs].sort() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function b3() {
  const c = await startSim({ nodes: 5, racks: 3, prgs: 600, virtualNodes: true });
  try {
    const cases = {
      node_e_0: ['-e', '0'],
      help: [CLI, '--help'],
      plan_node_3: [CLI, 'plan', 'node-3', '--json', '--config', c.sim.configPath],
    };
    const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    // One unmeasured round warms the file cache.
    for (const args of Object.values(cases)) await runNode(args);
    for (let i = 0; i < ROUNDS; i++) {
      for (const [k, args] of Object.entries(cases)) {
        const r = await runNode(args);
        expectExit(r, 0, `node ${args.join(' ')}`);
        times[k].push(r.wallMs);
      }
    }
    const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    const help = await packagesLoaded(['--help']);
    const heavyInHelp = help.packages.filter((p) => HEAVY.includes(p));
    const ratio = med.help / med.node_e_0;
    const planRatio = med.plan_node_3 / med.node_e_0;
    const met = ratio <= 2 && heavyInHelp.length === 0;
    return {
      name: 'B3 start-up',
      method: `median of ${ROUNDS} interleaved rounds (spawn → exit, output to files)`,
      baseline: 'node -e 0',
      median_ms: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, Math.round(v)])),
      runs_ms: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map(Math.round)])),
      help_ratio: r2(ratio),
      plan_node_3_ratio: r2(planRatio),
      help_loads: help,
      heavy_packages_in_help: heavyInHelp,
      target: '--help ≤ 2× node -e 0, no heavy package loaded',
      met,
      summary:
        `B3 start-up: --help ${ms(med.help)} vs node -e 0 ${ms(med.node_e_0)} → ratio ${r2(ratio)} (target ≤ 2, ${met ? 'met' : 'NOT met'}; ` +
        `loads ${help.packages.join(', ') || 'no package'}) | plan node-3 ${ms(med.plan_node_3)} → ${r2(planRatio)}×`,
    };
  } finally {
    await c.stop();
  }
}
