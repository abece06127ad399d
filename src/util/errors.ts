/**
 * Errors are values with a cause the operator can act on. Each kind maps to one
 * exit code of cli.md, and {@link errorDocument} / {@link errorText} are the one
 * mapping of an error to what the operator sees (the `--json` document, the stderr
 * lines). Two places turn them into a process exit, both through that mapping: the
 * top-level handler in cli.ts, and the second-signal exit in commands/signals.ts.
 *
 * Anything that is not a QrError (a TypeError, a RangeError) is a bug in quantum-roll,
 * not a fact about the cluster: {@link asQrError} makes it an {@link InternalError}
 * that says so, instead of "fix the cause, then resume".
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  leaseHeld: 4,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorDetails {
  /** The node the error is about, if any. */
  node?: string;
  /** The pipeline step that failed, if any. */
  step?: string;
  /** The endpoint (URL or socket) involved, if any. */
  endpoint?: string;
  /** What the operator should run next. */
  next?: string;
  /** Structured evidence for --json output (blocking PRGs, shortfall, ...). */
  evidence?: Record<string, unknown>;
}

/** The run log a failure was recorded in (invariant 11): its document and its text name it. */
export interface RunRef {
  run_id: string;
  status: 'failed' | 'refused';
  log_file: string;
}

/**
 * The exit code of a failure: the code of its kind (the table of cli.md) while nothing
 * was changed; once the run it ends had made a change, 1 whatever the kind (invariant 8:
 * exit 2, 3 and 4 promise that nothing was changed), except an honoured stop (130). This
 * is the one place that rule lives; `QrError.exitCode` asks it.
 */
export function exitCodeFor(kind: ExitCode, changed: boolean): ExitCode {
  if (!changed || kind === ExitCode.ok || kind === ExitCode.interrupted) return kind;
  return ExitCode.failed;
}

export class QrError extends Error {
  /** The exit code of this kind of error when nothing was changed (usage 2, refused 3, lease held 4 …). */
  readonly classCode: ExitCode = ExitCode.failed;
  /**
   * The run this error ends had made a change before it (set by the run engine, run/roll.ts,
   * from the journal records of the nodes it worked on): the exit code is then 1.
   */
  afterChange = false;
  get exitCode(): ExitCode {
    return exitCodeFor(this.classCode, this.afterChange);
  }
  readonly details: ErrorDetails;
  /** Set once the failure is recorded as its run's end (commands/session.ts `failed`). */
  run?: RunRef;
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Bad flags, bad config, unknown node: nothing was attempted. */
export class UsageError extends QrError {
  override readonly classCode = ExitCode.usage;
}

/** A config file key is missing or wrong; `path` is the key path (e.g. `quiesce.grace`). */
export class ConfigError extends UsageError {
  constructor(
    readonly keyPath: string,
    message: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}${keyPath ? `${keyPath}: ` : ''}${message}`);
  }
}

/** A precheck or the placement check found it unsafe; nothing changed. */
export class RefusedError extends QrError {
  override readonly classCode = ExitCode.refused;
}

/** Someone else holds the maintenance lease; nothing changed. */
export class LeaseHeldError extends QrError {
  override readonly classCode = ExitCode.leaseHeld;
  constructor(
    readonly holder: string,
    readonly expiresAt: string | undefined,
    details: ErrorDetails = {},
  ) {
    super(
      `the maintenance lease "rolling-restart" is held by ${holder}${expiresAt ? ` until ${expiresAt}` : ''}; nothing was changed. Wait for it to finish or expire, then run again.`,
      { ...details, evidence: { holder, expires_at: expiresAt ?? null } },
    );
  }
}

/** A stop was requested (SIGINT/SIGTERM) and honoured at a safe point. */
export class InterruptedError extends QrError {
  override readonly classCode = ExitCode.interrupted;
}

/** A step failed. Generic failures and protocol/transport errors are exit 1. */
export class StepError extends QrError {}

/** A remote answered something the contract does not allow. */
export class ProtocolError extends QrError {}

/** The endpoint could not be reached in time, or answered with an error status. */
export class HttpError extends QrError {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    details: ErrorDetails,
    readonly body?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, details, options);
  }
}

/**
 * A bug in quantum-roll: something that is not a QrError (TypeError, RangeError …)
 * escaped a step or a command. Exit 1. The message says it is a bug and, when it
 * happened after changes began, what the node was left as and that resume finishes
 * once fixed; the original error (and its stack) is the cause.
 */
export class InternalError extends QrError {}

/** Where a non-QrError escaped, for {@link asQrError}'s message. */
export interface InternalContext {
  node?: string;
  step?: string;
  /** What the node was left as (pipeline's `leftAs`): said after changes began. */
  left?: { text: string; changed: boolean };
  /** Gets the stack at debug level (the message stays one paragraph). */
  log?: { debug(fields: object, message: string): void };
}

/**
 * The error as a QrError: a QrError as it is, anything else as an {@link InternalError}.
 * The run engine calls it on whatever a step throws that is not a QrError; the top-level
 * handler calls it on whatever a command throws.
 */
/** A programming error of quantum-roll itself (not the cluster's, not the OS's): reported as a bug. */
export function isBug(err: unknown): boolean {
  if (err instanceof QrError) return false;
  if (!(err instanceof Error)) return true;
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError || err instanceof EvalError;
}

export function asQrError(err: unknown, ctx: InternalContext = {}): QrError {
  if (err instanceof QrError) return err;
  const what = err instanceof Error ? `${err.name}: ${err.message}` : `thrown value ${String(err)}`;
  const where = ctx.step && ctx.node ? `${ctx.step} of ${ctx.node} failed on ` : 'internal error: ';
  const changed = ctx.left?.changed === true;
  const next = changed ? 'quantum-roll resume' : undefined;
  const after = changed
    ? ` ${ctx.left!.text}; quantum-roll resume after fixing (or upgrading).`
    : ctx.left
      ? ' Nothing was changed.'
      : '';
  const message =
    `${where}a bug in quantum-roll (${what}); this is not a problem of the cluster: please report it ` +
    `with the log (--log-level debug has the stack).${after}`;
  // A step's logger already names its node and step.
  ctx.log?.debug({ event: 'internal_error', stack: (err as Error)?.stack ?? String(err) }, message);
  return new InternalError(message, { node: ctx.node, step: ctx.step, next }, { cause: err });
}

/**
 * The one `--json` document of a failure (cli.md: `{"ok": false, "exit_code": N, "error": {"message": …}}`).
 * `extra` fields sit between `exit_code` and `error` (e.g. the status of an interrupted run).
 */
export function errorDocument(err: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const qr = asQrError(err);
  return { ok: false, exit_code: qr.exitCode, ...qr.run, ...extra, error: { message: qr.message, kind: qr.name, ...qr.details } };
}

/** The stderr lines of a failure: the message, then what to run next. */
export function errorText(err: unknown): string {
  const qr = asQrError(err);
  return `quantum-roll: ${qr.message}\n${qr.details.next ? `  next: ${qr.details.next}\n` : ''}${qr.run ? `  log: ${qr.run.log_file}\n` : ''}`;
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof QrError ? err.exitCode : ExitCode.failed;
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
