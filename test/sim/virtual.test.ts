// Many-nodes mode: every node runtime served in-process under /n/<id>.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type SimHandle } from '../../src/sim/index.js';
import { get, put, tempDir, waitFor } from '../support/http.js';
import * as S from '../support/schemas.js';

let sim: SimHandle;

beforeAll(async () => {
  sim = await startSim({ stateDir: await tempDir(), virtualNodes: true, nodes: 300, racks: 10, prgs: 30_000, replayMs: 300, lbCheckIntervalMs: 200 });
});
afterAll(async () => {
  await sim?.stop();
});

describe('virtual nodes', () => {
  it('serves node APIs under a path prefix and an indexed PRG listing', async () => {
    const n7 = sim.nodes[6];
    expect(n7?.adminUrl).toMatch(/\/n\/node-7$/);
    const ready = S.readyz.parse((await get(`${n7?.adminUrl}/readyz`)).json);
    expect(ready).toMatchObject({ ready: true, node_id: 'node-7' });
    const page = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?node=node-7&limit=1000`)).json);
    expect(page.items.length).toBe(300); // 30k PRGs × 3 replicas / 300 nodes
    expect(page.items.every((p) => p.replicas.some((r) => r.node === 'node-7'))).toBe(true);
    const cs = S.clusterState.parse((await get(`${sim.cpUrl}/v1/cluster/state`)).json);
    expect(cs.nodes).toHaveLength(300);
    expect(cs.prgs.ready).toBe(30_000);
    expect(cs.placement).toEqual({ policy: 'one_replica_per_rack', violations: 0 });
  });

  it('restart resets boot_id and replay, keeps the drain flag, records calls', async () => {
    const url = sim.nodes[6]?.adminUrl ?? '';
    const before = S.nodeInfo.parse((await get(`${url}/v1/node`)).json).boot_id;
    await put(`${url}/v1/drain`, { reason: 'rolling-restart', initiator: 't' });
    await sim.setFaults({ neverReady: ['node-7'] }); // hold the replay until we looked at it
    await sim.restartNode('node-7');
    const after = S.nodeInfo.parse((await get(`${url}/v1/node`)).json).boot_id;
    expect(after).not.toBe(before);
    const p = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?node=node-7&limit=1`)).json).items[0];
    expect(p?.replicas.find((r) => r.node === 'node-7')?.state).toBe('replaying');
    await sim.setFaults({ neverReady: [] });
    const body = await waitFor(async () => {
      const r = S.readyz.parse((await get(`${url}/readyz`)).json);
      return r.replay.progress === 1 ? r : null;
    }, 10_000);
    expect(body.reasons).toEqual(['draining']);
    const calls = await sim.calls();
    expect(calls.some((c) => c.system === 'node' && c.node === 'node-7' && c.method === 'PUT' && c.path === '/v1/drain')).toBe(true);
  });
});
