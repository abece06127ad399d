/**
 * Re-assertion just before an irreversible change (invariant 5): what the drain step
 * established may have been undone while quiesce waited. An LB that forgot the drain
 * (an HAProxy reload without a server-state file, a colleague re-enabling the member)
 * gets it re-applied and verified; a drain flag someone cleared, or a node that is no
 * longer the one that restarted, stops the run with nothing further changed. A replica
 * elsewhere that went down since the precheck holds the restart back until its PRG has
 * a healthy quorum without this wave again.
 */
import { isOutOfService } from '../adapters/lb/types.js';
import { type QuorumVerdict, checkQuorumWithout, describeBlockers } from '../cluster/quorum.js';
import type { StepContext } from './context.js';
import { formatDuration } from '../config/duration.js';
import { StepError } from '../util/errors.js';
import { waitFor } from '../util/wait.js';

/**
 * Before the restart command: the node's drain flag is still set (else stop, exit 1,
 * nothing restarted) and its LB member is out of service (else re-apply the drain
 * and wait, within `timeouts.lb`, until the LB shows it out).
 */
export async function reassertDrained(ctx: StepContext): Promise<void> {
  const { env, node, runtime } = ctx;
  // In the order they were set (invariant 4): the flag first, then the LB.
  const drain = await runtime.drainStatus();
  if (!drain.draining) {
    const who = drain.initiator ? `by ${drain.initiator}` : 'by someone else (the node does not say who)';
    env.log.error({ event: 'drain.lost', node: node.id, found: drain }, 'drain flag cleared before the restart');
    throw new StepError(
      `the drain flag of ${node.id} was cleared ${who} after the drain step set it; ${node.id} was not restarted and its LB member ${node.lbMember} was left as it is. The run stops: someone else is working on this node.`,
      {
        node: node.id,
        step: 'restart',
        endpoint: runtime.adminUrl,
        next: `find out who cleared it; to go on, quantum-roll drain ${node.id} then quantum-roll resume (or leave it: quantum-roll undrain ${node.id})`,
        evidence: { drain },
      },
    );
  }
  const lb = await env.lb.status(ctx.lbTarget);
  const found = { admin_state: lb.adminState, health: lb.health, ...(lb.detail ? { detail: lb.detail } : {}) };
  if (isOutOfService(lb)) {
    env.log.debug({ event: 'lb.reasserted', node: node.id, member: node.lbMember, found, reapplied: false }, 'LB member still out of service');
    return;
  }
  env.log.warn({ event: 'lb.reasserted', node: node.id, member: node.lbMember, found, reapplied: true }, `the LB forgot the drain of ${node.lbMember}: re-applying it before the restart`);
  ctx.say(`the LB put ${node.lbMember} back in service: taking it out again`);
  const deadline = Date.now() + env.config.timeouts.lb;
  const failed = (why: string, cause?: unknown) =>
    new StepError(
      `before restarting ${node.id}: the LB had put ${node.lbMember} back in service (${lb.adminState}/${lb.health}) and re-applying the drain failed: ${why}. ${node.id} was not restarted; it is drained, its LB member may be in service.`,
      { node: node.id, step: 'restart', endpoint: env.lb.endpoint, next: `check the LB (${env.lb.endpoint}), then quantum-roll resume` },
      cause === undefined ? undefined : { cause },
    );
  let timedOut: StepError | undefined;
  try {
    await env.lb.drain(ctx.lbTarget, { deadline });
    const s = await waitFor(
      async () => {
        const st = await env.lb.status(ctx.lbTarget, { deadline });
        return isOutOfService(st) ? st : undefined;
      },
      {
        deadline,
        what: `LB member ${node.lbMember} to leave service again`,
        initialMs: 10,
        maxMs: 100,
        onTimeout: (t) => {
          throw (timedOut = failed(`the LB did not show it out of service within ${formatDuration(env.config.timeouts.lb)} (timeouts.lb)`, t));
        },
      },
    );
    env.log.warn({ event: 'lb.reasserted', node: node.id, member: node.lbMember, found, reapplied: true, verified: { admin_state: s.adminState, health: s.health } }, `LB member ${node.lbMember} out of service again`);
  } catch (err) {
    throw err === timedOut ? err : failed((err as Error).message, err);
  }
}

