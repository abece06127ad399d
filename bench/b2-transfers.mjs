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
import { setTimeout } from 'node:timers';
import { dist, expectExit, json, ms, now, r2, runCli, startSim } from './lib.mjs';

const NODES = 6;
const LED = 3000;
const CP_CONCURRENCY = 64;
const SERVICE_MS = 20;

async function cluster(faults) {
  // Six nodes on three racks, leaders spread evenly: node-1 leads exactly 3,000 PRGs.
  return startSim({ nodes: NODES, racks: 3, prgs: NODES * LED, virtualNodes: true, sessionsPerNode: 10, faults });
}

async function defaults() {
  const { configSchema } = await dist('config/schema.js');
  return configSchema.parse({ control_plane: { url: 'http://127.0.0.1:1' }, restart: { command: ['true'] } }).leader_transfer;
}

async function inProcess({ concurrency, batchMaxParallel, faults }) {
  const { ControlPlaneClient } = await dist('clients/control-plane.js');
  const { createDispatcher } = await dist('clients/dispatcher.js');
  const { transferLeadersAway } = await dist('steps/transfer.js');
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
 * The measured baseline: the least any client can do against this CP — a bare undici
 * loop that already knows the CP serves 64 at once, keeps exactly 64 in flight, checks
 * nothing, and then lists until the node leads none.
 */
async function ideal(faults) {
  const { Agent, request } = await import('undici');
  const c = await cluster(faults);
  const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });
  try {
    const led = async () => {
      const ids = [];
      let cursor = null;
      do {
        const r = await request(`${c.sim.cpUrl}/v1/prgs?leader=node-1&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { dispatcher: agent });
        const page = await r.body.json();
        for (const p of page.items) ids.push(p.id);
        cursor = page.next_cursor;
      } while (cursor);
      return ids;
    };
    const simCpu0 = await c.sim.cpuMs();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const ids = await led();
    let next = 0;
    let retried = 0;
    await Promise.all(
      Array.from({ length: CP_CONCURRENCY }, async () => {
        while (next < ids.length) {
          const id = ids[next++];
          for (;;) {
            const r = await request(`${c.sim.cpUrl}/v1/prgs/${id}/leader-transfer`, {
              method: 'POST',
              dispatcher: agent,
              headers: { 'content-type': 'application/json' },
              body: '{"exclude":["node-1"]}',
            });
            await r.body.dump();
            if (r.statusCode !== 503) break;
            retried++;
          }
        }
      }),
    );
    while ((await led()).length > 0) await new Promise((r) => setTimeout(r, 5));
    const wallMs = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { wallMs, retried, client_cpu_ms: Math.round((cpu.user + cpu.system) / 1000), sim_cpu_ms: Math.round((await c.sim.cpuMs()) - simCpu0) };
  } finally {
    await agent.close();
    await c.stop();
  }
}

async function viaCli() {
  const c = await cluster({ noBatch: true, transferConcurrency: CP_CONCURRENCY, transferServiceMs: SERVICE_MS });
  try {
    const r = await runCli(['transfer-leaders', 'node-1', '--yes', '--json', '--config', c.sim.configPath]);
    expectExit(r, 0, 'quantum-roll transfer-leaders node-1');
    const calls = (await c.sim.calls()).filter((x) => x.t >= r.t0 && x.t <= r.t1);
    const first = calls[0]?.t ?? r.t0;
    return { wallMs: r.wallMs, startupMs: first - r.t0, moved: json(r)?.nodes?.[0]?.steps?.find?.((s) => s.step === 'leader-transfer')?.data?.prgs?.length };
  } finally {
    await c.stop();
  }
}

export async function b2() {
  const d = await defaults();
  const baseline = Math.ceil(LED / CP_CONCURRENCY) * SERVICE_MS;
  const cpFaults = { noBatch: true, transferConcurrency: CP_CONCURRENCY, transferServiceMs: SERVICE_MS };
  const floor = await ideal(cpFaults);
  const perPrg = await inProcess({ concurrency: d.concurrency, batchMaxParallel: d.batch_max_parallel, faults: cpFaults });
  const wide = await inProcess({ concurrency: 256, batchMaxParallel: d.batch_max_parallel, faults: cpFaults });
  // Batch: the CP moves them itself, 64 at a time, 20 ms each.
  const batch = await inProcess({ concurrency: d.concurrency, batchMaxParallel: 64, faults: { transferDelayMs: SERVICE_MS } });
  const cli = await viaCli();
  const ratio = perPrg.wallMs / baseline;
  const result = {
    name: 'B2 leadership at scale',
    method: 'in-process transferLeadersAway (dist/steps/transfer.js) with the CLI\'s ControlPlaneClient; CLI run for context',
    led: LED,
    cp: { batch: false, concurrency: CP_CONCURRENCY, service_ms: SERVICE_MS },
    baseline_ms: baseline,
    measured_floor: { wall_ms: Math.round(floor.wallMs), retried_503: floor.retried, client_cpu_ms: floor.client_cpu_ms, sim_cpu_ms: floor.sim_cpu_ms, ratio: r2(floor.wallMs / baseline) },
    default_concurrency: d.concurrency,
    per_prg: { ...perPrg, ratio: r2(ratio), ratio_to_measured_floor: r2(perPrg.wallMs / floor.wallMs) },
    per_prg_ceiling_256: { ...wide, ratio: r2(wide.wallMs / baseline) },
    batch: { ...batch, max_parallel: 64, transfer_ms: SERVICE_MS, ratio: r2(batch.wallMs / baseline) },
    cli: { ...cli, ratio: r2(cli.wallMs / baseline) },
    target: '≤ 1.3',
    met: ratio <= 1.3,
  };
  result.summary =
    `B2 leadership: 3000 PRGs, CP 64×20ms, no batch: ${ms(perPrg.wallMs)} vs ${ms(baseline)} → ratio ${r2(ratio)} (target ≤ 1.3, ${result.met ? 'met' : 'NOT met'}; ` +
    `${perPrg.requests} requests, ${perPrg.rejected_503} × 503; bare client here: ${r2(floor.wallMs / baseline)}, so ours ÷ bare ${r2(perPrg.wallMs / floor.wallMs)}) | ` +
    `ceiling 256: ${r2(wide.wallMs / baseline)} (${wide.rejected_503} × 503) | batch: ${r2(batch.wallMs / baseline)} | via CLI: ${r2(cli.wallMs / baseline)}`;
  return result;
}
