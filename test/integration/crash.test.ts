/**
 * Crash safety (invariant 8): the CLI is killed with SIGKILL at each step boundary
 * and in the middle of each waiting step, then `resume` finishes the run. Resume
 * takes the lease over at once with the journalled token (no wait for expiry);
 * afterwards every node is ready, undrained and in the LB, and no node was
 * restarted twice (restart counts from the simulator).
 *
 * Every kill lands at a certain moment: the simulator parks the call that begins
 * that moment (the `park` fault), the test waits until it is held, kills the CLI,
 * and only then lets go (a parked call whose client died is dropped, never handled).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Faults } from '../../src/sim/index.js';
import { now, startCluster, type TestCluster } from '../support/cli.js';
import { eventually, eventuallyInService, leaseHolder, readJournal, resetFaults, startCli, stepOf, withConfig } from '../support/inspect.js';
import { on, parkThrough, untilDropped, type ParkRule } from '../support/park.js';

interface Case {
  name: string;
  /** The calls to park at, in turn; the CLI is killed while the last one is held. */
  park: (node: string) => ParkRule[];
  /** Where the journal on disk says the node stood when it was killed. */
  step: string;
  faults?: Partial<Faults>;
  /** Killed while the restart command runs: once let go, that orphaned command restarts the node. */
  orphan?: true;
  config?: (cfg: Record<string, any>) => void;
}

const { ledBy, batchStart, batchPoll, drainFlag, readyz, nodeInfo, restartCommand, clusterState } = on;

const CASES: Case[] = [
  { name: 'precheck done (the first journalled state, lease just taken)', park: (n) => [ledBy(n)], step: 'leader-transfer' },
  { name: 'leader-transfer begins (its batch not yet requested)', park: () => [batchStart], step: 'leader-transfer' },
  { name: 'in leader-transfer, waiting for the moves', park: () => [batchPoll], step: 'leader-transfer', faults: { transferDelayMs: 1500 } },
  { name: 'drain begins', park: (n) => [drainFlag(n)], step: 'drain' },
  { name: 'quiesce begins', park: (n) => [drainFlag(n), readyz(n)], step: 'quiesce' },
  { name: 'in quiesce, waiting for sessions', park: (n) => [drainFlag(n), readyz(n), readyz(n)], step: 'quiesce', faults: { sessionDecay: 0 }, config: (c) => (c.quiesce.grace = '3s') },
  { name: 'restart begins', park: (n) => [drainFlag(n), nodeInfo(n)], step: 'restart' },
  { name: 'in restart, the restart command running', park: (n) => [drainFlag(n), restartCommand(n)], step: 'restart', orphan: true },
  { name: 'readmit begins', park: (n) => [drainFlag(n), restartCommand(n), readyz(n)], step: 'readmit' },
  {
    name: 'in readmit, waiting for the replay',
    park: (n) => [drainFlag(n), restartCommand(n), readyz(n), readyz(n)],
    step: 'readmit',
    faults: { slowReady: { 'node-1': 2500, 'node-2': 2500, 'node-3': 2500 } },
  },
  // (the first cluster-state read after the restart command: quiesce's session sweeps read it too)
  { name: 'postcheck begins', park: (n) => [drainFlag(n), restartCommand(n), clusterState], step: 'postcheck' },
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
        const held = await parkThrough(c, k.park(node), p);
        p.kill('SIGKILL');
        await p;
        if (!k.orphan) await untilDropped(c); // the held call dies with its client: nothing of it happens after the kill
        const j = await readJournal(c);
        return { step: stepOf(j, node), run: j?.run_id as string, held: `${held.method} ${held.path}` };
      });
      const j = await readJournal(c);
      killedAtSteps.push(`${k.name}: held at ${killedAt.held}, journal said ${killedAt.step.join('/')}`);
      expect(j.run_id).not.toBe(previous);
      expect(j.run_id).toBe(killedAt.run);
      expect(stepOf(j, node), `killed while ${killedAt.held} was held`).toEqual([k.step, 'running']);
      expect(j.status, 'a killed run is left running in its journal').toBe('running');
      expect(await leaseHolder(c), 'the killed run still holds the lease').toBe(j.lease.holder);
      await resetFaults(c); // with an orphaned restart command, this lets it go on
      if (k.orphan) {
        expect(j.nodes[node].restart_pid, 'the restart command was running').not.toBeNull();
        // Once let go, the orphaned command restarts the node: resume must see that, not restart it again.
        await eventually(async () => ((await c.sim.stats()).restarts[node] ?? 0) > (statsBefore.restarts[node] ?? 0));
      }

      // resume: takes the lease over by token at once (no wait for the 30 s expiry), re-enters where the journal says
      const t0 = now();
      const r = await c.cli(['resume', '--yes']);
      expect(r.code, `killed at ${JSON.stringify(killedAt.step)}: ${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-2000)}`).toBe(0);
      const leaseCalls = (await c.callsSince(t0)).filter((x) => x.system === 'cp' && x.path.startsWith('/v1/leases') && x.method !== 'GET');
      expect(leaseCalls[0], 'takeover: a renew with the journalled token').toMatchObject({ method: 'PUT', status: 200, body: { token: j.lease.token } });
      expect(leaseCalls.some((x) => x.method === 'POST'), 'no new lease: the old one was taken over, not waited out').toBe(false);

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
