/**
 * Invariant 5 at the moment the restart command starts: what the drain step set up is
 * read again just before it. The world moves while quiesce waits (the CLI is held on
 * quiesce's first /readyz read, a parked call: the moment is certain):
 * - the LB member is put back in service → the drain is re-applied and verified before
 *   the command, and the command never runs while the member is in service;
 * - the drain flag is cleared → the run stops (exit 1), nothing restarted.
 * - a replica elsewhere goes down → the restart waits until its PRG has a healthy quorum
 *   without the node again, or stops (exit 1, not restarted) at `timeouts.ready`.
 * Before clearing the drain, the node must still be the process that restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now, startCluster, type TestCluster } from '../support/cli.js';
import { eventually, expectStepFailure, finish, finishWithResume, nodeView, readJournal, resetFaults, startCli, untilOutput, useCluster, withConfig } from '../support/inspect.js';
import { on, parkAt, parkThrough, unpark } from '../support/park.js';
import { adminBits, haproxyInstalled, rawCommand, haproxyInFront, type HaproxyHandle } from '../support/haproxy.js';
import type { SimEvent } from '../../src/sim/index.js';

async function http(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(5_000) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const adminUrl = (c: TestCluster, id: string) => c.sim.nodes.find((n) => n.id === id)!.adminUrl;

/** The simulator's restart of `node` that this run's restart command asked for (its `restart_command` event). */
const restartCommandAt = (events: SimEvent[], node: string) => events.find((e) => e.event === 'restart_command' && e.node === node)?.t;

describe('re-assert before the restart (invariant 5), generic HTTP LB', () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));

  it('an LB member put back in service during quiesce is taken out again before the restart command runs', async () => {
    const t0 = now();
    const p = startCli(c, ['restart', 'node-2', '--yes', '--log-level', 'debug']);
    // Held on quiesce's first read: drained, out of the LB, the command not yet run.
    await parkThrough(c, [on.drainFlag('node-2'), on.readyz('node-2')], p);
    const put = await http('PUT', `${c.sim.lbUrl}/v1/pools/mqtt/members/node-2/admin-state`, { admin_state: 'enabled' });
    expect(put.status).toBe(200);
    const tEnabled = now();
    expect((await http('GET', `${c.sim.lbUrl}/v1/pools/mqtt/members/node-2`)).body.admin_state).toBe('enabled');
    await unpark(c);
    const r = await finish(p);
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);

    const calls = (await c.callsSince(t0)).filter((x) => x.system === 'lb' && x.node === 'node-2' && x.method === 'PUT');
    const states = calls.map((x) => (x.body as { admin_state: string }).admin_state);
    // drain step, our test's enable, the re-assertion, readmit's enable.
    expect(states).toEqual(['draining', 'enabled', 'draining', 'enabled']);
    const events = await c.sim.events();
    const cmd = restartCommandAt(events.filter((e) => e.t >= t0), 'node-2');
    expect(cmd, 'the restart command ran').toBeDefined();
    const reapplied = calls[2]!;
    expect(reapplied.t).toBeGreaterThan(tEnabled);
    expect(reapplied.t_end!, 're-applied before the restart command').toBeLessThan(cmd!);
    // The member's admin state as the LB recorded it: never enabled while the command ran.
    const lbStates = events.filter((e) => e.event === 'lb_admin_state' && e.node === 'node-2' && e.t >= t0 && e.t <= cmd!);
    expect(lbStates.at(-1)?.admin_state).toBe('draining');
    const doc = r.json as any;
    expect(doc.ok).toBe(true);
    // The event says what it found.
    const ev = r.stderr
      .split('\n')
      .filter((l) => l.includes('"lb.reasserted"'))
      .map((l) => JSON.parse(l));
    const found = ev.find((e) => e.reapplied === true && e.found);
    expect(found?.found.admin_state).toBe('enabled');
    expect(ev.some((e) => e.verified?.admin_state === 'draining')).toBe(true);
    expect((await c.sim.stats()).restarts['node-2']).toBe(1);
  }, 60_000);

  it('a drain flag cleared during quiesce stops the run: exit 1, nothing restarted, the node left out of the LB', async () => {
    const t0 = now();
    const before = (await c.sim.stats()).restarts['node-3'] ?? 0;
    const p = startCli(c, ['restart', 'node-3', '--yes']);
    await parkThrough(c, [on.drainFlag('node-3'), on.readyz('node-3')], p);
    const del = await http('DELETE', `${adminUrl(c, 'node-3')}/v1/drain`);
    expect(del.body.draining).toBe(false);
    await unpark(c);
    const r = await finish(p);
    const err = expectStepFailure(r, 1, 'restart', 'node-3');
    expect(err.message).toMatch(/drain flag of node-3 was cleared/);
    expect(err.message).toMatch(/not restarted/);
    expect((await c.sim.stats()).restarts['node-3'] ?? 0).toBe(before);
    expect(restartCommandAt((await c.sim.events()).filter((e) => e.t >= t0), 'node-3')).toBeUndefined();
    const v = await nodeView(c, 'node-3');
    expect(v.adminState).not.toBe('enabled');
    const j = await readJournal(c);
    expect(j.nodes['node-3'].status).toBe('failed');
    expect(j.nodes['node-3'].step).toBe('restart');
    // Someone drains it again: resume finishes the run.
    await http('PUT', `${adminUrl(c, 'node-3')}/v1/drain`, { reason: 'rolling-restart', initiator: 'test' });
    await finishWithResume(c);
    expect((await c.sim.stats()).restarts['node-3']).toBe(before + 1);
  }, 60_000);

  it('a node that restarted again before readmit is not undrained: exit 1, left drained and out of the LB', async () => {
    const p = startCli(c, ['restart', 'node-4', '--yes']);
    // Held on readmit's first /readyz read: restarted, its boot_id journalled.
    await parkThrough(c, [on.restartCommand('node-4'), on.readyz('node-4')], p);
    const j = await readJournal(c);
    expect(j.nodes['node-4'].boot_id_after).toBeTruthy();
    // Someone else restarts it again while readmit is held (its held read fails with the old process; it reads again).
    await c.sim.restartNode('node-4');
    await unpark(c);
    const r = await finish(p);
    const err = expectStepFailure(r, 1, 'readmit', 'node-4');
    expect(err.message).toMatch(/restarted again/);
    const v = await nodeView(c, 'node-4');
    expect(v.draining).toBe(true);
    expect(v.adminState).not.toBe('enabled');
    await resetFaults(c);
    await eventually(async () => (await nodeView(c, 'node-4')).reasons.join() === 'draining');
    const u = await c.cli(['undrain', 'node-4', '--yes']);
    expect(u.code, u.stdout).toBe(0);
  }, 60_000);
});

