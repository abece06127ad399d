#!/usr/bin/env node
/**
 * quantum-roll: restart the nodes of a Quantum MQTT cluster without losing a
 * message or a write. Wires the commands; each is loaded only when it runs.
 */
import { Command, CommanderError, Option } from 'commander';
import type { GlobalOptions } from './commands/session.js';
import { ExitCode, QrError, exitCodeOf, messageOf } from './util/errors.js';

type Action = (opts: GlobalOptions, ...args: never[]) => Promise<number>;

const argvJson = process.argv.includes('--json');

function common(cmd: Command, changing = true): Command {
  cmd
    .option('--config <file>', 'config file (default: $QUANTUM_ROLL_CONFIG or ./quantum-roll.yaml)')
    .option('--json', 'print exactly one JSON document on stdout (logs go to stderr)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--state-dir <dir>', 'where the journal lives (default: .quantum-roll beside the config)');
  if (changing) {
    cmd.option('--dry-run', 'print every action, change nothing').option('-y, --yes', 'do not ask for confirmation (required off a TTY)');
  }
  return cmd;
}

/** Runs an action and maps its outcome to the exit code; the one place errors become exits. */
function wire(load: () => Promise<Action>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as GlobalOptions;
    const positional = args.slice(0, -2);
    let code: number;
    try {
      const action = await load();
      code = await action(opts, ...(positional as never[]));
    } catch (err) {
      code = reportError(err, opts.json === true);
    }
    await flushAndExit(code);
  };
}

export function reportError(err: unknown, json: boolean): number {
  const code = exitCodeOf(err);
  const details = err instanceof QrError ? err.details : {};
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ok: false, exit_code: code, error: { message: messageOf(err), kind: (err as Error)?.name, ...details } })}\n`,
    );
  } else {
    process.stderr.write(`quantum-roll: ${messageOf(err)}\n`);
    if (details.next) process.stderr.write(`  next: ${details.next}\n`);
    if (!(err instanceof QrError) && process.env.QUANTUM_ROLL_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
  }
  return code;
}

async function flushAndExit(code: number): Promise<never> {
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  process.exit(code);
}

const program = new Command('quantum-roll')
  .description('Safe rolling restarts for Quantum MQTT clusters (precheck → leader-transfer → drain → quiesce → restart → readmit → postcheck)')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
common(program);

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

common(program.command('resume'))
  .description('continue the last interrupted run from its journal')
  .option('--metrics-file <path>', 'write Prometheus textfile metrics of the run')
  .action(wire(async () => (await import('./commands/resume.js')).resumeAction));

common(program.command('status'), false)
  .description('one view of the cluster: nodes, readiness, drain, LB, PRGs, placement, lease')
  .action(wire(async () => (await import('./commands/status.js')).statusAction));

common(program.command('drain'))
  .description('set the runtime drain flag, then take the LB member out of service')
  .argument('<node>', 'node id')
  .action(wire(async () => (await import('./commands/drain.js')).drainAction));

common(program.command('undrain'))
  .description('clear the drain flag and put the LB member back (refuses a node that is not ready)')
  .argument('<node>', 'node id')
  .action(wire(async () => (await import('./commands/drain.js')).undrainAction));

common(program.command('transfer-leaders'))
  .description('move PRG leadership off a node and wait until it leads none')
  .argument('<node>', 'node id')
  .action(wire(async () => (await import('./commands/transfer-leaders.js')).transferLeadersAction));

const placement = program.command('placement').description('placement hygiene');
common(placement.command('check'), false)
  .description('every PRG with two replicas on one node (or rack, under one_replica_per_rack); exit 3 when any')
  .action(wire(async () => (await import('./commands/placement.js')).placementCheckAction));

common(program.command('demo'), false)
  .description('start the bundled simulator, roll every node under MQTT load with live progress, report the client impact, stop it')
  .option('--nodes <n>', 'simulated nodes (3 racks)', '3')
  .option('--clients <n>', 'MQTT load clients during the roll (0: none)', '100')
  .action(wire(async () => (await import('./commands/demo.js')).demoAction));

async function main(): Promise<void> {
  if (process.argv[2] === 'sim') {
    const { simCommand } = await import('./sim/command.js');
    const sim = simCommand();
    sim.exitOverride();
    try {
      await sim.parseAsync(process.argv.slice(3), { from: 'user' });
    } catch (err) {
      if (err instanceof CommanderError) await flushAndExit(err.exitCode === 0 ? 0 : ExitCode.usage);
      await flushAndExit(reportError(err, argvJson));
    }
    return;
  }
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') await flushAndExit(0);
      if (argvJson) process.stdout.write(`${JSON.stringify({ ok: false, exit_code: ExitCode.usage, error: { message: err.message } })}\n`);
      await flushAndExit(ExitCode.usage);
    }
    await flushAndExit(reportError(err, argvJson));
  }
}

program.command('sim').description('the bundled cluster simulator (sim start|stop|restart-node|faults|status|load)').helpOption(false).allowUnknownOption();

void main();
