/**
 * Shared helpers of the bench suite: a simulator in a temp dir, the built CLI run as
 * a real process (wall time, exit code, stdout, peak RSS), and small statistics.
 * Everything imports the compiled `dist/` (run `npm run build` first; `npm run bench`
 * does).
 */
import { fork, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(ROOT, 'dist');
export const CLI = join(DIST, 'cli.js');
const MAXRSS = join(ROOT, 'bench', 'maxrss.mjs');

/** The simulator's clock: `performance.timeOrigin + performance.now()`, comparable across processes. */
export const now = () => performance.timeOrigin + performance.now();

export function requireBuild() {
  if (!existsSync(CLI) || !existsSync(join(DIST, 'sim', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  }
}

export async function dist(path) {
  return import(join(DIST, path));
}

/**
 * Starts the bundled simulator in a fresh temp dir, in a process of its own
 * (bench/sim-host.mjs), so it never competes with what is measured for the same
 * thread. `sim` mirrors the simulator's handle (URLs, config, calls(), events(),
 * setFaults(), stats()); `stop()` ends it and removes the dir.
 */
export async function startSim(opts) {
  const dir = mkdtempSync(join(tmpdir(), 'qr-bench-'));
  const child = fork(join(ROOT, 'bench', 'sim-host.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let seq = 0;
  let exited = false;
  const ready = new Promise((res, rej) => {
    child.once('error', rej);
    child.once('exit', (code) => rej(new Error(`simulator host exited (${code}) before it was ready`)));
    child.on('message', (m) => {
      if (m.ready) return res();
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
  });
  child.on('exit', () => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error('simulator host exited'));
    pending.clear();
  });
  const call = (op, arg) =>
    new Promise((res, rej) => {
      if (exited) return rej(new Error('simulator host exited'));
      const id = ++seq;
      pending.set(id, { resolve: res, reject: rej });
      child.send({ id, op, arg });
    });
  await ready;
  const info = await call('start', { ...opts, stateDir: dir });
  const sim = {
    ...info,
    calls: () => call('calls'),
    events: () => call('events'),
    setFaults: (patch) => call('setFaults', patch),
    stats: () => call('stats'),
    cpuMs: () => call('cpu'),
  };
  return {
    sim,
    dir,
    async stop() {
      if (!exited) {
        const gone = new Promise((res) => child.once('exit', res));
        await call('stop').catch(() => {});
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `node [--import maxrss] <file> ...args` and resolves with wall time (spawn to
 * exit, on the simulator's clock), exit code, output, and — when `rss` is set — the
 * child's own peak RSS and CPU time (`process.resourceUsage()`, reported by a
 * preload on exit).
 */
export function runNode(args, { rss = false, env = {}, cwd = ROOT, timeoutMs = 120_000 } = {}) {
  // stdout and stderr go to files, as in CI: a pipe the bench is slow to drain would
  // block the CLI's writes and be measured as the CLI's time.
  const tmp = mkdtempSync(join(tmpdir(), 'qr-run-'));
  const rssFile = rss ? join(tmp, 'maxrss') : undefined;
  const outFile = join(tmp, 'stdout');
  const errFile = join(tmp, 'stderr');
  const outFd = openSync(outFile, 'w');
  const errFd = openSync(errFile, 'w');
  const argv = [...(rss ? ['--import', MAXRSS] : []), ...args];
  return new Promise((resolvePromise, reject) => {
    const t0 = now();
    const child = spawn(process.execPath, argv, {
      cwd,
      env: { ...process.env, QUANTUM_ROLL_CONFIG: '', ...(rssFile ? { QR_BENCH_RSS_FILE: rssFile } : {}), ...env },
      stdio: ['ignore', outFd, errFd],
    });
    closeSync(outFd);
    closeSync(errFd);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const t1 = now();
      clearTimeout(timer);
      let usage;
      if (rssFile) {
        try {
          usage = JSON.parse(readFileSync(rssFile, 'utf8'));
        } catch {
          usage = undefined;
        }
      }
      const result = {
        code: code ?? (signal ? 128 : -1),
        t0,
        t1,
        wallMs: t1 - t0,
        stdout: readFileSync(outFile, 'utf8'),
        stderr: readFileSync(errFile, 'utf8'),
        maxRssMb: usage ? usage.maxRSS / 1024 : undefined,
        cpuMs: usage ? (usage.user + usage.system) / 1000 : undefined,
      };
      rmSync(tmp, { recursive: true, force: true });
      resolvePromise(result);
    });
  });
}

/**
 * The CLIs a benchmark measures, from an environment variable: `name=DIST[:VAR=VALUE,...]`,
 * space-separated (a DIST is a copy of dist/ inside the checkout, for before/after in one
 * run; VARs are extra environment, e.g. QUANTUM_ROLL_LATE_V8_FLAGS=0). Default: this
 * tree's build. The first one is judged against the targets.
 */
export function variantsFrom(spec) {
  const list = (spec ?? '').split(/\s+/).filter(Boolean).map((one) => {
    const [name, rest] = one.split(/=(.*)/s);
    const [dir, vars = ''] = rest.split(/:(.*)/s);
    return { name, dist: resolve(ROOT, dir), cli: join(resolve(ROOT, dir), 'cli.js'), env: Object.fromEntries(vars.split(',').filter(Boolean).map((kv) => kv.split(/=(.*)/s))) };
  });
  return list.length ? list : [{ name: 'cli', dist: DIST, cli: CLI, env: {} }];
}

/** Runs the built CLI. */
export function runCli(args, opts) {
  return runNode([CLI, ...args], opts);
}

export function json(r) {
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

/** Throws with the CLI's own words when it did not exit as expected. */
export function expectExit(r, code, what) {
  if (r.code !== code) {
    throw new Error(`${what}: exit ${r.code}, expected ${code}\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-3000)}`);
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const ms = (x) => `${Math.round(x)} ms`;
export const r2 = (x) => Math.round(x * 100) / 100;
export const r3 = (x) => Math.round(x * 1000) / 1000;

/** pino ndjson lines of a CLI run's stderr. */
export function logLines(stderr) {
  const out = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // not a log line
    }
  }
  return out;
}

export function machine() {
  const c = cpus();
  let load;
  try {
    load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    load = undefined;
  }
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: c.length,
    cpu_model: c[0]?.model,
    memory_gb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadavg_at_start: load,
  };
}

export function loadavg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return undefined;
  }
}

/**
 * The waits the simulator imposed on `node` during the run `r` (spawn t0 → exit t1), from
 * its own record (B1, B5): the transfers away (first request → last transfer_done), the
 * grace, the restart (restart_command → replay_done), the LB's detection (drain cleared →
 * health up) and leadership back (first restore request → its PRGs' transfer_done), with
 * the marks they come from.
 */
export function imposedWaits(events, calls, node, graceMs, r, bench) {
  const inRun = (x) => x.t >= r.t0 && x.t <= r.t1;
  const ev = events.filter((e) => inRun(e) && (e.node === node || e.from === node));
  const first = (pred, what) => {
    const x = ev.find(pred);
    if (!x) throw new Error(`${bench}: the simulator recorded no ${what} for ${node}`);
    return x.t;
  };
  // A batch names the node it moves leadership away from; per-PRG transfers do not: the first transfer_done's PRG does.
  const transferReq = calls.find(
    (c) => inRun(c) && c.method === 'POST' && ((c.path === '/v1/leader-transfers' && c.body?.away_from === node) || (c.path.endsWith('/leader-transfer') && c.body?.exclude?.includes?.(node))),
  );
  const lbOut = first((e) => e.event === 'lb_admin_state' && e.node === node && e.admin_state !== 'enabled', 'LB drain');
  // Leadership leaves before the drain (later transfers away from it are other nodes' restores).
  const done = ev.filter((e) => e.event === 'transfer_done' && e.from === node && e.t <= lbOut && (transferReq === undefined || e.t >= transferReq.t));
  const restartCmd = first((e) => e.event === 'restart_command' && e.node === node, 'restart command');
  const replayDone = first((e) => e.event === 'replay_done' && e.node === node && e.t > restartCmd, 'replay_done');
  const drainCleared = calls.find((c) => inRun(c) && c.method === 'DELETE' && c.path === '/v1/drain' && c.node === node && c.t > restartCmd)?.t;
  if (drainCleared === undefined) throw new Error(`${bench}: no drain clear recorded for ${node}`);
  const lbUp = ev.find((e) => e.event === 'lb_health' && e.node === node && e.health === 'up' && e.t >= drainCleared)?.t;
  if (lbUp === undefined) throw new Error(`${bench}: no LB health up recorded for ${node}`);
  const lbIn = ev.find((e) => e.event === 'lb_admin_state' && e.node === node && e.admin_state === 'enabled' && e.t > restartCmd)?.t ?? lbUp;
  const transferStart = transferReq?.t;
  // leader_transfer.restore: leadership moves back once the node is back (per PRG, {"to": node}); the CP's transfer time is a wait too.
  const restoreReqs = calls.filter((c) => inRun(c) && c.t >= lbUp && c.method === 'POST' && c.path.endsWith('/leader-transfer') && c.body?.to === node);
  // Each restore request's own transfer_done (its PRG onto the node, after it): later ones are other nodes' transfers away.
  const restored = restoreReqs
    .map((q) => events.find((e) => e.event === 'transfer_done' && e.to === node && e.t >= q.t && q.path === `/v1/prgs/${e.prg}/leader-transfer`))
    .filter((e) => e !== undefined)
    .sort((a, b) => a.t - b.t);
  const restore = restoreReqs.length && restored.length ? Math.max(0, restored[restored.length - 1].t - restoreReqs[0].t) : 0;
  const transferEnd = done.length ? done[done.length - 1].t : undefined;
  const waits = {
    transfer: transferStart !== undefined && transferEnd !== undefined ? Math.max(0, transferEnd - transferStart) : 0,
    grace: graceMs,
    restart: replayDone - restartCmd,
    lb_detection: lbUp - drainCleared,
    restore,
  };
  // The node's first change: its transfer request, else its drain.
  const firstChange = Math.min(transferStart ?? Infinity, lbOut);
  const back = Math.max(lbUp, lbIn, restored.length ? restored[restored.length - 1].t : 0);
  const marks = {
    spawn: r.t0,
    first_request: calls.find(inRun)?.t,
    transfer_request: transferStart,
    transfers_done: transferEnd,
    lb_out: lbOut,
    grace_end: lbOut + graceMs,
    restart_command: restartCmd,
    process_down: ev.find((e) => e.event === 'process_down' && e.node === node && e.t >= restartCmd)?.t,
    process_up: ev.find((e) => e.event === 'process_up' && e.node === node && e.t >= restartCmd)?.t,
    replay_done: replayDone,
    drain_cleared: drainCleared,
    lb_enabled: lbIn,
    lb_up: lbUp,
    restore_request: restoreReqs[0]?.t,
    restore_done: restored.length ? restored[restored.length - 1].t : undefined,
    exit: r.t1,
  };
  return { waits, sum: waits.transfer + waits.grace + waits.restart + waits.lb_detection + waits.restore, firstChange, back, restartCmd, marks };
}
