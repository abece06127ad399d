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
 *
 * Each run: a fresh simulator (5–6 nodes, 3 racks), a fault plan drawn from the run's
 * seed (chaos/plan.mjs), `restart --all --parallel auto` or one named node through
 * dist/cli.js, resumed until done or failed safely, then the invariants checked from
 * the simulator's record (chaos/check.mjs). A failing run prints its seed and plan.
 * Exit 0 when no run violated an invariant, 1 otherwise.
 */
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { KINDS, describePlan, runSeeds } from './plan.mjs';
import { requireBuild, runOne } from './run-one.mjs';

function parseArgs(argv) {
  const o = { triggers: false, runs: 20, seed: 1, replay: undefined, exclude: [], concurrency: 1, out: undefined, keep: false, quiet: false };
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
    else throw new Error(`unknown option ${a} (see chaos/campaign.mjs)`);
  }
  for (const k of o.exclude) if (!(k in KINDS)) throw new Error(`--exclude: unknown fault kind ${k} (known: ${Object.keys(KINDS).join(', ')})`);
  for (const [k, x] of Object.entries({ runs: o.runs, seed: o.seed, concurrency: o.concurrency })) {
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
  };
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
        r = await runOne(seed, { exclude: o.exclude, triggers: o.triggers, keep: o.keep, log: o.replay !== undefined ? (s) => console.log(s) : (s) => lines.push(s) });
      } catch (err) {
        r = { seed, plan: undefined, outcome: 'harness error', violations: [{ invariant: 'harness', detail: String(err?.stack ?? err) }], exposures: [], findings: [], invocations: [], applied: [], ms: 0 };
      }
      results.push(r);
      // Written after every run, so a campaign cut short still leaves its record.
      if (o.out) writeFileSync(o.out, JSON.stringify({ options: o, summary: summarize(results), results }, null, 2));
      const bad = r.violations.length > 0 || (r.findings ?? []).length > 0;
      if (!o.quiet || bad) {
        console.log(`[${results.length}/${seeds.length}] seed ${seed}: ${r.outcome}, ${r.invocations.length} invocation(s), ${r.ms} ms${bad ? `, ${r.violations.length} VIOLATION(S)` : ''}${r.exposures.length ? `, ${r.exposures.length} exposure(s)` : ''}${r.findings?.length ? `, ${r.findings.length} finding(s)` : ''}`);
      }
      if (bad || o.replay !== undefined) {
        if (r.plan) console.log(describePlan(r.plan));
        for (const l of lines) console.log(l);
        for (const v of [...r.violations, ...r.exposures, ...(r.findings ?? [])]) {
          console.log(`  ${v.exposure ? 'exposure' : v.finding ? 'finding' : 'VIOLATION'}: ${v.invariant}: ${v.detail}`);
        }
        if (r.dir) console.log(`  state dir kept: ${r.dir}`);
        console.log(`  replay: npm run chaos -- --replay ${seed}${o.triggers === 'all' ? ' --all-triggers' : o.triggers ? ' --triggers' : ''}${o.exclude.length ? ` --exclude ${o.exclude.join(',')}` : ''}`);
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
