/**
 * `npm run build`, second half: bundles the CLI that tsc compiled (dist/cli.js and
 * everything it imports, packages included) with esbuild into dist/cli.js plus lazy
 * chunks under dist/chunks/ (one per command, one per package group), so that a
 * command starts from a handful of files instead of ~190 modules resolved one by one.
 * `--help` reads dist/cli.js alone (commander inside it).
 *
 * The simulator stays as tsc compiled it (dist/sim/**): its node-main, broker and
 * supervisor processes are started from those paths, and its restart command is
 * dist/sim/restart-node.js. Imports of it from the CLI (`sim …`, `demo`, completion)
 * stay imports of dist/sim/ files, checked below to resolve from where they landed.
 *
 *   node scripts/bundle.mjs   (also writes dist/bundle-meta.json, esbuild's metafile)
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const simDir = join(dist, 'sim') + sep;
const chunks = join(dist, 'chunks');
const BANNER_MARK = '__qrCreateRequire';

const entry = join(dist, 'cli.js');
if (!existsSync(entry)) throw new Error('dist/cli.js is missing: run tsc first (npm run build does)');
// The bundle replaces tsc's dist/cli.js: bundling it again would bundle the bundle (and delete its chunks).
if (readFileSync(entry, 'utf8').includes(BANNER_MARK)) throw new Error('dist/cli.js is already the bundle: run `npm run build` (tsc, then this script)');
rmSync(chunks, { recursive: true, force: true });

/** Imports into dist/sim/ are left as they are (the importing module's own relative path). */
const simExternal = {
  name: 'sim-external',
  setup(build) {
    build.onResolve({ filter: /^\.{1,2}\/.*sim\// }, (a) => {
      const target = resolve(a.resolveDir, a.path);
      return target.startsWith(simDir) ? { path: a.path, external: true } : undefined;
    });
  },
};

/**
 * undici's HTTP/2 client is left out: it is reached only when a server picks h2 by ALPN,
 * which undici offers only with `allowH2`, and no client here sets it
 * (clients/dispatcher.ts). Bundled, it made every start load `node:http2` (≈ 7 ms on
 * Node 20, issue 21). In its place a module that fails loudly if it is ever reached.
 */
const noHttp2 = {
  name: 'no-undici-h2',
  setup(build) {
    build.onResolve({ filter: /^\.\/client-h2\.js$/ }, (a) =>
      a.importer.includes(`${sep}undici${sep}lib${sep}dispatcher${sep}`) ? { path: 'undici-client-h2-stub', namespace: 'qr-stub' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'qr-stub' }, () => ({
      loader: 'js',
      contents: "module.exports = function connectH2() { throw new Error('quantum-roll is built without HTTP/2 (undici client-h2): a client with allowH2 is not supported'); };",
    }));
  },
};

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { cli: entry },
  outdir: dist,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  chunkNames: 'chunks/[name]-[hash]',
  // Whitespace and syntax only: function names stay as written, for the stacks of internal errors.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // Optional native add-ons of ws (mqtt's WebSocket transport), tried and skipped when absent.
  external: ['bufferutil', 'utf-8-validate'],
  // The CommonJS packages (undici, pino, commander, …) call require() for Node's own modules.
  banner: { js: `import { createRequire as ${BANNER_MARK} } from 'node:module';\nconst require = ${BANNER_MARK}(import.meta.url);` },
  plugins: [simExternal, noHttp2],
});

// Every relative import left in the output (the simulator's files) must resolve from the chunk it ended up in.
const problems = [];
for (const out of Object.keys(result.metafile.outputs)) {
  const file = join(root, out);
  if (!file.endsWith('.js')) continue;
  for (const imp of result.metafile.outputs[out].imports) {
    if (!imp.external || !imp.path.startsWith('.')) continue;
    if (!existsSync(resolve(dirname(file), imp.path))) problems.push(`${relative(root, file)} imports ${imp.path}, which does not exist from there`);
  }
}
if (problems.length) throw new Error(`bundle: ${problems.join('; ')}`);

// Which modules and packages each output file holds (bench/b3 names the packages a command loads from it; not packed).
writeFileSync(join(dist, 'bundle-meta.json'), JSON.stringify(result.metafile));
const files = readdirSync(chunks).length + 1;
const bytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
const main = result.metafile.outputs['dist/cli.js'];
console.log(`bundle: dist/cli.js (${Math.round(main.bytes / 1024)} kB) + ${files - 1} chunks, ${Math.round(bytes / 1024)} kB in all`);
