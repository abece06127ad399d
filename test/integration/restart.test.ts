/**
 * `quantum-roll restart` end to end against the simulator, with the order of the
 * calls the cluster received checked against the invariants of cli.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changing, now, startCluster, type TestCluster } from '../support/cli.js';
import type { RecordedCall } from '../../src/sim/index.js';

const first = (calls: RecordedCall[], pred: (c: RecordedCall) => boolean) => calls.findIndex(pred);
const last = (calls: RecordedCall[], pred: (c: RecordedCall) => boolean) => calls.map(pred).lastIndexOf(true);

describe('restart: happy path', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster();
  });
  afterAll(async () => c?.stop());

  it('restarts node-3 through all seven steps, in the order the invariants demand', async () => {
    const t0 = now();
    const before = (await c.cli(['status'])).json as any;
    const bootBefore = before.nodes.find((n: any) => n.id === 'node-3').boot_id;
    const r = await c.cli(['restart', 'node-3', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json as any;
    expect(doc.ok).toBe(true);
    expect(doc.nodes['node-3'].steps.map((s: any) => s.step)).toEqual(['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck']);

    const calls = await c.callsSince(t0);
    const events = (await c.sim.events()).filter((e) => e.t >= t0);
    const changes = changing(calls);
    // 1. Nothing changes before the prechecks: the first change is the lease, after the CP readyz, cluster state and PRG reads.
    expect(changes[0]).toMatchObject({ system: 'cp', method: 'POST', path: '/v1/leases' });
    const firstChange = calls.indexOf(changes[0]!);
    const precheckReads = calls.filter((x) => x.path === '/readyz' && x.system === 'cp');
    expect(precheckReads.length).toBeGreaterThan(0);
    // the precheck reads happen after the lease is taken but before any other change
    const secondChange = calls.indexOf(changes[1]!);
    expect(first(calls, (x) => x.system === 'cp' && x.path === '/readyz')).toBeLessThan(secondChange);
    expect(first(calls, (x) => x.system === 'cp' && x.path.startsWith('/v1/prgs?node=node-3'))).toBeLessThan(secondChange);
    expect(firstChange).toBeLessThan(secondChange);
    // 3. Leadership leaves before the drain; the CP showed node-3 leading none before the drain.
    const drainPut = first(calls, (x) => x.system === 'node' && x.node === 'node-3' && x.method === 'PUT' && x.path === '/v1/drain');
    const transfers = first(calls, (x) => x.method === 'POST' && (x.path === '/v1/leader-transfers' || x.path.endsWith('/leader-transfer')));
    expect(transfers).toBeGreaterThan(-1);
    expect(transfers).toBeLessThan(drainPut);
    expect(last(calls.slice(0, drainPut), (x) => x.path.startsWith('/v1/prgs?') && x.path.includes('leader=node-3'))).toBeGreaterThan(-1);
    // 4. Runtime drain before the LB member leaves service.
    const lbOut = first(calls, (x) => x.system === 'lb' && x.method === 'PUT' && (x.body as any)?.admin_state === 'draining');
    expect(drainPut).toBeGreaterThan(-1);
    expect(lbOut).toBeGreaterThan(drainPut);
    // 5. The restart ran only after the LB member was out.
    const restart = events.find((e) => e.event === 'restart' && e.node === 'node-3');
    expect(restart).toBeDefined();
    expect(restart!.t).toBeGreaterThan(calls[lbOut]!.t);
    // 6. The drain flag is cleared only once ready; the LB member returns after that.
    const undrain = first(calls, (x) => x.system === 'node' && x.node === 'node-3' && x.method === 'DELETE' && x.path === '/v1/drain');
    const lbIn = first(calls, (x) => x.system === 'lb' && x.method === 'PUT' && (x.body as any)?.admin_state === 'enabled');
    expect(calls[undrain]!.t).toBeGreaterThan(restart!.t);
    expect(lbIn).toBeGreaterThan(undrain);
    const replayDone = events.find((e) => e.event === 'replay_done' && e.node === 'node-3' && e.t > restart!.t);
    expect(replayDone, 'the simulator records when replay ended').toBeDefined();
    // replay_done is the CP's view, which learns it from the node's next heartbeat (every 25 ms,
    // later under load); the orchestrator reads the node's own /readyz, so it may act a heartbeat earlier.
    expect(calls[undrain]!.t).toBeGreaterThanOrEqual(replayDone!.t - 250);
    const lastReadyz = last(calls.slice(0, undrain), (x) => x.system === 'node' && x.node === 'node-3' && x.path === '/readyz');
    expect(calls[lastReadyz]!.t).toBeGreaterThan(restart!.t);
    // 2. The lease is released at the end, after everything else.
    const release = last(calls, (x) => x.method === 'DELETE' && x.path.startsWith('/v1/leases/rolling-restart'));
    expect(release).toBeGreaterThan(lbIn);
    // The drain carried reason and initiator.
    expect(calls[drainPut]!.body).toMatchObject({ reason: 'rolling-restart', initiator: expect.stringMatching(/^quantum-roll@/) });

    const stats = await c.sim.stats();
    expect(stats.restarts['node-3']).toBe(1);
    expect(stats.maxUnavailablePerPrg).toBeLessThanOrEqual(1);
    const after = (await c.cli(['status'])).json as any;
    const n3 = after.nodes.find((n: any) => n.id === 'node-3');
    expect(n3.boot_id).not.toBe(bootBefore);
    expect(n3).toMatchObject({ ready: true, lb: { admin_state: 'enabled', health: 'up' } });
    expect(n3.drain.draining).toBe(false);
    expect(n3.prgs_led, 'leadership came back after the postcheck (invariant 10)').toBeGreaterThan(0);
    expect(after.lease).toBeNull();
  });

  it('plan (dry run) sends no changing request and lists the PRGs whose leadership would move', async () => {
    const t0 = now();
    const r = await c.cli(['plan', 'node-2']);
    expect(r.code, r.stderr).toBe(0);
    const calls = await c.callsSince(t0);
    expect(changing(calls)).toEqual([]);
    const doc = r.json as any;
    expect(doc.dry_run).toBe(true);
    const led = (await c.sim.calls()).length >= 0 ? doc.nodes['node-2'].prgs_led : [];
    expect(led.length).toBeGreaterThan(0);
    expect(led.every((id: string) => /^prg-/.test(id))).toBe(true);
    const dry = await c.cli(['restart', 'node-2', '--dry-run']);
    expect(dry.code).toBe(0);
    expect((dry.json as any).nodes['node-2'].prgs_led).toEqual(led);
    expect(changing(await c.callsSince(t0))).toEqual([]);
  });
});

describe('restart: contract edges', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 3, racks: 3, prgs: 60 });
  });
  afterAll(async () => c?.stop());

  it('falls back to per-PRG transfers when the CP has no batch endpoint', async () => {
    await c.sim.setFaults({ noBatch: true });
    const t0 = now();
    const r = await c.cli(['restart', 'node-1', '--yes']);
    await c.sim.setFaults({ noBatch: false });
    expect(r.code, r.stderr).toBe(0);
    const calls = await c.callsSince(t0);
    expect(calls.some((x) => x.method === 'POST' && x.path === '/v1/leader-transfers')).toBe(false);
    const all = calls.filter((x) => x.method === 'POST' && /^\/v1\/prgs\/[^/]+\/leader-transfer$/.test(x.path));
    // Away before the drain ({"exclude"}), back after the postcheck ({"to"}, invariant 10).
    const per = all.filter((x) => !(x.body as any).to);
    expect(per.length).toBeGreaterThan(0);
    expect(per.every((x) => (x.body as any).exclude?.includes('node-1'))).toBe(true);
    expect(all.filter((x) => (x.body as any).to).every((x) => (x.body as any).to === 'node-1')).toBe(true);
  });

  it('fails with exit 1 when the restart command exits 0 but boot_id does not change, leaving the node drained and out', async () => {
    await c.patchConfig((cfg) => {
      cfg.timeouts.ready = '1500ms';
    });
    await c.sim.setFaults({ restartNoop: true });
    try {
      const r = await c.cli(['restart', 'node-2', '--yes']);
      expect(r.code).toBe(1);
      const err = (r.json as any).error;
      expect(err.message).toMatch(/boot_id/);
      expect(err.step).toBe('restart');
      expect(err.node).toBe('node-2');
      const st = (await c.cli(['status'])).json as any;
      const n2 = st.nodes.find((n: any) => n.id === 'node-2');
      expect(n2.drain.draining).toBe(true);
      expect(n2.lb.admin_state).not.toBe('enabled');
      expect(st.lease).toBeNull();
    } finally {
      await c.sim.setFaults({ restartNoop: false });
      await c.patchConfig((cfg) => {
        cfg.timeouts.ready = '10s';
      });
    }
    // resume finishes it once the restart works again
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await c.sim.stats()).restarts['node-2']).toBe(1);
  });

  it('a malformed CP answer fails with the URL and the field named, and nothing changes after it', async () => {
    await c.sim.setFaults({ cpMalformed: { path: '/v1/cluster/state', field: 'routing_epoch' } as any });
    const t0 = now();
    try {
      const r = await c.cli(['restart', 'node-3', '--yes']);
      expect(r.code).toBe(1);
      const msg = (r.json as any).error.message as string;
      expect(msg).toContain('/v1/cluster/state');
      expect(msg).toContain('routing_epoch');
      expect(changing(await c.callsSince(t0))).toEqual([]);
    } finally {
      await c.sim.setFaults({ cpMalformed: null });
    }
  });
});
