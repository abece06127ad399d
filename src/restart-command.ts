/**
 * Runs `restart.command`: an argv array, placeholders substituted inside single
 * arguments, no shell, bounded by `restart.timeout`, output to the logs.
 */
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { NodeTarget } from './context.js';
import { StepError } from './errors.js';
import { ID_PATTERN } from './config/schema.js';

export function substitute(argv: readonly string[], values: Record<string, string>): string[] {
  return argv.map((a) => a.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? values[k]! : m)));
}

export function restartArgv(template: readonly string[], node: NodeTarget): string[] {
  for (const [k, v] of [['node', node.id], ['member', node.lbMember]] as const) {
    if (!ID_PATTERN.test(v) && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v)) {
      throw new StepError(`refusing to run the restart command: {${k}} would be "${v}", which is not a plain id`, { node: node.id, step: 'restart' });
    }
  }
  if (!URL.canParse(node.adminUrl)) {
    throw new StepError(`refusing to run the restart command: {admin_url} "${node.adminUrl}" is not a URL`, { node: node.id, step: 'restart' });
  }
  return substitute(template, { node: node.id, member: node.lbMember, admin_url: node.adminUrl });
}

export async function runRestartCommand(argv: string[], timeoutMs: number, log: Logger, node: string): Promise<void> {
  const [file, ...args] = argv;
  const shown = argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
  log.info({ event: 'restart.exec', node, argv, intent: 'planned' }, `running ${shown}`);
  const r = await execa(file!, args, { timeout: timeoutMs, reject: false, shell: false, stdin: 'ignore', all: true, forceKillAfterDelay: 2000 });
  const output = (r.all ?? '').toString().trim();
  if (output) log.info({ event: 'restart.output', node, output: output.slice(-4000) }, 'restart command output');
  if (r.timedOut) {
    throw new StepError(`restart command for ${node} did not finish within ${Math.round(timeoutMs / 1000)} s and was killed: ${shown}`, {
      node,
      step: 'restart',
      evidence: { argv, output: output.slice(-2000) },
    });
  }
  if (r.failed) {
    const why = r.exitCode !== undefined ? `exited with ${r.exitCode}` : (r.signal ? `was killed by ${r.signal}` : r.shortMessage);
    throw new StepError(`restart command for ${node} ${why}: ${shown}${output ? `\n  last output: ${output.split('\n').slice(-5).join('\n  ')}` : ''}`, {
      node,
      step: 'restart',
      evidence: { argv, exit_code: r.exitCode ?? null, output: output.slice(-2000) },
    });
  }
}
