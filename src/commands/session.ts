/**
 * What every command that talks to the cluster needs, built once from the global
 * options: config, logger, clients, LB adapter, reporter and stop controller.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ControlPlaneClient } from '../clients/control-plane.js';
import { createDispatcher } from '../clients/dispatcher.js';
import { RuntimeClient } from '../clients/runtime.js';
import { type LoadedConfig, loadConfigAsync, tokenEnvNames } from '../config/load.js';
import { defaultStateDir } from '../config/locate.js';
import { type ClusterAccess, type NodeTarget, type RunOptions, lbTargetOf } from '../steps/context.js';
import { targetOf } from '../cluster/targets.js';
import { ExitCode, QrError, UsageError, errorDocument } from '../util/errors.js';
import { type Journal, newRunId } from '../run/journal.js';
import { type LogLevel, type Logger, type RunLog, LOG_LEVELS, RunLogSink, createLogger, createRunLoggers, moreVerbose } from '../util/log.js';
import type { RollEnv } from '../run/roll.js';
import { initiatorFor } from '../run/initiator.js';
import { StopController } from '../util/stop.js';
import { createReporter } from '../render/reporter.js';
import { settleLimited } from '../util/limit.js';
import { SnapshotControlPlane, SnapshotRuntime, snapshotLb } from '../clients/snapshot.js';

export interface GlobalOptions {
  config?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  logLevel?: string;
  parallel?: string;
  stateDir?: string;
  allowOverload?: boolean;
  force?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  /** false with --no-color */
  color?: boolean;
}

export interface Session extends ClusterAccess {
  loaded: LoadedConfig;
  stateDir: string;
  opts: GlobalOptions;
  env(runId?: string, startedAt?: number, journal?: Journal): RollEnv;
  /** The run log, once a run that may change anything began (`env()`); undefined otherwise. */
  runLog(): RunLog | undefined;
  /**
   * A failure that ends the command before its run's outcome was rendered (the cluster
   * state unreadable, a placement refusal, an unreadable journal): recorded as the run's
   * end in its log, opened now under `runId` (a new id if none) when the run never began,
   * so that every run that may change anything leaves its log (invariant 11). Returns the
   * error, now naming the log.
   */
  failed(err: unknown, runId?: string): unknown;
  /** Dry runs: read what the plans of these nodes need, once and in parallel (no-op otherwise). */
  prefetch(targets: readonly NodeTarget[]): Promise<void>;
  close(): Promise<void>;
}

export function logLevelOf(opts: GlobalOptions): LogLevel {
  const l = opts.logLevel ?? (process.stderr.isTTY && !opts.json ? 'warn' : 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(l)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${l}")`);
  }
  return l as LogLevel;
}

export function stateDirOf(opts: GlobalOptions, configFile: string): string {
  // `--state-dir ''` would resolve to the working directory: a journal where nobody looks for it.
  if (opts.stateDir !== undefined && opts.stateDir.trim() === '') throw new UsageError('--state-dir is empty: give a directory (or leave --state-dir out for the default beside the config)');
  return resolve(opts.stateDir ?? defaultStateDir(configFile));
}

/** The process-wide stop controller: SIGINT/SIGTERM handlers in cli.ts feed it. */
export const processStop = new StopController();

/** Where a run's log goes (invariant 11). */
export function runLogPath(stateDir: string, runId: string): string {
  return join(stateDir, 'runs', `${runId}.ndjson`);
}

