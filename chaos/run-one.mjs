/**
 * One chaos run: a fresh simulator, the fault plan of a seed applied on the clock,
 * `restart` (then `resume`, as often as it takes) through the built CLI as a real
 * process, and at the end the invariants checked from the simulator's own record
 * (chaos/check.mjs). Imports the compiled dist/ (npm run chaos builds first).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startSim } from '../bench/lib.mjs';
import { drawPlan } from './plan.mjs';
import { checkRun } from './check.mjs';
import { adminStates, lbRecordAsCalls, runtimeCommand, startLbProxy } from './lb-proxy.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function requireBuild() {
  if (!existsSync(CLI) || !existsSync(join(ROOT, 'dist', 'sim', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm run chaos does)');
  }
}

async function http(method, url, body) {
  const r = await globalThis.fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: globalThis.AbortSignal.timeout(5_000),
  });
  const text = await r.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: r.status, body: json };
}

/**
 * Runs the CLI. `signal` ({sig, after, twice, early, when?}) is sent `after` ms after the
 * start (`early`) or after this invocation's first journal write, or with `when` ({nth,
 * delay}) `delay` ms after the nth step change the journal shows during this invocation;
 * each only if the CLI still runs then.
 */
function runCli(args, { cwd, journal, signal, timeoutMs = 120_000 }) {
  return new Promise((resolvePromise, reject) => {
    const t0 = now();
    const startedWall = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, QUANTUM_ROLL_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b.toString().slice(-20_000)));
    const timers = [];
    let sent = null;
    const fire = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      sent = signal.sig;
      child.kill(signal.sig);
      if (signal.twice) timers.push(setTimeout(() => child.exitCode === null && child.kill(signal.sig), 150));
    };
    if (signal?.when) {
      // The nth step change of this invocation (any node), against the journal as it found it.
      // (`journal` is the file readJournal(cwd) reads; not written yet: no steps.)
      const stepsOf = () => Object.entries(readJournal(cwd)?.nodes ?? {}).map(([n, rec]) => [n, rec?.step]);
      const last = new Map(stepsOf());
      let changes = 0;
      const watch = () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        for (const [n, step] of stepsOf()) {
          if (last.get(n) === step) continue;
          if (last.has(n)) changes++; // a node's first sighting (the journal's first write) is where it starts from
          last.set(n, step);
        }
        timers.push(changes >= signal.when.nth ? setTimeout(fire, signal.when.delay) : setTimeout(watch, 10));
      };
      watch();
    } else if (signal?.early) timers.push(setTimeout(fire, signal.after));
    else if (signal) {
      const poll = () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        let written;
        try {
          written = statSync(journal).mtimeMs >= startedWall - 5;
        } catch {
          written = false;
        }
        timers.push(written ? setTimeout(fire, signal.after) : setTimeout(poll, 20));
      };
      poll();
    }
    const hard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(hard);
      for (const t of timers) clearTimeout(t);
      let json;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolvePromise({ args, code: code ?? (sig ? 128 : -1), killedBy: sig, sent, t0, t1: now(), stdout, stderr, json });
    });
  });
}