/**
 * Before the restart command: every PRG with a replica on the node still keeps a healthy
 * quorum without the wave (invariant 1, read again). The precheck saw it so, but a
 * replica on another node may have gone down or fallen behind while the node was
 * drained; restarting now would take that PRG below quorum. The restart waits (a safe
 * point, bounded by `timeouts.ready`) until the PRG is whole again; at the deadline the
 * run stops with the node drained and not restarted (exit 1), naming the PRGs and their
 * unavailable replicas.
 */
export async function reassertQuorum(ctx: StepContext): Promise<void> {
  const { env, node } = ctx;
  const read = async (): Promise<QuorumVerdict> => checkQuorumWithout(await env.cp.listPrgs({ node: node.id }), ctx.wave);
  let verdict = await read();
  if (verdict.ok) return;
  const started = Date.now();
  const blockers = () => verdict.blockers.map((b) => b.prg).join(', ');
  env.log.warn(
    { event: 'quorum.reasserted', node: node.id, blockers: verdict.blockers, waiting: true },
    `${verdict.blockers.length} PRG(s) on ${node.id} lost their healthy quorum without ${ctx.wave.join(', ')} since the precheck: waiting before the restart`,
  );
  const ready = env.config.timeouts.ready;
  await waitFor(
    async () => {
      verdict = await read();
      if (verdict.ok) return verdict;
      ctx.say(`not restarting yet: ${verdict.blockers.length} PRG(s) lack a healthy quorum without ${ctx.wave.join(', ')} (${blockers()})`);
      return undefined;
    },
    {
      deadline: started + ready,
      what: `a healthy quorum without ${ctx.wave.join(', ')} for every PRG on ${node.id}`,
      stop: env.stop,
      where: `restart of ${node.id} (before the command: waiting for quorum)`,
      initialMs: 100,
      maxMs: 1_000,
      onTimeout: () => {
        throw new StepError(
          `${node.id} was not restarted: ${verdict.blockers.length} PRG(s) with a replica on it lost their healthy quorum without ${ctx.wave.join(', ')} after the precheck, and did not regain it within ${formatDuration(ready)} (timeouts.ready). ${node.id} is left drained and out of the LB.\n${describeBlockers(verdict, [...ctx.wave])}`,
          {
            node: node.id,
            step: 'restart',
            endpoint: env.cp.http.url(`/v1/prgs?node=${node.id}`),
            next: `bring the unavailable replicas back (quantum-roll status), then quantum-roll resume; or leave ${node.id} up: quantum-roll undrain ${node.id}`,
            evidence: { blockers: verdict.blockers },
          },
        );
      },
    },
  );
  env.log.info({ event: 'quorum.reasserted', node: node.id, waited_ms: Date.now() - started, waiting: false }, `every PRG on ${node.id} keeps a healthy quorum again`);
  ctx.say(`quorum is back for every PRG on ${node.id}`);
}

/**
 * Before clearing the drain in readmit: the node is still the process that restarted
 * (the boot_id journalled after the restart). Another restart meanwhile (a crash, a
 * colleague) means this run no longer knows the node: stop, leave it drained.
 */
export async function reassertSameBoot(ctx: StepContext): Promise<void> {
  const { env, node, runtime } = ctx;
  const expected = ctx.record.boot_id_after;
  if (expected === null) return;
  const info = await runtime.node();
  if (info.boot_id === expected) {
    env.log.debug({ event: 'node.reasserted', node: node.id, boot_id: info.boot_id }, 'same boot as after the restart');
    return;
  }
  env.log.error({ event: 'node.reasserted', node: node.id, expected, found: info.boot_id }, 'the node restarted again since the restart step');
  throw new StepError(
    `${node.id} restarted again after this run's restart (boot_id ${expected} journalled, now ${info.boot_id}); its drain flag was not cleared: ${node.id} is left drained and out of the LB.`,
    {
      node: node.id,
      step: 'readmit',
      endpoint: runtime.adminUrl,
      next: `find out why ${node.id} restarted (its logs); once it is ready, quantum-roll undrain ${node.id}`,
      evidence: { boot_id_expected: expected, boot_id_found: info.boot_id },
    },
  );
}
