/** `restart <node...>` / `--all`, and `plan` (the same with --dry-run). */
import { existsSync, renameSync } from 'node:fs';
import { parseDuration } from '../config/duration.js';
import { resolveTargets, targetOf } from '../cluster/targets.js';
import type { Prg } from '../clients/schemas.js';
import type { NodeTarget } from '../steps/context.js';
import { ExitCode, QrError, StepError, UsageError } from '../util/errors.js';
import { Journal, type StepName } from '../run/journal.js';
import { type RollOutcome, type RollPlan, newJournal, roll } from '../run/roll.js';
import { RESTART_STEPS } from '../steps/index.js';
import { planWaves } from '../cluster/waves.js';
import { confirm, requireConfirmable } from './confirm.js';
import { renderOutcome } from '../render/outcome.js';
import { etaModel, readHistory } from '../run/eta.js';
import { renderPlanText } from '../render/plan.js';
import { colorFor } from '../render/style.js';
import { type PlanFacts, planDocument } from '../run/plan/document.js';
import { gatherFacts } from '../run/plan/facts.js';
import { beginProgress } from '../render/reporter.js';
import { type GlobalOptions, type Session, openSession } from './session.js';
import { installSignalHandlers } from './signals.js';
import { type MetricsReporter, metricsReporter } from '../render/metrics-file.js';

export interface RestartOptions extends GlobalOptions {
  all?: boolean;
  pause?: string;
  metricsFile?: string;
}

export async function planAction(opts: RestartOptions, nodes: string[] = []): Promise<number> {
  return restartAction({ ...opts, dryRun: true }, nodes);
}