function readJournal(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, '.quantum-roll', 'journal.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Applies the plan's faults on the clock; returns what was applied when, and a cancel.
 * `haproxy` (the MQTT campaign): the LB is the real HAProxy behind the recording proxy,
 * so the LB kinds act on it (plan.mjs MQTT_KINDS) instead of on the http LB.
 */
function scheduleFaults(sim, dir, plan, t0, haproxy) {
  const applied = [];
  const timers = [];
  let cancelled = false;
  const lbPut = (member, state) =>
    haproxy
      ? haproxy.command(`set server mqtt/${member} state ${state === 'enabled' ? 'ready' : state}`)
      : http('PUT', `${sim.lbUrl}/v1/pools/mqtt/members/${member}/admin-state?by=chaos`, { admin_state: state });
  const lbUnreachable = async (on) => {
    if (haproxy) await haproxy.proxy.unreachable(on);
  };
  const apply = async (f) => {
    if (cancelled) return;
    const entry = { kind: f.kind, at: f.when ? undefined : f.at, when: f.when, t: now(), node: f.node ?? (f.lb !== 'all' ? f.lb : undefined) };
    applied.push(entry);
    try {
      if (f.patch) await sim.setFaults(f.patch);
      else if (f.lb === 'all') await Promise.all(sim.nodes.map((n) => lbPut(n.id, 'enabled')));
      else await lbPut(f.lb, 'enabled');
      if (f.kind === 'lb_error') await lbUnreachable(true);
      entry.t_applied = now(); // in effect from here on (the simulator answered)
    } catch (err) {
      entry.error = String(err);
    }
    if (f.for) {
      timers.push(
        setTimeout(async () => {
          entry.cleared = now();
          const reset = {};
          for (const k of Object.keys(f.patch)) reset[k] = DEFAULTS[k];
          await sim.setFaults(reset).catch(() => {});
          if (f.kind === 'lb_error') await lbUnreachable(false).catch(() => {});
        }, f.for),
      );
    }
  };
  for (const f of plan.faults) {
    if (f.when) continue;
    const wait = Math.max(0, t0 + f.at - now());
    timers.push(setTimeout(() => void apply(f), wait));
  }
  // Step-triggered faults: watch the journal, count nodes entering each step.
  const triggered = plan.faults.filter((f) => f.when);
  if (triggered.length) {
    const seen = new Map();
    const entered = {};
    const watch = () => {
      if (cancelled) return;
      const j = readJournal(sim.stateDir ?? dir);
      for (const [node, rec] of Object.entries(j?.nodes ?? {})) {
        const step = rec?.step;
        if (!step || seen.get(node) === step) continue;
        seen.set(node, step);
        entered[step] = (entered[step] ?? 0) + 1;
        for (const f of triggered) {
          if (!f.fired && f.when.step === step && entered[step] >= f.when.nth) {
            f.fired = true;
            timers.push(setTimeout(() => void apply(f), f.when.delay));
          }
        }
      }
      if (triggered.some((f) => !f.fired)) timers.push(setTimeout(watch, 15));
    };
    watch();
  }
  return {
    applied,
    /** Stop injecting and clear every knob (an operator healing the cluster). */
    async heal() {
      cancelled = true;
      for (const t of timers) clearTimeout(t);
      const t = now();
      for (const e of applied) if (e.cleared === undefined && plan.faults.find((f) => f.kind === e.kind)?.for) e.cleared = t;
      await sim.setFaults(DEFAULTS);
      await lbUnreachable(false);
    },
  };
}

let DEFAULTS;

/**
 * `sim load` in a process of its own (the simulator's CLI, as an operator runs it): MQTT
 * clients through HAProxy's front door until `stopFile` exists, then its final drain and its
 * JSON client-impact report. `steady` resolves once every client has had a PUBACK.
 */
function startLoad(dir, { clients, stopFile }) {
  const args = [join(ROOT, 'dist', 'sim', 'sim-cli.js'), 'sim', 'load', '--state-dir', dir, '--clients', String(clients), '--rate', String(clients), '--until-file', stopFile, '--drain-timeout', '60s', '--json'];
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onSteady;
  const steady = new Promise((res, rej) => {
    onSteady = { res, rej };
  });
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr = (stderr + b).slice(-50_000);
    if (/: steady \(/.test(stderr)) onSteady.res();
  });
  const done = new Promise((res) => {
    child.on('close', (code, sig) => {
      onSteady.rej(new Error(`sim load exited (${code ?? sig}) before it was steady: ${stderr.slice(-1500)}`));
      let report;
      try {
        report = JSON.parse(stdout);
      } catch {
        report = undefined;
      }
      res({ code: code ?? (sig ? 128 : -1), report, stderr });
    });
  });
  return {
    steady,
    done,
    /** Ends the load (its drain and report follow); killed if it has not exited within `ms`. */
    async stop(ms = 180_000) {
      writeFileSync(stopFile, '');
      const hard = setTimeout(() => child.kill('SIGKILL'), ms);
      const r = await done;
      clearTimeout(hard);
      return r;
    },
    kill: () => child.exitCode === null && child.kill('SIGKILL'),
  };
}

/**
 * @param {number} seed
 * @param {{exclude?: string[], triggers?: boolean | 'all', keep?: boolean, mqtt?: boolean, clients?: number, log?: (s: string) => void}} [opts]
 */
