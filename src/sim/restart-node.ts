// The simulator's restart command as a stand-alone entry, what the generated config's
// `restart.command` runs:
//   node dist/sim/restart-node.js [--state-dir DIR] <node>
// Same behaviour and exit codes as `quantum-roll sim restart-node` (restart-command.ts),
// without a whole CLI start-up.
import { restartNode } from './restart-command.js';

const USAGE = 'usage: restart-node.js [--state-dir <dir>] <node>';

function parseArgs(argv: string[]): { stateDir: string; node: string } | string {
  let stateDir = '.sim';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--state-dir') {
      const v = argv[++i];
      if (v === undefined) return `--state-dir needs a directory\n${USAGE}`;
      stateDir = v;
    } else if (a.startsWith('--state-dir=')) stateDir = a.slice('--state-dir='.length);
    else if (a.startsWith('-')) return `unknown option ${a}\n${USAGE}`;
    else rest.push(a);
  }
  if (rest.length !== 1) return `name exactly one node\n${USAGE}`;
  return { stateDir, node: rest[0]! };
}

const args = parseArgs(process.argv.slice(2));
if (typeof args === 'string') {
  process.stderr.write(`${args}\n`);
  process.exitCode = 2;
} else {
  restartNode(args.stateDir, args.node, {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`restart-node: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
