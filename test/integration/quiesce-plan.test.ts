/**
 * The dry run of a closed-loop eviction (issue 19): the plan says, in the node's numbers,
 * the cohort and how the rest is paced, and sends nothing that changes anything.
 */
import { describe, expect, it } from 'vitest';
import { changing, now, startCluster } from '../support/cli.js';

describe('the dry run of the eviction', () => {
  it('plan and restart --dry-run show the cohort and the pacing, and change nothing', { timeout: 120_000 }, async () => {
    const c = await startCluster({ nodes: 3, racks: 3, prgs: 30, sessionsPerNode: 200 });
    try {
      await c.sim.setFaults({ sessionDecay: 0 });
      await c.patchConfig((cfg) => {
        cfg.quiesce = { grace: '1s', target_sessions: 0, disconnect: { reason_code: 156, rate_per_s: 400, cohort: { share: 0.1, min: 5 } } };
      });
      const t0 = now();
      const plan = await c.cli(['plan', 'node-2']);
      expect(plan.code, plan.stderr).toBe(0);
      const waits = (plan.json as any).nodes['node-2'].waits as Array<{ step: string; for: string }>;
      const q = waits.find((w) => w.step === 'quiesce')!;
      expect(q.for).toMatch(/a cohort of 20 back within 10s/);
      expect(q.for).toMatch(/≤ 400\/s paced/);

      const dry = await c.cli(['restart', 'node-2', '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      const text = JSON.stringify(dry.json);
      expect(text).toMatch(/then a cohort: POST [^"]*\/v1\/sessions\/disconnect reason 156 at 400\/s, limit 20/);
      expect(text).toMatch(/halved while more clients are pending than pace × 2 s/);
      expect(text).toMatch(/never below 20\/s/);
      expect(changing(await c.callsSince(t0))).toEqual([]);
    } finally {
      await c.stop();
    }
  });
});
