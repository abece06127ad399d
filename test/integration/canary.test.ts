/**
 * The MQTT canary (issue 12) against the real-MQTT simulator behind a real HAProxy: real
 * brokers, real mqtt.js round trips, the simulator's faults for a broken data plane.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changing, now, startCluster, type TestCluster } from '../support/cli.js';
import { freePort, haproxyInstalled } from '../support/haproxy.js';
import { parkAt, on } from '../support/park.js';
import { eventually, finish, resetFaults, startCli, withConfig } from '../support/inspect.js';

const suite = haproxyInstalled() ? describe : describe.skip;

const SECRET_USER = 'canary-user-7Hq2';
const SECRET_PASS = 'canary-pass-Zx81pQ';
const creds = { QR_CANARY_USER: SECRET_USER, QR_CANARY_PASS: SECRET_PASS };

suite('MQTT canary through HAProxy and to each node', () => {
  let c: TestCluster;
  beforeAll(async () => {
    // Every CLI this file runs inherits the canary's credentials (config errors otherwise).
    Object.assign(process.env, creds);
    c = await startCluster({ lb: 'haproxy', nodes: 3, racks: 3, prgs: 60, sessionsPerNode: 0 });
    await c.patchConfig((cfg) => {
      // a loaded CI machine answers a CONNECT through HAProxy in over a second at times (1.3 s seen): the bound is not what these tests are about
      cfg.canary = { ...cfg.canary, timeout: '10s', username_env: 'QR_CANARY_USER', password_env: 'QR_CANARY_PASS' };
    });
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
  });

  const statusOf = async (id: string) => {
    const st = (await c.cli(['status'])).json as any;
    return st.nodes.find((n: any) => n.id === id);
  };
  const nodeMetric = async (id: string, name: string) => {
    const n = c.sim.nodes.find((x) => x.id === id)!;
    const text = await (await fetch(`${n.adminUrl}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  };

  it('the generated config enables the canary against its own front door', async () => {
    const cfg = await readFile(c.config, 'utf8');
    expect(cfg).toMatch(/canary:\n\s+front_door: 127\.0\.0\.1:\d+/);
  });

  it('check makes one canary round trip through the front door: pass, and a dead front door fails naming it (exit 1)', async () => {
    const ok = await c.cli(['check']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const door = (ok.json as any).checks.find((x: any) => x.name === 'canary front door');
    expect(door).toMatchObject({ status: 'pass', key: 'canary.front_door' });
    expect(`${ok.stdout}${ok.stderr}`).not.toContain(SECRET_PASS);
    const original = (await readFile(c.config, 'utf8')).match(/front_door: (\S+)/)![1]!;
    await c.patchConfig((cfg) => (cfg.canary.front_door = '127.0.0.1:1'));
    try {
      const bad = await c.cli(['check']);
      expect(bad.code).toBe(1);
      const failed = (bad.json as any).checks.find((x: any) => x.name === 'canary front door');
      expect(failed).toMatchObject({ status: 'fail', endpoint: '127.0.0.1:1', key: 'canary.front_door' });
      expect(failed.detail).toContain('127.0.0.1:1');
    } finally {
      await c.patchConfig((cfg) => (cfg.canary.front_door = original));
    }
  });

  it('a healthy roll: figures for the front door and the node in the JSON outcome; credentials in no output', async () => {
    const r = await c.cli(['restart', 'node-2', '--yes'], creds);
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json as any;
    expect(doc.canary).toHaveLength(1);
    const k = doc.canary[0];
    expect(k).toMatchObject({ node: 'node-2', drain_enforced: true, failure: null, front_door: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    for (const f of ['direct_ms', 'direct_connect_ms', 'direct_delivery_ms', 'front_door_ms', 'front_door_connect_ms', 'front_door_delivery_ms', 'precheck_front_door_ms']) {
      expect(typeof k[f], f).toBe('number');
    }
    expect(k.endpoint).toBe(`127.0.0.1:${c.sim.nodes.find((n) => n.id === 'node-2')!.mqttPort}`);
    expect(doc.nodes['node-2'].canary).toEqual(k);
    expect(r.stderr).toContain('"event":"canary.round_trip"');
    expect(r.stderr).toContain('"event":"canary.drain_enforced"');
    const journal = await readFile(`${c.dir}/.quantum-roll/journal.json`, 'utf8').catch(() => '');
    for (const text of [r.stdout, r.stderr, journal]) {
      expect(text).not.toContain(SECRET_PASS);
      expect(text).not.toContain(SECRET_USER);
    }
  });

  it('a dry run lists the canary checks and sends no MQTT traffic', async () => {
    const r = await c.cli(['plan', 'node-1'], creds);
    expect(r.code, r.stderr).toBe(0);
    const actions = ((r.json as any).nodes['node-1'].steps as any[]).flatMap((s) => s.actions ?? []).join('\n');
    expect(actions).toMatch(/MQTT canary through the front door/);
    expect(actions).toMatch(/direct CONNECT to node-1's mqtt_endpoint must be refused/);
    expect(actions).toMatch(/MQTT canary directly to node-1's mqtt_endpoint, then through the front door/);
    expect(r.stderr).not.toContain('canary.round_trip');
  });

  for (const [what, port] of [
    ['a port nothing listens on', async () => freePort()],
    ['the admin HTTP port of a node', async () => Number(new URL(c.sim.nodes[0]!.adminUrl).port)],
  ] as const) {
    it(`a front door that cannot carry a message (${what}) refuses before any change (exit 3)`, async () => {
      const p = await port();
      await withConfig(
        c,
        (cfg) => {
          cfg.canary.front_door = `127.0.0.1:${p}`;
        },
        async () => {
          const t0 = now();
          const r = await c.cli(['restart', 'node-3', '--yes'], creds);
          expect(r.code, r.stderr).toBe(3);
          const err = (r.json as any).error;
          expect(err.message).toContain(`front door 127.0.0.1:${p} cannot carry a message`);
          expect(err.endpoint).toBe(`127.0.0.1:${p}`);
          expect(['tcp', 'protocol', 'closed']).toContain(err.evidence.canary.kind);
          expect(changing(await c.callsSince(t0))).toEqual([]);
          expect((await statusOf('node-3')).drain.draining).toBe(false);
        },
      );
    });
  }

  it('a node that accepts CONNECT but drops PUBLISH after its restart is taken back out (exit 1, drained and out)', async () => {
    const proc = startCli(c, ['restart', 'node-3', '--yes']);
    // The moment is certain: the fault is armed while the restart command is held, before the node restarts.
    await parkAt(c, on.restartCommand('node-3'), proc);
    await c.sim.setFaults({ park: null, dropPublish: ['node-3'] });
    const r = await finish(proc);
    expect(r.code, r.stderr).toBe(1);
    const err = (r.json as any).error;
    const endpoint = `127.0.0.1:${c.sim.nodes.find((n) => n.id === 'node-3')!.mqttPort}`;
    expect(err.node).toBe('node-3');
    expect(err.step).toBe('readmit');
    expect(err.endpoint).toBe(endpoint);
    expect(err.message).toContain('an MQTT client cannot use it: timeout');
    expect(err.message).toContain('drained and taken out of the LB again');
    expect(err.evidence.canary).toMatchObject({ target: 'direct', kind: 'timeout', endpoint });
    expect((r.json as any).canary[0]).toMatchObject({ node: 'node-3', failure: { kind: 'timeout' } });
    expect(r.stderr).toContain('"event":"canary.readmit_undone"');
    const s = await statusOf('node-3');
    expect(s.drain.draining).toBe(true);
    expect(s.lb.admin_state).not.toBe('enabled');
    // Fixed: resume finishes the run (the canary passes now).
    await resetFaults(c);
    await eventually(async () => (await nodeMetric('node-3', 'quantum_sim_drop_publish')) === 0);
    const again = await c.cli(['resume', '--yes']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('a drained node that accepts new CONNECTs is a warning and canary.drain_not_enforced', async () => {
    await c.sim.setFaults({ acceptWhileDraining: ['node-1'] });
    await eventually(async () => (await nodeMetric('node-1', 'quantum_sim_accept_while_draining')) === 1);
    try {
      const r = await c.cli(['restart', 'node-1', '--yes'], creds);
      expect(r.code, r.stderr).toBe(0);
      const doc = r.json as any;
      expect(doc.canary[0]).toMatchObject({ node: 'node-1', drain_enforced: false });
      expect(JSON.stringify(doc.nodes['node-1'].warnings)).toContain('canary.drain_not_enforced');
      expect(r.stderr).toContain('"event":"canary.drain_not_enforced"');
    } finally {
      await resetFaults(c);
    }
  });
});
