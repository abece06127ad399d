// Locates the compiled simulator entry points. Works from dist/sim/*.js and from the
// TypeScript sources under src/sim/ (vitest): both sit two levels below the project root.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const projectRoot = path.resolve(here, '..', '..');
export const distSimDir = path.join(projectRoot, 'dist', 'sim');

export function nodeMainPath(): string {
  return path.join(distSimDir, 'node-main.js');
}

export function supervisorMainPath(): string {
  return path.join(distSimDir, 'supervisor-main.js');
}

/**
 * The restart command's program: dist/sim/restart-node.js (a small entry, no CLI start-up),
 * or, when only the CLIs were built, dist/cli.js / dist/sim/sim-cli.js (`sim restart-node`).
 */
export function defaultCliPath(): string {
  const small = path.join(distSimDir, 'restart-node.js');
  if (fs.existsSync(small)) return small;
  const main = path.join(projectRoot, 'dist', 'cli.js');
  return fs.existsSync(main) ? main : path.join(distSimDir, 'sim-cli.js');
}
