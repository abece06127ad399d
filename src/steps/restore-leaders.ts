/**
 * Leadership comes back (invariant 10): after a node is readmitted and its postcheck
 * passed, the PRGs it led before its drain (journalled by leader-transfer) and still
 * hosts as a healthy replica get leadership moved back to it, per PRG `{"to": node}`
 * through the adaptive window of transfer.ts, within `timeouts.leader_transfer`. A
 * refusal or the deadline is a warning with the count, never a failure; a stop
 * request ends it at once. Off with `leader_transfer.restore: false`.
 *
 * The contract's pipeline is seven steps, so this is the tail of the postcheck, not a
 * step of its own.
 */
import type { Prg } from '../clients/schemas.js';
import type { CpReads, PlanContext, Step, StepContext } from './context.js';
import { formatDuration } from '../config/duration.js';
import { transferLeadersTo } from './transfer.js';

/** How many PRGs moved back, and why the others did not. */
export interface RestoreResult {
  /** false when `leader_transfer.restore` is off */
  enabled: boolean;
  /** PRGs it led before its drain */
  led_before: number;
  /** of those, the ones it still hosts as a healthy replica and does not lead now: what is moved back */
  planned: number;
  moved: number;
  refused: number;
  timed_out: number;
  /** led before, but no longer a healthy replica of them (or the PRG is gone) */
  not_eligible: number;
  stopped?: boolean;
}

/** The PRGs of `before` that `node` hosts as a healthy replica and does not lead. */
export async function restoreCandidates(cp: Pick<CpReads, 'listPrgs'>, node: string, before: readonly string[], deadline?: number): Promise<string[]> {
  if (before.length === 0) return [];
  const want = new Set(before);
  const hosted: Prg[] = await cp.listPrgs({ node }, deadline ? { deadline } : {});
  return hosted.filter((p) => want.has(p.id) && p.leader !== node && p.replicas.some((r) => r.node === node && r.state === 'healthy')).map((p) => p.id);
}

export async function restoreLeaders(ctx: StepContext): Promise<{ result: RestoreResult; warnings: string[] }> {
  const { env, node } = ctx;
  const before = ctx.record.leaders_before ?? [];
  const empty: RestoreResult = { enabled: env.config.leader_transfer.restore, led_before: before.length, planned: 0, moved: 0, refused: 0, timed_out: 0, not_eligible: 0 };
  if (!env.config.leader_transfer.restore || before.length === 0) return { result: empty, warnings: [] };
  const limit = env.config.timeouts.leader_transfer;
  const deadline = Date.now() + limit;
  const ids = await restoreCandidates(env.cp, node.id, before, deadline);
  // Already led again (elected back, or restored by an earlier attempt) is no work and no loss.
  const ledNow = new Set((await env.cp.listPrgs({ leader: node.id }, { deadline })).map((p) => p.id));
  const notEligible = before.filter((id) => !ids.includes(id) && !ledNow.has(id)).length;
  ctx.say(`moving leadership of ${ids.length} PRG(s) back to ${node.id}`);
  const out = await transferLeadersTo(env.cp, node.id, ids, {
    deadline,
    concurrency: env.config.leader_transfer.concurrency,
    stop: env.stop,
    onProgress: ctx.say,
  });
  const result: RestoreResult = {
    ...empty,
    planned: ids.length,
    moved: out.moved.length,
    refused: out.refused.length,
    timed_out: out.timedOut.length,
    not_eligible: notEligible,
    ...(out.stopped ? { stopped: true } : {}),
  };
  const warnings: string[] = [];
  if (out.refused.length) warnings.push(`leadership of ${out.refused.length} PRG(s) could not move back to ${node.id}: refused by the CP (409), e.g. ${out.refused.slice(0, 5).join(', ')}`);
  if (out.timedOut.length && !out.stopped) warnings.push(`leadership of ${out.timedOut.length} PRG(s) did not move back to ${node.id} within ${formatDuration(limit)} (timeouts.leader_transfer), e.g. ${out.timedOut.slice(0, 5).join(', ')}`);
  if (out.stopped) warnings.push(`moving leadership back to ${node.id} ended by a stop request: ${out.moved.length} of ${ids.length} moved back`);
  env.reporter.leadersRestored?.(node.id, out.moved.length, ids.length);
  const level = warnings.length ? 'warn' : 'info';
  env.log[level]({ event: 'leaders.restored', node: node.id, ...result, intent: 'planned' }, `leadership of ${out.moved.length}/${ids.length} PRG(s) moved back to ${node.id}`);
  return { result, warnings };
}

/** A dry run: what the node leads now is what would leave it and come back after its postcheck. */
export async function planRestore(ctx: PlanContext): Promise<{ result: RestoreResult; actions: string[]; summary: string }> {
  const { env, node } = ctx;
  const led = (await env.cp.listPrgs({ leader: node.id })).map((p) => p.id);
  const on = env.config.leader_transfer.restore;
  const result: RestoreResult = { enabled: on, led_before: led.length, planned: on ? led.length : 0, moved: 0, refused: 0, timed_out: 0, not_eligible: 0 };
  if (!on) return { result, actions: [], summary: 'leadership is not moved back (leader_transfer.restore: false)' };
  if (led.length === 0) return { result, actions: [], summary: `${node.id} leads no PRG: no leadership to move back` };
  return {
    result,
    summary: `then move leadership of ${led.length} PRG(s) back to ${node.id} (those it still hosts as a healthy replica)`,
    actions: [`move leadership back to ${node.id} (POST /v1/prgs/{id}/leader-transfer {"to": "${node.id}"}, ≤ ${formatDuration(env.config.timeouts.leader_transfer)}): ${led.join(', ')}`],
  };
}

/**
 * `transfer-leaders --restore <node>`: the inverse for operators, as one step on its
 * own: leadership of `ids` (what the last run's journal says the node led before its
 * drain) moves back to the node where it still hosts a healthy replica.
 */
export function restoreLeadersStep(ids: readonly string[]): Step<RestoreResult> {
  return {
    name: 'restore-leaders',
    label: 'leaders back',
    doing: 'moving PRG leadership back to the node',
    kind: 'change',
    boundBy: ['timeouts.leader_transfer'],
    waits: (config) => ({ for: 'leadership back on the node (the CP shows it leading them)', maxMs: config.timeouts.leader_transfer, expectedMs: 2_000, expectedFrom: 'default' }),
    async plan(ctx) {
      const want = await restoreCandidates(ctx.env.cp, ctx.node.id, ids);
      return { summary: `would move leadership of ${want.length} of ${ids.length} PRG(s) back to ${ctx.node.id}`, actions: want.length ? [`move leadership back to ${ctx.node.id}: ${want.join(', ')}`] : [] };
    },
    async run(ctx) {
      ctx.save((r) => (r.leaders_before = [...ids]));
      const { result, warnings } = await restoreLeaders({ ...ctx, env: { ...ctx.env, config: { ...ctx.env.config, leader_transfer: { ...ctx.env.config.leader_transfer, restore: true } } } });
      return { summary: `leadership of ${result.moved}/${result.planned} PRG(s) moved back to ${ctx.node.id}`, warnings, data: result };
    },
  };
}
