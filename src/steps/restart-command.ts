/**
 * Runs `restart.command`: an argv array, placeholders substituted inside single
 * arguments ({node} and {member} must be plain ids, {admin_url} a URL), no shell,
 * bounded by `restart.timeout` (the whole process group is killed), output logged.
 */
import type { Logger } from '../util/log.js';
import type { NodeTarget } from './context.js';
import { StepError } from '../util/errors.js';
import { CommandError, displayArgv, runArgv, substitute } from '../util/run-argv.js';

export function restartArgv(template: readonly string[], node: NodeTarget): string[] {
  if (!URL.canParse(node.adminUrl)) {
    throw new StepError(`refusing to run the restart command: {admin_url} "${node.adminUrl}" is not a URL`, { node: node.id, step: 'restart' });
  }
  return substitute(template, { node: node.id, member: node.lbMember, admin_url: node.adminUrl }, { plain: ['node', 'member'], label: 'restart.command' });
}

export async function runRestartCommand(
  argv: string[],
  timeoutMs: number,
  log: Logger,
  node: string,
  onSpawn?: (pid: number) => void,
  withoutEnv: readonly string[] = [],
): Promise<void> {
  log.info({ event: 'restart.exec', node, argv, intent: 'planned' }, `running ${displayArgv(argv)}`);
  try {
    const r = await runArgv(argv, { timeoutMs, log, label: 'restart command', onSpawn, withoutEnv });
    const output = `${r.stdout}${r.stderr}`.trim();
    if (output) log.info({ event: 'restart.output', node, output: output.slice(-4000), duration_ms: r.durationMs }, 'restart command output');
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    throw new StepError(`restart of ${node}: ${err.message}. ${node} is left drained and out of the LB.`, {
      node,
      step: 'restart',
      next: `fix restart.command (try it by hand), then quantum-roll resume`,
      evidence: { argv, exit_code: err.status ?? null, timed_out: err.timedOut },
    });
  }
}
