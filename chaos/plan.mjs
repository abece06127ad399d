/**
 * The seeded part of the chaos campaign: a small PRNG (mulberry32) and the fault plan
 * one run draws from its seed. The same seed always gives the same plan, so
 * `npm run chaos -- --replay <seed>` reproduces a run (the timings of the cluster
 * itself still vary a little from one machine load to the next).
 */

/** mulberry32: a 32-bit state, good enough to spread fault timings; returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function rng(seed) {
  const next = mulberry32(seed);
  const r = {
    next,
    /** integer in [lo, hi] */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
    /** k distinct elements of xs */
    sample: (xs, k) => {
      const copy = [...xs];
      const out = [];
      while (out.length < k && copy.length) out.push(copy.splice(Math.floor(next() * copy.length), 1)[0]);
      return out;
    },
  };
  return r;
}

/** Seeds of a campaign: run i of campaign seed S. */
export function runSeeds(campaignSeed, runs) {
  const r = mulberry32(campaignSeed);
  return Array.from({ length: runs }, () => Math.floor(r() * 2 ** 31) + 1);
}

/**
 * Every fault kind the campaign draws, with the simulator knob or API it uses.
 * `at` is ms after the run's first CLI start, `for` how long it lasts.
 */
export const KINDS = {
  cp_503_storm: 'CP answers every request 503 unavailable (Retry-After: 1): knob cpUnavailable',
  cp_flaky: 'a fraction of CP requests answered 503 (Retry-After: 0): knob cpFlakyRatio',
  cp_slow_transfers: 'the CP takes long to answer each per-PRG transfer and to apply it: knobs transferServiceMs, transferDelayMs',
  transfer_throttled: 'per-PRG transfers beyond 2 in flight answered 503 too_many_transfers: knob transferConcurrency',
  transfer_refused: 'every transfer answered 409 no_eligible_target: knob noEligibleTarget',
  transfer_stuck: 'transfers accepted (202) but never applied: knob transfersNeverComplete',
  lb_error: 'every LB request answers 500: knob lbError',
  lb_reload: 'an LB reload without a state file: every member PUT back to enabled (LB API, as an operator or VIP manager would)',
  lb_reenable: 'a colleague re-enables one member (LB API PUT admin_state enabled)',
  replica_down: 'the replicas of another node go down (CP view only): knob replicaDown',
  slow_replay: 'a node replays slowly after its next restart: knob slowReady',
  never_ready: 'a node never gets ready after its next restart: knob neverReady',
  lease_stolen: 'a stranger takes the rolling-restart lease and keeps it renewed: knob leaseHeldBy',
  signal: 'SIGINT / SIGTERM (sometimes twice) / SIGKILL of the CLI at a random moment (mostly after its first journal write), then resume',
};

/** Kinds whose fault makes the orchestrator's own re-assertion necessary (issue 13 item 1, not landed yet). */
export const NEEDS_REASSERT = ['lb_reload', 'lb_reenable'];

/**
 * How the MQTT campaign (`--mqtt`: real broker processes behind the real HAProxy, under
 * `sim load`) applies the kinds that the virtual campaign applies through the http LB.
 * Every other kind is the same simulator knob on both.
 */
export const MQTT_KINDS = {
  lb_error: "HAProxy's Runtime API unreachable: the socket the orchestrator uses goes away (chaos/lb-proxy.mjs)",
  lb_reload: 'an HAProxy reload without a server-state file: `set server mqtt/<n> state ready` for every node',
  lb_reenable: 'a colleague re-enables one server: `set server mqtt/<n> state ready`',
};

/**
 * Draws the plan of one run.
 * @param {number} seed
 * @param {{exclude?: string[], triggers?: boolean | 'all', mqtt?: boolean}} [opts]
 */
