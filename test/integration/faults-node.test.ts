/**
 * The failure matrix, part 2: failures after the node was drained — the restart
 * command, the proof of restart, readiness, the LB's health verdict, the postcheck.
 * Each row asserts exit 1, the step and node in the JSON error, the next command in
 * the message, the node left drained and out of the LB (never readmitted unready),
 * the lease not left held; then `resume` finishes the run once the fault is gone.
 */
import { describe, expect, it } from 'vitest';
import { type CliResult, type TestCluster } from '../support/cli.js';
import { useCluster, expectStepFailure, finishWithResume, drainedAndOut, eventuallyInService, leaseHolder, nodeView, readJournal, withConfig, sleep } from '../support/inspect.js';
import { restartWithStrictFallback } from '../support/park.js';

/** Exit 1 naming the step and node, and the message says what to run next. */
function expectFailure(r: CliResult, step: string, node: string): any {
  const err = expectStepFailure(r, 1, step, node);
  expect(err.message).toMatch(/quantum-roll (resume|undrain)/);
  return err;
}

describe('failure matrix: restart, readiness, LB health, postcheck', { timeout: 180_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl), async (c) => {
    for (const n of c.sim.nodes) {
      // A node held at 95 % by neverReady finishes its replay once the fault is reset (its next
      // heartbeat says so). Restarting it instead would give it a new boot, which resume then
      // rightly refuses to readmit (invariant 5's re-assertion): wait for it, restart only a node
      // still stuck after that.
      const stuck = async () => !(await nodeView(c, n.id)).reasons.every((x) => x === 'draining');
      const deadline = Date.now() + 15_000;
      while ((await stuck()) && Date.now() < deadline) await sleep(50);
      if (await stuck()) await c.sim.restartNode(n.id);
    }
    await finishWithResume(c);
  });

  async function expectLeftSafe(node: string): Promise<void> {
    const v = await nodeView(c, node);
    expect(drainedAndOut(v), JSON.stringify(v)).toBe(true);
    expect(await leaseHolder(c)).toBeNull();
  }

  it('restart command exits non-zero: exit 1 at restart, its status named, node drained and out', async () => {
    await c.sim.setFaults({ restartFail: true });
    const r = await c.cli(['restart', 'node-1', '--yes']);
    const err = expectFailure(r, 'restart', 'node-1');
    expect(err.message).toMatch(/exited with code 3/);
    await expectLeftSafe('node-1');
    expect((await c.sim.stats()).restarts['node-1'] ?? 0).toBe(0);
  });

  it('restart command hangs past restart.timeout: killed, exit 1 at restart, node drained and out', async () => {
    await c.sim.setFaults({ restartHang: true });
    const r = await withConfig(c, (cfg) => (cfg.restart.timeout = '1s'), () => c.cli(['restart', 'node-2', '--yes']));
    const err = expectFailure(r, 'restart', 'node-2');
    expect(err.message).toMatch(/timed out/);
    await expectLeftSafe('node-2');
  });

  it('boot_id unchanged after the restart command: exit 1 at restart, node drained and out', async () => {
    await c.sim.setFaults({ restartNoop: true });
    const r = await withConfig(c, (cfg) => (cfg.timeouts.ready = '1500ms'), () => c.cli(['restart', 'node-3', '--yes']));
    const err = expectFailure(r, 'restart', 'node-3');
    expect(err.message).toMatch(/boot_id/);
    await expectLeftSafe('node-3');
    const j = await readJournal(c);
    expect(j.nodes['node-3'].boot_id_before).toMatch(/^[0-9a-f]+$/);
  });

  it('node never ready: exit 1 at readmit after timeouts.ready without progress, node drained and out', async () => {
    await c.sim.setFaults({ neverReady: ['node-4'] });
    const r = await withConfig(
      c,
      (cfg) => {
        cfg.timeouts.ready = '1s';
        cfg.timeouts.ready_max = '3s';
      },
      () => c.cli(['restart', 'node-4', '--yes']),
    );
    const err = expectFailure(r, 'readmit', 'node-4');
    expect(err.message).toMatch(/prgs_replaying/);
    expect(err.message).toMatch(/95 %/);
    expect(err.message, 'ended by the no-progress rule, not by a wait that ran on').toMatch(/timeouts\.ready without progress/);
    await expectLeftSafe('node-4');
    const v = await nodeView(c, 'node-4');
    expect(v.ready).toBe(false);
  });

  it('readiness wait is recovery-aware: a slow replay past timeouts.ready still succeeds while progress rises', async () => {
    // Replay takes 8 s, each window without progress is 3 s (one /readyz read of a fresh node
    // on a loaded machine can take 2 s and more: not a window the node can lose by itself).
    await c.sim.setFaults({ slowReady: { 'node-5': 8000 } });
    const r = await withConfig(
      c,
      (cfg) => {
        cfg.timeouts.ready = '3s';
        cfg.timeouts.ready_max = '40s';
      },
      () => c.cli(['restart', 'node-5', '--yes']),
    );
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(0);
    expect(await eventuallyInService(c, 'node-5')).toBe(true);
  });

  it('node ready but the LB never sees it healthy: exit 1 at readmit, drained and taken out again', async () => {
    await c.sim.setFaults({ lbNeverHealthy: ['node-5'] });
    const r = await withConfig(c, (cfg) => (cfg.timeouts.lb = '1500ms'), () => c.cli(['restart', 'node-5', '--yes']));
    const err = expectFailure(r, 'readmit', 'node-5');
    expect(err.message).toMatch(/healthy/);
    await expectLeftSafe('node-5');
  });

  it('postcheck failing (strict fallback appears while the node restarts): exit 1 at postcheck; the ready node stays in service', async () => {
    const r = await restartWithStrictFallback(c, 'node-1', '15s');
    const err = expectFailure(r, 'postcheck', 'node-1');
    expect(err.message).toMatch(/strict fallback/);
    expect(err.evidence.prgs.strict_fallback).toBe(1);
    // readmit had proven it ready: the postcheck is about the cluster, the node stays in service
    expect(await eventuallyInService(c, 'node-1')).toBe(true);
    expect(await leaseHolder(c)).toBeNull();
    expect((await readJournal(c)).nodes['node-1'].step).toBe('postcheck');
  });
});
