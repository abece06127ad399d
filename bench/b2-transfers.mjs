/**
 * B2, leadership at scale: a node leading 3,000 PRGs; a CP without the batch endpoint
 * that serves at most 64 per-PRG transfers at once, 20 ms each (the excess gets 503).
 * Baseline: ceil(3000 / 64) × 20 ms, the least time that CP needs for them.
 *
 * Measured in-process: `transferLeadersAway` of `dist/steps/transfer.js` with a
 * `ControlPlaneClient` built as the CLI builds it (keep-alive undici pool), with the
 * shipped default `leader_transfer.concurrency`. Wall time runs from the first
 * request (listing what the node leads) to the CP showing it leads none. Also:
 * the same with a ceiling of 256 (the window must find the CP's 64 by itself), the
 * batch endpoint (CP-side max_parallel 64, 20 ms per transfer), and the whole CLI
 * (`quantum-roll transfer-leaders node-1`, process start-up and lease included).
 * Measured baseline in the same run: a bare client that knows the CP's limit (below),
 * since on a busy machine even that misses ceil(3000/64) × 20 ms.
 */
import process from 'node:process';
import { join } from 'node:path';
import { ROOT, expectExit, json, loadavg, median, ms, now, r2, r3, runNode, startSim, variantsFrom } from './lib.mjs';

/** The CLIs measured (lib.mjs `variantsFrom`, $QR_B2_VARIANTS); the first is judged. */
const VARIANTS = variantsFrom(process.env.QR_B2_VARIANTS);
const dist = (v, path) => import(join(v.dist, path));

const NODES = 6;
const LED = 3000;
const CP_CONCURRENCY = 64;
const SERVICE_MS = 20;

async function cluster(faults) {
  // Six nodes on three racks, leaders spread evenly: node-1 leads exactly 3,000 PRGs.
  return startSim({ nodes: NODES, racks: 3, prgs: NODES * LED, virtualNodes: true, sessionsPerNode: 10, faults });
}

async function defaults() {
  const { configSchema } = await dist(VARIANTS[0], 'config/schema.js');
  return configSchema.parse({ control_plane: { url: 'http://127.0.0.1:1' }, restart: { command: ['true'] } }).leader_transfer;
}

async function inProcess({ concurrency, batchMaxParallel, faults }, v = VARIANTS[0]) {
  const { ControlPlaneClient } = await dist(v, 'clients/control-plane.js');
  const { createDispatcher } = await dist(v, 'clients/dispatcher.js');
  const { transferLeadersAway } = await dist(v, 'steps/transfer.js');
  const c = await cluster(faults);
  try {
    // The CLI's CP client: one keep-alive pool of up to 128 connections (commands/session.ts).
    const pool = createDispatcher({}, 128);
    const cp = new ControlPlaneClient({ baseUrl: c.sim.cpUrl, dispatcher: pool, requestTimeoutMs: 10_000, retryBudgetMs: 10_000 });
    const led = (await cp.listPrgs({ leader: 'node-1' })).length;
    if (led !== LED) throw new Error(`node-1 leads ${led} PRGs, expected ${LED}`);
    const simCpu0 = await c.sim.cpuMs();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const out = await transferLeadersAway(cp, { node: 'node-1', exclude: [], deadline: Date.now() + 60_000, concurrency, batchMaxParallel });
    const t1 = now();
    const cpu = process.cpuUsage(cpu0);
    const simCpu = (await c.sim.cpuMs()) - simCpu0;
    await pool.close();
    const calls = (await c.sim.calls()).filter((x) => x.t >= t0 && x.t <= t1);
    const posts = calls.filter((x) => x.method === 'POST' && x.path.includes('/leader-transfer'));
    return {
      wallMs: t1 - t0,
      via: out.via,
      moved: out.moved.length,
      requests: posts.length,
      rejected_503: posts.filter((x) => x.status === 503).length,
      polls: calls.filter((x) => x.method === 'GET').length,
      client_cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
      sim_cpu_ms: Math.round(simCpu),
    };
  } finally {
    await c.stop();
  }
}

/**
 * One whole process against a fresh simulator: spawn → exit, and where its time went,
 * from the simulator's record of the calls it received: start-up (spawn → first
 * request), reads before the first transfer, the transfers (first POST → last answer),
 * the wait for the CP to show none led (→ last request) and the exit (→ process end).
 */
