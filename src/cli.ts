#!/usr/bin/env node
/**
 * quantum-roll: restart the nodes of a Quantum MQTT cluster without losing a
 * message or a write. Wires the commands; each is loaded only when it runs.
 */
import { readFileSync } from 'node:fs';
import nodeModule from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Argument, Command, CommanderError, Option } from 'commander';
import type { CompletionCommand } from './commands/completion.js';
import type { GlobalOptions } from './commands/session.js';
import { EXIT_CODES, examples } from './commands/help-text.js';
import { ExitCode, type QrError, asQrError, errorDocument, errorText } from './util/errors.js';
import { disableColor } from './util/color.js';

// Node ≥ 22.1 keeps V8's compiled code of the chunks a command loads (zod, yaml, undici, …) for the
// next start: plan node-3 −50 ms of CPU on Node 22 (BENCHMARKS.md, issue 21). In the user's own cache
// dir, not the OS temp dir Node defaults to: code another user of the machine could write there would
// run as this one. NODE_DISABLE_COMPILE_CACHE=1 turns it off; Node 20 has no such cache.
{
  const enable = (nodeModule as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  if (enable) {
    try {
      const xdg = process.env.XDG_CACHE_HOME;
      enable(join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'quantum-roll', 'compile-cache'));
    } catch {
      // no home directory: no cache, nothing else changes
    }
  }
}

type Action = (opts: GlobalOptions, ...args: never[]) => Promise<number>;

const argvJson = process.argv.includes('--json');

/** The version of the installed package: package.json sits one level above dist/cli.js (and src/cli.ts). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function common(cmd: Command, changing = true): Command {
  cmd
    .option('--config <file>', 'config file (default: $QUANTUM_ROLL_CONFIG, ./quantum-roll.yaml, $XDG_CONFIG_HOME/quantum-roll/config.yaml, /etc/quantum-roll/config.yaml)')
    .option('--json', 'print exactly one JSON document on stdout (logs go to stderr)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--state-dir <dir>', 'where the journal lives (default: .quantum-roll beside the config if writable, else $XDG_STATE_HOME/quantum-roll)')
    .option('-q, --quiet', 'print nothing on stdout (except with --json) and no live progress; errors still go to stderr')
    .option('--no-color', 'no colour (also NO_COLOR=1 or TERM=dumb; FORCE_COLOR=1 forces it)');
  if (changing) {
    cmd.option('--dry-run', 'print every action, change nothing').option('-y, --yes', 'do not ask for confirmation (required off a TTY)');
  }
  return cmd;
}

/**
 * `--quiet`, for scripts that want only the exit code and errors: stdout stays empty
 * (unless --json asked for its document) and logs default to errors only.
 */
