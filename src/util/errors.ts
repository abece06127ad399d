/**
 * Errors are values with a cause the operator can act on. Each kind maps to one
 * exit code of cli.md; the top-level handler in cli.ts is the only place that
 * turns them into a process exit.
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

export class QrError extends Error {
  readonly exitCode: ExitCode = ExitCode.failed;
  readonly details: ErrorDetails;
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Bad flags, bad config, unknown node: nothing was attempted. */
export class UsageError extends QrError {
  override readonly exitCode = ExitCode.usage;
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
  override readonly exitCode = ExitCode.refused;
}

/** Someone else holds the maintenance lease; nothing changed. */
export class LeaseHeldError extends QrError {
  override readonly exitCode = ExitCode.leaseHeld;
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
  override readonly exitCode = ExitCode.interrupted;
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

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof QrError ? err.exitCode : ExitCode.failed;
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