/** A PRG with a replica on `node`, and another node holding one of its replicas. */
async function sharedPrg(c: TestCluster, node: string): Promise<{ prg: string; other: string }> {
  const page = (await http('GET', `${c.sim.cpUrl}/v1/prgs?node=${node}&limit=1000`)).body;
  for (const p of page.items as { id: string; replicas: { node: string; state: string }[] }[]) {
    const other = p.replicas.find((r) => r.node !== node && r.state === 'healthy');
    if (other && p.replicas.every((r) => r.state === 'healthy')) return { prg: p.id, other: other.node };
  }
  throw new Error(`no fully healthy PRG on ${node}`);
}

describe('quorum read again before the restart (invariant 1 at the moment the command starts)', () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));

  it('a replica elsewhere that went down during quiesce holds the restart back until its PRG keeps quorum again', async () => {
    const t0 = now();
    const { prg, other } = await sharedPrg(c, 'node-5');
    const p = startCli(c, ['restart', 'node-5', '--yes', '--log-level', 'debug']);
    // Held on quiesce's first read: prechecked, drained, out of the LB, the command not yet run.
    await parkThrough(c, [on.drainFlag('node-5'), on.readyz('node-5')], p);
    await c.sim.setFaults({ replicaDown: [{ node: other, prgs: [prg] }] });
    const waiting = untilOutput(p, 'stderr', /"event":"quorum\.reasserted"[^\n]*"waiting":true/);
    await unpark(c);
    await waiting;
    // It waits: the command has not run, the node is still drained.
    expect(restartCommandAt((await c.sim.events()).filter((e) => e.t >= t0), 'node-5')).toBeUndefined();
    expect((await nodeView(c, 'node-5')).draining).toBe(true);
    const tBack = now();
    await resetFaults(c);
    const r = await finish(p);
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);
    const cmd = restartCommandAt((await c.sim.events()).filter((e) => e.t >= t0), 'node-5');
    expect(cmd, 'the restart command ran once the PRG was whole again').toBeGreaterThan(tBack);
    expect(r.stderr).toMatch(new RegExp(`"event":"quorum\\.reasserted"[^\\n]*"blockers":\\[[^\\n]*"prg":"${prg}"`));
  }, 60_000);

  it('a quorum that does not come back within timeouts.ready stops the run: exit 1, not restarted, left drained and out of the LB, resumable', async () => {
    const t0 = now();
    const before = (await c.sim.stats()).restarts['node-1'] ?? 0;
    const { prg, other } = await sharedPrg(c, 'node-1');
    await withConfig(
      c,
      (cfg) => {
        cfg.timeouts = { ...cfg.timeouts, ready: '1s' };
      },
      async () => {
        const p = startCli(c, ['restart', 'node-1', '--yes']);
        await parkThrough(c, [on.drainFlag('node-1'), on.readyz('node-1')], p);
        await c.sim.setFaults({ replicaDown: [{ node: other, prgs: [prg] }] });
        await unpark(c);
        const r = await finish(p);
        const err = expectStepFailure(r, 1, 'restart', 'node-1');
        expect(err.message).toMatch(/node-1 was not restarted/);
        expect(err.message).toContain(prg);
        expect(err.message).toContain(other);
        expect(err.message).toMatch(/timeouts\.ready/);
        expect(restartCommandAt((await c.sim.events()).filter((e) => e.t >= t0), 'node-1')).toBeUndefined();
        expect((await c.sim.stats()).restarts['node-1'] ?? 0).toBe(before);
        const v = await nodeView(c, 'node-1');
        expect(v.draining).toBe(true);
        expect(v.adminState).not.toBe('enabled');
      },
    );
    // The replica is back: resume restarts node-1 and finishes the run.
    await resetFaults(c);
    await finishWithResume(c);
    expect((await c.sim.stats()).restarts['node-1']).toBe(before + 1);
  }, 60_000);
});

