/**
 * Runbook 5: restart the node. The boot_id seen before is journalled first, so a
 * resumed run never restarts twice: a changed boot_id means it already happened.
 * A restart counts only when the boot_id changed.
 */
import type { Step, StepContext, StepResult } from '../context.js';
import { StepError } from '../errors.js';
import { restartArgv, runRestartCommand } from '../restart-command.js';
import { WaitTimeout, waitFor } from '../wait.js';
import { formatDuration } from '../config/duration.js';

export const restartStep: Step = {
  name: 'restart',
  title: 'Restart',

  async plan(ctx: StepContext): Promise<StepResult> {
    const argv = restartArgv(ctx.env.config.restart.command, ctx.node);
    return {
      summary: `would run ${argv.join(' ')} (timeout ${formatDuration(ctx.env.config.restart.timeout)}) and wait for a new boot_id`,
      actions: [`run ${JSON.stringify(argv)}`],
      data: { argv },
    };
  },

  async run(ctx: StepContext): Promise<StepResult> {
    const { env, node, runtime } = ctx;
    const before = ctx.record.boot_id_before;
    if (before !== null) {
      // Resumed: did the restart already happen?
      const now = await runtime.node().catch(() => undefined);
      if (now && now.boot_id !== before) {
        ctx.save((r) => {
          r.boot_id_after = now.boot_id;
        });
        return { summary: `already restarted (boot_id ${before} → ${now.boot_id}); not restarting again` };
      }
    } else {
      const info = await runtime.node();
      ctx.save((r) => {
        r.boot_id_before = info.boot_id;
      });
    }
    const bootBefore = ctx.record.boot_id_before!;
    const argv = restartArgv(env.config.restart.command, node);
    await runRestartCommand(argv, env.config.restart.timeout, env.log, node.id);

    const ready = env.config.timeouts.ready;
    try {
      const after = await waitFor(
        async () => {
          const info = await runtime.node({ retry: false, deadline: Date.now() + 2_000 }).catch(() => undefined);
          ctx.say(info ? `waiting for a new boot_id (still ${info.boot_id})` : `waiting for ${node.id} to answer`);
          return info && info.boot_id !== bootBefore ? info : undefined;
        },
        { deadline: Date.now() + ready, what: `a new boot_id on ${node.id}`, initialMs: 20, maxMs: 250 },
      );
      ctx.save((r) => {
        r.boot_id_after = after.boot_id;
      });
      env.log.info({ event: 'restart.done', node: node.id, boot_id: after.boot_id, intent: 'planned' }, 'node restarted');
      return { summary: `restarted: boot_id ${bootBefore} → ${after.boot_id}`, data: { boot_id_before: bootBefore, boot_id_after: after.boot_id } };
    } catch (err) {
      if (!(err instanceof WaitTimeout)) throw err;
      throw new StepError(
        `restart of ${node.id} not proven: the restart command exited 0 but boot_id is still ${bootBefore} after ${formatDuration(ready)} (timeouts.ready). ${node.id} is left drained and out of the LB.`,
        { node: node.id, step: 'restart', next: `check the restart command (restart.command), then quantum-roll resume`, evidence: { boot_id: bootBefore } },
      );
    }
  },
};
