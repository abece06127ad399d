/** `restart <node...>` / `--all`, and `plan` (the same with --dry-run). */
import { parseDuration } from '../config/duration.js';
import { durationProblem } from '../config/schema.js';
import { resolveTargets, targetOf } from '../cluster/targets.js';
import type { ClusterState, Prg } from '../clients/schemas.js';
import type { NodeTarget } from '../steps/context.js';
import { QrError, StepError, UsageError } from '../util/errors.js';
import { requireConfirmable } from './confirm.js';
import { openSession } from './session.js';
import { LEASE_NAME } from '../run/lease.js';
import type { RollPlan } from '../run/roll.js';
import type { RestartOptions } from './run-options.js';

/**
 * What a run needs once the cluster state is read: the planner, the renderers, the roll.
 * Loaded while the first read is on the wire, so a restart's first request goes out
 * after loading only the session (config, clients, logger).
 */
async function runModules() {
  const [waves, confirm, plan, style, document, facts, execute, outcome, runOptions] = await Promise.all([
    import('../cluster/waves.js'),
    import('./confirm.js'),
    import('../render/plan.js'),
    import('../render/style.js'),
    import('../run/plan/document.js'),
    import('../run/plan/facts.js'),
    import('../run/execute.js'),
    import('../render/outcome.js'),
    import('./run-options.js'),
  ]);
  return { ...waves, ...confirm, ...plan, ...style, ...document, ...facts, ...execute, ...outcome, ...runOptions };
}

export type { RestartOptions };

export async function planAction(opts: RestartOptions, nodes: string[] = []): Promise<number> {
  return restartAction({ ...opts, dryRun: true }, nodes);
}

/** `--parallel`: `auto`, or a whole number as written (`3`; not `1e2`, `2.0`, ` 3` or `03`). */
export function parseParallel(v: string | undefined): number | 'auto' {
  if (v === undefined) return 1;
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!/^[1-9][0-9]*$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`--parallel must be a positive whole number such as 2, or "auto" (got ${JSON.stringify(v)})`);
  return n;
}

/** `--pause`: a duration, `0s` allowed (no pause), at most 2^31−1 ms like every duration. */
export function parsePause(v: string | undefined): number {
  if (v === undefined) return 0;
  const ms = parseDuration(v);
  if (ms === undefined) throw new UsageError(`--pause must be a duration such as 30s or 2m (got ${JSON.stringify(v)})`);
  const problem = durationProblem(ms, false);
  if (problem) throw new UsageError(`--pause ${JSON.stringify(v)} ${problem}`);
  return ms;
}

export async function restartAction(opts: RestartOptions, nodes: string[] = []): Promise<number> {
  if (opts.all && nodes.length) throw new UsageError('name nodes or pass --all, not both');
  if (!opts.all && nodes.length === 0) throw new UsageError('name at least one node (e.g. quantum-roll restart node-3), or pass --all');
  const parallel = parseParallel(opts.parallel);
  const pauseMs = parsePause(opts.pause);
  // Off a TTY without --yes: refuse before reading or changing anything.
  requireConfirmable(opts);
  const s = await openSession(opts);
  try {
    const read = s.cp.clusterState().catch((err: unknown) => {
      // Reading the cluster is the first precheck ("the node exists"): name it, and say nothing changed.
      throw err instanceof QrError && !(err instanceof UsageError) ? precheckReadFailed(err, nodes) : err;
    });
    // A dry run reads from one snapshot (clients/snapshot.ts: every read once, shared): the
    // plan's other CP reads need nothing from the state, so they go out with it and are on
    // the wire while the run's modules load; gatherFacts below gets the same answers.
    // The nodes' reads of its prechecks (execute() awaits the same snapshot) follow the state's answer.
    const targetsIn = (state: ClusterState) => (opts.all ? state.nodes.map((n) => targetOf(s.loaded.config, n)) : resolveTargets(s.loaded.config, state, nodes));
    if (opts.dryRun) {
      for (const early of [s.cp.readyz(), s.cp.listPrgs(), s.cp.lease(LEASE_NAME)]) early.catch(() => undefined);
      read.then((state) => s.prefetch(targetsIn(state))).catch(() => undefined); // a failure is reported below
    }
    const loading = runModules();
    loading.catch(() => undefined); // a failed read is the error to report
    const [state, m] = await Promise.all([read, loading]);
    const { confirm, renderPlanText, colorFor, planDocument, gatherFacts, execute, renderExecuted, runHooks } = m;
    const targets = targetsIn(state);
    const source = s.loaded.location?.source;
    const options = {
      parallel,
      pauseMs,
      all: opts.all === true,
      force: opts.force === true,
      allowOverload: opts.allowOverload === true,
      nodes,
      // What the plan's run_command must carry to act on the same cluster with the same journal.
      ...(source === '--config' || source === '$QUANTUM_ROLL_CONFIG' ? { configFile: s.loaded.file } : {}),
      ...(opts.stateDir !== undefined ? { stateDir: s.stateDir } : {}),
    };
    const facts = await gatherFacts(s, targets, (prgs) => planFor(m.planWaves, targets, prgs, parallel, state.cp.leader, opts.all === true), options, state);
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
    return renderExecuted(await execute(s, plan, opts, runHooks(s, opts), undefined, facts), opts);
  } catch (err) {
    throw s.failed(err);
  } finally {
    await s.close();
  }
}

/**
 * Named nodes, serially: in the order given (the operator chose it). Otherwise the
 * placement-aware planner: waves of nodes sharing no PRG, the nodes leading most last.
 */
function planFor(
  planWaves: typeof import('../cluster/waves.js').planWaves,
  targets: readonly NodeTarget[],
  prgs: readonly Prg[],
  parallel: number | 'auto',
  cpLeader: string | null,
  all: boolean,
): string[][] {
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

function precheckReadFailed(err: QrError, nodes: readonly string[]): StepError {
  return new StepError(
    `precheck${nodes.length ? ` of ${nodes.join(', ')}` : ''} could not read the cluster state: ${err.message}; nothing was changed. Fix the control plane connection (quantum-roll status shows it), then run the same command again.`,
    { ...err.details, step: 'precheck', ...(nodes.length === 1 ? { node: nodes[0] } : {}), next: 'quantum-roll status, then run the same command again' },
    { cause: err },
  );
}

