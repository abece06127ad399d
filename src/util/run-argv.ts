/**
 * Runs an operator-supplied argv (from config, substituted by argv-text.ts) as a child
 * process: never through a shell, in its own process group, bounded in time and output.
 * Shared by the exec LB adapter and the restart executor (`restart.command`).
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from './log.js';
import { clip, displayArgv, tail } from './argv-text.js';
import { Collector } from './child-output.js';
import { QrError, UsageError } from './errors.js';

export { displayArgv, PLAIN_VALUE, substitute, type SubstituteOptions, tail } from './argv-text.js';

export interface RunArgvOptions {
  /** Hard bound: the whole process group is sent SIGTERM, then SIGKILL 2 s later. */
  timeoutMs: number;
  signal?: AbortSignal;
  log?: Logger;
  /** For messages and logs, e.g. `lb.drain`. */
  label?: string;
  /** Extra/overriding environment variables (on top of this process's environment). */
  env?: NodeJS.ProcessEnv;
  /** Variables the child must not inherit (the bearer tokens quantum-roll itself reads). */
  withoutEnv?: readonly string[];
  /** Cap on each of stdout/stderr; more is an error. Default 1 MiB. */
  maxBufferBytes?: number;
  /** Told the child's pid (its process group) once it is spawned, e.g. to journal it. */
  onSpawn?: (pid: number) => void;
  /**
   * After the command's own process exits, how long to keep collecting the output that
   * processes it left running (a daemon, a `sleep &`) may still write into the inherited
   * pipes. Reading ends earlier when every pipe is closed. Default {@link LINGER_MS}.
   */
  lingerMs?: number;
}

/** Default of {@link RunArgvOptions.lingerMs}. */
export const LINGER_MS = 250;

export interface ArgvResult {
  stdout: string;
  stderr: string;
  /** Spawn to the command's exit (not to the last pipe closing). */
  durationMs: number;
  /**
   * True when a process the command left behind still held its stdout/stderr when
   * reading stopped (it daemonized without redirecting its output). It is left running.
   */
  outputLeftOpen: boolean;
}

/** The command could not be started, failed, or timed out. */
export class CommandError extends QrError {
  constructor(
    message: string,
    readonly command: readonly string[],
    /** The process exit status (not the CLI exit code), when it exited. */
    readonly status: number | undefined,
    readonly timedOut: boolean,
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, { endpoint: displayArgv(command) }, options);
  }
}

/**
 * node:child_process is loaded when a command first runs, not at start-up: `--help`,
 * `plan` and `status` never run one. A run loads it ahead, while it waits anyway
 * (quiesce), so the restart command starts without that delay.
 */
let runnerModule: Promise<typeof import('node:child_process')> | undefined;
export function loadRunner(): Promise<typeof import('node:child_process')> {
  runnerModule ??= import('node:child_process');
  return runnerModule;
}

/** This process's environment for a child, plus `env`, minus `withoutEnv`. */
function childEnv(opts: RunArgvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const name of opts.withoutEnv ?? []) delete env[name];
  return env;
}

/**
 * Commands still running, for the one `exit` hook that stops them when this process
 * exits (a hard exit on a second SIGINT): a restart command is not left half-run
 * without anyone watching it. Only the command's own process, as before.
 */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGTERM');
  });
}

/**
 * Runs argv (already substituted) without a shell. Resolves with its output when it
 * exits 0; otherwise throws {@link CommandError} naming the command, its exit status
 * and the tail of stderr.
 *
 * The command ends when its own process exits: its exit code decides. Output is
 * collected until every pipe is closed or {@link RunArgvOptions.lingerMs} after the
 * exit, whichever comes first, so a command that daemonizes (a child that keeps the
 * inherited stdout/stderr open) does not hold the caller until `timeoutMs`. Whatever
 * the command left running after a normal exit is left alone: it outlived its parent
 * on purpose.
 *
 * The child runs in its own process group, so a timeout or an abort stops the whole
 * group (the command and whatever it spawned without leaving the group: an `ssh`, a
 * `sleep &`), SIGTERM then SIGKILL 2 s later. A daemon that left the group (setsid)
 * is not in it and is never killed.
 */
