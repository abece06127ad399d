/**
 * The dependency rule of ARCHITECTURE.md, checked on every relative import under src/:
 *
 *   cli → commands → render → run → steps → cluster | clients | adapters → config | util
 *
 * A module may import its own floor and any floor below it, never one above. `cluster`
 * is pure: of its floor it reads only the contract's types (clients/schemas). The
 * simulator (src/sim/) imports nothing of the orchestrator, and the orchestrator
 * imports the simulator only from the `demo` command and the cli's `sim` entry.
 */
import path from 'node:path';

const FLOORS = [
  ['config', 'util'],
  ['cluster', 'clients', 'adapters'],
  ['steps'],
  ['run'],
  ['render'],
  ['commands'],
  ['cli.ts'],
];
const floorOf = (room) => FLOORS.findIndex((f) => f.includes(room));

/** The top-level room of a file under src/ ('cli.ts' for src/cli.ts), or undefined outside src/. */
function roomOf(file, srcDir) {
  const rel = path.relative(srcDir, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep)[0];
}

const SIM_DOORS = new Set(['commands/demo.ts', 'cli.ts']);

export default {
  rules: {
    layers: {
      meta: {
        type: 'problem',
        docs: { description: 'imports follow the layers of ARCHITECTURE.md' },
        schema: [],
        messages: {
          upward: '{{from}} ({{fromRoom}}) must not import {{to}} ({{toRoom}}): imports go down the layers cli → commands → render → run → steps → cluster|clients|adapters → config|util (see ARCHITECTURE.md)',
          pure: 'src/cluster/ is pure: it may read the contract types (clients/schemas) but not {{to}}',
          simOut: 'the simulator must not import the orchestrator ({{to}}): src/sim/ stands apart',
          simIn: 'only the demo command and the cli reach into the simulator ({{to}})',
        },
      },
      create(context) {
        const file = context.filename ?? context.getFilename();
        const srcDir = path.resolve(context.cwd ?? process.cwd(), 'src');
        const fromRoom = roomOf(file, srcDir);
        if (fromRoom === undefined) return {};
        function check(node, spec) {
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
          const toRoom = roomOf(target, srcDir);
          if (toRoom === undefined) return;
          const fromRel = path.relative(srcDir, file).split(path.sep).join('/');
          const toRel = path.relative(srcDir, target).split(path.sep).join('/');
          const data = { from: fromRel, to: toRel, fromRoom, toRoom };
          if (fromRoom === 'sim') {
            if (toRoom !== 'sim') context.report({ node, messageId: 'simOut', data });
            return;
          }
          if (toRoom === 'sim') {
            if (!SIM_DOORS.has(fromRel)) context.report({ node, messageId: 'simIn', data });
            return;
          }
          const a = floorOf(fromRoom);
          const b = floorOf(toRoom);
          if (a < 0 || b < 0) return;
          if (b > a) context.report({ node, messageId: 'upward', data });
          else if (fromRoom === 'cluster' && toRoom !== 'cluster' && b === a && toRel !== 'clients/schemas.ts')
            context.report({ node, messageId: 'pure', data });
        }
        return {
          ImportDeclaration: (n) => check(n, n.source.value),
          ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
          ExportAllDeclaration: (n) => check(n, n.source.value),
          ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
        };
      },
    },
  },
};
