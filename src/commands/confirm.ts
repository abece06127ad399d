import { createInterface } from 'node:readline/promises';
import { UsageError } from '../util/errors.js';
import type { GlobalOptions } from './session.js';

const YES_REQUIRED =
  '--yes is required when stdin is not a terminal and the command would change something; nothing was changed (preview with --dry-run, or quantum-roll plan)';

/**
 * Off a TTY without `--yes`, a changing command refuses (exit 2) before it reads or
 * changes anything. Cheap: call it first.
 */
export function requireConfirmable(opts: GlobalOptions): void {
  if (opts.yes || opts.dryRun) return;
  if (!process.stdin.isTTY) throw new UsageError(YES_REQUIRED);
}

/**
 * A changing command shows what it will do and asks `Proceed? [y/N]` on a TTY; `--yes`
 * skips the question; off a TTY without `--yes` it refuses (exit 2) before anything
 * happens. `summary` may be a function, so the plan is only rendered when it is shown.
 */
export async function confirm(opts: GlobalOptions, summary: string | (() => string)): Promise<void> {
  if (opts.yes || opts.dryRun) return;
  requireConfirmable(opts);
  process.stderr.write(`${typeof summary === 'function' ? summary() : summary}\n\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    // End of input (Ctrl-D) or Ctrl-C count as "no".
    rl.on('SIGINT', () => rl.close());
    const answer = (
      await new Promise<string>((resolve) => {
        rl.once('close', () => resolve(''));
        rl.question('Proceed? [y/N] ').then(resolve, () => resolve(''));
      })
    )
      .trim()
      .toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new UsageError('not confirmed; nothing was changed');
  } finally {
    rl.close();
  }
}
