/**
 * The HAProxy adapter against a real HAProxy 2.6 in front of simulator nodes:
 * drain keeps existing connections and sends no new ones to the node, undrain
 * brings it back only once HAProxy's own check passed, and a whole restart keeps
 * the invariant order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changing, now, startCluster, type TestCluster } from '../support/cli.js';
import { type HaproxyHandle, type Via, connectVia, haproxyInFront, haproxyInstalled, sleep } from '../support/haproxy.js';

const suite = haproxyInstalled() ? describe : describe.skip;

suite('haproxy adapter end to end', () => {
  let c: TestCluster;
  let hx: HaproxyHandle;
  const held: Via[] = [];
  beforeAll(async () => {
    c = await startCluster({ nodes: 3, racks: 3, prgs: 60, sessionsPerNode: 0, rawProbeMs: 250 }); // the nodes greet silent connections: connectVia sees where HAProxy sent one
    hx = await haproxyInFront(c);
  });
  afterAll(async () => {
    for (const v of held) v.socket.destroy();
    await hx?.stop();
    await c?.stop();
  });

  const connect = async (n: number) => {
    const out: Via[] = [];
    for (let i = 0; i < n; i++) out.push(await connectVia(hx.frontendPort, { hold: true }));
    held.push(...out);
    return out;
  };

  it('drain: existing connections stay, new ones never reach the drained node', async () => {
    const before = await connect(6);
    const onNode1 = before.filter((v) => v.server === 'node-1');
    expect(onNode1.length).toBeGreaterThan(0);
    const r = await c.cli(['drain', 'node-1', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const after = await connect(12);
    expect(after.map((v) => v.server)).not.toContain('node-1');
    expect(after.every((v) => v.server !== null)).toBe(true);
    await sleep(200);
    for (const v of onNode1) expect(v.socket.destroyed, 'existing connection to the drained node stays open').toBe(false);
    const st = (await c.cli(['status'])).json as any;
    const n1 = st.nodes.find((n: any) => n.id === 'node-1');
    expect(n1.lb.admin_state).toBe('draining');
    expect(n1.lb.active_connections).toBeGreaterThanOrEqual(onNode1.length);
    expect(n1.drain.draining).toBe(true);
  });

  it('undrain: back only when HAProxy reports it UP, then new connections reach it', async () => {
    const r = await c.cli(['undrain', 'node-1', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const st = (await c.cli(['status'])).json as any;
    expect(st.nodes.find((n: any) => n.id === 'node-1').lb).toMatchObject({ admin_state: 'enabled', health: 'up' });
    const after = await connect(9);
    expect(after.map((v) => v.server)).toContain('node-1');
  });

  it('a full restart with the haproxy adapter keeps the invariant order', async () => {
    for (const v of held.splice(0)) v.socket.destroy();
    const t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const calls = await c.callsSince(t0);
    const events = (await c.sim.events()).filter((e) => e.t >= t0);
    const changes = changing(calls);
    expect(changes[0]).toMatchObject({ path: '/v1/leases', method: 'POST' });
    const drainPut = calls.findIndex((x) => x.node === 'node-2' && x.method === 'PUT' && x.path === '/v1/drain');
    const undrain = calls.findIndex((x) => x.node === 'node-2' && x.method === 'DELETE' && x.path === '/v1/drain');
    const restart = events.find((e) => e.event === 'restart' && e.node === 'node-2');
    expect(drainPut).toBeGreaterThan(-1);
    expect(restart!.t).toBeGreaterThan(calls[drainPut]!.t);
    expect(calls[undrain]!.t).toBeGreaterThan(restart!.t);
    const st = (await c.cli(['status'])).json as any;
    expect(st.nodes.find((n: any) => n.id === 'node-2')).toMatchObject({ ready: true, lb: { admin_state: 'enabled', health: 'up' } });
    expect((await c.sim.stats()).restarts['node-2']).toBe(1);
  });

  it('a wrong socket path fails before any change, naming the socket', async () => {
    await c.patchConfig((cfg) => {
      cfg.lb.socket = '/nonexistent/haproxy.sock';
    });
    const t0 = now();
    try {
      const r = await c.cli(['drain', 'node-3', '--yes']);
      expect([1, 2]).toContain(r.code);
      expect((r.json as any).error.message).toContain('/nonexistent/haproxy.sock');
      const st = (await c.cli(['status'])).json as any;
      expect(st.nodes.find((n: any) => n.id === 'node-3').drain.draining).toBe(false);
      expect(changing(await c.callsSince(t0)).filter((x) => x.system !== 'cp' || !x.path.startsWith('/v1/leases'))).toEqual([]);
    } finally {
      await c.patchConfig((cfg) => {
        cfg.lb.socket = hx.socketPath;
      });
    }
  });
});
