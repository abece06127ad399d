/**
 * B4, size: `plan --all --json`, `status --json` and `restart --all --yes` up to its first
 * change, against a virtual-nodes simulator of 1,000 nodes on 10 racks with 1k, 10k and
 * 100k PRGs, each against two control planes: the simulator's, and
 * bench/full-shape-cp.mjs in front of it (every field of the contract's PRG filled, fields
 * a CP may add, keys in another order, 500 per page: memory must not depend on the CP);
 * then `plan --all --parallel auto` at the largest size for the wave count. Wall time
 * (spawn → exit, or → the first change), the CLI process's own peak RSS and CPU time.
 *
 * Baselines, each measured right before its command against the same simulator: a bare
 * reader (bench/floor.mjs, a separate Node process, plain undici + JSON.parse, no
 * validation, no planning, no output) that fetches what the command cannot do without:
 *  - plan: the cluster state, every PRG page, each node's /readyz, /v1/node and LB member;
 *  - status: the same and each node's /v1/drain;
 *  - restart: the cluster state, every PRG page (the waves), each node's /readyz (the
 *    precheck's spare capacity), one node's `?node=` and `?leader=` listings, /v1/node and
 *    LB member: what a restart reads before its first change.
 * `command ÷ floor` is the price of validating, planning and rendering on top of reading.
 *
 * restart --all's first change is the first changing request the simulator records
 * (anything but a GET, leases aside: the leader transfer of wave 1's node). The bench
 * watches the simulator's calls.ndjson, reads the CLI's peak RSS (VmHWM) and CPU time from
 * /proc at that moment, then kills it (SIGKILL) and releases the lease with the token the
 * run's journal holds: a throwaway simulator, nothing else is left half-done (the node was
 * neither drained nor taken out of the LB; its leaders move away, which harms nothing).
 *
 * Each pair (bare read, command) runs QR_B4_REPS times (default 3), interleaved; the
 * medians are compared. For restart the simulator refuses every leader move
 * (noEligibleTarget) while it runs: its first change moves nothing, so every
 * repetition plans and prechecks the same cluster.
 *
 * Targets (issue 14), at 100k PRGs: each command ≤ 1.3× its bare read and ≤ 150 MB peak
 * RSS; from 1k to 100k PRGs wall and peak RSS grow at most linearly with the PRGs.
 */