export function drawPlan(seed, opts = {}) {
  const r = rng(seed);
  const exclude = new Set(opts.exclude ?? []);
  // --mqtt: real broker processes (each a node process with aedes, a redis client…): fewer nodes.
  const nodes = r.pick(opts.mqtt ? [3, 4] : [5, 6]);
  const nodeIds = Array.from({ length: nodes }, (_, i) => `node-${i + 1}`);
  const target = r.chance(0.8) ? 'all' : r.pick(nodeIds);
  const kinds = Object.keys(KINDS).filter((k) => k !== 'signal' && !exclude.has(k));
  const count = r.int(1, 4);
  const faults = [];
  for (const kind of r.sample(kinds, count)) {
    const at = r.int(0, 6000);
    const dur = r.int(200, 3000);
    const node = r.pick(nodeIds);
    switch (kind) {
      case 'cp_503_storm':
        faults.push({ kind, at, for: r.int(200, 2500), patch: { cpUnavailable: true } });
        break;
      case 'cp_flaky':
        faults.push({ kind, at, for: dur, patch: { cpFlakyRatio: r.pick([0.2, 0.4, 0.6]) } });
        break;
      case 'cp_slow_transfers':
        faults.push({ kind, at, for: dur, patch: { transferServiceMs: r.int(5, 60), transferDelayMs: r.int(100, 1500) } });
        break;
      case 'transfer_throttled':
        faults.push({ kind, at, for: dur, patch: { transferConcurrency: 2, noBatch: true } });
        break;
      case 'transfer_refused':
        faults.push({ kind, at, for: dur, patch: { noEligibleTarget: true } });
        break;
      case 'transfer_stuck':
        faults.push({ kind, at, for: dur, patch: { transfersNeverComplete: true } });
        break;
      case 'lb_error':
        faults.push({ kind, at, for: r.int(200, 1500), patch: { lbError: true } });
        break;
      case 'lb_reload':
        faults.push({ kind, at, lb: 'all' });
        break;
      case 'lb_reenable':
        faults.push({ kind, at, lb: node });
        break;
      case 'replica_down':
        faults.push({ kind, at, for: dur, patch: { replicaDown: [{ node }] }, node });
        break;
      case 'slow_replay':
        faults.push({ kind, at: 0, patch: { slowReady: { [node]: r.int(800, 3000) } }, node });
        break;
      case 'never_ready':
        if (r.chance(0.5)) faults.push({ kind, at: 0, patch: { neverReady: [node] }, node });
        break;
      case 'lease_stolen':
        faults.push({ kind, at, for: r.int(300, 2000), patch: { leaseHeldBy: 'chaos-stranger' } });
        break;
    }
  }
  faults.sort((a, b) => a.at - b.at);
  // Opt-in (--triggers): half the timed faults land at a step boundary instead of on the
  // clock: when the nth node enters a step (from the journal), after a short delay. Drawn
  // last, so the plan of a seed without --triggers is unchanged. --all-triggers: every
  // timed fault, and every signal (below), so that what a run meets does not depend on
  // how fast the machine is (the test suite's smoke).
  const all = opts.triggers === 'all';
  if (opts.triggers) {
    for (const f of faults) {
      if (f.at === 0 || (!all && !r.chance(0.5))) continue;
      // (--all-triggers counts only the nodes the run restarts: one when it names one.)
      f.when = { step: r.pick(['leader-transfer', 'drain', 'quiesce', 'restart', 'readmit']), nth: r.int(1, all && target !== 'all' ? 1 : nodes), delay: r.int(0, 250) };
    }
  }
  // Signals: the i-th entry hits the i-th CLI invocation (the run, then each resume) `after` ms after it started.
  const signals = [];
  if (!exclude.has('signal')) {
    const n = r.pick([0, 0, 1, 1, 2, 3]);
    for (let i = 0; i < n; i++) {
      const sig = r.pick(['SIGINT', 'SIGTERM', 'SIGKILL']);
      // Most land once the invocation has written the journal (mid-roll); some during start-up.
      const early = r.chance(0.2);
      signals.push({ sig, early, after: early ? r.int(0, 1500) : r.int(0, 3000), twice: sig !== 'SIGKILL' && r.chance(0.3) });
    }
    // --all-triggers: each signal instead lands `delay` ms after the invocation's nth step
    // change (any node, read from the journal): mid-roll whatever the machine's speed.
    if (all) for (const s of signals) Object.assign(s, { early: false, when: { nth: r.int(1, 4), delay: r.int(0, 250) } });
  }
  return { seed, nodes, racks: 3, target, faults, signals, ...(opts.mqtt ? { mqtt: true } : {}) };
}

/** When a planned signal lands, in words. */
export function signalWhen(s) {
  if (s.when) return `${s.when.delay} ms after step change #${s.when.nth} of its invocation`;
  return `${s.after} ms after ${s.early ? 'its start' : 'its first journal write'}`;
}

/** The plan in one line per fault, for a failing run's report. */
export function describePlan(plan) {
  const lines = [`seed ${plan.seed}: ${plan.nodes} ${plan.mqtt ? 'real broker processes behind HAProxy, under MQTT load' : 'nodes'}, 3 racks, restart ${plan.target === 'all' ? '--all --parallel auto' : plan.target}`];
  for (const f of plan.faults) {
    const what = f.patch ? JSON.stringify(f.patch) : `LB member(s) ${f.lb} → enabled`;
    const when = f.when ? `${f.when.delay} ms after node #${f.when.nth} enters ${f.when.step}` : `at ${f.at} ms`;
    lines.push(`  ${when}${f.for ? ` for ${f.for} ms` : ''}: ${f.kind} ${what}`);
  }
  plan.signals.forEach((s, i) =>
    lines.push(`  invocation ${i + 1}: ${s.sig}${s.twice ? ' ×2' : ''} ${signalWhen(s)}`),
  );
  return lines.join('\n');
}