export async function openSession(opts: GlobalOptions): Promise<Session> {
  const consoleLevel = logLevelOf(opts);
  // Invariant 11: a run that may change anything logs every event to <state dir>/runs/<run id>.ndjson, at
  // the console's level or info, whichever says more. The sink keeps lines until the run begins (env()).
  const sink = opts.dryRun === true ? undefined : new RunLogSink();
  let log: Logger;
  let record: Logger | undefined;
  if (sink) ({ log, record } = createRunLoggers(consoleLevel, moreVerbose(consoleLevel, 'info'), sink));
  else log = createLogger(consoleLevel);
  let runLog: RunLog | undefined;
  const loaded = await loadConfigAsync(opts.config);
  const stateDir = stateDirOf(opts, loaded.file);
  const { config } = loaded;
  // A dry run reads the cluster once and plans every node from that snapshot (src/clients/snapshot.ts).
  const dry = opts.dryRun === true;
  // The session owns the connection pools it creates and closes them in close().
  const cpDispatcher = createDispatcher(config.control_plane, 128);
  const cp = new (dry ? SnapshotControlPlane : ControlPlaneClient)({
    baseUrl: config.control_plane.url,
    access: config.control_plane,
    requestTimeoutMs: config.control_plane.request_timeout,
    // Transient failures (503, refused connections) are retried this long unless a step gives its own deadline.
    retryBudgetMs: Math.max(5_000, config.control_plane.request_timeout),
    dispatcher: cpDispatcher,
  });
  const nodeDispatcher = createDispatcher(config.node_api, 16);
  const runtimes = new Map<string, RuntimeClient>();
  const runtimeFor = (n: NodeTarget) => {
    let c = runtimes.get(n.id);
    if (!c) {
      c = new (dry ? SnapshotRuntime : RuntimeClient)(n.id, { baseUrl: n.adminUrl, access: config.node_api, dispatcher: nodeDispatcher, requestTimeoutMs: 5_000, retryBudgetMs: 10_000 });
      runtimes.set(n.id, c);
    }
    return c;
  };
  const { createLbAdapter } = await import('../adapters/lb/index.js');
  const adapter = await createLbAdapter(config.lb, {
    log,
    runtimeFor: (t) => runtimeFor({ id: t.node, adminUrl: t.adminUrl, lbMember: t.member, rack: '' }),
    withoutEnv: tokenEnvNames(config),
  });
  const lb = dry ? snapshotLb(adapter) : adapter;
  const reporter = createReporter({ json: opts.json === true, log, quiet: opts.quiet === true, record });
  let runLogId: string | undefined;
  const openRunLog = (runId: string) => {
    if (!sink || runLog) return;
    const file = runLogPath(stateDir, runId);
    try {
      sink.open(file, config.logs.keep, () =>
        record?.info({ event: 'run.log', run_id: runId, file, argv: process.argv.slice(2), cwd: process.cwd(), config_file: loaded.file }, `run ${runId}: log ${file}`),
      );
    } catch (err) {
      throw new QrError(
        `cannot write the run log ${file}: ${osReason(stateDir, err)}. Nothing was changed: make the state dir ${stateDir} writable, or pass --state-dir`,
        { evidence: { file }, next: 'fix the state dir, then run the same command again' },
        { cause: err },
      );
    }
    const end = record;
    runLogId = runId;
    runLog = { file, runId, outcome: (doc) => end?.info({ event: 'run.end', run_id: runId, outcome: doc }, `run ${runId} ended: ${String(doc.status)}`) };
  };
  const stop = processStop;
  const runOptions: RunOptions = { dryRun: opts.dryRun === true, allowOverload: opts.allowOverload === true, force: opts.force === true };
  return {
    loaded,
    log,
    cp,
    lb,
    runtimeFor,
    reporter,
    stop,
    stateDir,
    opts,
    async prefetch(targets) {
      if (!dry) return;
      // Everything the plans of `targets` read, in parallel but bounded: the prechecks then
      // run on the snapshot instead of one round trip after another, node after node.
      const state = await cp.clusterState();
      const jobs: Array<() => Promise<unknown>> = [() => cp.readyz()];
      for (const n of state.nodes) if (n.state !== 'down') jobs.push(() => runtimeFor(targetOf(config, n)).readyz());
      for (const t of targets) jobs.push(() => runtimeFor(t).node(), () => lb.status(lbTargetOf(t)));
      await settleLimited(jobs, 32);
    },
    runLog: () => runLog,
    failed(err, runId) {
      // A bug (not a QrError) after the run's log opened: the log still ends with it (run.end on every exit).
      if (sink && runLog && !(err instanceof QrError)) {
        runLog.outcome(errorDocument(err));
        return err;
      }
      // Usage errors (exit 2: nothing was changed) are not runs; a dry run has no log; one already recorded stays so.
      if (!sink || !(err instanceof QrError) || err.exitCode === ExitCode.usage || err.run) return err;
      try {
        openRunLog(runId ?? newRunId());
      } catch {
        return err; // the state dir is not writable: the failure itself is what to report
      }
      if (!runLog) return err;
      const refused = err.exitCode === ExitCode.refused || err.exitCode === ExitCode.leaseHeld;
      err.run = { run_id: runLogId!, status: refused ? 'refused' : 'failed', log_file: runLog.file };
      runLog.outcome(errorDocument(err));
      return err;
    },
    env(runId = newRunId(), startedAt = Date.now(), journal) {
      openRunLog(runId);
      return {
        runId,
        initiator: initiatorFor(runId),
        startedAt,
        config,
        options: runOptions,
        log: log.child({ run_id: runId }),
        cp,
        lb,
        runtimeFor,
        reporter,
        stop,
        journal,
      };
    },
    async close() {
      reporter.close();
      // The LB adapter closes what it opened (the http adapter's pool, the HAProxy socket).
      await lb.close().catch(() => {});
      await Promise.allSettled([cpDispatcher.close(), nodeDispatcher.close()]);
      sink?.close();
    },
  };
}

/**
 * The OS's reason a file under `dir` could not be made. A recursive mkdir on a read-only
 * mount can answer ENOENT; the directory's own writability names the real cause (EROFS, EACCES).
 */
function osReason(dir: string, err: unknown): string {
  let code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && existsSync(dir)) {
    try {
      accessSync(dir, constants.W_OK);
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code ?? code;
    }
  }
  return [code, (err as Error).message].filter(Boolean).join(': ');
}
