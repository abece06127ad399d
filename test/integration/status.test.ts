/**
 * `status` and `placement check` against the simulator: one view of the cluster, a
 * leaked drain highlighted (and a drain by a running roll not), a node left drained by
 * a failed run pointing at `resume`, and the placement audit finding a seeded violation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, startCluster, toResult, type TestCluster } from '../support/cli.js';
import { until } from '../support/plan.js';

describe('status', { timeout: 180_000 }, () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 5, racks: 3, prgs: 60 });
  });
  afterAll(async () => c?.stop());

  const status = async () => {
    const r = await c.cli(['status']);
    expect(r.code, r.stderr).toBe(0);
    return r.json as any;
  };

  it('shows the CP, PRG readiness, placement, lease and every node; nothing needs attention on a healthy cluster', async () => {
    const s = await status();
    expect(s).toMatchObject({ ok: true, exit_code: 0, lease: null, run_in_progress: null, journal: null, leaked_drains: [], attention: [] });
    expect(s.cp).toMatchObject({ healthy: true, leader: expect.any(String), term: expect.any(Number) });
    expect(s.prgs).toMatchObject({ total: 60, ready: 60, strict_fallback: 0, ready_ratio: 1 });
    expect(s.placement).toMatchObject({ policy: 'one_replica_per_rack', violations: 0, found: 0 });
    expect(s.nodes).toHaveLength(5);
    for (const n of s.nodes) {
      expect(n).toMatchObject({
        state: 'up',
        rack: expect.stringMatching(/^r\d$/),
        ready: true,
        reasons: [],
        drain: { draining: false, reason: null, since: null, initiator: null },
        lb: { admin_state: 'enabled', health: 'up' },
        boot_id: expect.any(String),
        started_at: expect.any(String),
        leaked_drain: false,
      });
      expect(n.prgs_hosted).toBeGreaterThan(0);
      expect(n.sessions).toBeGreaterThan(0);
    }
    expect(s.nodes.reduce((t: number, n: any) => t + n.prgs_led, 0)).toBe(60);

    const human = await runCli(['status', '--config', c.config], { cwd: c.dir });
    expect(human.stdout).toMatch(/^control plane\s+leader \S+, term \d+, healthy/);
    expect(human.stdout).toMatch(/PRGs\s+60\/60 ready \(100\.00 %\), 0 in strict fallback; placement one_replica_per_rack, 0 violations/);
    expect(human.stdout).toMatch(/lease\s+rolling-restart: free/);
    expect(human.stdout).toMatch(/NODE\s+STATE\s+RACK\s+READY\s+REASONS\s+DRAIN\s+LB\s+SESSIONS\s+PRGS\s+LED\s+STARTED/);
    expect(human.stdout).toContain('nothing needs attention');
  });

  it('a drain with no run in progress is a leaked drain, highlighted with what to run', async () => {
    expect((await c.cli(['drain', 'node-2', '--yes'])).code).toBe(0);
    try {
      const s = await status();
      expect(s.leaked_drains).toEqual(['node-2']);
      const n2 = s.nodes.find((n: any) => n.id === 'node-2');
      expect(n2).toMatchObject({ leaked_drain: true, drain: { draining: true, reason: 'rolling-restart', initiator: expect.stringMatching(/^quantum-roll@/) } });
      expect(s.attention).toEqual([expect.objectContaining({ node: 'node-2', kind: 'leaked_drain', next: 'quantum-roll undrain node-2' })]);
      const human = await runCli(['status', '--config', c.config], { cwd: c.dir });
      expect(human.stdout).toMatch(/node-2\s+draining\s+r2\s+no\s+draining\s+LEAKED/);
      expect(human.stdout).toMatch(/node-2 is drained with no run in progress: a leaked drain \(reason rolling-restart, since .*, by quantum-roll@/);
      expect(human.stdout).toContain('next: quantum-roll undrain node-2');
    } finally {
      expect((await c.cli(['undrain', 'node-2', '--yes'])).code).toBe(0);
    }
    expect((await status()).leaked_drains).toEqual([]);
  });

  it('the drain of a running roll is not leaked: the lease holder is the run that set it', async () => {
    await c.patchConfig((cfg) => {
      cfg.quiesce.grace = '3s';
    });
    await c.sim.setFaults({ sessionDecay: 0 });
    let run: ReturnType<typeof spawnCli> | undefined;
    try {
      run = spawnCli(['restart', 'node-1', '--yes', '--config', c.config, '--json'], { cwd: c.dir });
      const seen = await until(
        'node-1 drained by the run',
        async () => {
          const s = await status();
          return s.nodes.find((n: any) => n.id === 'node-1').drain.draining ? s : undefined;
        },
        30_000,
        100,
      );
      expect(seen.leaked_drains).toEqual([]);
      expect(seen.run_in_progress).toMatchObject({ holder: expect.stringMatching(/^quantum-roll@/), run_id: expect.any(String) });
      expect(seen.nodes.find((n: any) => n.id === 'node-1').drain.run_id).toBe(seen.run_in_progress.run_id);
      expect(seen.attention.filter((a: any) => a.kind === 'leaked_drain')).toEqual([]);
      const r = toResult(await run);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect((r.json as any).run_id).toBe(seen.run_in_progress.run_id);
    } finally {
      // If an assertion failed first, stop the roll (SIGTERM: it stops safely and releases the lease)
      // and finish it, so the next test does not meet its lease.
      if (run && run.exitCode === null) {
        run.kill('SIGTERM');
        await run;
        await c.cli(['resume', '--yes']);
      }
      await c.sim.setFaults({ sessionDecay: 0.15 });
      await c.patchConfig((cfg) => {
        cfg.quiesce.grace = '500ms';
      });
    }
  });

  it('a node left drained by a failed run points at resume, with the unfinished journal', async () => {
    await c.patchConfig((cfg) => {
      cfg.timeouts.ready = '1500ms';
    });
    await c.sim.setFaults({ restartNoop: ['node-3'] });
    try {
      const r = await c.cli(['restart', 'node-3', '--yes']);
      expect(r.code).toBe(1);
      const s = await status();
      expect(s.journal).toMatchObject({ status: 'failed', unfinished: true, hint: 'quantum-roll resume' });
      expect(s.attention).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ node: 'node-3', kind: 'left_drained', next: 'quantum-roll resume' }),
          expect.objectContaining({ kind: 'journal', next: 'quantum-roll resume' }),
        ]),
      );
      const human = await runCli(['status', '--config', c.config], { cwd: c.dir });
      expect(human.stdout).toMatch(/node-3 was left drained by run \S+, which failed/);
    } finally {
      await c.sim.setFaults({ restartNoop: false });
      await c.patchConfig((cfg) => {
        cfg.timeouts.ready = '10s';
      });
    }
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    const after = await status();
    expect(after.attention).toEqual([]);
    expect(after.journal).toMatchObject({ status: 'done', unfinished: false });
  });
});

describe('placement check', { timeout: 120_000 }, () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 5, racks: 3, prgs: 60 });
  });
  afterAll(async () => c?.stop());

  it('clean placement: exit 0, no violation', async () => {
    const r = await c.cli(['placement', 'check']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, exit_code: 0, policy: 'one_replica_per_rack', prgs_checked: 60, violations: [], nodes_involved: [] });
    const human = await runCli(['placement', 'check', '--config', c.config], { cwd: c.dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/placement one_replica_per_rack: 60 PRGs checked, no violation/);
  });

  it('a seeded violation: exit 3 listing the PRG, its nodes and their rack; status counts it', async () => {
    await c.sim.setFaults({ placementViolation: true });
    try {
      const r = await c.cli(['placement', 'check']);
      expect(r.code).toBe(3);
      expect(r.json).toMatchObject({
        ok: false,
        exit_code: 3,
        violations: [{ prg: 'prg-0001', kind: 'same_rack', where: 'r1', nodes: ['node-1', 'node-4'], racks: ['r1'], replicas: 2 }],
        nodes_involved: ['node-1', 'node-4'],
        cp_reported_violations: 1,
        error: { message: expect.stringContaining('1 placement violation') },
      });
      const human = await runCli(['placement', 'check', '--config', c.config], { cwd: c.dir });
      expect(human.code).toBe(3);
      expect(human.stdout).toMatch(/60 PRGs checked, 1 violation\(s\)/);
      expect(human.stdout).toMatch(/prg-0001\s+same rack\s+rack r1\s+node-1 \(r1\), node-4 \(r1\)\s+2/);
      const s = (await c.cli(['status'])).json as any;
      expect(s.placement).toMatchObject({ violations: 1, found: 1 });
      expect(s.attention).toEqual([expect.objectContaining({ kind: 'placement', next: 'quantum-roll placement check' })]);
    } finally {
      await c.sim.setFaults({ placementViolation: false });
    }
    expect((await c.cli(['placement', 'check'])).code).toBe(0);
  });
});
