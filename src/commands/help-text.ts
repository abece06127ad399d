/** What --help adds below the options: examples, and for changing commands the exit codes. */
import type { Command } from 'commander';

export const EXIT_CODES = `
Exit codes:
  0    done
  1    a step failed: before any change, nothing changed; after, the node is
       left drained and out of the LB (see the journal; \`quantum-roll resume\`)
  2    usage or configuration error, unknown node
  3    refused by a precheck (nothing changed)
  4    the maintenance lease is held by someone else (nothing changed)
  130  interrupted (SIGINT/SIGTERM); safe to \`quantum-roll resume\``;

/** Two or three examples under --help, and for commands that change something, the exit codes. */
export function examples(cmd: Command, lines: string[], exits: string | false = false): Command {
  const split = lines.map((l) => l.split('  # ') as [string, string?]);
  const width = Math.max(...split.map(([c]) => c.length));
  // Short commands get their comment beside them, long ones above them.
  const body = split.map(([c, why]) => (!why ? `  $ ${c}` : width <= 48 ? `  $ ${c.padEnd(width)}  # ${why}` : `  # ${why}\n  $ ${c}`));
  cmd.addHelpText('after', `\nExamples:\n${body.join('\n')}${exits ? `\n${exits}` : ''}`);
  return cmd;
}