export async function runArgv(argv: readonly string[], opts: RunArgvOptions): Promise<ArgvResult> {
  const [file, ...args] = argv;
  const label = opts.label ?? 'command';
  const shown = displayArgv(argv);
  if (file === undefined || file === '') throw new UsageError(`${label}: the argv is empty`);
  if (opts.signal?.aborted) throw abortReason(opts.signal);
  if (opts.timeoutMs <= 0) throw new CommandError(`${label} "${shown}" not started: no time left before the deadline`, argv, undefined, true, '');

  const { spawn } = await loadRunner();
  const maxBuffer = opts.maxBufferBytes ?? 1024 * 1024;
  const lingerMs = opts.lingerMs ?? LINGER_MS;
  const started = Date.now();
  const child = spawn(file, args, {
    shell: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: childEnv(opts),
    windowsHide: true,
  });
  const pid = child.pid;

  let timedOut = false;
  let aborted = false;
  let exited = false;
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = (sig: NodeJS.Signals) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = () => {
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), 2_000);
    killTimer.unref();
  };

  let settleOutput: () => void = () => {};
  const outputDone = new Promise<void>((res) => (settleOutput = res));
  const onClose = () => {
    if (out.closed && err.closed) settleOutput();
  };
  // Too much output while the command runs: stop it, as a bounded buffer must.
  const onOverflow = () => {
    if (!exited) child.kill('SIGTERM');
  };
  const out = new Collector(child.stdout!, maxBuffer, onOverflow, onClose);
  const err = new Collector(child.stderr!, maxBuffer, onOverflow, onClose);

  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>((res) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      // Spawn failures (ENOENT, EACCES) come here and no exit follows; a failed kill() too (then exit still follows).
      if (pid === undefined) res({ code: null, signal: null, error: e });
    });
    child.once('exit', (code, signal) => res({ code, signal }));
  });

  if (pid !== undefined) {
    track(child);
    opts.onSpawn?.(pid);
  }
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, opts.timeoutMs);
  const onAbort = () => {
    aborted = true;
    stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  let r;
  try {
    r = await exit;
  } finally {
    exited = true;
    live.delete(child);
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const durationMs = Date.now() - started;
  // The group leader is gone; after a timeout or an abort nothing it left in its group may linger.
  if (timedOut || aborted) killGroup('SIGKILL');
  if (killTimer) clearTimeout(killTimer);

  // Collect what is still coming for a short moment: until every pipe closed, at most lingerMs.
  let lingerTimer: NodeJS.Timeout | undefined;
  const lingered = await Promise.race([
    outputDone.then(() => false),
    new Promise<boolean>((res) => (lingerTimer = setTimeout(() => res(true), lingerMs))),
  ]);
  clearTimeout(lingerTimer);
  const outputLeftOpen = lingered && !(out.closed && err.closed);
  if (outputLeftOpen) {
    out.abandon();
    err.abandon();
    opts.log?.info(
      { command: argv, label, exitCode: r.code, linger_ms: lingerMs },
      `${label} exited; a process it left running still holds its output: stopped reading after ${lingerMs} ms, left it running`,
    );
  }

  const stdout = out.text();
  const stderr = err.text();
  opts.log?.debug({ command: argv, label, exitCode: r.code, signal: r.signal, durationMs, stdout: clip(stdout), stderr: clip(stderr) }, `${label} ran`);

  if (aborted && opts.signal) throw abortReason(opts.signal);
  const errTail = tail(stderr);
  const withStderr = errTail ? `; stderr:\n${errTail}` : '';
  const status = r.code ?? undefined;
  if (timedOut) {
    throw new CommandError(`${label} "${shown}" timed out after ${opts.timeoutMs} ms and was killed${withStderr}`, argv, status, true, errTail);
  }
  if (out.overflow || err.overflow) {
    throw new CommandError(`${label} "${shown}" printed more than ${maxBuffer} bytes`, argv, status, false, errTail);
  }
  if (r.error) {
    throw new CommandError(`${label} "${shown}" could not be started: ${r.error.code ?? ''} ${r.error.message}`.trim(), argv, undefined, false, '', { cause: r.error });
  }
  if (status === undefined) {
    throw new CommandError(`${label} "${shown}" was killed by ${r.signal ?? 'a signal'}${withStderr}`, argv, undefined, false, errTail);
  }
  if (status !== 0) {
    throw new CommandError(`${label} "${shown}" exited with code ${status}${withStderr}`, argv, status, false, errTail);
  }
  return { stdout, stderr, durationMs, outputLeftOpen };
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new QrError('aborted');
}
