/**
 * `plan` against the simulator: the JSON document matches docs/plan-schema.md (a zod
 * transcription in ../support/plan.ts), the human plan is readable, a plan changes nothing, and a
 * changing command off a TTY without --yes refuses before anything happens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changing, now, runCli, startCluster, type TestCluster } from '../support/cli.js';
import { cpPrgs, parsePlan } from '../support/plan.js';

describe('plan: 6 nodes / 3 racks', { timeout: 120_000 }, () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 6, racks: 3, prgs: 90 });
  });
  afterAll(async () => c?.stop());

  it('plan --all --parallel auto --json matches the documented schema, and changes nothing', async () => {
    const t0 = now();
    const r = await c.cli(['plan', '--all', '--parallel', 'auto']);
    expect(r.code, r.stderr).toBe(0);
    const d = parsePlan(r.json);
    expect(changing(await c.callsSince(t0))).toEqual([]);

    expect(d).toMatchObject({ ok: true, exit_code: 0, dry_run: true, status: 'planned', options: { parallel: 'auto', all: true } });
    // The plan was made with --config: the command that carries it out names the same file (issue 20, item 10).
    expect(d.run_command).toBe(`quantum-roll restart --all --parallel auto --config ${c.config}`);
    // three racks, three waves, one rack each; every node exactly once
    expect(d.waves).toHaveLength(3);
    for (const w of d.waves) expect(w.racks).toHaveLength(1);
    expect(d.waves.map((w) => w.index)).toEqual([1, 2, 3]);
    const all = d.waves.flatMap((w) => w.nodes).sort();
    expect(all).toEqual(['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6']);
    expect(Object.keys(d.nodes).sort()).toEqual(all);
    // each node: its wave, PRGs it leads (ids, as the CP says), LB actions, restart argv, waits
    for (const w of d.waves) {
      for (const id of w.nodes) {
        const n = d.nodes[id]!;
        expect(n.wave).toBe(w.index);
        expect(n.status).toBe('planned');
        expect(n.prgs_led_count).toBe(n.prgs_led.length);
        expect(n.restart_argv).toContain(id);
        expect(n.lb_actions.join(' ')).toContain(n.lb_member);
        expect(n.waits.map((x) => x.step)).toEqual(['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck']);
        expect(n.precheck.status).toBe('pass');
        expect(n.sessions).toBeGreaterThan(0);
      }
    }
    const cpLed = await cpPrgs(c, 'leader=node-1');
    expect(d.nodes['node-1']!.prgs_led).toEqual(cpLed.map((p) => p.id).sort());
    // checks: the cluster ones, then per wave its quorum check and each node's precheck
    expect(d.checks.slice(0, 4).map((x) => x.id)).toEqual(['cp_healthy', 'prgs_ready', 'placement', 'lease']);
    expect(d.checks.filter((x) => x.id === 'wave_quorum')).toHaveLength(3);
    const pre = d.checks.filter((x) => x.id === 'precheck');
    expect(pre.map((x) => x.node).sort()).toEqual(all);
    expect(pre.every((x) => x.status === 'pass' && x.evidence !== undefined)).toBe(true);
    expect(d.checks.every((x) => x.status === 'pass')).toBe(true);
    // ETA: waves one after another, bounded by the timeouts
    expect(d.eta.waves).toHaveLength(3);
    expect(d.eta.expected_ms).toBeCloseTo(d.eta.waves.reduce((t, w) => t + w.expected_ms, 0));
    expect(d.eta.max_ms).toBeGreaterThanOrEqual(d.eta.expected_ms);
    expect(d.eta.basis).toBe('defaults');
    expect(d.eta.steps.find((s) => s.step === 'quiesce')).toMatchObject({ source: 'config', expected_ms: 500 });

    // restart --dry-run is the same plan
    const dry = parsePlan((await c.cli(['restart', '--all', '--parallel', 'auto', '--dry-run'])).json);
    expect(dry.waves.map((w) => w.nodes)).toEqual(d.waves.map((w) => w.nodes));
    expect(changing(await c.callsSince(t0))).toEqual([]);
  });

  it('--parallel 1 plans one node per wave, --parallel 2 caps waves at two, --pause counts in the ETA', async () => {
    const serial = parsePlan((await c.cli(['plan', '--all'])).json);
    expect(serial.waves).toHaveLength(6);
    expect(serial.waves.every((w) => w.nodes.length === 1)).toBe(true);
    const named = parsePlan((await c.cli(['plan', 'node-5', 'node-2'])).json);
    expect(named.waves.map((w) => w.nodes)).toEqual([['node-5'], ['node-2']]);
    const two = parsePlan((await c.cli(['plan', '--all', '--parallel', '2', '--pause', '10s'])).json);
    expect(two.waves.every((w) => w.nodes.length <= 2)).toBe(true);
    expect(two.options).toMatchObject({ parallel: 2, pause_ms: 10_000 });
    expect(two.eta.expected_ms).toBeCloseTo(two.eta.waves.reduce((t, w) => t + w.expected_ms, 0) + (two.waves.length - 1) * 10_000);
    expect(two.run_command).toBe(`quantum-roll restart --all --parallel 2 --pause 10s --config ${c.config}`);
  });

  it("run_command carries the --config and --state-dir the plan was made with, and no --config when the search found it (issue 20, item 10)", async () => {
    const state = `${c.dir}/other state`;
    const r = await runCli(['plan', 'node-2', '--json', '--config', c.config, '--state-dir', state], { cwd: c.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(parsePlan(r.json).run_command).toBe(`quantum-roll restart node-2 --config ${c.config} --state-dir '${state}'`);
    const found = await runCli(['plan', 'node-2', '--json'], { cwd: c.dir });
    expect(found.code, found.stderr).toBe(0);
    expect(parsePlan(found.json).run_command).toBe('quantum-roll restart node-2');
  });

  it('the human plan: a table per wave, the waits, an ETA and the evidence; PRG ids only with --verbose', async () => {
    const r = await runCli(['plan', '--all', '--parallel', 'auto', '--config', c.config, '--log-level', 'error'], { cwd: c.dir });
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout;
    expect(text).toMatch(/^Plan: restart 6 nodes in 3 waves \(--parallel auto\) — dry run, nothing changed/);
    for (const i of [1, 2, 3]) expect(text).toContain(`Wave ${i}/3`);
    expect(text).toMatch(/NODE\s+RACK\s+LEADS\s+HOSTS\s+SESSIONS\s+LB \(http\)\s+RESTART/);
    expect(text).toMatch(/node-1\s+r1\s+\d+\s+\d+\s+\d+\s+node-1: drain → enable\s+\S+.*sim\/restart-node\.js .* node-1/);
    expect(text).toContain('Each node waits for');
    expect(text).toMatch(/quiesce\s+≈ 500ms\s+≤ 500ms\s+config\s+sessions ≤ 0 or the 500ms grace/);
    expect(text).toMatch(/ETA ≈ .* for 3 wave\(s\); at most .* if every wait runs to its timeout/);
    expect(text).toMatch(/✓ node-4: CP healthy/);
    expect(text).toContain(`Plan OK. Run it: quantum-roll restart --all --parallel auto --config ${c.config}`);
    expect(text).not.toMatch(/leads: prg-/);
    const verbose = await runCli(['plan', 'node-1', '--verbose', '--config', c.config, '--log-level', 'error'], { cwd: c.dir });
    expect(verbose.stdout).toMatch(/leads: prg-\d+/);
  });

  it('a wave that would break quorum: exit 3, the blocking PRG named, still the documented schema', async () => {
    // One replica of a PRG shared by node-1's wave is down elsewhere: node-1 must not go.
    const [p] = await cpPrgs(c, 'node=node-1');
    const other = p!.replicas.find((x) => x.node !== 'node-1')!.node;
    await c.sim.setFaults({ replicaDown: [{ node: other, prgs: [p!.id] }] });
    try {
      const t0 = now();
      const r = await c.cli(['plan', '--all', '--parallel', 'auto']);
      expect(r.code).toBe(3);
      const d = parsePlan(r.json);
      expect(d).toMatchObject({ ok: false, exit_code: 3, status: 'refused' });
      const w = d.waves.find((x) => x.nodes.includes('node-1'))!;
      expect(w.quorum.ok).toBe(false);
      expect(w.quorum.blockers.map((b) => b.prg)).toContain(p!.id);
      expect(d.checks.find((x) => x.id === 'wave_quorum' && x.wave === w.index)?.status).toBe('fail');
      expect(d.error?.message).toContain(p!.id);
      expect(changing(await c.callsSince(t0))).toEqual([]);
    } finally {
      await c.sim.setFaults({ replicaDown: [] });
    }
  });

  it('confirmation: off a TTY without --yes, restart refuses with exit 2, says --yes is required, and sends nothing', async () => {
    const t0 = now();
    const r = await c.cli(['restart', 'node-1']);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: false, exit_code: 2 });
    expect((r.json as any).error.message).toMatch(/--yes is required/);
    const human = await runCli(['restart', '--all', '--parallel', 'auto', '--config', c.config], { cwd: c.dir });
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/--yes is required when stdin is not a terminal/);
    expect(await c.callsSince(t0)).toEqual([]);
    expect((await c.sim.stats()).restarts).toEqual({});
  });
});
