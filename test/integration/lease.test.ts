/**
 * The maintenance lease (invariant 2): held by someone else → exit 4 with nothing
 * changed; lost while the run lasts → the run stops at its next safe point with
 * exit 1 saying so, the node left drained and out; `resume` finishes it later.
 */
import { describe, expect, it } from 'vitest';
import { changing, now, type TestCluster } from '../support/cli.js';
import { useCluster, drainedAndOut, eventuallyInService, leaseHolder, nodeView, readJournal, resetFaults, startCli, finish, withConfig } from '../support/inspect.js';
import { on, parkThrough, unpark } from '../support/park.js';

describe('maintenance lease', { timeout: 180_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));

  it('held by someone else: exit 4 naming the holder and expiry, zero changing requests, no journal left behind', async () => {
    await c.sim.setFaults({ leaseHeldBy: 'ops@bastion:4242' });
    const t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(4);
    const err = (r.json as any).error;
    expect(err.message).toContain('ops@bastion:4242');
    expect(err.message).toMatch(/until \d{4}-\d\d-\d\dT/);
    expect(err.evidence.holder).toBe('ops@bastion:4242');
    expect(changing(await c.callsSince(t0)), 'nothing changed, not even a lease attempt').toEqual([]);
    expect(await readJournal(c)).toBeUndefined();
    expect(await eventuallyInService(c, 'node-2')).toBe(true);
  });

  it('lost during a long quiesce (stolen through the CP lease API): exit 1 saying so, node left drained and out; resume finishes', async () => {
    await c.sim.setFaults({ sessionDecay: 0 }); // sessions never dwindle: quiesce waits its whole grace
    let intruderToken = '';
    const r = await withConfig(
      c,
      (cfg) => {
        cfg.lease = { ttl: '1500ms' };
        cfg.quiesce.grace = '30s';
      },
      async () => {
        const p = startCli(c, ['restart', 'node-3', '--yes']);
        // Held at quiesce's second look at the sessions: the CLI is in its 30 s wait.
        await parkThrough(c, [on.drainFlag('node-3'), on.readyz('node-3'), on.readyz('node-3')], p);
        const j = await readJournal(c);
        // Steal it: release with our journalled token, take it as another holder (released below, by its token).
        const del = await fetch(`${c.sim.cpUrl}/v1/leases/rolling-restart?token=${j.lease.token}`, { method: 'DELETE' });
        expect(del.status).toBe(204);
        const post = await fetch(`${c.sim.cpUrl}/v1/leases`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'rolling-restart', holder: 'intruder@elsewhere:1', ttl_ms: 120_000 }),
        });
        expect(post.status).toBe(201);
        intruderToken = ((await post.json()) as { token: string }).token;
        await unpark(c);
        return finish(p);
      },
    );
    const disconnects = (await c.sim.calls()).filter((x) => x.node === 'node-3' && x.path.startsWith('/v1/sessions/disconnect'));
    expect(disconnects, 'stopped inside the wait: the 30 s grace never ran out').toEqual([]);
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(1);
    const err = (r.json as any).error;
    expect(err.step).toBe('quiesce');
    expect(err.node).toBe('node-3');
    expect(err.message).toMatch(/lease "rolling-restart" was lost/);
    expect(err.message).toMatch(/drained and out of the LB/);
    expect(err.message).toContain('quantum-roll resume');
    expect(drainedAndOut(await nodeView(c, 'node-3'))).toBe(true);
    // Not ours any more: we did not delete the intruder's lease.
    expect(await leaseHolder(c)).toBe('intruder@elsewhere:1');
    const j = await readJournal(c);
    expect(j.status).toBe('failed');
    expect(j.nodes['node-3'].step).toBe('quiesce');

    // While the intruder holds it, resume is refused with exit 4 and the run stays resumable.
    const held = await c.cli(['resume', '--yes']);
    expect(held.code, held.stdout).toBe(4);
    expect((await readJournal(c)).status).toBe('failed');

    // The intruder is done.
    expect((await fetch(`${c.sim.cpUrl}/v1/leases/rolling-restart?token=${intruderToken}`, { method: 'DELETE' })).status).toBe(204);
    await c.sim.setFaults({ sessionDecay: 0.15 });
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stdout + resumed.stderr.slice(-2000)).toBe(0);
    expect(await eventuallyInService(c, 'node-3')).toBe(true);
    expect((await c.sim.stats()).restarts['node-3']).toBe(1);
    expect(await leaseHolder(c)).toBeNull();
  });

  it('a refused run leaves an unfinished run resumable (its journal is not superseded)', async () => {
    // An unfinished run: node-4 fails at restart.
    await c.sim.setFaults({ restartFail: true });
    const failed = await c.cli(['restart', 'node-4', '--yes']);
    expect(failed.code).toBe(1);
    const runId = (await readJournal(c)).run_id;
    await resetFaults(c, { leaseHeldBy: 'ops@bastion:4242' });
    // A new run refused by the lease (exit 4) does not archive the unfinished journal.
    const refused = await c.cli(['restart', 'node-5', '--yes']);
    expect(refused.code).toBe(4);
    expect((await readJournal(c)).run_id).toBe(runId);
    await resetFaults(c);
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stdout + resumed.stderr.slice(-2000)).toBe(0);
    expect(await eventuallyInService(c, 'node-4')).toBe(true);
  });
});
