/**
 * A run: hold the maintenance lease from just before the first change to the end,
 * journal it, and take wave after wave of nodes through the pipeline. Within a wave
 * every node is prechecked before any of them changes; waves run one after another.
 */
import { lbTargetOf, type NodeTarget, type RunEnv, type Step, type StepContext } from '../steps/context.js';
import { ExitCode, type QrError, asQrError } from '../util/errors.js';
import { Journal, type JournalData, type NodeRecord, type StepName, configDigest, configDigests, emptyNodeRecord } from './journal.js';
import { LEASE_NAME, LeaseKeeper } from './lease.js';
import { type NodeOutcome, leftAs, runPipeline } from './pipeline.js';
import { sleep } from '../util/sleep.js';
import { revalidateWave } from '../cluster/waves.js';
import { leadingChecks } from '../steps/index.js';

export interface RollPlan {
  command: string;
  nodes: NodeTarget[];
  waves: string[][];
  pauseMs: number;
  configFile: string;
  options: Record<string, unknown>;
}

export interface RollOutcome {
  runId: string;
  status: 'done' | 'failed' | 'interrupted' | 'refused';
  exitCode: number;
  nodes: NodeOutcome[];
  waves: string[][];
  error?: QrError;
}

export function newJournal(env: RunEnv, plan: RollPlan, stateDir: string): Journal {
  const now = new Date(env.startedAt).toISOString();
  const data: JournalData = {
    version: 1,
    run_id: env.runId,
    command: plan.command,
    status: 'running',
    started_at: now,
    updated_at: now,
    config_file: plan.configFile,
    config_digest: configDigest(env.config),
    config_digests: configDigests(env.config),
    options: plan.options,
    initiator: env.initiator,
    lease: null,
    waves: plan.waves,
    nodes: Object.fromEntries(plan.nodes.map((n) => [n.id, emptyNodeRecord()])),
    error: null,
  };
  return new Journal(Journal.path(stateDir), data, { deferred: true });
}

/**
 * Runs the plan. For a dry run: no lease, no journal, every step's plan. Otherwise a
 * lease held by someone else refuses the run at once (exit 4, read only); the lease
 * is taken after the first wave's prechecks, just before the first change, and
 * released in every outcome.
 */
/** The run's environment plus its journal (none for a dry run). */
export interface RollEnv extends RunEnv {
  journal: Journal | undefined;
}