export function parseParallel(v: string | undefined): number | 'auto' {
  if (v === undefined || v === '') return 1;
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--parallel must be a positive whole number or "auto" (got "${v}")`);
  return n;
}

export async function restartAction(opts: RestartOptions, nodes: string[] = []): Promise<number> {
  if (opts.all && nodes.length) throw new UsageError('name nodes or pass --all, not both');
  if (!opts.all && nodes.length === 0) throw new UsageError('name at least one node (e.g. quantum-roll restart node-3), or pass --all');
  const parallel = parseParallel(opts.parallel);
  const pauseMs = opts.pause === undefined ? 0 : parseDuration(opts.pause);
  if (pauseMs === undefined) throw new UsageError(`--pause must be a duration such as 30s or 2m (got "${opts.pause}")`);
  // Off a TTY without --yes: refuse before reading or changing anything.
  requireConfirmable(opts);
  const s = await openSession(opts);
  try {
    const state = await s.cp.clusterState().catch((err: unknown) => {
      // Reading the cluster is the first precheck ("the node exists"): name it, and say nothing changed.
      throw err instanceof QrError && !(err instanceof UsageError) ? precheckReadFailed(err, nodes) : err;
    });
    const targets = opts.all ? state.nodes.map((n) => targetOf(s.loaded.config, n)) : resolveTargets(s.loaded.config, state, nodes);
    const options = { parallel, pauseMs, all: opts.all === true, force: opts.force === true, allowOverload: opts.allowOverload === true, nodes };
    const facts = await gatherFacts(s, targets, (prgs) => planFor(targets, prgs, parallel, state.cp.leader, opts.all === true), options, state);
    const waves = facts.waves.map((w) => [...w]);
    const plan: RollPlan = {
      command: 'restart',
      nodes: targets,
      waves,
      pauseMs,
      configFile: s.loaded.file,
      options: { parallel, pause_ms: pauseMs, all: opts.all === true, allow_overload: opts.allowOverload === true, force: opts.force === true },
    };
    if (!opts.dryRun) {
      await confirm(opts, () =>
        renderPlanText(planDocument(facts, undefined, { dryRun: false }), {
          verbose: opts.verbose === true,
          color: colorFor(process.stderr),
          withChecks: 'plan',
          width: process.stderr.columns,
        }),
      );
    }
    return await execute(s, plan, opts, undefined, facts);
  } finally {
    await s.close();
  }
}

/**
 * Named nodes, serially: in the order given (the operator chose it). Otherwise the
 * placement-aware planner: waves of nodes sharing no PRG, the nodes leading most last.
 */
function planFor(targets: readonly NodeTarget[], prgs: readonly Prg[], parallel: number | 'auto', cpLeader: string | null, all: boolean): string[][] {
  if (parallel === 1 && !all) return targets.map((t) => [t.id]);
  const led = new Map<string, number>();
  for (const p of prgs) if (p.leader) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
  const ids = new Set(targets.map((t) => t.id));
  const relevant = prgs.filter((p) => p.replicas.some((r) => ids.has(r.node)));
  return planWaves(
    targets.map((t) => ({ id: t.id, rack: t.rack, prgsLed: led.get(t.id) ?? 0, hostsCpLeader: cpLeader === t.id })),
    relevant,
    { maxWaveSize: parallel },
  );
}

/** Runs a plan (fresh or resumed) under signal handling, renders it, returns the exit code. */
export async function execute(
  s: Session,
  plan: RollPlan,
  opts: RestartOptions,
  resumed?: { journal: Journal; from: Map<string, StepName | 'done'> },
  facts?: PlanFacts,
): Promise<number> {
  const t0 = Date.now();
  if (!facts && resumed && !opts.dryRun) {
    // A resumed run reports in the same document as a fresh one (without the reads, in the smaller one).
    const o = plan.options;
    const parallel: number | 'auto' = o.parallel === 'auto' ? 'auto' : typeof o.parallel === 'number' ? o.parallel : 1;
    const options: PlanFacts['options'] = { parallel, pauseMs: plan.pauseMs, all: o.all === true, force: o.force === true, allowOverload: o.allow_overload === true, nodes: plan.nodes.map((n) => n.id) };
    facts = await gatherFacts(s, plan.nodes, () => plan.waves, options).catch(() => undefined);
  }
  let journal: Journal | undefined = resumed?.journal;
  let env;
  if (opts.dryRun) {
    env = s.env();
  } else if (journal) {
    env = s.env(journal.data.run_id, Date.parse(journal.data.started_at), journal);
  } else {
    env = s.env();
    const previous = Journal.read(s.stateDir); // an unreadable journal stops us here, before anything
    journal = newJournal(env, plan, s.stateDir);
    // The previous journal is superseded only when this run makes its first change (a refused run leaves it resumable).
    journal.beforeFirstWrite = () => archivePrevious(s, previous);
    env = { ...env, journal };
  }
  env = { ...env, options: { dryRun: opts.dryRun === true, allowOverload: opts.allowOverload === true, force: opts.force === true } };
  const done = resumed ? [...resumed.from].filter(([, f]) => f === 'done').map(([id]) => id) : [];
  const model = facts?.eta ?? etaModel(s.loaded.config, readHistory(s.stateDir));
  beginProgress(env.reporter, {
    waves: plan.waves,
    racks: new Map(plan.nodes.map((n) => [n.id, n.rack])),
    expectedMs: Object.fromEntries(model.steps.map((x) => [x.step, x.expected_ms])),
    pauseMs: plan.pauseMs,
    dryRun: opts.dryRun === true,
    log: env.log,
    done,
  });
  const uninstall = opts.dryRun ? () => {} : installSignalHandlers(s.stop, () => s.reporter.close(), { json: opts.json === true, journal: journal?.file });
  let metrics: MetricsReporter | undefined;
  if (opts.metricsFile && !opts.dryRun) {
    metrics = metricsReporter(env.reporter, opts.metricsFile, env.runId, env.startedAt, { waves: plan.waves, done });
    env = { ...env, reporter: metrics };
  }
  let outcome: RollOutcome;
  try {
    if (opts.dryRun) await s.prefetch(plan.nodes);
    outcome = await roll(env, plan, RESTART_STEPS, resumed ? { from: resumed.from } : undefined);
    metrics?.finish(outcome.status);
  } finally {
    uninstall();
    env.reporter.close();
  }
  renderOutcome(outcome, {
    json: opts.json === true,
    dryRun: opts.dryRun === true,
    verbose: opts.verbose === true,
    plan,
    journal: journal?.file,
    facts,
    elapsedMs: Date.now() - t0,
    done,
  });
  return outcome.exitCode === 0 ? ExitCode.ok : outcome.exitCode;
}

/** A new run supersedes an old journal; the old one is kept beside it, renamed. */
function archivePrevious(s: Session, old: Journal | undefined): void {
  if (!old) return;
  if (old.unfinished) {
    s.reporter.warn(undefined, `an unfinished run ${old.data.run_id} (${old.data.status}) is superseded; its journal is kept as journal.${old.data.run_id}.json`);
  }
  const file = Journal.path(s.stateDir);
  if (existsSync(file)) renameSync(file, file.replace(/journal\.json$/, `journal.${old.data.run_id}.json`));
}

function precheckReadFailed(err: QrError, nodes: readonly string[]): StepError {
  return new StepError(
    `precheck${nodes.length ? ` of ${nodes.join(', ')}` : ''} could not read the cluster state: ${err.message}; nothing was changed. Fix the control plane connection (quantum-roll status shows it), then run the same command again.`,
    { ...err.details, step: 'precheck', ...(nodes.length === 1 ? { node: nodes[0] } : {}), next: 'quantum-roll status, then run the same command again' },
    { cause: err },
  );
}
