/**
 * B3, start-up: `quantum-roll --help`, `quantum-roll plan node-3` (a 5-node simulator,
 * --json) and spawn → the first request of a `restart` (as the simulator records it)
 * against `node -e 0`, interleaved round by round so that load drifting on a shared
 * machine hits all alike; medians of ROUNDS runs each. The restart names a node the
 * cluster does not have (exit 2 after its first read, nothing changed, so every round
 * is the same): its first request is the one `restart node-3` sends, the cluster state
 * (B1 shows the same mark for real restarts as cli_startup).
 * Also lists the packages `--help` loads: none of undici, zod, pino, yaml, execa
 * may be among them (commands load lazily).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, DIST, ROOT, expectExit, median, ms, r2, runNode, startSim } from './lib.mjs';

const ROUNDS = 12;
const HEAVY = ['undici', 'zod', 'pino', 'yaml', 'execa', 'p-retry'];

async function packagesLoaded(args) {
  const dir = mkdtempSync(join(tmpdir(), 'qr-loads-'));
  const file = join(dir, 'loads');
  try {
    const r = await runNode(['--import', join(ROOT, 'bench', 'loads-hook.mjs'), CLI, ...args], { env: { QR_BENCH_LOADS_FILE: file } });
    expectExit(r, 0, `quantum-roll ${args.join(' ')}`);
    const urls = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    // The bundle (scripts/bundle.mjs) carries packages inside its files: its metafile says which.
    const meta = existsSync(join(DIST, 'bundle-meta.json')) ? JSON.parse(readFileSync(join(DIST, 'bundle-meta.json'), 'utf8')) : { outputs: {} };
    const pkgs = new Set();
    let own = 0;
    const files = [];
    for (const u of urls) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
      if (m) pkgs.add(m[1]);
      else if (u.includes('/dist/')) {
        own++;
        const out = meta.outputs[`dist/${u.split('/dist/')[1]}`];
        files.push(`dist/${u.split('/dist/')[1]}`);
        for (const input of Object.keys(out?.inputs ?? {})) {
          const p = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
          if (p) pkgs.add(p[1]);
        }
      }
    }
    return { modules: urls.length, own_modules: own, files, packages: [...pkgs].sort() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function b3() {
  const c = await startSim({ nodes: 5, racks: 3, prgs: 600, virtualNodes: true });
  try {
    const cases = {
      node_e_0: { args: ['-e', '0'], exit: 0 },
      help: { args: [CLI, '--help'], exit: 0 },
      plan_node_3: { args: [CLI, 'plan', 'node-3', '--json', '--config', c.sim.configPath], exit: 0 },
      // measured to its first request (below), not to its exit
      restart_first_request: { args: [CLI, 'restart', 'node-99', '--yes', '--json', '--config', c.sim.configPath], exit: 2 },
    };
    const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const firstRequest = async (r) => {
      const calls = (await c.sim.calls()).filter((x) => x.t >= r.t0 && x.t <= r.t1);
      if (!calls.length) throw new Error('B3: the simulator recorded no request of quantum-roll restart');
      return calls[0].t - r.t0;
    };
    // One unmeasured round warms the file cache.
    for (const { args } of Object.values(cases)) await runNode(args);
    for (let i = 0; i < ROUNDS; i++) {
      for (const [k, { args, exit }] of Object.entries(cases)) {
        const r = await runNode(args);
        expectExit(r, exit, `node ${args.join(' ')}`);
        times[k].push(k === 'restart_first_request' ? await firstRequest(r) : r.wallMs);
      }
    }
    const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    const help = await packagesLoaded(['--help']);
    const heavyInHelp = help.packages.filter((p) => HEAVY.includes(p));
    const ratio = med.help / med.node_e_0;
    const planRatio = med.plan_node_3 / med.node_e_0;
    const firstRatio = med.restart_first_request / med.node_e_0;
    const met = ratio <= 1.5 && planRatio <= 2.5 && firstRatio <= 2 && heavyInHelp.length === 0;
    return {
      name: 'B3 start-up',
      method: `median of ${ROUNDS} interleaved rounds (spawn → exit, output to files)`,
      baseline: 'node -e 0',
      median_ms: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, Math.round(v)])),
      runs_ms: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map(Math.round)])),
      help_ratio: r2(ratio),
      plan_node_3_ratio: r2(planRatio),
      restart_first_request_ratio: r2(firstRatio),
      help_loads: help,
      heavy_packages_in_help: heavyInHelp,
      target: 'plan node-3 ≤ 2.5×, spawn → a restart\'s first request ≤ 2×, --help ≤ 1.5× node -e 0; --help loads no heavy package',
      met,
      summary:
        `B3 start-up (${met ? 'met' : 'NOT met'}): --help ${ms(med.help)} vs node -e 0 ${ms(med.node_e_0)} → ${r2(ratio)}× (≤ 1.5; ` +
        `loads ${help.packages.join(', ') || 'no package'}) | plan node-3 ${ms(med.plan_node_3)} → ${r2(planRatio)}× (≤ 2.5) | ` +
        `restart: spawn → first request ${ms(med.restart_first_request)} → ${r2(firstRatio)}× (≤ 2)`,
    };
  } finally {
    await c.stop();
  }
}