export async function roll(env: RollEnv, plan: RollPlan, steps: readonly Step[], resume?: { from: Map<string, StepName | 'done'> }): Promise<RollOutcome> {
  const dry = env.options.dryRun;
  const journal = env.journal;
  const lease = new LeaseKeeper(env.cp, env.config.lease.ttl, env.log, env.stop);
  const outcome: RollOutcome = { runId: env.runId, status: 'done', exitCode: 0, nodes: [], waves: plan.waves };
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  const memory = new Map<string, NodeRecord>();
  const recordOf = (id: string): NodeRecord => {
    if (journal) return journal.node(id);
    let r = memory.get(id);
    if (!r) memory.set(id, (r = emptyNodeRecord()));
    return r;
  };
  // `wenv` is the run's environment with a logger bound to the wave: every event a step logs carries `wave`.
  const ctxFor = (node: NodeTarget, wave: string[], wenv: RunEnv = env): StepContext => {
    let nodeLog: StepContext['log'] | undefined;
    return {
      env: wenv,
      node,
      runtime: env.runtimeFor(node),
      lbTarget: lbTargetOf(node),
      wave,
      get record() {
        return recordOf(node.id);
      },
      save: (change) => {
        if (journal) journal.update((d) => change(d.nodes[node.id]!));
        else change(recordOf(node.id));
      },
      say: () => {},
      // Made at the node's first log line: a plan of 1,000 nodes makes 2,000 contexts.
      get log() {
        return (nodeLog ??= wenv.log.child({ node: node.id }));
      },
      step: steps[0]?.name ?? '',
    };
  };

  // The checks the steps open with (the precheck) run for every node of a wave before any of them changes.
  const checks = leadingChecks(steps);
  const lastCheck = checks[checks.length - 1]?.name;
  const firstChange = steps[checks.length]?.name;
  const isCheck = (name: StepName | 'done' | undefined) => name === undefined || checks.some((c) => c.name === name);
  let anyChange = false;
  /** The nodes this invocation took past their checks: their journal records say whether anything changed. */
  const touched = new Set<string>();
  let leased = false;
  /**
   * The lease is taken just before the first change: the first wave's prechecks run
   * before it, so a refused run sends nothing that changes anything (not even a
   * lease), and a held lease is seen with a read first. A new run's journal reaches
   * the disk at the same moment, with the lease token in it.
   */
  const takeLease = async () => {
    if (dry || leased) return;
    // A journal that cannot be created stops the run before anything changes, the lease included.
    journal?.probe();
    const held = await lease.acquire(env.initiator, journal?.data.lease);
    leased = true;
    journal?.update((d) => {
      d.lease = { name: LEASE_NAME, holder: held.holder, token: held.token };
      d.status = 'running';
      d.error = null;
    });
    journal?.persist();
  };
  try {
    if (!dry) await lease.refuseIfHeld(journal?.data.lease);
    for (const [i, wave] of plan.waves.entries()) {
      const pending = wave.filter((id) => resume?.from.get(id) !== 'done' && recordOf(id).status !== 'skipped' && recordOf(id).status !== 'done');
      if (pending.length === 0) continue;
      if (i > 0 && plan.pauseMs > 0 && anyChange && !dry) {
        env.reporter.info(`pausing ${Math.round(plan.pauseMs / 1000)} s before wave ${i + 1}`);
        await sleep(plan.pauseMs, env.stop.signal);
        env.stop.check(`the pause before wave ${i + 1}`);
      }
      const wenv: RunEnv = { ...env, log: env.log.child({ wave: i + 1 }) };
      (dry ? wenv.log.debug : wenv.log.info).call(wenv.log, { event: 'wave.start', nodes: pending, of: plan.waves.length }, `wave ${i + 1}: ${pending.join(', ')}`);
      const fresh = lastCheck ? pending.filter((id) => isCheck(resume?.from.get(id))) : [];
      // The plan was made on the state at the start: re-validate the wave on fresh PRGs (exit 3 if no longer safe).
      if (fresh.length > 0 && wave.length > 1) await revalidateWave(i + 1, plan.waves.length, wave, (id) => env.cp.listPrgs({ node: id }));
      // Phase 1: precheck every node of the wave against the same fresh state, before any change.
      const checked = await Promise.all(fresh.map((id) => runPipeline(steps, ctxFor(byId.get(id)!, wave, wenv), { dryRun: dry, until: lastCheck })));
      const bad = checked.find((o) => o.status === 'failed' || o.status === 'interrupted');
      if (bad) {
        outcome.nodes.push(...checked);
        throw bad.error!;
      }
      for (const o of checked.filter((c) => c.status === 'skipped')) outcome.nodes.push(o);
      // Phase 2: the rest of the pipeline, concurrently within the wave.
      const go = pending.filter((id) => !checked.some((c) => c.node === id && c.status === 'skipped'));
      if (lastCheck && !firstChange) {
        // Checks only: nothing changes, so no lease and no second phase.
        outcome.nodes.push(...checked.filter((c) => c.status !== 'skipped'));
        continue;
      }
      if (go.length === 0) continue;
      await takeLease();
      anyChange = true;
      for (const id of go) touched.add(id);
      const results = await Promise.all(
        go.map(async (id) => {
          const from = resume?.from.get(id);
          const startAt: StepName | undefined = from && from !== 'done' && !isCheck(from) ? from : lastCheck ? firstChange : undefined;
          const r = await runPipeline(steps, ctxFor(byId.get(id)!, wave, wenv), { dryRun: dry, from: startAt });
          const pre = checked.find((c) => c.node === id);
          if (pre) {
            r.steps.unshift(...pre.steps);
            r.warnings.unshift(...pre.warnings);
          }
          return r;
        }),
      );
      outcome.nodes.push(...results);
      const failed = results.find((o) => o.status === 'failed' || o.status === 'interrupted');
      if (failed) throw failed.error!;
    }
    outcome.status = 'done';
  } catch (err) {
    const qr = asQrError(err);
    if (resume && journal && qr.exitCode === ExitCode.leaseHeld) nameLeftBehind(qr, journal.data);
    // Invariant 8: once this run changed a node, every failure exits 1 (or 130), whatever its kind —
    // a refusal of the next wave or a usage-class error found late does not promise "nothing changed".
    const changed = [...touched].filter((id) => leftAs(recordOf(id), id).changed);
    if (changed.length > 0 && !qr.afterChange) {
      qr.afterChange = true;
      if (qr.exitCode !== qr.classCode) qr.message += ` This run had already changed ${changed.join(', ')}: exit ${qr.exitCode}, not ${qr.classCode}.`;
    }
    outcome.error = qr;
    outcome.exitCode = qr.exitCode;
    outcome.status = qr.exitCode === ExitCode.interrupted ? 'interrupted' : qr.exitCode === ExitCode.refused || qr.exitCode === ExitCode.leaseHeld ? 'refused' : 'failed';
  } finally {
    if (!dry) {
      let released = await lease.release();
      // A resumed run that never needed the lease still ends the one its journal holds (e.g. killed after its last node).
      const inherited = journal?.data.lease;
      if (!leased && inherited && outcome.exitCode !== ExitCode.leaseHeld) {
        released = await lease.releaseJournalled(inherited);
        leased = released !== 'failed';
      }
      if (journal?.isPersisted && !journal.failure) {
        journal.update((d) => {
          // A refusal before any change of this invocation leaves a resumed run as resumable as it was.
          if (outcome.status !== 'refused') d.status = outcome.status;
          else if (anyChange) d.status = 'failed';
          else if (!resume) d.status = 'refused';
          d.error = outcome.error?.message ?? null;
          // The token stays when the CP could not be told (or this invocation never held it): `resume` takes the lease over with it.
          if (leased && released !== 'failed') d.lease = null;
        });
      }
    }
  }
  return outcome;
}

/**
 * A resume refused by someone else's lease changed nothing now, but the run it continues may
 * have left nodes drained and out of the LB: say which, so nobody mistakes "nothing changed"
 * for "nothing is out of service".
 */
function nameLeftBehind(err: QrError, data: JournalData): void {
  const left = Object.entries(data.nodes)
    .map(([id, r]) => ({ id, ...leftAs(r, id) }))
    .filter((x) => x.drained);
  if (left.length === 0) return;
  err.message += ` The interrupted run ${data.run_id} left ${left.map((x) => x.text).join('; ')}: quantum-roll resume once the lease is free.`;
  (err.details as { evidence?: Record<string, unknown> }).evidence = { ...err.details.evidence, left_drained: left.map((x) => x.id) };
}
