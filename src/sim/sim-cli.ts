// Stand-alone entry for the simulator CLI (`node dist/sim/sim-cli.js sim …`), used as the
// restart command when dist/cli.js is not built; accepts the same argv as the main CLI.
import { Command, CommanderError } from 'commander';
import { simCommand } from './command.js';

const program = new Command('quantum-roll-sim').description('quantum-roll simulator').addCommand(simCommand()).exitOverride();
program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
