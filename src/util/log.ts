import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { colorFor } from './color.js';
import { writeAll } from './write-all.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type Level = Exclude<LogLevel, 'silent'>;

/** pino's numbers for the levels (a line's level is at least its stream's). */
const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Where lines go: one ndjson line per call, newline included. */
export interface DestinationStream {
  write(line: string): void;
}

/** A logging call: fields and a message, or a message alone. */
export type LogFn = (obj: object | string, msg?: string) => void;

/**
 * The loggers of the CLI: structured ndjson events, the lines pino wrote (level label,
 * ISO time, pid, the child's bindings, the fields, `msg`), from a writer of our own
 * (issue 21: pino cost every start ≈ 100 kB of bundle and its set-up). A pino logger is
 * one too (the tests pass them).
 */
export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  /** The bindings of its children (redacted as in its lines). */
  bindings(): Record<string, unknown>;
}

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
const CENSOR = '[redacted]';
const REDACT_PATHS: readonly (readonly string[])[] = REDACT.map((p) => p.split('.'));

/**
 * `value` with every own property a path names replaced by the censor (pino's redaction:
 * `*` is any own key, arrays' indices included; a path whose key is absent adds nothing).
 * Copies only what it changes; the caller's object is never modified.
 */
function redact(value: unknown, paths: readonly (readonly string[])[]): unknown {
  if (value === null || typeof value !== 'object' || paths.length === 0) return value;
  const src = value as Record<string, unknown>;
  let out: Record<string, unknown> | unknown[] | undefined;
  for (const key of Object.keys(src)) {
    let censor = false;
    const deeper: (readonly string[])[] = [];
    for (const p of paths) {
      if (p[0] !== key && p[0] !== '*') continue;
      if (p.length === 1) censor = true;
      else deeper.push(p.slice(1));
    }
    if (!censor && deeper.length === 0) continue;
    const v = censor ? CENSOR : redact(src[key], deeper);
    if (v === src[key]) continue;
    out ??= Array.isArray(src) ? [...(src as unknown[])] : { ...src };
    (out as Record<string, unknown>)[key] = v;
  }
  return out ?? value;
}

/** A field's JSON as pino wrote it: undefined and functions left out, non-finite numbers null, cycles named. */
function fieldJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return String(value);
    default:
      try {
        return JSON.stringify(value);
      } catch {
        return JSON.stringify(value, cycleSafe());
      }
  }
}

function cycleSafe(): (key: string, v: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (_k, v) => {
    if (typeof v === 'bigint') return String(v);
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[Circular]';
    seen.add(v);
    return v;
  };
}

/** `,"key":value` for each field of `obj` (redacted). */
function fieldsJson(obj: object): string {
  const red = redact(obj, REDACT_PATHS) as Record<string, unknown>;
  let out = '';
  for (const key in red) {
    if (!Object.prototype.hasOwnProperty.call(red, key)) continue;
    const v = fieldJson(red[key]);
    if (v !== undefined) out += `,${JSON.stringify(key)}:${v}`;
  }
  return out;
}

interface Route {
  min: number;
  dest: DestinationStream;
}

/**
 * Writes to fd 2 synchronously (as pino's sync destination did); a stderr that is gone
 * (EPIPE, closed) drops the line instead of failing the command, a non-blocking one
 * that is full is waited for.
 */
const stderrDest: DestinationStream = {
  write(line) {
    const buf = Buffer.from(line, 'utf8');
    let off = 0;
    for (let tries = 0; off < buf.length; ) {
      try {
        off += writeSync(2, buf, off, buf.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 100) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  },
};

class NdjsonLogger implements Logger {
  readonly fatal: LogFn;
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  readonly trace: LogFn;

  constructor(
    private readonly min: number,
    private readonly routes: readonly Route[],
    /** `,"pid":…` and every binding of the chain, as JSON. */
    private readonly chindings: string,
    private readonly own: Record<string, unknown>,
  ) {
    const fn = (level: Level): LogFn => {
      const value = LEVEL_VALUES[level];
      if (value < min) return noop;
      const head = `{"level":"${level}","time":"`;
      return (obj: object | string, msg?: string) => {
        let fields = '';
        if (typeof obj === 'string') msg = obj;
        else if (obj instanceof Error) {
          fields = `,"err":${JSON.stringify({ type: obj.name, message: obj.message, stack: obj.stack })}`;
          msg ??= obj.message;
        } else if (obj !== null && obj !== undefined) fields = fieldsJson(obj);
        const line = `${head}${new Date().toISOString()}"${this.chindings}${fields}${msg === undefined ? '' : `,"msg":${JSON.stringify(String(msg))}`}}\n`;
        for (const r of this.routes) if (value >= r.min) r.dest.write(line);
      };
    };
    this.fatal = fn('fatal');
    this.error = fn('error');
    this.warn = fn('warn');
    this.info = fn('info');
    this.debug = fn('debug');
    this.trace = fn('trace');
  }

  child(bindings: Record<string, unknown>): Logger {
    const own = { ...this.own, ...(redact(bindings, REDACT_PATHS) as Record<string, unknown>) };
    return new NdjsonLogger(this.min, this.routes, this.chindings + fieldsJson(bindings), own);
  }

  bindings(): Record<string, unknown> {
    return { ...this.own };
  }
}

const noop: LogFn = () => {};

function ndjsonLogger(level: LogLevel, routes: Route[]): Logger {
  return new NdjsonLogger(LEVEL_VALUES[level], routes, `,"pid":${process.pid}`, {});
}

/** Structured ndjson events on the given stream, stderr by default. */
export function createLogger(level: LogLevel = 'info', dest?: DestinationStream): Logger {
  return ndjsonLogger(level, [{ min: LEVEL_VALUES[level], dest: dest ?? stderrDest }]);
}

/** A run's log file, as the outcome names it; `outcome` records the run's end in it (its last event). */
export interface RunLog {
  file: string;
  runId: string;
  outcome(doc: Record<string, unknown>): void;
}

/** The more verbose of two levels (`silent` is the least). */
export function moreVerbose(a: LogLevel, b: LogLevel): LogLevel {
  return LEVEL_VALUES[a] <= LEVEL_VALUES[b] ? a : b;
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

/** Keeps the `keep` newest `*.ndjson` files of `dir` (by modification time), `current` always among them; a pruned log's `.html` report goes with it. */
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
    // the run's log, and the report `quantum-roll report` wrote beside it (<run id>.html)
    for (const f of [n, n.replace(/\.ndjson$/, '.html')]) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        // gone already, never written, or not ours
      }
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
  const routes: Route[] = [];
  if (consoleLevel !== 'silent') routes.push({ min: LEVEL_VALUES[consoleLevel], dest: consoleDest ?? stderrDest });
  if (fileLevel !== 'silent') routes.push({ min: LEVEL_VALUES[fileLevel], dest: sink });
  routes.sort((a, b) => a.min - b.min); // the order pino's multistream wrote in: the more verbose stream first
  const log = ndjsonLogger(moreVerbose(consoleLevel, fileLevel), routes);
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
