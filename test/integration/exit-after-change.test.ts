/**
 * Issue 20, item 2, end to end: every failure path reachable after a change exits 1 —
 * drain, quiesce, restart, readmit, postcheck, and the next node's precheck refused once
 * the first node was restarted (a refusal-class error: exit 3 would promise "nothing
 * changed") — each driven by the simulator's fault knobs, each with the JSON document's
 * exit_code and the journal agreeing. `resume` puts the cluster back after each row.
 */
import { describe, expect, it } from 'vitest';
import type { CliResult, TestCluster } from '../support/cli.js';
import { finish, finishWithResume, readJournal, startCli, useCluster, withConfig } from '../support/inspect.js';
import { on, parkAt, parkThrough, restartWithStrictFallback, unpark } from '../support/park.js';

/** Exit 1 after a change: the document says so, names the step and node, and the journal shows the node was touched. */
async function expectFailedAfterChange(c: TestCluster, r: CliResult, step: string, node: string): Promise<any> {
  expect(r.code, `${r.stdout.slice(0, 3000)}\n${r.stderr.slice(-2000)}`).toBe(1);
  const doc = r.json as any;
  expect(doc.ok).toBe(false);
  expect(doc.exit_code).toBe(1);
  expect(doc.error.step, doc.error.message).toBe(step);
  expect(doc.error.node).toBe(node);
  const j = await readJournal(c);
  expect(j.status).toBe('failed');
  expect(Object.values(j.nodes as Record<string, any>).some((n) => n.steps['leader-transfer'] !== undefined)).toBe(true);
  return doc.error;
}

describe('after the first change, every failure exits 1', { timeout: 180_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl), async (c) => {
    await finishWithResume(c);
  });

  it('drain: the LB fails once the drain flag is set', async () => {
    const r = await withConfig(
      c,
      (cfg) => (cfg.timeouts.lb = '1500ms'),
      async () => {
        const p = startCli(c, ['restart', 'node-2', '--yes']);
        await parkAt(c, on.drainFlag('node-2'), p);
        await c.sim.setFaults({ lbError: true, park: null });
        return finish(p);
      },
    );
    await expectFailedAfterChange(c, r, 'drain', 'node-2');
  });

  it('quiesce: the DISCONNECT request gets no answer', async () => {
    const r = await withConfig(
      c,
      (cfg) => (cfg.quiesce = { grace: '100ms', target_sessions: 0, disconnect: { reason_code: 156, rate_per_s: 500 } }),
      async () => {
        await c.sim.setFaults({ sessionDecay: 0 });
        const p = startCli(c, ['restart', 'node-3', '--yes']);
        // Held until the client gives up on it (its request timeout and retry budget).
        await parkAt(c, { system: 'node', node: 'node-3', method: 'POST', path: '/v1/sessions/disconnect' }, p);
        const out = await finish(p);
        await unpark(c);
        return out;
      },
    );
    await expectFailedAfterChange(c, r, 'quiesce', 'node-3');
  });

  it('restart: the restart command exits non-zero', async () => {
    await c.sim.setFaults({ restartFail: ['node-4'] });
    const r = await c.cli(['restart', 'node-4', '--yes']);
    await expectFailedAfterChange(c, r, 'restart', 'node-4');
  });

  it('readmit: the LB never sees the node healthy', async () => {
    await c.sim.setFaults({ lbNeverHealthy: ['node-5'] });
    const r = await withConfig(c, (cfg) => (cfg.timeouts.lb = '1500ms'), () => c.cli(['restart', 'node-5', '--yes']));
    await expectFailedAfterChange(c, r, 'readmit', 'node-5');
  });

  it('postcheck: a PRG falls into strict fallback while the node restarts', async () => {
    // Generous: a loaded machine may take seconds to bring the node's process back (that would be a readmit failure).
    const r = await restartWithStrictFallback(c, 'node-1', '60s');
    await expectFailedAfterChange(c, r, 'postcheck', 'node-1');
  });

  it('the next node refused by its precheck once the first was restarted: exit 1, not 3', async () => {
    const p = startCli(c, ['restart', 'node-1', 'node-2', '--yes']);
    // Held at the second node's first read (the CP's /readyz after node-1's drain): node-1 is done.
    await parkThrough(c, [on.drainFlag('node-1'), { system: 'cp', method: 'GET', pattern: '^/readyz(\\?|$)' }], p);
    await c.sim.setFaults({ cpUnhealthy: true, park: null });
    const r = await finish(p);
    const err = await expectFailedAfterChange(c, r, 'precheck', 'node-2');
    expect(err.kind).toBe('RefusedError');
    expect(err.message).toMatch(/This run had already changed node-1: exit 1, not 3\./);
    const j = await readJournal(c);
    expect(j.nodes['node-1'].status).toBe('done');
    expect((r.json as any).nodes['node-2'].status).toBe('refused');
  });
});
