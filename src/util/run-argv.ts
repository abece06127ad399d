/**
 * Runs an operator-supplied argv (from config) with `{placeholder}` substitution.
 * Never through a shell: argv[0] is the file, each element one argument, and a
 * placeholder is replaced inside its own argument only. Shared by the exec LB
 * adapter and the restart executor (`restart.command`).
 */
import type { Logger } from 'pino';
import { QrError, UsageError } from './errors.js';

/** What an id-like value (node id, LB member) must look like to be substituted. */
export const PLAIN_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/g;

export interface SubstituteOptions {
  /** Placeholders whose value must match {@link PLAIN_VALUE} (e.g. `node`, `member`). Others may be any string without NUL. */
  plain?: readonly string[];
  /** For messages: which config key the argv comes from (`lb.drain`, `restart.command`). */
  label?: string;
}

/**
 * Replaces `{name}` in each argument with `values[name]`. An unknown placeholder is a
 * config error (a typo would otherwise run with the literal text); a value that does
 * not fit its pattern is refused before anything runs.
 */
export function substitute(argv: readonly string[], values: Readonly<Record<string, string>>, opts: SubstituteOptions = {}): string[] {
  const label = opts.label ?? 'command';
  if (argv.length === 0 || argv[0] === '') throw new UsageError(`${label}: the argv is empty`);
  const plain = new Set(opts.plain ?? []);
  for (const name of plain) {
    const v = values[name];
    if (v !== undefined && !PLAIN_VALUE.test(v)) {
      throw new QrError(
        `${label}: refusing to substitute {${name}} = ${JSON.stringify(v)}: it must match ${PLAIN_VALUE.source} (nothing was run)`,
      );
    }
  }
  for (const [name, v] of Object.entries(values)) {
    if (v.includes('\0')) throw new QrError(`${label}: refusing to substitute {${name}}: the value contains a NUL byte (nothing was run)`);
  }
  return argv.map((arg) =>
    arg.replace(PLACEHOLDER, (whole, name: string) => {
      const v = Object.hasOwn(values, name) ? values[name] : undefined;
      if (v === undefined) {
        const known = Object.keys(values).map((k) => `{${k}}`).join(' ');
        throw new UsageError(`${label}: unknown placeholder ${whole} in argument ${JSON.stringify(arg)} (known: ${known})`);
      }
      return v;
    }),
  );
}

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
}

export interface ArgvResult {
  stdout: string;
  stderr: string;
  durationMs: number;
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

/** argv as the operator would type it (quoted where needed), for messages. */
export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,{}-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** The last `lines` non-empty lines of `text`, each line and the whole bounded. */
export function tail(text: string, lines = 5, maxChars = 800): string {
  const kept = text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
  return kept.length > maxChars ? `…${kept.slice(-maxChars)}` : kept;
}

/**
 * execa (about 100 modules) is loaded when a command first runs, not at start-up:
 * `--help`, `plan` and `status` never run one. A run loads it ahead, while it waits
 * anyway (quiesce), so the restart command starts without that delay.
 */
let execaModule: Promise<typeof import('execa')> | undefined;
export function loadRunner(): Promise<typeof import('execa')> {
  execaModule ??= import('execa');
  return execaModule;
}

/**
 * Runs argv (already substituted) without a shell. Resolves with its output when it
 * exits 0; otherwise throws {@link CommandError} naming the command, its exit status
 * and the tail of stderr. The child runs in its own process group so a timeout or an
 * abort also stops whatever it spawned (an `ssh`, a `sleep`) instead of leaving it
 * holding our pipes.
 */
/** This process's environment for a child, plus `env`, minus `withoutEnv`. */
function childEnv(opts: RunArgvOptions): { env?: NodeJS.ProcessEnv; extendEnv: boolean } {
  if (!opts.withoutEnv?.length) return { env: opts.env, extendEnv: true };
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const name of opts.withoutEnv) delete env[name];
  return { env, extendEnv: false };
}

export async function runArgv(argv: readonly string[], opts: RunArgvOptions): Promise<ArgvResult> {
  const [file, ...args] = argv;
  const label = opts.label ?? 'command';
  const shown = displayArgv(argv);
  if (file === undefined || file === '') throw new UsageError(`${label}: the argv is empty`);
  if (opts.signal?.aborted) throw abortReason(opts.signal);
  if (opts.timeoutMs <= 0) throw new CommandError(`${label} "${shown}" not started: no time left before the deadline`, argv, undefined, true, '');

  const { execa } = await loadRunner();
  const started = Date.now();
  const sub = execa(file, args, {
    shell: false,
    reject: false,
    stdin: 'ignore',
    detached: true,
    cleanup: true,
    ...childEnv(opts),
    maxBuffer: opts.maxBufferBytes ?? 1024 * 1024,
    stripFinalNewline: false,
    windowsHide: true,
  });

  if (sub.pid !== undefined) opts.onSpawn?.(sub.pid);
  let timedOut = false;
  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = (sig: NodeJS.Signals) => {
    if (sub.pid === undefined) return;
    try {
      process.kill(-sub.pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = () => {
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), 2_000);
    killTimer.unref();
  };
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
    r = await sub;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  // The group leader is gone; make sure nothing it left behind lingers.
  if (timedOut || aborted) killGroup('SIGKILL');
  if (killTimer) clearTimeout(killTimer);

  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  const durationMs = Date.now() - started;
  opts.log?.debug({ command: argv, label, exitCode: r.exitCode, signal: r.signal, durationMs, stdout: clip(stdout), stderr: clip(stderr) }, `${label} ran`);

  if (aborted && opts.signal) throw abortReason(opts.signal);
  const errTail = tail(stderr);
  const withStderr = errTail ? `; stderr:\n${errTail}` : '';
  if (timedOut) {
    throw new CommandError(`${label} "${shown}" timed out after ${opts.timeoutMs} ms and was killed${withStderr}`, argv, r.exitCode, true, errTail);
  }
  if (r.isMaxBuffer) {
    throw new CommandError(`${label} "${shown}" printed more than ${opts.maxBufferBytes ?? 1024 * 1024} bytes`, argv, r.exitCode, false, errTail);
  }
  if (r.exitCode === undefined) {
    const why = r.signal ? `was killed by ${r.signal}` : `could not be started: ${r.code ?? ''} ${r.originalMessage ?? r.shortMessage ?? ''}`.trim();
    throw new CommandError(`${label} "${shown}" ${why}${withStderr}`, argv, undefined, false, errTail, { cause: r.cause });
  }
  if (r.exitCode !== 0) {
    throw new CommandError(`${label} "${shown}" exited with code ${r.exitCode}${withStderr}`, argv, r.exitCode, false, errTail);
  }
  return { stdout, stderr, durationMs };
}

function clip(s: string, max = 4_000): string {
  return s.length > max ? `${s.slice(0, max)}…(${s.length - max} more chars)` : s;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new QrError('aborted');
}
