// Stand-alone entry for the simulator CLI (`node dist/sim/sim-cli.js sim …`), used as the
// restart command when dist/cli.js is not built; accepts the same argv as the main CLI.
import { Command } from 'commander';
import { simCommand } from '../commands/sim.js';

const program = new Command('quantum-roll-sim').description('quantum-roll simulator').addCommand(simCommand());
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