function quiet(opts: GlobalOptions): void {
  opts.logLevel ??= 'error';
  if (opts.json) return;
  process.stdout.write = ((_chunk: unknown, enc?: unknown, cb?: unknown) => {
    const done = typeof enc === 'function' ? enc : cb;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof process.stdout.write;
}

/** Runs an action and maps its outcome to the exit code (errors through reportError, like main's). */
function wire(load: () => Promise<Action>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as GlobalOptions & { quiet?: boolean };
    const positional = args.slice(0, -2);
    // --no-color on the program or on the command (commander defaults each level's own to true).
    for (let c: Command | null = cmd; c; c = c.parent) if (c.getOptionValue('color') === false) disableColor();
    if (opts.quiet) quiet(opts);
    let code: number;
    try {
      const action = await load();
      code = await action(opts, ...(positional as never[]));
    } catch (err) {
      code = await reportError(err, opts.json === true, opts.logLevel);
    }
    await flushAndExit(code);
  };
}

/**
 * The top-level handler: an error becomes its JSON document or stderr lines (one mapping,
 * util/errors.ts) and its exit code. Anything not a QrError is a bug in quantum-roll
 * (InternalError); its stack goes to the log at debug level.
 */
export async function reportError(err: unknown, json: boolean, logLevel = argvLogLevel()): Promise<number> {
  const qr = asQrError(err);
  if (qr !== err) await logStack(qr, logLevel);
  if (json) process.stdout.write(`${JSON.stringify(errorDocument(qr))}\n`);
  else process.stderr.write(errorText(qr));
  return qr.exitCode;
}

/** `--log-level` as given on the command line, for failures before commander parsed it. */
function argvLogLevel(): string | undefined {
  const i = process.argv.indexOf('--log-level');
  return i > 0 ? process.argv[i + 1] : process.argv.find((a) => a.startsWith('--log-level='))?.slice(12);
}

/** Writes an internal error's stack as a debug event (pino loads only when one happens). */
async function logStack(qr: QrError, level: string | undefined): Promise<void> {
  const { LOG_LEVELS, createLogger } = await import('./util/log.js');
  const valid = (LOG_LEVELS as readonly string[]).includes(level ?? '') ? (level as (typeof LOG_LEVELS)[number]) : 'warn';
  const cause = qr.cause as Error | undefined;
  createLogger(valid).debug({ event: 'internal_error', stack: cause?.stack ?? String(cause) }, qr.message);
}

async function flushAndExit(code: number): Promise<never> {
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  process.exit(code);
}

const program = new Command('quantum-roll')
  .description('Safe rolling restarts for Quantum MQTT clusters (precheck → leader-transfer → drain → quiesce → restart → readmit → postcheck)')
  .version(packageVersion(), '-V, --version', 'print the version of quantum-roll')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
common(program);
examples(
  program,
  [
    'quantum-roll check  # can the tool do its job? (changes nothing)',
    'quantum-roll plan node-3  # preview',
    'quantum-roll restart --all --parallel auto  # roll the cluster',
  ],
  `${EXIT_CODES}\n\nConfig: the first of --config, $QUANTUM_ROLL_CONFIG, ./quantum-roll.yaml,\n$XDG_CONFIG_HOME/quantum-roll/config.yaml, /etc/quantum-roll/config.yaml.\nShell completion: quantum-roll completion bash|zsh|fish.`,
);

const parallel = new Option('--parallel <n|auto>', 'nodes per wave: a number, or auto (placement-aware waves)').default('1');

common(program.command('restart'))
  .description('run the full pipeline for each named node (or --all), one wave at a time')
  .argument('[nodes...]', 'node ids')
  .option('--all', 'every node of the cluster, in a safe order')
  .addOption(parallel)
  .option('--pause <duration>', 'wait between waves')
  .option('--allow-overload', 'proceed when the other nodes lack spare session capacity')
  .option('--force', 'restart nodes even if they booted after the run began')
  .option('--metrics-file <path>', 'write Prometheus textfile metrics of the run')
  .option('--verbose', 'show PRG ids in the plan')
  .action(wire(async () => (await import('./commands/restart.js')).restartAction));
examples(
  program.commands.at(-1)!,
  [
    'quantum-roll restart node-3  # asks "Proceed? [y/N]" on a terminal',
    'quantum-roll restart --all --parallel auto --yes  # placement-aware waves, no prompt',
    'quantum-roll restart --all --yes --json --metrics-file /var/lib/node_exporter/textfile/quantum-roll.prom  # in CI: one JSON document, Prometheus textfile metrics',
  ],
  EXIT_CODES,
);

common(program.command('plan'), false)
  .description('preview the plan: the same as restart --dry-run')
  .argument('[nodes...]', 'node ids')
  .option('--all', 'every node of the cluster')
  .addOption(parallel)
  .option('--pause <duration>', 'wait between waves')
  .option('--allow-overload', 'plan even when spare capacity is short')
  .option('--force', 'include nodes that booted after the run began')
  .option('--verbose', 'show PRG ids')
  .action(wire(async () => (await import('./commands/restart.js')).planAction));
examples(program.commands.at(-1)!, [
  'quantum-roll plan node-3  # what restart node-3 would do, with the PRGs whose leadership moves',
  'quantum-roll plan --all --parallel auto --verbose',
  'quantum-roll plan --all --json > plan.json  # schema: docs/plan-schema.md',
]);

common(program.command('resume'))
  .description('continue the last interrupted run from its journal')
  .option('--metrics-file <path>', 'write Prometheus textfile metrics of the run')
  .action(wire(async () => (await import('./commands/resume.js')).resumeAction));
examples(program.commands.at(-1)!, ['quantum-roll resume  # after Ctrl-C (exit 130), a crash or a failed step', 'quantum-roll resume --yes --json'], EXIT_CODES);

common(program.command('status'), false)
  .description('one view of the cluster: nodes, readiness, drain, LB, PRGs, placement, lease')
  .action(wire(async () => (await import('./commands/status.js')).statusAction));
examples(program.commands.at(-1)!, ['quantum-roll status', 'quantum-roll status --json | jq \'.nodes[] | {id, ready, lb}\'']);

common(program.command('drain'))
  .description('set the runtime drain flag, then take the LB member out of service')
  .argument('<node>', 'node id')
  .action(wire(async () => (await import('./commands/drain.js')).drainAction));
examples(program.commands.at(-1)!, ['quantum-roll drain node-3', 'quantum-roll drain node-3 --yes --json'], EXIT_CODES);

common(program.command('undrain'))
  .description('clear the drain flag and put the LB member back (refuses a node that is not ready)')
  .argument('<node>', 'node id')
  .action(wire(async () => (await import('./commands/drain.js')).undrainAction));
examples(program.commands.at(-1)!, ['quantum-roll undrain node-3  # refuses a node that is not ready', 'quantum-roll undrain node-3 --yes --quiet'], EXIT_CODES);

common(program.command('transfer-leaders'))
  .description('move PRG leadership off a node and wait until it leads none')
  .argument('<node>', 'node id')
  .option('--restore', "the inverse: move back the leadership the last run's journal says the node had before its drain")
  .action(wire(async () => (await import('./commands/transfer-leaders.js')).transferLeadersAction));
examples(program.commands.at(-1)!, ['quantum-roll transfer-leaders node-3', 'quantum-roll transfer-leaders node-3 --dry-run  # the PRGs that would move'], EXIT_CODES);

const placement = program.command('placement').description('placement hygiene');
common(placement.command('check'), false)
  .description('every PRG with two replicas on one node (or rack, under one_replica_per_rack); exit 3 when any')
  .action(wire(async () => (await import('./commands/placement.js')).placementCheckAction));
examples(placement.commands.at(-1)!, ['quantum-roll placement check  # exit 3 when any violation', 'quantum-roll placement check --json | jq .nodes_involved']);

common(program.command('check'), false)
  .description(
    'preflight that changes nothing in the cluster (its canary round trip, if configured, publishes one message to its own topic): config (durations, placeholders), CP, every node admin API and LB member, restart program, state dir, secret file modes',
  )
  .action(wire(async () => (await import('./commands/check.js')).checkAction));
examples(
  program.commands.at(-1)!,
  ['quantum-roll check  # before a maintenance window', 'quantum-roll check --json | jq \'.checks[] | select(.status == "fail")\'', 'quantum-roll check --quiet || exit 1  # CI gate'],
  '\nExit codes:\n  0  every check passed\n  1  a check failed (each names the endpoint or key and what to fix)\n  2  configuration error (every problem listed)',
);

common(program.command('report'), false)
  .description("a run's log as a self-contained HTML timeline (default), markdown for a CI job summary, or text; reads the log only")
  .argument('[run]', 'a run id or the path of a run log (default: the newest run in the state dir)')
  .option('--format <format>', 'html (a file), md or text (stdout)', 'html')
  .option('--output <file>', 'where to write it (default: <state dir>/runs/<run id>.html for html, stdout otherwise)')
  .action(wire(async () => (await import('./commands/report.js')).reportAction));
examples(program.commands.at(-1)!, [
  'quantum-roll report  # the newest run: writes <state dir>/runs/<run id>.html and prints its path',
  'quantum-roll report 20261207T120656-ac638c --format text',
  'quantum-roll report --format md >> "$GITHUB_STEP_SUMMARY"  # CI job summary with a mermaid gantt',
  'quantum-roll report /tmp/copied-run.ndjson --output run.html  # a log copied from another host',
]);

common(program.command('demo'), false)
  .description('start the bundled simulator, roll every node under MQTT load with live progress, report the client impact, stop it')
  .option('--nodes <n>', 'simulated nodes (3 racks)', '3')
  .option('--clients <n>', 'MQTT load clients during the roll (0: none)', '100')
  .action(wire(async () => (await import('./commands/demo.js')).demoAction));
examples(program.commands.at(-1)!, ['quantum-roll demo', 'quantum-roll demo --nodes 9']);

program
  .command('completion')
  .description('print a shell completion script (bash, zsh or fish) on stdout')
  .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
  .action(async (shell: string) => {
    const { completionAction } = await import('./commands/completion.js');
    const { simCommand } = await import('./sim/command.js');
    await flushAndExit(completionAction(shell, completionTree(program, simCommand())));
  });
examples(program.commands.at(-1)!, [
  'source <(quantum-roll completion bash)  # in ~/.bashrc',
  'quantum-roll completion zsh > "${fpath[1]}/_quantum-roll"',
  'quantum-roll completion fish > ~/.config/fish/completions/quantum-roll.fish',
]);

/** Values the completion scripts can offer, by option. */
const OPTION_VALUES: Record<string, Pick<CompletionCommand['options'][number], 'choices' | 'valueKind'>> = {
  '--config': { valueKind: 'file' },
  '--metrics-file': { valueKind: 'file' },
  '--output': { valueKind: 'file' },
  '--format': { choices: ['html', 'md', 'text'] },
  '--state-dir': { valueKind: 'dir' },
  '--log-level': { choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  '--parallel': { choices: ['auto', '1', '2', '3', '4'] },
};

/** The commander program as plain data for the completion scripts; the `sim` placeholder gets the simulator's own tree. */
function completionTree(cmd: Command, sim: Command): CompletionCommand {
  const real = cmd.name() === 'sim' && cmd.parent ? sim : cmd;
  const options = real.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      ...(o.long ? { long: o.long } : {}),
      ...(o.short ? { short: o.short } : {}),
      description: o.description,
      takesValue: o.required || o.optional,
      ...(o.long ? OPTION_VALUES[o.long] : {}),
      ...(o.argChoices ? { choices: o.argChoices } : {}),
    }));
  options.push({ long: '--help', short: '-h', description: 'display help for command', takesValue: false });
  const choices = real.registeredArguments.find((a) => a.argChoices)?.argChoices;
  return {
    name: cmd.name(),
    description: cmd.description(),
    options,
    ...(choices ? { argChoices: choices } : {}),
    subcommands: real.commands.filter((c) => c.name() !== 'help').map((c) => completionTree(c, sim)),
  };
}

