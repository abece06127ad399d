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
 * The CLI used by the restart command: dist/cli.js when it exists, else the
 * simulator's own entry dist/sim/sim-cli.js (which accepts the same `sim …` argv).
 */
export function defaultCliPath(): string {
  const main = path.join(projectRoot, 'dist', 'cli.js');
  return fs.existsSync(main) ? main : path.join(distSimDir, 'sim-cli.js');
}
