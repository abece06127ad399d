/**
 * Crash safety (invariant 8): the CLI is killed with SIGKILL at each step boundary
 * and in the middle of each waiting step, then `resume` finishes the run. Resume
 * takes the lease over at once with the journalled token (no wait for expiry);
 * afterwards every node is ready, undrained and in the LB, and no node was
 * restarted twice (restart counts from the simulator).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Faults } from '../../src/sim/index.js';
import { now, startCluster, type TestCluster } from '../support/cli.js';
import { eventuallyInService, leaseHolder, reached, readJournal, resetFaults, sleep, startCli, stepOf, waitJournal, withConfig } from '../support/inspect.js';

interface Case {
  name: string;
  /** Kill once the journal of this run satisfies this for the node. */
  at: (j: any, node: string) => boolean;
  /** Then wait this long (in the middle of a waiting step). */
  delayMs?: number;
  faults?: Partial<Faults>;
  config?: (cfg: Record<string, any>) => void;
}

const at = (step: string) => (j: any, node: string) => reached(j, node, step);
const inStep = (step: string) => (j: any, node: string) => stepOf(j, node)[0] === step && j.nodes[node].status === 'running';

const CASES: Case[] = [
  { name: 'precheck done (the first journalled state, lease just taken)', at: at('precheck') },
  { name: 'leader-transfer begins', at: at('leader-transfer') },
  { name: 'in leader-transfer, waiting for the moves', at: inStep('leader-transfer'), delayMs: 300, faults: { transferDelayMs: 1500 } },
  { name: 'drain begins', at: at('drain') },
  { name: 'quiesce begins', at: at('quiesce') },
  { name: 'in quiesce, waiting for sessions', at: inStep('quiesce'), delayMs: 400, faults: { sessionDecay: 0 }, config: (c) => (c.quiesce.grace = '3s') },
  { name: 'restart begins', at: at('restart') },
  { name: 'in restart, the restart command running', at: (j, n) => inStep('restart')(j, n) && j.nodes[n].restart_pid !== null },
  { name: 'readmit begins', at: at('readmit') },
  { name: 'in readmit, waiting for the replay', at: inStep('readmit'), delayMs: 400, faults: { slowReady: { 'node-1': 2500, 'node-2': 2500, 'node-3': 2500 } } },
  { name: 'postcheck begins', at: inStep('postcheck') },
];

describe('crash safety: SIGKILL anywhere, then resume', { timeout: 180_000 }, () => {
  let c: TestCluster;
  const restarts: Record<string, number> = {};
  const killedAtSteps: string[] = [];
  beforeAll(async () => {
    c = await startCluster({ nodes: 3, racks: 3, prgs: 30, sessionsPerNode: 20, replayMs: 300 });
  }, 120_000);
  afterAll(async () => c?.stop());

  for (const [i, k] of CASES.entries()) {
    it(`killed at: ${k.name}`, async () => {
      const node = `node-${(i % 3) + 1}`;
      const previous = (await readJournal(c))?.run_id;
      const statsBefore = await c.sim.stats();
      await resetFaults(c, k.faults ?? {});
      const killedAt = await withConfig(c, k.config ?? (() => {}), async () => {
        const p = startCli(c, ['restart', node, '--yes']);
        const j = await waitJournal(c, (x) => x.run_id !== previous && k.at(x, node), 30_000, p);
        if (k.delayMs) await sleep(k.delayMs);
        p.kill('SIGKILL');
        await p;
        return { step: stepOf(j, node), run: j.run_id as string };
      });
      const j = await readJournal(c);
      killedAtSteps.push(`${k.name}: journal said ${killedAt.step.join('/')}, on disk ${stepOf(j, node).join('/')}`);
      expect(j.run_id).toBe(killedAt.run);
      expect(j.status, 'a killed run is left running in its journal').toBe('running');
      expect(await leaseHolder(c), 'the killed run still holds the lease').toBe(j.lease.holder);
      await resetFaults(c);

      // resume: takes the lease over by token at once, re-enters where the journal says
      const t0 = now();
      const started = Date.now();
      const r = await c.cli(['resume', '--yes']);
      const took = Date.now() - started;
      expect(r.code, `killed at ${JSON.stringify(killedAt.step)}: ${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-2000)}`).toBe(0);
      const leaseCalls = (await c.callsSince(t0)).filter((x) => x.system === 'cp' && x.path.startsWith('/v1/leases') && x.method !== 'GET');
      expect(leaseCalls[0], 'takeover: a renew with the journalled token').toMatchObject({ method: 'PUT', status: 200, body: { token: j.lease.token } });
      expect(leaseCalls.some((x) => x.method === 'POST')).toBe(false);
      expect(took, 'no wait for the 30 s lease to expire').toBeLessThan(30_000);

      const stats = await c.sim.stats();
      const delta = (stats.restarts[node] ?? 0) - (statsBefore.restarts[node] ?? 0);
      expect(delta, `${node} restarted exactly once (killed at ${JSON.stringify(killedAt.step)})`).toBe(1);
      restarts[node] = (restarts[node] ?? 0) + delta;
      for (const n of c.sim.nodes) expect(await eventuallyInService(c, n.id), `${n.id} in service`).toBe(true);
      expect(await leaseHolder(c)).toBeNull();
      expect((await readJournal(c)).status).toBe('done');
    });
  }

  it('never had two replicas of a PRG down at once, and every node restarted once per case', async () => {
    const stats = await c.sim.stats();
    expect(stats.maxUnavailablePerPrg).toBeLessThanOrEqual(1);
    for (const [node, n] of Object.entries(restarts)) expect(stats.restarts[node]).toBe(n);
    process.stderr.write(`crash points:\n  ${killedAtSteps.join('\n  ')}\n`);
  });
});