async function wholeProcess(run) {
  const c = await cluster({ noBatch: true, transferConcurrency: CP_CONCURRENCY, transferServiceMs: SERVICE_MS });
  try {
    const simCpu0 = await c.sim.cpuMs();
    const r = await run(c);
    const simCpu = (await c.sim.cpuMs()) - simCpu0;
    const calls = (await c.sim.calls()).filter((x) => x.t >= r.t0 && x.t <= r.t1);
    const posts = calls.filter((x) => x.method === 'POST' && x.path.endsWith('/leader-transfer'));
    if (posts.length < LED) throw new Error(`B2: ${posts.length} transfer requests recorded, expected at least ${LED}`);
    // The record has each call's arrival (t) and answer (t_end).
    const end = (xs) => Math.max(...xs.map((x) => x.t_end ?? x.t));
    const firstPost = posts[0].t;
    const lastPost = end(posts);
    const first = calls[0].t;
    const last = end(calls);
    return {
      wall_ms: Math.round(r.wallMs),
      cpu_ms: r.cpuMs === undefined ? null : Math.round(r.cpuMs),
      sim_cpu_ms: Math.round(simCpu),
      requests: posts.length,
      rejected_503: posts.filter((x) => x.status === 503).length,
      other_requests: calls.length - posts.length,
      phases_ms: {
        startup: Math.round(first - r.t0),
        before_first_transfer: Math.round(Math.max(0, firstPost - first)),
        transfers: Math.round(lastPost - firstPost),
        until_none_led: Math.round(last - lastPost),
        exit: Math.round(r.t1 - last),
      },
    };
  } finally {
    await c.stop();
  }
}

/** The bare client of bench/b2-bare.mjs: undici, no checks, told the CP's limit. */
const bare = () =>
  wholeProcess(async (c) => {
    const r = await runNode([join(ROOT, 'bench', 'b2-bare.mjs'), c.sim.cpUrl, 'node-1', String(CP_CONCURRENCY)], { rss: true });
    expectExit(r, 0, 'bench/b2-bare.mjs');
    return r;
  });

/** `quantum-roll transfer-leaders node-1`, as an operator runs it (config as generated, lease, journal, run log). */
const cli = (v) =>
  wholeProcess(async (c) => {
    const r = await runNode([v.cli, 'transfer-leaders', 'node-1', '--yes', '--json', '--config', c.sim.configPath], { rss: true, env: v.env });
    expectExit(r, 0, 'quantum-roll transfer-leaders node-1');
    const moved = json(r)?.nodes?.[0]?.steps?.find?.((s) => s.step === 'leader-transfer')?.data?.prgs?.length;
    if (moved !== undefined && moved !== LED) throw new Error(`B2: the CLI moved ${moved} PRGs, expected ${LED}`);
    return r;
  });

const ROUNDS = 3;

