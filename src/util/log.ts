import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pino, type Logger, type DestinationStream } from 'pino';
import { colorFor } from './color.js';
import { writeAll } from './write-all.js';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Secrets never reach a log line, whatever object carries them. */
const REDACT = [
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'lease.token',
  'password',
  '*.password',
];

/** Structured ndjson events (pino) on the given stream, stderr by default. */
export function createLogger(level: LogLevel = 'info', dest?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A run's log file, as the outcome names it; `outcome` records the run's end in it (its last event). */
export interface RunLog {
  file: string;
  runId: string;
  outcome(doc: Record<string, unknown>): void;
}

/** The more verbose of two levels (`silent` is the least). */
export function moreVerbose(a: LogLevel, b: LogLevel): LogLevel {
  const rank = (l: LogLevel) => (l === 'silent' ? Infinity : pino.levels.values[l]!);
  return rank(a) <= rank(b) ? a : b;
}

/**
 * The file half of a run's log (`<state dir>/runs/<run id>.ndjson`): until the run id is
 * known (`open`), lines are kept in memory (a run that never starts, e.g. a dry run,
 * writes nothing); from then on every line is written synchronously, so the file is
 * complete whenever the process exits (exit 1, 130, a second SIGINT's hard exit).
 */
export class RunLogSink implements DestinationStream {
  private fd: number | undefined;
  private pending: string[] = [];
  private dropped = 0;
  file: string | undefined;
  /** Why the file stopped being written, if it did. */
  failed: Error | undefined;

  /** Lines kept before `open`: enough for a run's opening reads; beyond that the oldest go. */
  static readonly MAX_PENDING = 20_000;

  write(line: string): void {
    if (this.fd !== undefined) {
      try {
        writeAll(this.fd, line);
      } catch (err) {
        // A full or failing disk: the log stops here (the journal, written at the next step
        // boundary, fails on the same disk and stops the run naming its path and the OS reason).
        this.failed = err as Error;
        const fd = this.fd;
        this.fd = undefined;
        try {
          closeSync(fd);
        } catch {
          // already unusable
        }
        process.stderr.write(`quantum-roll: the run log ${this.file} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it ends here\n`);
      }
      return;
    }
    if (this.file !== undefined) return; // closed
    this.pending.push(line);
    if (this.pending.length > RunLogSink.MAX_PENDING) {
      this.pending.shift();
      this.dropped++;
    }
  }

  /**
   * Opens (appends to: a resumed run continues its log) `file`, mode 0600 (it names
   * hosts), writes what was kept, and removes the oldest logs of the directory beyond
   * `keep`; `first` may log the log's first line (written before what was kept).
   * Throws what the file system said when it cannot.
   */
  open(file: string, keep: number, first?: () => void): void {
    if (this.fd !== undefined) return;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'a', 0o600);
    try {
      fchmodSync(fd, 0o600);
    } catch {
      // not ours to change (another user's file we may append to): keep its mode
    }
    this.fd = fd;
    this.file = file;
    first?.();
    if (this.dropped) writeAll(fd, `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), event: 'log.truncated', dropped: this.dropped, msg: `the ${this.dropped} earliest lines before the run began were dropped` })}\n`);
    for (const l of this.pending) writeAll(fd, l);
    this.pending = [];
    pruneRunLogs(dirname(file), keep, basename(file));
  }

  /** Flushes to disk and closes; later lines are dropped. */
  close(): void {
    this.pending = [];
    if (this.fd === undefined) {
      this.file ??= '';
      return;
    }
    try {
      fsyncSync(this.fd);
    } catch {
      // best effort
    }
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Keeps the `keep` newest `*.ndjson` files of `dir` (by modification time), `current` always among them. */
export function pruneRunLogs(dir: string, keep: number, current?: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.ndjson'));
  } catch {
    return [];
  }
  const aged = names
    .filter((n) => n !== current)
    .map((n) => {
      try {
        return { n, t: statSync(join(dir, n)).mtimeMs };
      } catch {
        return { n, t: 0 };
      }
    })
    .sort((a, b) => b.t - a.t || (a.n < b.n ? 1 : -1));
  const removed = aged.slice(Math.max(0, keep - (current ? 1 : 0))).map((x) => x.n);
  for (const n of removed) {
    try {
      unlinkSync(join(dir, n));
    } catch {
      // gone already, or not ours
    }
  }
  return removed;
}

/**
 * A run's loggers: `log` writes to stderr at `consoleLevel` and to the run log at
 * `fileLevel` (every event of the run, whatever the console shows); `record` writes to
 * the run log only (what the console shows otherwise, e.g. progress under a live view).
 */
export function createRunLoggers(consoleLevel: LogLevel, fileLevel: LogLevel, sink: RunLogSink, consoleDest?: DestinationStream): { log: Logger; record: Logger } {
  const streams: { level: Exclude<LogLevel, 'silent'>; stream: DestinationStream }[] = [];
  if (consoleLevel !== 'silent') streams.push({ level: consoleLevel, stream: consoleDest ?? pino.destination({ fd: 2, sync: true }) });
  if (fileLevel !== 'silent') streams.push({ level: fileLevel, stream: sink });
  const log = createLogger(moreVerbose(consoleLevel, fileLevel), pino.multistream(streams));
  const record = createLogger(fileLevel, sink);
  alsoRecordWarningsIn = record;
  return { log, record };
}

let alsoRecordWarningsIn: Logger | undefined;
const warned = new Set<string>();
let warnLog: Logger | undefined;

/**
 * A security warning (TLS verification disabled, a token file others can read): written
 * to stderr on every run that meets it, whatever `--log-level` says, once per `key` per
 * process. A terminal gets a plain line; otherwise an ndjson `warn` event like every log.
 */
export function securityWarning(key: string, message: string, fields: Record<string, unknown> = {}): void {
  if (warned.has(key)) return;
  warned.add(key);
  alsoRecordWarningsIn?.warn({ event: 'security_warning', ...fields }, message);
  if (process.stderr.isTTY) {
    const warning = colorFor(process.stderr) ? '\x1b[1;33mWARNING\x1b[0m' : 'WARNING';
    process.stderr.write(`quantum-roll: ${warning}: ${message}\n`);
    return;
  }
  warnLog ??= createLogger('warn');
  warnLog.warn({ event: 'security_warning', ...fields }, message);
}
