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
import { processIdentity, whoIs } from '../util/proc-identity.js';
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
    const resumeWarnings: string[] = [];
    if (before !== null) {
      // Resumed: did the restart already happen (or is a command of the interrupted run still at it)?
      const { info: now, warnings } = await settleResumed(ctx, before);
      resumeWarnings.push(...warnings);
      if (now && now.boot_id !== before) {
        ctx.save((r) => {
          r.boot_id_after = now.boot_id;
          r.restart_pid = null;
          r.restart_pid_identity = null;
        });
        return {
          summary: `already restarted (boot_id ${before} → ${now.boot_id}); not restarting again`,
          data: { boot_id_before: before, boot_id_after: now.boot_id },
          ...(warnings.length ? { warnings } : {}),
        };
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
        (pid) => {
          // Read at once: the child exists from here on (its start time is its fork's), so this is its identity.
          const identity = processIdentity(pid);
          ctx.save((r) => {
            r.restart_pid = pid;
            r.restart_pid_identity = identity;
            r.restart_started_at = new Date().toISOString();
          });
        },
        tokenEnvNames(env.config),
      );
    } finally {
      ctx.save((r) => {
        r.restart_pid = null;
        r.restart_pid_identity = null;
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
    return {
      summary: `restarted: boot_id ${bootBefore} → ${after.boot_id}`,
      data: { boot_id_before: bootBefore, boot_id_after: after.boot_id },
      ...(resumeWarnings.length ? { warnings: resumeWarnings } : {}),
    };
  },
};

/**
 * A resumed restart step: waits while the interrupted run's restart command (its pid
 * is journalled) is still running (at most until its restart.timeout would have
 * killed it; then it is killed) and while the node does not answer (at most
 * timeouts.ready), and returns what the node says then. Never decides on a
 * half-finished restart: that is how a restart is never repeated.
 *
 * Never signals a stranger: the pid is ours only while its identity (boot id and
 * start time, journalled beside it) is the same. A reused pid is not waited for and
 * never killed; a pid that cannot be proven ours (a journal without its identity, no
 * /proc) is waited for but never killed; a kill refused (EPERM) ends the wait. Each
 * says so in a warning.
 */
async function settleResumed(ctx: StepContext, before: string): Promise<{ info: NodeInfo | undefined; warnings: string[] }> {
  const { env, runtime, node } = ctx;
  const warnings: string[] = [];
  const warn = (event: string, text: string, fields: Record<string, unknown>) => {
    env.log.warn({ event, node: node.id, ...fields }, text);
    warnings.push(text);
  };
  let pid = ctx.record.restart_pid;
  const identity = ctx.record.restart_pid_identity;
  const startedAt = ctx.record.restart_started_at ? Date.parse(ctx.record.restart_started_at) : Date.now();
  const commandEnd = startedAt + env.config.restart.timeout;
  const answerEnd = Date.now() + env.config.timeouts.ready;
  for (;;) {
    const info = await runtime.node({ retry: false, deadline: Date.now() + 2_000 }).catch(() => undefined);
    if (info && info.boot_id !== before) return { info, warnings };
    const who = pid === null ? 'gone' : whoIs(pid, identity);
    if (pid !== null && who === 'stranger') {
      warn('restart.pid_reused', `pid ${pid} of the interrupted run's restart command now belongs to another process: not waited for, not signalled`, { pid });
      pid = null;
      continue;
    }
    const orphan = pid !== null && (who === 'ours' || who === 'unproven');
    if (orphan && Date.now() >= commandEnd) {
      if (who === 'unproven') {
        warn(
          'restart.orphan_unproven',
          `pid ${pid} outlived restart.timeout, but nothing proves it is still the interrupted run's restart command (no start time journalled, or no /proc): not signalled; kill it by hand if it is`,
          { pid },
        );
        pid = null;
        continue;
      }
      try {
        process.kill(-pid!, 'SIGKILL');
        env.log.warn({ event: 'restart.orphan_killed', node: node.id, pid }, "the interrupted run's restart command outlived restart.timeout: killed");
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPERM') {
          warn('restart.orphan_kill_refused', `the interrupted run's restart command (pid ${pid}) outlived restart.timeout and may not be signalled by this user (EPERM): no longer waited for; stop it by hand`, { pid });
          pid = null;
          continue;
        }
        // ESRCH: gone meanwhile
      }
    } else if (orphan) {
      ctx.say(`waiting for the interrupted run's restart command (pid ${pid}) to finish`);
    } else if (info) {
      return { info, warnings };
    } else if (Date.now() >= answerEnd) {
      return { info: undefined, warnings };
    } else {
      ctx.say(`waiting for ${node.id} to answer`);
    }
    await sleep(100);
  }
}
