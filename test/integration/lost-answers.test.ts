/**
 * A lost answer is not a conflict with oneself (issue 20, item 3): the CP acts on a
 * changing request, then its answer is lost (the `cpDropAnswer` fault resets the
 * connection). The lease is asked for again (idempotent by the contract: 200 with the
 * same lease); the batch leader transfer is not posted again: the run reads what the
 * node still leads and moves that per PRG. Either way the run carries on.
 */
import { describe, expect, it } from 'vitest';
import { now, type TestCluster } from '../support/cli.js';
import { eventuallyInService, leaseHolder, useCluster } from '../support/inspect.js';

describe('lost answers', { timeout: 180_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));

  it('the lease POST acted but its answer was lost: the retry gets the lease (200), the run does not exit 4', async () => {
    await c.sim.setFaults({ cpDropAnswer: { method: 'POST', path: '/v1/leases' } });
    const t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(0);
    const posts = (await c.callsSince(t0)).filter((x) => x.method === 'POST' && x.path === '/v1/leases');
    expect(posts.map((p) => p.status), 'the first took the lease (answer lost), the retry got it back').toEqual([201, 200]);
    expect((posts[1]!.body as { holder: string }).holder).toBe((posts[0]!.body as { holder: string }).holder);
    expect((await c.sim.stats()).restarts['node-2']).toBe(1);
    expect(await eventuallyInService(c, 'node-2')).toBe(true);
    expect(await leaseHolder(c), 'released at the end with the token the retry brought').toBeNull();
  });

  it('the batch leader transfer started but its answer was lost: not posted again; what the node still leads is read, the run carries on', async () => {
    await c.sim.setFaults({ cpDropAnswer: { method: 'POST', path: '/v1/leader-transfers' } });
    const t0 = now();
    const r = await c.cli(['restart', 'node-3', '--yes']);
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(0);
    const calls = await c.callsSince(t0);
    const batch = calls.filter((x) => x.method === 'POST' && x.path === '/v1/leader-transfers');
    expect(batch.length, 'one batch: never re-posted blindly').toBe(1);
    expect(batch[0]!.status).toBe(202);
    const readAfter = calls.filter((x) => x.method === 'GET' && x.t > batch[0]!.t && /^\/v1\/prgs\?(.*&)?leader=node-3/.test(x.path));
    expect(readAfter.length, 'checked by a read').toBeGreaterThan(0);
    expect((await c.sim.stats()).restarts['node-3']).toBe(1);
    expect(await eventuallyInService(c, 'node-3')).toBe(true);
    expect(await leaseHolder(c)).toBeNull();
  });
});
