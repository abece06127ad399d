/**
 * Signals and `resume` (invariant 8): SIGINT stops at the next safe point (exit 130,
 * lease released, node left as it stands), a second SIGINT exits at once with the
 * journal consistent; `resume` finishes, refuses what it must (exit 2), and nodes
 * restarted by someone else since the run began are skipped unless --force.
 */
import { describe, expect, it } from 'vitest';
import { type TestCluster } from '../support/cli.js';
import { useCluster, drainedAndOut, eventually, eventuallyInService, leaseHolder, nodeView, readJournal, resetFaults, startCli, finish, stepOf, untilOutput, withConfig } from '../support/inspect.js';
import { on, parkAt, parkThrough, unpark } from '../support/park.js';

const { drainFlag, readyz } = on;

describe('signals and resume', { timeout: 180_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));

  it('SIGINT during quiesce: exit 130, lease released, node drained and out; resume finishes it', async () => {
    await c.sim.setFaults({ sessionDecay: 0 });
    const r = await withConfig(
      c,
      (cfg) => (cfg.quiesce.grace = '30s'),
      async () => {
        const p = startCli(c, ['restart', 'node-2', '--yes']);
        // Held at quiesce's second look at the sessions: the CLI is in its wait, sessions > 0.
        await parkThrough(c, [drainFlag('node-2'), readyz('node-2'), readyz('node-2')], p);
        p.kill('SIGINT');
        await untilOutput(p, 'stderr', /SIGINT received/);
        await unpark(c);
        return finish(p);
      },
    );
    // Stopped in the wait, not at its end: the 30 s grace never ran out (no DISCONNECT), and no later step began.
    const disconnects = (await c.sim.calls()).filter((x) => x.node === 'node-2' && x.path.startsWith('/v1/sessions/disconnect'));
    expect(disconnects, 'the grace was not waited out').toEqual([]);
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(130);
    const doc = r.json as any;
    expect(doc.status).toBe('interrupted');
    expect(doc.error.step).toBe('quiesce');
    expect(doc.error.node).toBe('node-2');
    expect(doc.error.message).toMatch(/SIGINT/);
    expect(doc.error.message).toMatch(/drained and out of the LB/);
    expect(doc.error.message).toContain('quantum-roll resume');
    expect(await leaseHolder(c)).toBeNull();
    expect(drainedAndOut(await nodeView(c, 'node-2'))).toBe(true);
    const j = await readJournal(c);
    expect(j.status).toBe('interrupted');
    expect(j.lease).toBeNull();
    expect((await c.sim.stats()).restarts['node-2'] ?? 0).toBe(0);

    await resetFaults(c);
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stdout + resumed.stderr.slice(-2000)).toBe(0);
    const steps = (resumed.json as any).nodes['node-2'].steps.map((s: any) => s.step);
    expect(steps[0], 're-enters at the journalled step, no new precheck').toBe('quiesce');
    expect(await eventuallyInService(c, 'node-2')).toBe(true);
    expect((await c.sim.stats()).restarts['node-2']).toBe(1);
    expect(await leaseHolder(c)).toBeNull();
    expect((await readJournal(c)).status).toBe('done');
  });

  it('a second SIGINT exits at once (mid-restart), printing its JSON; the journal stays consistent and resume finishes', async () => {
    await c.sim.setFaults({ restartHang: true });
    const r = await withConfig(
      c,
      (cfg) => (cfg.restart.timeout = '6s'),
      async () => {
        const p = startCli(c, ['restart', 'node-3', '--yes']);
        // The hanging restart command has run (it recorded its outcome): the CLI waits in the restart step.
        await eventually(async () => (await c.sim.events()).some((e) => e.event === 'restart_command' && e.node === 'node-3' && e.outcome === 'hang'));
        p.kill('SIGINT'); // a restart that has begun is not a safe point: the first one waits
        await untilOutput(p, 'stderr', /SIGINT received: stopping at the next safe point/);
        p.kill('SIGINT');
        return finish(p);
      },
    );
    // Exited at the second signal, without waiting out restart.timeout: the restart step neither ended nor failed.
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(130);
    expect((r.json as any).error.message).toMatch(/twice/);
    const j = await readJournal(c);
    expect(j.status).toBe('running');
    expect(j.lease.token).toMatch(/\w+/);
    expect(stepOf(j, 'node-3')).toEqual(['restart', 'running']);
    expect(drainedAndOut(await nodeView(c, 'node-3'))).toBe(true);

    await resetFaults(c);
    // resume: takes the lease over by token, waits out (then kills) the orphaned hanging command, restarts once
    const resumed = await withConfig(c, (cfg) => (cfg.restart.timeout = '6s'), () => c.cli(['resume', '--yes']));
    expect(resumed.code, resumed.stdout + resumed.stderr.slice(-2000)).toBe(0);
    expect(await eventuallyInService(c, 'node-3')).toBe(true);
    expect((await c.sim.stats()).restarts['node-3']).toBe(1);
    expect(await leaseHolder(c)).toBeNull();
  });

  it('resume refuses with exit 2 when there is nothing to resume', async () => {
    const r = await c.cli(['resume', '--yes']);
    expect(r.code).toBe(2);
    expect((r.json as any).error.message).toMatch(/nothing to resume/);
  });

  it('resume refuses with exit 2 when the config changed in a way that matters', async () => {
    await c.sim.setFaults({ restartFail: true });
    const failed = await c.cli(['restart', 'node-4', '--yes']);
    expect(failed.code).toBe(1);
    await resetFaults(c);
    const r = await withConfig(
      c,
      (cfg) => (cfg.restart.command = [...cfg.restart.command, '--extra']),
      () => c.cli(['resume', '--yes']),
    );
    expect(r.code).toBe(2);
    expect((r.json as any).error.message).toMatch(/config changed/);
    expect((r.json as any).error.message).toMatch(/restart\.command/);
    // timeouts do not matter: with only them changed, resume goes on
    const ok = await withConfig(c, (cfg) => (cfg.timeouts.ready = '20s'), () => c.cli(['resume', '--yes']));
    expect(ok.code, ok.stdout + ok.stderr.slice(-2000)).toBe(0);
    expect(await eventuallyInService(c, 'node-4')).toBe(true);
  });

  it('a node that booted after the run began is reported and skipped; --force restarts it', async () => {
    const before = (await c.sim.stats()).restarts['node-5'] ?? 0;
    const p = startCli(c, ['restart', 'node-1', 'node-5', '--yes']);
    await parkAt(c, drainFlag('node-1'), p); // the run has begun, node-5 is not prechecked yet
    await c.sim.restartNode('node-5'); // someone else restarts it meanwhile
    await unpark(c);
    const r = await finish(p);
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(0);
    const doc = r.json as any;
    expect(doc.nodes['node-5'].status).toBe('skipped');
    expect(JSON.stringify(doc.nodes['node-5'])).toMatch(/booted .*after this run began.*--force/);
    expect((await c.sim.stats()).restarts['node-5']).toBe(before + 1);

    const p2 = startCli(c, ['restart', 'node-1', 'node-5', '--yes', '--force']);
    await parkAt(c, drainFlag('node-1'), p2);
    await c.sim.restartNode('node-5');
    await unpark(c);
    const r2 = await finish(p2);
    expect(r2.code, r2.stdout + r2.stderr.slice(-2000)).toBe(0);
    expect((r2.json as any).nodes['node-5'].status).toBe('done');
    expect((await c.sim.stats()).restarts['node-5']).toBe(before + 3);
    for (const id of ['node-1', 'node-5']) expect(await eventuallyInService(c, id)).toBe(true);
  });
});
