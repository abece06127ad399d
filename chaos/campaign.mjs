/**
 * The seeded chaos campaign (issue 13, item 5).
 *
 *   npm run chaos -- --runs 200 --seed 7          # run seeds drawn from campaign seed 7
 *   npm run chaos -- --replay 123456789            # one run, the plan of that run seed
 *   npm run chaos -- --seeds 11,12,13             # exactly these run seeds
 *   options: --exclude lb_reload,lb_reenable       # leave fault kinds out
 *            --concurrency 2                       # runs at once (each its own simulator)
 *            --out file.json                       # every run's result
 *            --keep                                # keep the state dir of each run (replay)
 *            --triggers                            # half the faults land at step boundaries (journal)
 *            --all-triggers                        # every timed fault and signal does (speed-independent)
 *            --mqtt [--clients 40]                  # real broker processes behind the real HAProxy, under `sim load`
 *
 * Each run: a fresh simulator (5–6 nodes, 3 racks), a fault plan drawn from the run's
 * seed (chaos/plan.mjs), `restart --all --parallel auto` or one named node through
 * dist/cli.js, resumed until done or failed safely, then the invariants checked from
 * the simulator's record (chaos/check.mjs). A failing run prints its seed and plan.
 *
 * --mqtt: each run's simulator has real broker processes (3–4 nodes, 12 PRGs) behind a
 * real HAProxy; `sim load` (40 clients, MQTT 5 : 3.1.1 2:1, persistent sessions, QoS 1)
 * runs through the front door from before the roll to after it, and the checker adds its
 * client invariants (nothing PUBACKed lost, no client stranded, no CONNECT accepted while
 * draining) from the load's report and the brokers' CONNECT traces.
 * Exit 0 when no run violated an invariant, 1 otherwise.
 */
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { KINDS, describePlan, runSeeds } from './plan.mjs';
import { requireBuild, runOne } from './run-one.mjs';

function parseArgs(argv) {
  const o = { triggers: false, mqtt: false, clients: 40, runs: 20, seed: 1, replay: undefined, exclude: [], concurrency: 1, out: undefined, keep: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--runs') o.runs = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--replay') o.replay = Number(v());
    else if (a === '--seeds') o.seeds = v().split(',').map(Number);
    else if (a === '--exclude') o.exclude = v().split(',').filter(Boolean);
    else if (a === '--concurrency') o.concurrency = Number(v());
    else if (a === '--out') o.out = v();
    else if (a === '--keep') o.keep = true;
    else if (a === '--triggers') o.triggers = true;
    else if (a === '--all-triggers') o.triggers = 'all';
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--mqtt') o.mqtt = true;
    else if (a === '--clients') o.clients = Number(v());
    else throw new Error(`unknown option ${a} (see chaos/campaign.mjs)`);
  }
  for (const k of o.exclude) if (!(k in KINDS)) throw new Error(`--exclude: unknown fault kind ${k} (known: ${Object.keys(KINDS).join(', ')})`);
  for (const [k, x] of Object.entries({ runs: o.runs, seed: o.seed, concurrency: o.concurrency, clients: o.clients })) {
    if (!Number.isInteger(x) || x < 1) throw new Error(`--${k} must be a positive integer`);
  }
  if (o.replay !== undefined && (!Number.isInteger(o.replay) || o.replay < 1)) throw new Error('--replay needs a run seed (a positive integer)');
  if (o.seeds && !o.seeds.every((x) => Number.isInteger(x) && x > 0)) throw new Error('--seeds needs run seeds (positive integers, comma-separated)');
  return o;
}

/** Counts per fault kind (signals per signal), outcomes, violations per invariant. */
export function summarize(results) {
  const faults = {};
  const outcomes = {};
  const violations = {};
  const exposures = {};
  const findings = {};
  for (const r of results) {
    for (const k of r.applied) faults[k] = (faults[k] ?? 0) + 1;
    for (const inv of r.invocations) if (inv.sent) faults[`signal ${inv.sent}`] = (faults[`signal ${inv.sent}`] ?? 0) + 1;
    const o = r.outcome.replace(/\(exit \d\)/, (m) => m);
    outcomes[o] = (outcomes[o] ?? 0) + 1;
    for (const v of r.violations) violations[v.invariant] = (violations[v.invariant] ?? 0) + 1;
    for (const v of r.exposures) exposures[v.invariant] = (exposures[v.invariant] ?? 0) + 1;
    for (const v of r.findings ?? []) findings[v.invariant] = (findings[v.invariant] ?? 0) + 1;
  }
  return {
    runs: results.length,
    failing_runs: results.filter((r) => r.violations.length).length,
    faults,
    outcomes,
    violations,
    exposures,
    findings,
    resumes: results.reduce((s, r) => s + r.invocations.filter((i) => i.cmd === 'resume').length, 0),
    invocations: results.reduce((s, r) => s + r.invocations.length, 0),
    ...(results.some((r) => r.load !== undefined) ? { load: sumLoad(results) } : {}),
  };
}

