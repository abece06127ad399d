/** `resume`: finish the last unfinished run from its journal. */
import { resolveTargets } from '../cluster/targets.js';
import { UsageError } from '../util/errors.js';
import { Journal, type StepName, configDigest, configDigests } from '../run/journal.js';
import type { RollPlan } from '../run/roll.js';
import { confirm } from './confirm.js';
import { execute } from '../run/execute.js';
import { renderExecuted } from '../render/outcome.js';
import { type RestartOptions, runHooks } from './run-options.js';
import { openSession } from './session.js';

export async function resumeAction(opts: RestartOptions): Promise<number> {
  const s = await openSession(opts);
  let runId: string | undefined;
  try {
    const journal = Journal.read(s.stateDir);
    if (!journal || !journal.unfinished) {
      throw new UsageError(
        journal
          ? `nothing to resume: the last run ${journal.data.run_id} is ${journal.data.status} (${journal.file}); start a new run with quantum-roll restart`
          : `nothing to resume: no journal in ${s.stateDir} (a run writes one from its first change; pass --state-dir if it lives elsewhere)`,
      );
    }
    if (journal.data.command !== 'restart') throw new UsageError(`nothing to resume: the last run was "${journal.data.command}", which is not resumable`);
    runId = journal.data.run_id; // a failure from here on ends this run: its log gets it
    const digest = configDigest(s.loaded.config);
    if (digest !== journal.data.config_digest) {
      const now = configDigests(s.loaded.config);
      const was = journal.data.config_digests;
      const changed = was ? Object.keys(now).filter((k) => now[k] !== was[k]) : [];
      const which = changed.length ? changed.join(', ') : 'one of control_plane.url, nodes, lb, restart.command';
      throw new UsageError(
        `refusing to resume run ${journal.data.run_id}: the config changed since it began (${which} in ${s.loaded.file}), and the journal's steps were taken under the old one. Restore ${changed.length === 1 ? 'it' : 'them'} and run quantum-roll resume, or see what the run left (quantum-roll status) and start a new run.`,
        { evidence: { changed, journal: journal.file }, next: 'restore the config, then quantum-roll resume' },
      );
    }
    const state = await s.cp.clusterState();
    const ids = journal.data.waves.flat();
    const targets = resolveTargets(s.loaded.config, state, ids);
    const from = new Map<string, StepName | 'done'>();
    for (const id of ids) {
      const r = journal.node(id);
      from.set(id, r.status === 'done' || r.status === 'skipped' ? 'done' : r.status === 'pending' || r.step === null ? 'precheck' : r.step);
    }
    const o = journal.data.options;
    const plan: RollPlan = {
      command: 'restart',
      nodes: targets,
      waves: journal.data.waves,
      pauseMs: typeof o.pause_ms === 'number' ? o.pause_ms : 0,
      configFile: s.loaded.file,
      options: o,
    };
    const where = [...from].filter(([, f]) => f !== 'done').map(([id, f]) => `${id} at ${f}`);
    await confirm(opts, `quantum-roll will resume run ${journal.data.run_id}: ${where.join(', ')}`);
    const run = { ...opts, allowOverload: o.allow_overload === true || opts.allowOverload, force: o.force === true || opts.force };
    return renderExecuted(await execute(s, plan, run, runHooks(s, run), { journal, from }), run);
  } catch (err) {
    throw s.failed(err, runId);
  } finally {
    await s.close();
  }
}