export async function b2() {
  const d = await defaults();
  const baseline = Math.ceil(LED / CP_CONCURRENCY) * SERVICE_MS;
  const cpFaults = { noBatch: true, transferConcurrency: CP_CONCURRENCY, transferServiceMs: SERVICE_MS };
  // Each other build's transfer loop in this process, beside the first's: CPU per 3,000 transfers.
  const loops = {};
  if (VARIANTS.length > 1 || process.env.QR_B2_LOOPS_ONLY === '1') {
    for (let i = 0; i < ROUNDS; i++) {
      // Every other round in reverse order: no build always runs first (JIT warm-up of shared code).
      for (const v of i % 2 ? [...VARIANTS].reverse() : VARIANTS) {
        const x = await inProcess({ concurrency: d.concurrency, batchMaxParallel: d.batch_max_parallel, faults: cpFaults }, v);
        (loops[v.name] ??= []).push({ wall_ms: Math.round(x.wallMs), cpu_ms: x.client_cpu_ms, load_1m: loadavg()?.[0] });
      }
    }
  }
  if (process.env.QR_B2_LOOPS_ONLY === '1') {
    // Only the transfer loops (CPU per 3,000 transfers of each build): what a loaded machine still measures.
    const m = Object.entries(loops).map(([k, xs]) => `${k} ${median(xs.map((x) => x.cpu_ms))} ms CPU / ${median(xs.map((x) => x.wall_ms))} ms`).join(', ');
    return { name: 'B2 leadership at scale (transfer loops only)', variants: VARIANTS.map((v) => v.name), in_process_loops: loops, summary: `B2 transfer loops, in-process, median of ${ROUNDS}: ${m}` };
  }
  // The target: the whole CLI process against the whole bare process, interleaved, median of ROUNDS.
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const load = loadavg()?.[0];
    const b = await bare();
    const q = await cli(VARIANTS[0]);
    const others = {};
    for (const v of VARIANTS.slice(1)) {
      const o = await cli(v);
      others[v.name] = { wall_ms: o.wall_ms, ratio: r3(o.wall_ms / b.wall_ms), phases_ms: o.phases_ms, cpu_ms: o.cpu_ms };
    }
    rounds.push({ load_1m: load, bare: b, cli: q, ratio: r3(q.wall_ms / b.wall_ms), ...(VARIANTS.length > 1 ? { variants: others } : {}) });
  }
  const ratio = median(rounds.map((x) => x.ratio));
  const mid = rounds.find((x) => x.ratio === ratio) ?? rounds[0];
  // Context, in this process: the transfer loop alone with the CLI's client (no start-up), per-PRG and batch.
  const perPrg = await inProcess({ concurrency: d.concurrency, batchMaxParallel: d.batch_max_parallel, faults: cpFaults });
  const wide = await inProcess({ concurrency: 256, batchMaxParallel: d.batch_max_parallel, faults: cpFaults });
  const batch = await inProcess({ concurrency: d.concurrency, batchMaxParallel: 64, faults: { transferDelayMs: SERVICE_MS } });
  const phase = (k) => median(rounds.map((x) => x.cli.phases_ms[k] - x.bare.phases_ms[k]));
  const met = ratio <= 1.05;
  const result = {
    name: 'B2 leadership at scale',
    method:
      `whole processes, interleaved, median of ${ROUNDS}: quantum-roll transfer-leaders node-1 (spawn → exit) vs bench/b2-bare.mjs (a bare undici client that knows the CP's limit), each against a fresh simulator; ` +
      'in-process transferLeadersAway with the CLI\'s ControlPlaneClient for context',
    led: LED,
    cp: { batch: false, concurrency: CP_CONCURRENCY, service_ms: SERVICE_MS },
    formula_ms: baseline,
    default_concurrency: d.concurrency,
    variants: VARIANTS.map((v) => v.name),
    rounds,
    ratio,
    variant_ratios: Object.fromEntries(VARIANTS.slice(1).map((v) => [v.name, median(rounds.map((x) => x.variants[v.name].ratio))])),
    in_process_loops: loops,
    cli_minus_bare_ms: Object.fromEntries(Object.keys(mid.cli.phases_ms).map((k) => [k, phase(k)])),
    cli_ratio_to_formula: r2(median(rounds.map((x) => x.cli.wall_ms)) / baseline),
    bare_ratio_to_formula: r2(median(rounds.map((x) => x.bare.wall_ms)) / baseline),
    in_process: {
      per_prg: { ...perPrg, ratio: r2(perPrg.wallMs / baseline) },
      per_prg_ceiling_256: { ...wide, ratio: r2(wide.wallMs / baseline) },
      batch: { ...batch, max_parallel: 64, transfer_ms: SERVICE_MS, ratio: r2(batch.wallMs / baseline) },
    },
    target: '≤ 1.05 × the bare process',
    met,
  };
  const c = mid.cli.phases_ms;
  const b = mid.bare.phases_ms;
  const others = VARIANTS.slice(1).map((v) => ` | ${v.name}: ratio ${result.variant_ratios[v.name]}`).join('');
  const loopCpu = Object.entries(loops).map(([k, xs]) => `${k} ${median(xs.map((x) => x.cpu_ms))} ms CPU / ${median(xs.map((x) => x.wall_ms))} ms`).join(', ');
  result.summary =
    `B2 leadership: 3000 PRGs, CP 64×20ms, no batch: transfer-leaders ${ms(mid.cli.wall_ms)} vs bare undici process ${ms(mid.bare.wall_ms)} → ratio ${ratio} (target ≤ 1.05, ${met ? 'met' : 'NOT met'}; median of ${ROUNDS}) | ` +
    `phases CLI/bare: start-up ${c.startup}/${b.startup}, reads ${c.before_first_transfer}/${b.before_first_transfer}, transfers ${c.transfers}/${b.transfers}, until none led ${c.until_none_led}/${b.until_none_led}, exit ${c.exit}/${b.exit} ms | ` +
    `formula ${ms(baseline)}: CLI ${result.cli_ratio_to_formula}, bare ${result.bare_ratio_to_formula} | in-process loop ${r2(perPrg.wallMs / baseline)}, ceiling 256 ${r2(wide.wallMs / baseline)} (${wide.rejected_503} × 503), batch ${r2(batch.wallMs / baseline)}${others}${loopCpu ? ` | in-process loop per build (median): ${loopCpu}` : ''}`;
  return result;
}