(haproxyInstalled() ? describe : describe.skip)('re-assert before the restart, real HAProxy', () => {
  let c: TestCluster;
  let hx: HaproxyHandle;
  beforeAll(async () => {
    c = await startCluster({ nodes: 3, racks: 3, prgs: 60, sessionsPerNode: 0 });
    hx = await haproxyInFront(c);
  }, 120_000);
  afterAll(async () => {
    await hx?.stop();
    await c?.stop();
  });

  it('a server set back to ready just before the restart (what a reload without a state file does) is drained again before the command runs', async () => {
    const t0 = now();
    const p = startCli(c, ['restart', 'node-1', '--yes', '--log-level', 'debug']);
    // HAProxy's own health checks read /readyz too: hold the re-assertion's first read instead (GET /v1/drain).
    await parkThrough(c, [on.drainFlag('node-1'), { system: 'node', node: 'node-1', method: 'GET', path: '/v1/drain' }], p);
    await rawCommand(hx.socketPath, 'set server mqtt/node-1 state ready');
    expect(await rawCommand(hx.socketPath, 'show servers state mqtt')).toMatch(/node-1/);
    // Hold the restart command itself: HAProxy's view of node-1 at that moment is what counts.
    await parkAt(c, on.restartCommand('node-1'), p);
    const admin = await adminBits(hx.socketPath, 'mqtt', 'node-1');
    expect(admin & 0x08, `drain bit set while the restart command is held (srv_admin_state ${admin})`).toBe(0x08);
    await unpark(c);
    const r = await finish(p);
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect(r.stderr).toMatch(/"event":"lb\.reasserted"[^\n]*"reapplied":true/);
    const cmd = restartCommandAt((await c.sim.events()).filter((e) => e.t >= t0), 'node-1');
    expect(cmd).toBeDefined();
  }, 60_000);
});
