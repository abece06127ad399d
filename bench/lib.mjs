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
