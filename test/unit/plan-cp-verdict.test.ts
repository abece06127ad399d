/**
 * The plan judges the control plane by the contract's rule (CP /readyz 200), the same
 * verdict the precheck refuses on: a plan never passes what the precheck then refuses.
 * The simulator's `cpReadyzFails` knob makes /readyz answer 503 while cluster/state
 * still says the CP is healthy, the case where the two used to disagree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cli.js';
import { parsePlan } from '../support/plan.js';

describe('plan: the CP verdict is the precheck\'s', { timeout: 120_000 }, () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 3, racks: 3, prgs: 30 });
  });
  afterAll(async () => c?.stop());

  it('CP /readyz 503 while cluster/state says healthy: the plan fails cp_healthy and is refused, like the precheck', async () => {
    await c.sim.setFaults({ cpReadyzFails: true });
    try {
      const state = (await (await fetch(`${c.sim.cpUrl}/v1/cluster/state`)).json()) as { cp: { healthy: boolean } };
      expect(state.cp.healthy).toBe(true);
      const r = await c.cli(['plan', 'node-1']);
      expect(r.code, r.stderr).toBe(3);
      const d = parsePlan(r.json);
      expect(d.ok).toBe(false);
      expect(d.cluster.cp.healthy).toBe(false);
      const cp = d.checks.find((x) => x.id === 'cp_healthy');
      expect(cp?.status).toBe('fail');
      expect(cp?.summary).toMatch(/NOT healthy/);
      const pre = d.checks.find((x) => x.id === 'precheck' && x.node === 'node-1');
      expect(pre?.status).toBe('fail');
      expect(pre?.summary).toMatch(/control plane is not healthy/);
    } finally {
      await c.sim.setFaults({ cpReadyzFails: false });
    }
  });

  it('a healthy CP passes both', async () => {
    const r = await c.cli(['plan', 'node-1']);
    expect(r.code, r.stderr).toBe(0);
    const d = parsePlan(r.json);
    expect(d.checks.find((x) => x.id === 'cp_healthy')?.status).toBe('pass');
    expect(d.checks.find((x) => x.id === 'precheck')?.status).toBe('pass');
  });
});
