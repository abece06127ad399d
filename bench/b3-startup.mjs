/**
 * B3, start-up: `quantum-roll --help`, `quantum-roll plan node-3` (a 5-node simulator,
 * --json) and spawn → the first request of a `restart` (as the simulator records it)
 * against `node -e 0`, interleaved round by round so that load drifting on a shared
 * machine hits all alike; medians of ROUNDS runs each. The restart names a node the
 * cluster does not have (exit 2 after its first read, nothing changed, so every round
 * is the same): its first request is the one `restart node-3` sends, the cluster state
 * (B1 shows the same mark for real restarts as cli_startup).
 * Each case runs twice per round: in the machine's environment and with
 * NODE_EXTRA_CA_CERTS unset (see ENVS); the targets are judged on the first.
 * Also lists the packages `--help` loads: none of undici, zod, pino, yaml, execa
 * may be among them (commands load lazily).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { CLI, DIST, ROOT, expectExit, loadavg, median, ms, r2, runNode, startSim } from './lib.mjs';

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

/**
 * The machine's environment, and the same without NODE_EXTRA_CA_CERTS: Node 20 reads
 * and parses that bundle at every start (Node 22 and later when a TLS context first
 * needs it), which inflates `node -e 0` on machines that export it. Both sides of a
 * ratio always run in the same one. The figures of record (targets) are against the
 * machine as it runs (`machine`); `clean` is stated beside them.
 */
export const ENVS = {
  machine: {},
  clean: { NODE_EXTRA_CA_CERTS: undefined },
};

/**
 * Rounds of interleaved runs: `node -e 0` in each environment, and per variant (a built
 * CLI, optionally with extra environment) `plan node-3 --json` and spawn → a restart's
 * first request in each environment (`--help` for the first variant only). A variant
 * is `{ name, cli, env }`; bench/levers.mjs passes several (before/after builds).
 */
export async function startupRounds(c, variants, rounds = ROUNDS) {
  const cases = {};
  for (const [e, env] of Object.entries(ENVS)) cases[`node_e_0.${e}`] = { args: ['-e', '0'], exit: 0, env };
  variants.forEach(({ name, cli, env: extra = {} }, i) => {
    for (const [e, base] of Object.entries(ENVS)) {
      const env = { ...base, ...extra };
      if (i === 0) cases[`help.${name}.${e}`] = { args: [cli, '--help'], exit: 0, env };
      cases[`plan_node_3.${name}.${e}`] = { args: [cli, 'plan', 'node-3', '--json', '--config', c.sim.configPath], exit: 0, env };
      // measured to its first request (below), not to its exit
      cases[`restart_first_request.${name}.${e}`] = { args: [cli, 'restart', 'node-99', '--yes', '--json', '--config', c.sim.configPath], exit: 2, env, first: true };
    }
  });
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  // CPU time of each whole process (all its threads) and its peak RSS, from a second run
  // with the maxrss preload: on a loaded machine CPU time is the steadier figure.
  const cpu = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const rss = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const firstRequest = async (r) => {
    const calls = (await c.sim.calls()).filter((x) => x.t >= r.t0 && x.t <= r.t1);
    if (!calls.length) throw new Error('B3: the simulator recorded no request of quantum-roll restart');
    return calls[0].t - r.t0;
  };
  // One unmeasured round warms the file cache.
  for (const { args, env } of Object.values(cases)) await runNode(args, { env });
  const load = [loadavg()];
  for (let i = 0; i < rounds; i++) {
    for (const [k, { args, exit, env, first }] of Object.entries(cases)) {
      const r = await runNode(args, { env });
      expectExit(r, exit, `node ${args.join(' ')}`);
      times[k].push(first ? await firstRequest(r) : r.wallMs);
      // The same again with the preload, for its CPU time and peak RSS (its wall is not used:
      // an --import costs `node -e 0` more than a CLI that loads ES modules anyway).
      const u = await runNode(args, { env, rss: true });
      expectExit(u, exit, `node ${args.join(' ')}`);
      if (u.cpuMs !== undefined) cpu[k].push(u.cpuMs);
      if (u.maxRssMb !== undefined) rss[k].push(u.maxRssMb);
    }
  }
  load.push(loadavg());
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const cpuMed = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.length ? Math.round(median(v)) : null]));
  const rssMed = Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, v.length ? Math.round(median(v)) : null]));
  const ratios = {};
  const cpuRatios = {};
  for (const k of Object.keys(med)) {
    if (k.startsWith('node_e_0.')) continue;
    const e = k.slice(k.lastIndexOf('.') + 1);
    ratios[k] = r2(med[k] / med[`node_e_0.${e}`]);
    if (cpuMed[k] && cpuMed[`node_e_0.${e}`]) cpuRatios[k] = r2(cpuMed[k] / cpuMed[`node_e_0.${e}`]);
  }
  return { med, times, ratios, cpu_ms: cpuMed, cpu_ratios: cpuRatios, peak_rss_mb: rssMed, load };
}