export async function runOne(seed, opts = {}) {
  requireBuild();
  DEFAULTS ??= (await import(join(ROOT, 'dist', 'sim', 'index.js'))).defaultFaults();
  const mqtt = Boolean(opts.mqtt);
  const plan = drawPlan(seed, { exclude: opts.exclude, triggers: opts.triggers, mqtt });
  const started = now();
  // The simulator runs in a process of its own (bench/sim-host.mjs), so runs in parallel and
  // this driver never delay its clock; virtual nodes keep a run to seconds. --mqtt: real
  // broker processes (aedes + the shared redis) behind a real HAProxy, few PRGs.
  const host = mqtt
    ? await startSim({ nodes: plan.nodes, racks: plan.racks, prgs: 12, replayMs: 300, sessionsPerNode: 0, lbCheckIntervalMs: 100, lb: 'haproxy', rawProbeMs: 0 })
    : await startSim({ nodes: plan.nodes, racks: plan.racks, prgs: 60, replayMs: 200, sessionsPerNode: 10, lbCheckIntervalMs: 50, virtualNodes: true });
  const { sim, dir } = host;
  const invocations = [];
  let result;
  let haproxy;
  let load;
  try {
    const cfg = parse(readFileSync(sim.configPath, 'utf8'));
    if (mqtt) {
      // The generated config (restart command `restart-node.js`: a real SIGTERM and spawn; the
      // eviction DISCONNECTs 0x9C + the front door; the MQTT canary through HAProxy), with the
      // LB socket behind the recording proxy and timeouts a loaded machine can meet.
      const info = JSON.parse(readFileSync(join(dir, 'sim.json'), 'utf8'));
      const real = info.haproxy.socket;
      const proxyPath = join(dir, 'chaos-lb.sock');
      const proxy = await startLbProxy(proxyPath, real);
      haproxy = {
        proxy,
        real,
        async command(cmd) {
          const entry = { t: now(), cmd, by: 'chaos' };
          proxy.record.push(entry);
          try {
            entry.answer = await runtimeCommand(real, cmd);
          } catch (err) {
            entry.error = String(err);
            throw err;
          } finally {
            entry.t_end = now();
          }
        },
      };
      cfg.lb = { ...cfg.lb, socket: proxyPath };
      cfg.quiesce = { ...cfg.quiesce, grace: '1s', target_sessions: 0 };
      cfg.restart = { ...cfg.restart, timeout: '30s' };
      cfg.timeouts = { ...cfg.timeouts, leader_transfer: '10s', ready: '20s', lb: '10s', recovery: '0s' };
    } else {
      // Short timeouts: each run should take seconds.
      cfg.quiesce = { ...cfg.quiesce, grace: '300ms', target_sessions: 0 };
      // Virtual nodes (one process, same HTTP contract) and a restart command that only asks the
      // simulator's control API: a run costs seconds, not a dozen process starts.
      cfg.restart = { command: ['curl', '-fsS', '-X', 'POST', `${sim.controlUrl}/_sim/nodes/{node}/restart`], timeout: '15s' };
      cfg.timeouts = { ...cfg.timeouts, leader_transfer: '4s', ready: '4s', lb: '3s', recovery: '0s' };
    }
    writeFileSync(sim.configPath, stringify(cfg));
    const placement = (await http('GET', `${sim.cpUrl}/v1/prgs?limit=1000`)).body.items.map((p) => ({ id: p.id, nodes: p.replicas.map((x) => x.node) }));
    if (mqtt) {
      // The clients first: the roll (and the faults' clock) starts once every client has had a PUBACK.
      load = startLoad(dir, { clients: opts.clients ?? 40, stopFile: join(dir, 'chaos-load-stop') });
      const t = setTimeout(() => load.kill(), 180_000);
      await load.steady.finally(() => clearTimeout(t));
    }

    const common = ['--config', sim.configPath, '--json', '--yes'];
    const first = plan.target === 'all' ? ['restart', '--all', '--parallel', 'auto', ...common] : ['restart', plan.target, ...common];
    const t0 = now();
    const faults = scheduleFaults(sim, dir, plan, t0, haproxy);
    let heals = 0;
    let outcome = 'unfinished';
    const neverReadyNode = plan.faults.find((f) => f.kind === 'never_ready')?.node;
    for (let i = 0; i < 10; i++) {
      const j = readJournal(dir);
      const args = i === 0 || !j ? first : ['resume', ...common];
      if (i > 0 && j?.status === 'done') {
        outcome = 'done';
        break;
      }
      const r = await runCli(args, { cwd: dir, journal: join(dir, '.quantum-roll', 'journal.json'), signal: plan.signals[i] });
      invocations.push(r);
      opts.log?.(`  ${args[0]} → exit ${r.code}${r.sent ? ` (${r.sent} sent)` : ''}${r.json?.error?.message ? `: ${r.json.error.message.slice(0, 160)}` : ''}`);
      if (r.code === 0) {
        outcome = 'done';
        break;
      }
      if (r.sent) continue; // we interrupted it: resume
      if ([1, 3, 4].includes(r.code)) {
        // A failure the CLI reported. A node that can never get ready stays a safe failure;
        // otherwise an operator heals the cluster and resumes.
        const stuck = neverReadyNode && ((await sim.stats()).restarts[neverReadyNode] ?? 0) > 0;
        if (stuck || heals >= 2) {
          outcome = `failed safely (exit ${r.code})`;
          break;
        }
        heals++;
        await faults.heal();
        continue;
      }
      outcome = `unexpected exit ${r.code}`;
      break;
    }
    await faults.heal();
    const last = invocations.at(-1);
    // The load ends after the roll and the healing: its final drain waits for every client.
    const loaded = load ? await load.stop() : undefined;
    // Let the simulator's recorders catch up (heartbeat-borne events arrive up to 25 ms late).
    await sleep(150);
    const [simCalls, simEvents, stats] = await Promise.all([sim.calls(), sim.events(), sim.stats()]);
    let calls = simCalls;
    let events = simEvents;
    let lbStates;
    if (haproxy) {
      const lb = lbRecordAsCalls(haproxy.proxy.record);
      calls = [...calls, ...lb.calls].sort((a, b) => a.t - b.t);
      events = [...events, ...lb.events].sort((a, b) => a.t - b.t);
      lbStates = adminStates(await runtimeCommand(haproxy.real, 'show servers state mqtt'));
      // Kept with the state dir (--keep): what HAProxy was told, by whom, when.
      writeFileSync(join(dir, 'chaos-lb-runtime.ndjson'), haproxy.proxy.record.map((e) => JSON.stringify(e)).join('\n') + '\n');
    }
    const nodes = await Promise.all(
      sim.nodes.map(async (n) => {
        const [drain, lb] = await Promise.all([http('GET', `${n.adminUrl}/v1/drain`), lbStates ? { body: { admin_state: lbStates[n.id] } } : http('GET', `${sim.lbUrl}/v1/pools/mqtt/members/${n.id}`)]);
        return { id: n.id, draining: drain.body?.draining, adminState: lb.body?.admin_state };
      }),
    );
    const lease = await http('GET', `${sim.cpUrl}/v1/leases/rolling-restart`);
    const journal = readJournal(dir);
    const violations = checkRun({
      plan,
      placement,
      calls,
      events,
      stats,
      nodes,
      lease,
      journal,
      outcome,
      last,
      invocations,
      applied: faults.applied,
      t0,
      ...(loaded ? { load: loaded.report ?? null, loadExit: { code: loaded.code, stderr: loaded.stderr.slice(-1500) } } : {}),
    });
    result = {
      seed,
      plan,
      outcome,
      violations: violations.filter((v) => !v.exposure && !v.finding),
      exposures: violations.filter((v) => v.exposure),
      findings: violations.filter((v) => v.finding),
      invocations: invocations.map((r) => ({ cmd: r.args[0], code: r.code, sent: r.sent, killedBy: r.killedBy, error: r.json?.error?.message })),
      applied: faults.applied.map((a) => a.kind),
      // What the last outcome said about each node (status, and its error when it has one).
      said: Object.fromEntries(Object.entries(last?.json?.nodes ?? {}).map(([id, n]) => [id, { status: n.status, error: typeof n.error === 'string' ? n.error.slice(0, 300) : undefined }])),
      ms: Math.round(now() - started),
      ...(loaded ? { load: loaded.report ? { ...loadFigures(loaded.report), connect_traces: events.filter((e) => e.event === 'connect').length, lb_commands: haproxy.proxy.record.filter((e) => e.by !== 'chaos' && e.cmd.startsWith('set server')).length } : null } : {}),
    };
  } finally {
    load?.kill();
    await haproxy?.proxy.stop().catch(() => {});
    if (opts.keep) {
      const kept = mkdtempSync(join(tmpdir(), 'qr-chaos-kept-'));
      // Files and directories only: the MQTT campaign's state dir holds unix sockets (redis, HAProxy).
      cpSync(dir, kept, { recursive: true, filter: (src) => { try { const st = lstatSync(src); return st.isFile() || st.isDirectory(); } catch { return false; } } });
      if (result) result.dir = kept;
    }
    await host.stop().catch(() => {});
  }
  return result;
}

/** The figures a campaign sums from a run's load report (null: no report). */
export function loadFigures(report) {
  if (!report) return null;
  return {
    clients: report.clients.total,
    published: report.messages.published,
    acked: report.messages.acked,
    delivered: report.messages.delivered,
    lost: report.messages.lost,
    duplicates: report.messages.duplicates,
    stranded: report.clients.not_connected.length,
    sessions_lost: report.sessions_lost,
    disconnects: report.reconnects.disconnects,
    reconnect_p99_ms: report.reconnects.p99_ms,
    reconnect_max_ms: report.reconnects.max_ms,
    accepted_while_draining: report.draining_accepts?.accepted_while_draining ?? null,
    accepts_checked: report.draining_accepts?.checked ?? null,
    drain_ended_by: report.drain.ended_by,
  };
}
