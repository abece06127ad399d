import { describe, expect, it } from 'vitest';
import type { ControlPlaneClient } from '../../src/clients/control-plane.js';
import { HttpError, StepError } from '../../src/util/errors.js';
import { transferLeadersAway } from '../../src/steps/transfer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A CP without the batch endpoint that serves at most `capacity` transfers at once, each taking `serviceMs`. */
function fakeCp(opts: { prgs: number; capacity: number; serviceMs: number; refuse?: Set<string>; busyFirst?: number }) {
  const leader = new Map<string, string>();
  for (let i = 0; i < opts.prgs; i++) leader.set(`prg-${i}`, 'node-1');
  const stats = { requests: 0, rejected: 0, inFlight: 0, maxInFlight: 0, maxAfterFirstReject: 0 };
  let rejectedOnce = false;
  const cp = {
    async listPrgIds(filter: { leader?: string }) {
      return [...leader].filter(([, l]) => l === filter.leader).map(([id]) => id);
    },
    async features() {
      return { batch: false };
    },
    async transferLeader(id: string) {
      stats.requests++;
      if ((opts.busyFirst ?? 0) > 0 || stats.inFlight >= opts.capacity) {
        if (opts.busyFirst) opts.busyFirst--;
        stats.rejected++;
        rejectedOnce = true;
        throw new HttpError('busy', 503, 'too_many_transfers', {});
      }
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      if (rejectedOnce) stats.maxAfterFirstReject = Math.max(stats.maxAfterFirstReject, stats.inFlight);
      try {
        await sleep(opts.serviceMs);
        if (opts.refuse?.has(id)) throw new HttpError('no target', 409, 'no_eligible_target', {});
        leader.set(id, 'node-2');
        return { prg_id: id, from: 'node-1', to: 'node-2' };
      } finally {
        stats.inFlight--;
      }
    },
  };
  return { cp: cp as unknown as ControlPlaneClient, stats, leader };
}

const run = (cp: ControlPlaneClient, concurrency: number) =>
  transferLeadersAway(cp, { node: 'node-1', exclude: [], deadline: Date.now() + 30_000, concurrency, batchMaxParallel: 64 });

describe('per-PRG leader transfers (adaptive window)', () => {
  it('moves every PRG and settles at what the CP serves instead of flooding it', async () => {
    const { cp, stats, leader } = fakeCp({ prgs: 400, capacity: 8, serviceMs: 3 });
    const out = await run(cp, 64);
    expect(out.via).toBe('per-prg');
    expect(out.moved).toHaveLength(400);
    expect([...leader.values()].every((l) => l === 'node-2')).toBe(true);
    expect(stats.maxInFlight).toBe(8);
    // One burst while slow start finds the limit, then about one probe per window.
    expect(stats.rejected).toBeLessThan(8 + 400 / 8);
  });

  it('never exceeds the configured ceiling', async () => {
    const { cp, stats } = fakeCp({ prgs: 200, capacity: 1000, serviceMs: 2 });
    await run(cp, 10);
    expect(stats.maxInFlight).toBe(10);
    expect(stats.rejected).toBe(0);
  });

  it('backs off and retries when the CP is busy with nothing of ours in flight', async () => {
    const { cp, stats } = fakeCp({ prgs: 20, capacity: 4, serviceMs: 1, busyFirst: 8 });
    const out = await run(cp, 4);
    expect(out.moved).toHaveLength(20);
    expect(stats.rejected).toBeGreaterThanOrEqual(8);
  });

  it('names the PRGs the CP refused (409) and moves the others', async () => {
    const { cp, leader } = fakeCp({ prgs: 30, capacity: 8, serviceMs: 1, refuse: new Set(['prg-3', 'prg-17']) });
    const err = await run(cp, 8).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toContain('2 PRG(s)');
    expect((err as StepError).message).toContain('prg-17: no_eligible_target');
    expect([...leader].filter(([, l]) => l === 'node-1').map(([id]) => id).sort()).toEqual(['prg-17', 'prg-3']);
  });
});
