/**
 * Runbook 5: restart the node. The boot_id seen before is journalled first, so a
 * resumed run never restarts twice: a changed boot_id means it already happened.
 * A restart counts only when the boot_id changed.
 */
import type { PlanContext, Step, StepContext, StepResult } from './context.js';
import { StepError } from '../util/errors.js';
import { restartArgv, runRestartCommand } from './restart-command.js';
import { tokenEnvNames } from '../config/load.js';
import { waitFor } from '../util/wait.js';
import { formatDuration } from '../config/duration.js';
import { sleep } from '../util/sleep.js';
import type { NodeInfo } from '../clients/schemas.js';
import { readFileSync } from 'node:fs';
import { reassertDrained, reassertQuorum } from './reassert.js';

/** A plan's restart: the argv it would run; a run's: the boot_id before and after. */
export interface RestartResult {
  argv?: string[];
  boot_id_before?: string;
  boot_id_after?: string;
}

export const restartStep: Step<RestartResult> = {
  name: 'restart',
  label: 'restart',
  doing: 'running the restart command',
  kind: 'change',
  boundBy: ['timeouts.ready', 'timeouts.lb', 'restart.timeout'],
  waits: (config) => ({
    for: `the restart command (≤ ${formatDuration(config.restart.timeout)}), then a new boot_id`,
    // At most: the re-reads before the command wait only when the cluster changed under the
    // run (a quorum lost elsewhere: ≤ timeouts.ready; the LB forgot the drain: ≤ timeouts.lb).
    maxMs: config.timeouts.ready + config.timeouts.lb + config.restart.timeout + config.timeouts.ready,
    expectedMs: 15_000,
    expectedFrom: 'default',
  }),

  async plan(ctx: PlanContext): Promise<StepResult<RestartResult>> {
    const argv = restartArgv(ctx.env.config.restart.command, ctx.node);
    return {
      summary: `would run ${argv.join(' ')} (timeout ${formatDuration(ctx.env.config.restart.timeout)}) and wait for a new boot_id`,
      actions: [`run ${JSON.stringify(argv)}`],
      data: { argv },
    };
  },

  async run(ctx: StepContext): Promise<StepResult<RestartResult>> {
    const { env, node, runtime } = ctx;
    const before = ctx.record.boot_id_before;
    if (before !== null) {
      // Resumed: did the restart already happen (or is a command of the interrupted run still at it)?
      const now = await settleResumed(ctx, before);
      if (now && now.boot_id !== before) {
        ctx.save((r) => {
          r.boot_id_after = now.boot_id;
          r.restart_pid = null;
        });
        return { summary: `already restarted (boot_id ${before} → ${now.boot_id}); not restarting again`, data: { boot_id_before: before, boot_id_after: now.boot_id } };
      }
    } else {
      const info = await runtime.node();
      ctx.save((r) => {
        r.boot_id_before = info.boot_id;
      });
    }
    const bootBefore = ctx.record.boot_id_before!;
    const argv = restartArgv(env.config.restart.command, node);
    // Invariants 1 and 5 hold at the moment the command starts, not when the precheck and the drain step ended.
    await reassertQuorum(ctx);
    await reassertDrained(ctx);
    try {
      await runRestartCommand(
        argv,
        env.config.restart.timeout,
        env.log,
        node.id,
        (pid) =>
          ctx.save((r) => {
            r.restart_pid = pid;
            r.restart_started_at = new Date().toISOString();
          }),
        tokenEnvNames(env.config),
      );
    } finally {
      ctx.save((r) => {
        r.restart_pid = null;
      });
    }

    const ready = env.config.timeouts.ready;
    const after = await waitFor(
      async () => {
        const info = await runtime.node({ retry: false, deadline: Date.now() + 2_000 }).catch(() => undefined);
        ctx.say(info ? `waiting for a new boot_id (still ${info.boot_id})` : `waiting for ${node.id} to answer`);
        return info && info.boot_id !== bootBefore ? info : undefined;
      },
      {
        deadline: Date.now() + ready,
        what: `a new boot_id on ${node.id}`,
        initialMs: 20,
        maxMs: 100,
        onTimeout: () => {
          throw new StepError(
            `restart of ${node.id} not proven: the restart command exited 0 but boot_id is still ${bootBefore} after ${formatDuration(ready)} (timeouts.ready). ${node.id} is left drained and out of the LB.`,
            { node: node.id, step: 'restart', next: `check the restart command (restart.command), then quantum-roll resume`, evidence: { boot_id: bootBefore } },
          );
        },
      },
    );
    ctx.save((r) => {
      r.boot_id_after = after.boot_id;
    });
    env.log.info({ event: 'restart.done', node: node.id, boot_id: after.boot_id, intent: 'planned' }, 'node restarted');
    return { summary: `restarted: boot_id ${bootBefore} → ${after.boot_id}`, data: { boot_id_before: bootBefore, boot_id_after: after.boot_id } };
  },
};

/** Whether a process lives (a zombie nobody reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * A resumed restart step: waits while the interrupted run's restart command (its pid
 * is journalled) is still running (at most until its restart.timeout would have
 * killed it; then it is killed) and while the node does not answer (at most
 * timeouts.ready), and returns what the node says then. Never decides on a
 * half-finished restart: that is how a restart is never repeated.
 */
async function settleResumed(ctx: StepContext, before: string): Promise<NodeInfo | undefined> {
  const { env, runtime, node } = ctx;
  const pid = ctx.record.restart_pid;
  const startedAt = ctx.record.restart_started_at ? Date.parse(ctx.record.restart_started_at) : Date.now();
  const commandEnd = startedAt + env.config.restart.timeout;
  const answerEnd = Date.now() + env.config.timeouts.ready;
  for (;;) {
    const info = await runtime.node({ retry: false, deadline: Date.now() + 2_000 }).catch(() => undefined);
    if (info && info.boot_id !== before) return info;
    const orphan = pid !== null && alive(pid);
    if (orphan && Date.now() >= commandEnd) {
      env.log.warn({ event: 'restart.orphan_killed', node: node.id, pid }, 'the interrupted run\'s restart command outlived restart.timeout: killed');
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    } else if (orphan) {
      ctx.say(`waiting for the interrupted run's restart command (pid ${pid}) to finish`);
    } else if (info) {
      return info;
    } else if (Date.now() >= answerEnd) {
      return undefined;
    } else {
      ctx.say(`waiting for ${node.id} to answer`);
    }
    await sleep(100);
  }
}