/**
 * A commander usage/help/version signal. Not only `instanceof`: the simulator's commands
 * (dist/sim, outside the bundle) use the package's own commander, whose CommanderError
 * is another class than the bundled one.
 */
function isCommanderError(err: unknown): err is CommanderError {
  if (err instanceof CommanderError) return true;
  const e = err as { code?: unknown; exitCode?: unknown } | null;
  return err instanceof Error && typeof e?.code === 'string' && e.code.startsWith('commander.') && typeof e.exitCode === 'number';
}

async function main(): Promise<void> {
  // A reader that went away (`quantum-roll check --help | head`) is no failure of ours: the
  // output stops, the command goes on and exits as it would (a roll is not abandoned
  // half-way because its pipe closed; its run log still has everything).
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    });
  }
  if (process.argv[2] === 'sim') {
    const { simCommand } = await import('./sim/command.js');
    const sim = simCommand();
    sim.exitOverride();
    try {
      await sim.parseAsync(process.argv.slice(3), { from: 'user' });
    } catch (err) {
      if (isCommanderError(err)) await flushAndExit(err.exitCode === 0 ? 0 : ExitCode.usage);
      await flushAndExit(await reportError(err, argvJson));
    }
    return;
  }
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (isCommanderError(err)) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') await flushAndExit(0);
      if (argvJson) process.stdout.write(`${JSON.stringify({ ok: false, exit_code: ExitCode.usage, error: { message: err.message } })}\n`);
      await flushAndExit(ExitCode.usage);
    }
    await flushAndExit(await reportError(err, argvJson));
  }
}

program.command('sim').description('the bundled cluster simulator (sim start|stop|restart-node|faults|status|load)').helpOption(false).allowUnknownOption();

void main();
