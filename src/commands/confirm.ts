import { createInterface } from 'node:readline/promises';
import { UsageError } from '../errors.js';
import type { GlobalOptions } from './session.js';

/**
 * A changing command asks `Proceed? [y/N]` on a TTY; `--yes` skips the question;
 * off a TTY without `--yes` it refuses (exit 2) before anything happens.
 */
export async function confirm(opts: GlobalOptions, summary: string): Promise<void> {
  if (opts.yes || opts.dryRun) return;
  if (!process.stdin.isTTY) {
    throw new UsageError('--yes is required when stdin is not a terminal and the command would change something (or use --dry-run to preview)');
  }
  process.stderr.write(`${summary}\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question('Proceed? [y/N] ')).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new UsageError('not confirmed; nothing was changed');
  } finally {
    rl.close();
  }
}
