/**
 * Runs a plan, fresh or resumed: the run's environment and journal (a new run's
 * journal supersedes the previous one only at its first change), progress, the
 * caller's signal handling and reporter wrapping, then the roll. The commands
 * (restart, plan, resume) open the session before and render the result after.
 */
import { existsSync, renameSync } from 'node:fs';
import type { Reporter } from '../steps/reporter.js';
import type { RunLog } from '../util/log.js';
import type { ClusterAccess, NodeTarget } from '../steps/context.js';
import { RESTART_STEPS } from '../steps/index.js';
import { etaModel, readHistory } from './eta.js';
import { Journal, type StepName } from './journal.js';
import type { FactSources } from './plan/facts.js';
import { gatherFacts } from './plan/facts.js';
import type { PlanFacts } from './plan/types.js';
import { beginProgress } from './progress.js';
import { type RollEnv, type RollOutcome, type RollPlan, newJournal, roll } from './roll.js';

/** What execute needs of a command's session. */
export interface ExecuteSession extends ClusterAccess, Pick<FactSources, 'loaded' | 'stateDir'> {
  env(runId?: string, startedAt?: number, journal?: Journal): RollEnv;
  prefetch(targets: readonly NodeTarget[]): Promise<void>;
  /** The run's log file (invariant 11), once env() began a real run. */
  runLog?(): RunLog | undefined;
}

export interface ExecuteOptions {
  dryRun?: boolean;
  allowOverload?: boolean;
  force?: boolean;
}

/** A reporter that also records the run's end (the metrics file). */
export type FinishingReporter = Reporter & { finish(status: RollOutcome['status']): void };

export interface ExecuteHooks {
  /** Installs signal handling around a real run; returns its uninstaller. */
  guard(journalFile: string | undefined): () => void;
  /** Wraps the run's reporter (e.g. `--metrics-file`); a real run only. */
  wrapReporter?(inner: Reporter, runId: string, startedAt: number, plan: { waves: readonly (readonly string[])[]; done: readonly string[] }): FinishingReporter;
}

export interface Resumed {
  journal: Journal;
  from: Map<string, StepName | 'done'>;
}

export interface Executed {
  outcome: RollOutcome;
  plan: RollPlan;
  journal?: string;
  facts?: PlanFacts;
  elapsedMs: number;
  /** nodes a resumed run found already done */
  done: string[];
  runLog?: RunLog;
}

export async function execute(s: ExecuteSession, plan: RollPlan, opts: ExecuteOptions, hooks: ExecuteHooks, resumed?: Resumed, facts?: PlanFacts): Promise<Executed> {
  const t0 = Date.now();
  const dryRun = opts.dryRun === true;
  if (!facts && resumed && !dryRun) {
    // A resumed run reports in the same document as a fresh one (without the reads, in the smaller one).
    const o = plan.options;
    const parallel: number | 'auto' = o.parallel === 'auto' ? 'auto' : typeof o.parallel === 'number' ? o.parallel : 1;
    const options: PlanFacts['options'] = { parallel, pauseMs: plan.pauseMs, all: o.all === true, force: o.force === true, allowOverload: o.allow_overload === true, nodes: plan.nodes.map((n) => n.id) };
    facts = await gatherFacts(s, plan.nodes, () => plan.waves, options).catch(() => undefined);
  }
  let journal: Journal | undefined = resumed?.journal;
  let env: RollEnv;
  if (dryRun) {
    env = s.env();
  } else if (journal) {
    env = s.env(journal.data.run_id, Date.parse(journal.data.started_at), journal);
  } else {
    env = s.env();
    const previous = Journal.read(s.stateDir); // an unreadable journal stops us here, before anything
    const fresh = newJournal(env, plan, s.stateDir);
    // The previous journal is superseded only when this run makes its first change (a refused run leaves it resumable).
    fresh.beforeFirstWrite = () => archivePrevious(s, previous);
    journal = fresh;
    env = { ...env, journal };
  }
  env = { ...env, options: { dryRun, allowOverload: opts.allowOverload === true, force: opts.force === true } };
  const done = resumed ? [...resumed.from].filter(([, f]) => f === 'done').map(([id]) => id) : [];
  const model = facts?.eta ?? etaModel(s.loaded.config, readHistory(s.stateDir));
  beginProgress(env.reporter, {
    waves: plan.waves,
    racks: new Map(plan.nodes.map((n) => [n.id, n.rack])),
    expectedMs: Object.fromEntries(model.steps.map((x) => [x.step, x.expected_ms])),
    pauseMs: plan.pauseMs,
    dryRun,
    log: env.log,
    done,
  });
  // One event per run (per resume), none per node: what the report draws the plan's ETA and the
  // waves from, also for a run that never reached its outcome (interrupted, killed).
  if (!dryRun) {
    env.log.info(
      {
        event: 'run.plan',
        initiator: env.initiator,
        waves: plan.waves,
        ...(resumed ? { resumed: true, done } : {}),
        pause_ms: plan.pauseMs,
        eta: {
          basis: model.basis,
          node_expected_ms: model.node_expected_ms,
          node_max_ms: model.node_max_ms,
          steps: Object.fromEntries(model.steps.map((x) => [x.step, { expected_ms: x.expected_ms, max_ms: x.max_ms }])),
        },
      },
      `plan: ${plan.waves.length} wave(s), ${plan.waves.reduce((n, w) => n + w.length, 0)} node(s)`,
    );
  }
  const uninstall = dryRun ? () => {} : hooks.guard(journal?.file);
  let wrapped: FinishingReporter | undefined;
  if (hooks.wrapReporter && !dryRun) {
    wrapped = hooks.wrapReporter(env.reporter, env.runId, env.startedAt, { waves: plan.waves, done });
    env = { ...env, reporter: wrapped };
  }
  let outcome: RollOutcome;
  try {
    if (dryRun) await s.prefetch(plan.nodes);
    outcome = await roll(env, plan, RESTART_STEPS, resumed ? { from: resumed.from } : undefined);
    wrapped?.finish(outcome.status);
  } finally {
    uninstall();
    env.reporter.close();
  }
  return { outcome, plan, journal: journal?.file, facts, elapsedMs: Date.now() - t0, done, runLog: s.runLog?.() };
}

/** A new run supersedes an old journal; the old one is kept beside it, renamed. */
function archivePrevious(s: ExecuteSession, old: Journal | undefined): void {
  if (!old) return;
  if (old.unfinished) {
    s.reporter.warn(undefined, `an unfinished run ${old.data.run_id} (${old.data.status}) is superseded; its journal is kept as journal.${old.data.run_id}.json`);
  }
  const file = Journal.path(s.stateDir);
  if (existsSync(file)) renameSync(file, file.replace(/journal\.json$/, `journal.${old.data.run_id}.json`));
}