/** The MQTT campaign's client figures over all runs (`runs_without_report`: a load that gave none). */
function sumLoad(results) {
  const t = { runs_without_report: 0, clients: 0, published: 0, acked: 0, delivered: 0, lost: 0, duplicates: 0, stranded: 0, sessions_lost: 0, disconnects: 0, accepted_while_draining: 0, accepts_checked: 0, connect_traces: 0, lb_commands: 0, reconnect_max_ms: 0 };
  for (const r of results) {
    if (r.load === undefined) continue;
    if (!r.load) {
      t.runs_without_report++;
      continue;
    }
    for (const k of Object.keys(t)) {
      if (k === 'runs_without_report') continue;
      if (k === 'reconnect_max_ms') t[k] = Math.max(t[k], r.load[k] ?? 0);
      else t[k] += r.load[k] ?? 0;
    }
  }
  return t;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  requireBuild();
  const seeds = o.replay !== undefined ? [o.replay] : (o.seeds ?? runSeeds(o.seed, o.runs));
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < seeds.length) {
      const i = next++;
      const seed = seeds[i];
      const lines = [];
      let r;
      try {
        r = await runOne(seed, { exclude: o.exclude, triggers: o.triggers, keep: o.keep, mqtt: o.mqtt, clients: o.clients, log: o.replay !== undefined ? (s) => console.log(s) : (s) => lines.push(s) });
      } catch (err) {
        r = { seed, plan: undefined, outcome: 'harness error', ...(o.mqtt ? { load: null } : {}), violations: [{ invariant: 'harness', detail: String(err?.stack ?? err) }], exposures: [], findings: [], invocations: [], applied: [], ms: 0 };
      }
      results.push(r);
      // Written after every run, so a campaign cut short still leaves its record.
      if (o.out) writeFileSync(o.out, JSON.stringify({ options: o, summary: summarize(results), results }, null, 2));
      const bad = r.violations.length > 0 || (r.findings ?? []).length > 0;
      if (!o.quiet || bad) {
        const l = r.load ? `, load: ${r.load.published} published, ${r.load.lost} lost, ${r.load.stranded} stranded, ${r.load.accepted_while_draining} accepted while draining` : '';
        console.log(`[${results.length}/${seeds.length}] seed ${seed}: ${r.outcome}, ${r.invocations.length} invocation(s), ${r.ms} ms${l}${bad ? `, ${r.violations.length} VIOLATION(S)` : ''}${r.exposures.length ? `, ${r.exposures.length} exposure(s)` : ''}${r.findings?.length ? `, ${r.findings.length} finding(s)` : ''}`);
      }
      if (bad || o.replay !== undefined) {
        if (r.plan) console.log(describePlan(r.plan));
        for (const l of lines) console.log(l);
        for (const v of [...r.violations, ...r.exposures, ...(r.findings ?? [])]) {
          console.log(`  ${v.exposure ? 'exposure' : v.finding ? 'finding' : 'VIOLATION'}: ${v.invariant}: ${v.detail}`);
        }
        if (r.dir) console.log(`  state dir kept: ${r.dir}`);
        console.log(`  replay: npm run chaos -- --replay ${seed}${o.mqtt ? ' --mqtt' : ''}${o.mqtt && o.clients !== 40 ? ` --clients ${o.clients}` : ''}${o.triggers === 'all' ? ' --all-triggers' : o.triggers ? ' --triggers' : ''}${o.exclude.length ? ` --exclude ${o.exclude.join(',')}` : ''}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, seeds.length) }, worker));
  const summary = summarize(results);
  console.log(JSON.stringify(summary, null, 2));
  if (o.out) writeFileSync(o.out, JSON.stringify({ options: o, summary, results }, null, 2));
  process.exitCode = summary.failing_runs ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`chaos: ${err?.message ?? err}`);
    process.exitCode = 2;
  });
}