export async function b3() {
  const c = await startSim({ nodes: 5, racks: 3, prgs: 600, virtualNodes: true });
  try {
    const { med, times, ratios, cpu_ms, cpu_ratios, peak_rss_mb, load } = await startupRounds(c, [{ name: 'cli', cli: CLI }]);
    const help = await packagesLoaded(['--help']);
    const heavyInHelp = help.packages.filter((p) => HEAVY.includes(p));
    const ratio = ratios['help.cli.machine'];
    const planRatio = ratios['plan_node_3.cli.machine'];
    const firstRatio = ratios['restart_first_request.cli.machine'];
    const met = ratio <= 1.5 && planRatio <= 2.5 && firstRatio <= 2 && heavyInHelp.length === 0;
    const clean = (k) => `${ms(med[`${k}.cli.clean`])} → ${ratios[`${k}.cli.clean`]}×`;
    return {
      name: 'B3 start-up',
      method: `median of ${ROUNDS} interleaved rounds (spawn → exit, output to files), each case in the machine's environment and with NODE_EXTRA_CA_CERTS unset (both sides)`,
      baseline: 'node -e 0 in the same environment; the targets are judged against the machine as it runs (`machine`), `clean` is stated beside',
      node_extra_ca_certs: process.env.NODE_EXTRA_CA_CERTS ?? null,
      loadavg: load,
      median_ms: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, Math.round(v)])),
      runs_ms: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map(Math.round)])),
      ratios,
      cpu_ms,
      cpu_ratios,
      peak_rss_mb,
      help_ratio: ratio,
      plan_node_3_ratio: planRatio,
      restart_first_request_ratio: firstRatio,
      help_loads: help,
      heavy_packages_in_help: heavyInHelp,
      target: 'against node -e 0 as the machine runs it: plan node-3 ≤ 2.5×, spawn → a restart\'s first request ≤ 2×, --help ≤ 1.5×; --help loads no heavy package',
      met,
      summary:
        `B3 start-up (${met ? 'met' : 'NOT met'}; vs node -e 0 as the machine runs it, ${ms(med['node_e_0.machine'])}): --help ${ms(med['help.cli.machine'])} → ${ratio}× (≤ 1.5; ` +
        `loads ${help.packages.join(', ') || 'no package'}) | plan node-3 ${ms(med['plan_node_3.cli.machine'])} → ${planRatio}× (≤ 2.5) | ` +
        `restart: spawn → first request ${ms(med['restart_first_request.cli.machine'])} → ${firstRatio}× (≤ 2) || ` +
        `clean (no NODE_EXTRA_CA_CERTS, node -e 0 ${ms(med['node_e_0.clean'])}): --help ${clean('help')}, plan node-3 ${clean('plan_node_3')}, first request ${clean('restart_first_request')}`,
    };
  } finally {
    await c.stop();
  }
}