import { Buffer } from 'node:buffer';
import { fork, spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { ROOT, expectExit, json, loadavg, median, ms, now, r2, runNode, startSim, variantsFrom } from './lib.mjs';

const NODES = 1000;
const RACKS = 10;
const SIZES = (process.env.QR_B4_SIZES ?? '1000,10000,100000').split(',').map(Number);
const REPS = Number(process.env.QR_B4_REPS ?? 3);
const TARGET_RATIO = 1.3;
const TARGET_RSS_MB = 150;
const COMMANDS = (process.env.QR_B4_COMMANDS ?? 'plan,status,restart').split(',');
/** The control planes each command runs against: the simulator's, and bench/full-shape-cp.mjs in front of it. */
const CPS = (process.env.QR_B4_CPS ?? 'sim,full').split(',');
/** The CLIs measured, each right after the same bare read (lib.mjs `variantsFrom`). */
const VARIANTS = variantsFrom(process.env.QR_B4_VARIANTS);

function summaryOf(r) {
  return { wall_ms: Math.round(r.wallMs), cpu_ms: r.cpuMs === undefined ? null : Math.round(r.cpuMs), peak_rss_mb: r.maxRssMb === undefined ? null : Math.round(r.maxRssMb) };
}

async function measured(sim, what, run) {
  const simCpu0 = await sim.cpuMs();
  const load = loadavg()?.[0] ?? null;
  const r = await run();
  const simCpu = (await sim.cpuMs()) - simCpu0;
  const calls = (await sim.calls()).filter((c) => c.t >= r.t0 && c.t <= r.t1);
  return { what, r, figures: { ...summaryOf(r), sim_cpu_ms: Math.round(simCpu), requests: calls.length, load_1m: load } };
}

async function floor(sim, cp, mode) {
  const m = await measured(sim, `floor ${mode}`, () => runNode([join(ROOT, 'bench', 'floor.mjs'), cp.url, sim.lbUrl, mode], { rss: true, timeoutMs: 300_000 }));
  expectExit(m.r, 0, `bench/floor.mjs ${mode}`);
  return m.figures;
}

async function plan(sim, cp, v, extra = []) {
  const m = await measured(sim, 'plan', () => runNode([v.cli, 'plan', '--all', '--json', '--config', cp.config, ...extra], { rss: true, env: v.env, timeoutMs: 300_000 }));
  expectExit(m.r, 0, `quantum-roll plan --all ${extra.join(' ')}`);
  const doc = json(m.r);
  return { ...m.figures, waves: doc?.waves?.length ?? null, stdout_bytes: m.r.stdout.length };
}

async function status(sim, cp, v) {
  const m = await measured(sim, 'status', () => runNode([v.cli, 'status', '--json', '--config', cp.config], { rss: true, env: v.env, timeoutMs: 300_000 }));
  expectExit(m.r, 0, 'quantum-roll status --json');
  return { ...m.figures, stdout_bytes: m.r.stdout.length };
}

/** Peak RSS (MB) and CPU time (ms) of a live process, from /proc (Linux); undefined elsewhere. */
function procUsage(pid) {
  try {
    const hwm = /VmHWM:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 of stat (utime, stime) in clock ticks of 1/100 s
    return { maxRssMb: hwm ? Number(hwm[1]) / 1024 : undefined, cpuMs: (Number(f[11]) + Number(f[12])) * 10 };
  } catch {
    return { maxRssMb: undefined, cpuMs: undefined };
  }
}

/** The changing requests of a restart: anything but a read, the maintenance lease aside. */
const isChange = (c) => c.method !== 'GET' && !c.path.startsWith('/v1/leases');

/**
 * `restart --all --yes` until the simulator records its first change; then the CLI is
 * killed and its lease released. Wall = spawn → that request's arrival.
 */
function restartToFirstChange(sim, cp, v) {
  const stateDir = mkdtempSync(join(tmpdir(), 'qr-b4-state-'));
  const callsFile = join(sim.stateDir, 'calls.ndjson');
  let offset = 0;
  if (existsSync(callsFile)) {
    const fd = openSync(callsFile, 'r');
    offset = fstatSync(fd).size;
    closeSync(fd);
  }
  const t0 = now();
  const child = spawn(process.execPath, [v.cli, 'restart', '--all', '--yes', '--json', '--config', cp.config, '--state-dir', stateDir], {
    cwd: ROOT,
    env: { ...process.env, QUANTUM_ROLL_CONFIG: '', ...v.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 200_000) stderr += d;
  });
  let exit;
  const gone = new Promise((res) => child.once('exit', (code, signal) => res((exit = { code, signal }))));
  const deadline = t0 + 300_000;
  let rest = '';
  const found = (async () => {
    for (;;) {
      if (exit) throw new Error(`restart --all exited (${exit.code ?? exit.signal}) before its first change\n${stderr.slice(-3000)}`);
      if (now() > deadline) throw new Error('restart --all made no change within 300 s');
      if (existsSync(callsFile)) {
        const fd = openSync(callsFile, 'r');
        try {
          const size = fstatSync(fd).size;
          if (size > offset) {
            const buf = Buffer.alloc(size - offset);
            readSync(fd, buf, 0, buf.length, offset);
            offset = size;
            const lines = (rest + buf.toString('utf8')).split('\n');
            rest = lines.pop() ?? '';
            for (const line of lines) {
              let c;
              try {
                c = JSON.parse(line);
              } catch {
                continue;
              }
              if (c.t >= t0 && isChange(c)) return { c, usage: procUsage(child.pid) };
            }
          }
        } finally {
          closeSync(fd);
        }
      }
      await sleep(5);
    }
  })();
  return found.then(
    async ({ c, usage }) => {
      child.kill('SIGKILL');
      await gone;
      await releaseLease(sim, stateDir);
      rmSync(stateDir, { recursive: true, force: true });
      return { code: 0, t0, t1: c.t, wallMs: c.t - t0, maxRssMb: usage.maxRssMb, cpuMs: usage.cpuMs, first_change: `${c.method} ${c.path}`, stdout: '' };
    },
    async (err) => {
      if (!exit) child.kill('SIGKILL');
      await gone;
      await releaseLease(sim, stateDir);
      rmSync(stateDir, { recursive: true, force: true });
      throw err;
    },
  );
}

/** The killed run held the maintenance lease: release it with the token of its journal. */
async function releaseLease(sim, stateDir) {
  let token;
  try {
    token = JSON.parse(readFileSync(join(stateDir, 'journal.json'), 'utf8')).lease?.token;
  } catch {
    return;
  }
  if (!token) return;
  await request(`${sim.cpUrl}/v1/leases/rolling-restart?token=${encodeURIComponent(token)}`, { method: 'DELETE' }).then((r) => r.body.dump(), () => {});
}

async function restart(sim, cp, v) {
  let first;
  // The CP refuses every leader move (noEligibleTarget): the first change then moves
  // nothing, and each repetition plans and prechecks the same cluster.
  await sim.setFaults({ noEligibleTarget: true });
  try {
    const m = await measured(sim, 'restart', async () => {
      const r = await restartToFirstChange(sim, cp, v);
      first = r.first_change;
      return r;
    });
    return { ...m.figures, first_change: first };
  } finally {
    await sim.setFaults({ noEligibleTarget: false });
  }
}

const RUN = { plan, status, restart };

/** Each numeric figure's median over the runs (other fields from the first run). */
function medianOf(list) {
  const out = { ...list[0] };
  for (const k of Object.keys(out)) {
    const xs = list.map((x) => x[k]).filter((v) => typeof v === 'number');
    if (xs.length === list.length) out[k] = median(xs);
  }
  return out;
}

/**
 * The control planes of one simulator: its own, and the full-shape one in front of it
 * (a process of its own, with a copy of the simulator's config pointing at it).
 */
async function controlPlanes(sim) {
  const cps = {};
  const stops = [];
  // A copy of the simulator's config for each CP, with the CP request timeout at 60 s
  // ($QR_B4_CP_TIMEOUT): on a machine loaded ×10 a 1,000-PRG page can take more than the
  // default 10 s to arrive.
  const configFor = (name, url) => {
    const config = parse(readFileSync(sim.configPath, 'utf8'));
    config.control_plane.url = url;
    config.control_plane.request_timeout = process.env.QR_B4_CP_TIMEOUT ?? '60s';
    const file = join(dirname(sim.configPath), `quantum-roll.b4-${name}.yaml`);
    writeFileSync(file, stringify(config));
    return file;
  };
  for (const name of CPS) {
    if (name === 'sim') cps.sim = { url: sim.cpUrl, config: configFor('sim', sim.cpUrl) };
    else if (name === 'full') {
      const child = fork(join(ROOT, 'bench', 'full-shape-cp.mjs'), [sim.cpUrl], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const { port } = await new Promise((res, rej) => {
        child.once('message', res);
        child.once('exit', (code) => rej(new Error(`full-shape CP exited (${code})`)));
      });
      stops.push(() => new Promise((res) => (child.once('exit', res), child.kill())));
      const url = `http://127.0.0.1:${port}`;
      cps.full = { url, config: configFor('full', url) };
    } else throw new Error(`QR_B4_CPS: unknown control plane "${name}" (sim, full)`);
  }
  return { cps, stop: () => Promise.all(stops.map((f) => f())) };
}

export async function b4() {
  // rows: one per size × CP × variant × command, medians of REPS (each right after its bare read)
  const rows = [];
  const auto = {};
  for (const prgs of SIZES) {
    const c = await startSim({ nodes: NODES, racks: RACKS, prgs, virtualNodes: true, sessionsPerNode: 100 });
    const planes = await controlPlanes(c.sim);
    try {
      const runs = {};
      const key = (cp, v, cmd) => `${cp}|${v}|${cmd}`;
      // Each command right after its own bare read, against the same cluster, REPS times
      // interleaved; the medians are compared (the machine is shared: one run is noise).
      for (let i = 0; i < REPS; i++) {
        for (const [cpName, cp] of Object.entries(planes.cps)) {
          for (const cmd of COMMANDS) {
            const f = await floor(c.sim, cp, cmd);
            for (const v of VARIANTS) {
              let x;
              try {
                x = await RUN[cmd](c.sim, cp, v);
              } catch (err) {
                // A build other than the judged one may fail where the judged one does not (a "before"
                // build against the full-shape CP): recorded, not fatal.
                if (v === VARIANTS[0]) throw err;
                x = { failed: String(err?.message ?? err).split('\n').slice(0, 2).join(' ').slice(0, 500) };
              }
              (runs[key(cpName, v.name, cmd)] ??= []).push({ x, f });
            }
          }
        }
      }
      for (const cpName of Object.keys(planes.cps)) {
        for (const v of VARIANTS) {
          for (const cmd of COMMANDS) {
            const list = runs[key(cpName, v.name, cmd)];
            const x = medianOf(list.map((r) => r.x));
            const f = medianOf(list.map((r) => r.f));
            rows.push({
              prgs,
              cp: cpName,
              variant: v.name,
              cmd,
              ...x,
              floor: f,
              ratio_to_floor: x.wall_ms ? r2(x.wall_ms / f.wall_ms) : null,
              cpu_ratio_to_floor: x.cpu_ms && f.cpu_ms ? r2(x.cpu_ms / f.cpu_ms) : null,
              runs: list.map((r) => ({ wall_ms: r.x.wall_ms, cpu_ms: r.x.cpu_ms, peak_rss_mb: r.x.peak_rss_mb, floor_wall_ms: r.f.wall_ms, floor_cpu_ms: r.f.cpu_ms, ratio: r2(r.x.wall_ms / r.f.wall_ms), load_1m: r.x.load_1m })),
            });
          }
        }
        if (prgs === SIZES[SIZES.length - 1] && process.env.QR_B4_AUTO !== '0') auto[cpName] = await plan(c.sim, planes.cps[cpName], VARIANTS[0], ['--parallel', 'auto']);
      }
    } finally {
      await planes.stop();
      await c.stop();
    }
  }
  const row = (prgs, cp, v, cmd) => rows.find((r) => r.prgs === prgs && r.cp === cp && r.variant === v && r.cmd === cmd);
  const big = SIZES[SIZES.length - 1];
  const judged = VARIANTS[0].name;
  const growth = {};
  for (const cp of CPS) {
    for (const cmd of COMMANDS) {
      growth[`${cp}.${cmd}`] = SIZES.slice(1).map((to, i) => {
        const a = row(SIZES[i], cp, judged, cmd);
        const b = row(to, cp, judged, cmd);
        const prgs_x = to / SIZES[i];
        const wall_x = r2(b.wall_ms / a.wall_ms);
        const rss_x = a.peak_rss_mb && b.peak_rss_mb ? r2(b.peak_rss_mb / a.peak_rss_mb) : null;
        return { from: SIZES[i], to, prgs_x, wall_x, cpu_x: a.cpu_ms && b.cpu_ms ? r2(b.cpu_ms / a.cpu_ms) : null, rss_x, at_most_linear: wall_x <= prgs_x && (rss_x === null || rss_x <= prgs_x) };
      });
    }
  }
  const met = {};
  for (const cp of CPS) {
    for (const cmd of COMMANDS) {
      const x = row(big, cp, judged, cmd);
      met[`${cp}.${cmd}`] = {
        ratio: x.ratio_to_floor <= TARGET_RATIO,
        rss: x.peak_rss_mb !== null && x.peak_rss_mb <= TARGET_RSS_MB,
        growth: growth[`${cp}.${cmd}`].every((g) => g.at_most_linear),
      };
    }
  }
  const all = Object.values(met).every((m) => m.ratio && m.rss && m.growth);
  const yes = (b) => (b ? 'met' : 'NOT met');
  const line = (cp, v, cmd) => {
    const x = row(big, cp, v, cmd);
    const m = met[`${cp}.${cmd}`];
    if (!x.wall_ms) return `${cmd} failed (${x.failed})`;
    return `${cmd} ${ms(x.wall_ms)} = ${x.ratio_to_floor}× floor ${ms(x.floor.wall_ms)}${v === judged ? ` (${yes(m.ratio)})` : ''}, ${x.peak_rss_mb} MB${v === judged ? ` (${yes(m.rss)})` : ''}`;
  };
  const summary = [];
  for (const cp of CPS) for (const v of VARIANTS) summary.push(`[${cp} CP, ${v.name}] ${COMMANDS.map((cmd) => line(cp, v.name, cmd)).join('; ')}`);
  return {
    name: 'B4 size',
    method: `plan --all --json, status --json and restart --all --yes up to its first change, ${NODES} virtual nodes on ${RACKS} racks, ${SIZES.join('/')} PRGs, against ${CPS.join(' and ')} control plane(s) (full: bench/full-shape-cp.mjs); each right after its bare read (bench/floor.mjs plan|status|restart, same CP) in the same run, ${REPS} interleaved runs, medians`,
    node: process.version,
    nodes: NODES,
    variants: VARIANTS,
    rows,
    growth,
    auto_at_largest: auto,
    target: `at ${big} PRGs each command ≤ ${TARGET_RATIO}× its bare read and ≤ ${TARGET_RSS_MB} MB peak RSS, against every CP; wall and peak RSS grow at most linearly with PRGs`,
    met: all,
    met_by_command: met,
    summary: `B4 size (${process.version}), ${NODES} nodes/${big / 1000}k PRGs: ${summary.join(' | ')} | auto: ${Object.entries(auto).map(([cp, a]) => `${cp} ${a.waves} waves in ${ms(a.wall_ms)}, ${a.peak_rss_mb} MB`).join(', ')}`,
  };
}
