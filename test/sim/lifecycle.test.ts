// Node lifecycle against real node processes: kill → replicas down and leaders move;
// restart → new boot_id, replaying, healthy; drain survives a restart; LB follows /readyz.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type SimHandle } from '../../src/sim/index.js';
import { get, put, tempDir, waitFor } from '../support/http.js';
import * as S from '../support/schemas.js';

let sim: SimHandle;

beforeAll(async () => {
  sim = await startSim({ stateDir: await tempDir(), nodes: 5, racks: 3, prgs: 300, replayMs: 400, lbCheckIntervalMs: 100 });
});
afterAll(async () => {
  await sim?.stop();
});

async function prgsOn(node: string): Promise<Array<ReturnType<typeof S.prg.parse>>> {
  return S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?node=${node}&limit=1000`)).json).items;
}
const replicaStates = (items: Array<ReturnType<typeof S.prg.parse>>, node: string): Set<string> =>
  new Set(items.map((p) => p.replicas.find((r) => r.node === node)?.state ?? '?'));
const clusterState = async (): Promise<ReturnType<typeof S.clusterState.parse>> =>
  S.clusterState.parse((await get(`${sim.cpUrl}/v1/cluster/state`)).json);

describe('node lifecycle', () => {
  it('a killed node goes down at once and its leaderships move to healthy replicas', async () => {
    const led = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?leader=node-2&limit=1000`)).json).items.map((p) => p.id);
    expect(led.length).toBeGreaterThan(0);
    await sim.stopNode('node-2');
    expect(replicaStates(await prgsOn('node-2'), 'node-2')).toEqual(new Set(['down']));
    expect((await clusterState()).nodes.find((n) => n.id === 'node-2')?.state).toBe('down');
    await waitFor(async () => {
      const items = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?leader=node-2`)).json).items;
      return items.length === 0;
    });
    const moved = await waitFor(async () => {
      const ps = await Promise.all(led.slice(0, 10).map(async (id) => S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/${id}`)).json)));
      return ps.every((p) => p.leader !== null) ? ps : null;
    });
    for (const p of moved) {
      expect(p.leader).not.toBe('node-2');
      expect(p.replicas.find((r) => r.node === p.leader)?.state).toBe('healthy');
    }
    const cs = await waitFor(async () => {
      const c = await clusterState();
      return c.prgs.ready === 300 ? c : null;
    });
    expect(cs.prgs.ready).toBe(300); // two healthy replicas + a leader is still a quorum
    const stats = await sim.stats();
    expect(stats.sessions.total).toBe(5 * 200);
    expect(stats.sessions.perNode['node-2']).toBe(0);
  });

  it('restart: new boot_id, replicas replaying then healthy, LB health follows readyz later', async () => {
    // Hold the replay (neverReady) so the replaying phase is observable even on a busy machine,
    // then release it and watch the node, its replicas and the LB catch up, in that order.
    await sim.setFaults({ neverReady: ['node-2'] });
    await sim.restartNode('node-2');
    const info = S.nodeInfo.parse((await get(`${sim.nodes[1]?.adminUrl}/v1/node`)).json);
    const r = await get(`${sim.nodes[1]?.adminUrl}/readyz`);
    expect(r.status).toBe(503);
    const body = S.readyz.parse(r.json);
    expect(body.reasons).toContain('prgs_replaying');
    expect(body.replay.progress).toBeLessThan(1);
    expect(replicaStates(await prgsOn('node-2'), 'node-2')).toEqual(new Set(['replaying']));
    await waitFor(async () => S.lbMember.parse((await get(`${sim.lbUrl}/v1/pools/mqtt/members/node-2`)).json).health === 'down');
    const released = performance.timeOrigin + performance.now();
    await sim.setFaults({ neverReady: [] });
    await waitFor(async () => (await get(`${sim.nodes[1]?.adminUrl}/readyz`)).status === 200, 10_000);
    await waitFor(async () => replicaStates(await prgsOn('node-2'), 'node-2').has('healthy'), 10_000);
    await waitFor(async () => S.lbMember.parse((await get(`${sim.lbUrl}/v1/pools/mqtt/members/node-2`)).json).health === 'up', 10_000);
    const events = await sim.events();
    const boots = events.filter((e) => e.event === 'process_up' && e.node === 'node-2').map((e) => e.boot_id);
    expect(boots).toHaveLength(2);
    expect(boots[1]).toBe(info.boot_id);
    expect(boots[0]).not.toBe(info.boot_id);
    const t = (name: string, extra: (e: Record<string, unknown>) => boolean = () => true): number =>
      events.filter((e) => e.event === name && e.node === 'node-2' && extra(e)).at(-1)?.t ?? NaN;
    expect(t('process_up')).toBeLessThan(released);
    expect(t('replay_done')).toBeGreaterThan(released);
    expect(t('lb_health', (e) => e.health === 'down')).toBeLessThan(released);
    expect(t('lb_health', (e) => e.health === 'up')).toBeGreaterThan(released);
    const stats = await sim.stats();
    expect(stats.restarts['node-2']).toBe(1);
    expect(stats.boots['node-2']).toBe(2);
    expect(stats.maxUnavailablePerPrg).toBe(1);
  });

  it('the drain flag survives a restart and the node comes back with reasons == ["draining"]', async () => {
    const base = sim.nodes[2]?.adminUrl ?? '';
    await put(`${base}/v1/drain`, { reason: 'rolling-restart', initiator: 'test@host:1' });
    await sim.restartNode('node-3');
    const drain = S.drainStatus.parse((await get(`${base}/v1/drain`)).json);
    expect(drain).toMatchObject({ draining: true, reason: 'rolling-restart', initiator: 'test@host:1' });
    const body = await waitFor(async () => {
      const r = S.readyz.parse((await get(`${base}/readyz`)).json);
      return r.replay.progress === 1 ? r : null;
    }, 10_000);
    expect(body.reasons).toEqual(['draining']);
    await waitFor(async () => (await clusterState()).nodes.find((n) => n.id === 'node-3')?.state === 'draining');
    expect(S.lbMember.parse((await get(`${sim.lbUrl}/v1/pools/mqtt/members/node-3`)).json).health).toBe('down');
    expect(sim.nodes[2]?.adminUrl).toBe(base); // admin port reused across restarts
  });
});
