/**
 * Session samples in the run log (the shared spec of the quiesce work and the roll
 * report): while a node quiesces, `sessions.sample` lines give every node's sessions, the
 * draining node's DISCONNECT progress and the pace in force, at most four a second.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startCluster } from '../support/cli.js';

describe('session samples in the run log', () => {
  it('restart of one node: sessions.sample lines while it quiesces, every node counted, ≤ 4 per second', { timeout: 120_000 }, async () => {
    const c = await startCluster({ nodes: 3, racks: 3, prgs: 30, sessionsPerNode: 40 });
    try {
      // sessions that never leave by themselves: the grace is waited out, sampled all along
      await c.sim.setFaults({ sessionDecay: 0 });
      await c.patchConfig((cfg) => {
        cfg.quiesce = { grace: '1500ms', target_sessions: 0 };
      });
      const r = await c.cli(['restart', 'node-2', '--yes']);
      expect(r.code, r.stderr).toBe(0);
      const log = readFileSync(String(r.json!.log_file), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, any>);
      const samples = log.filter((e) => e.event === 'sessions.sample');
      expect(samples.length).toBeGreaterThan(1);
      for (const s of samples) {
        expect(s).toMatchObject({ node: 'node-2', phase: 'quiesce', disconnected: 0, requested: 0, rate_per_s: null });
        expect(Object.keys(s.sessions).sort()).toEqual(['node-1', 'node-2', 'node-3']);
        for (const v of Object.values(s.sessions)) expect(Number.isInteger(v)).toBe(true);
      }
      // the drained node kept its sessions through the grace, and the samples say so
      expect(samples[0]!.sessions['node-2']).toBeGreaterThan(0);
      // only while it quiesces: between the step's start and its end
      const start = log.find((e) => e.event === 'step.start' && e.node === 'node-2' && e.step === 'quiesce')!;
      const done = log.find((e) => e.event === 'step.done' && e.node === 'node-2' && e.step === 'quiesce')!;
      for (const s of samples) expect(s.time >= start.time && s.time <= done.time).toBe(true);
      // at most 4 per second
      const span = (Date.parse(samples.at(-1)!.time) - Date.parse(samples[0]!.time)) / 1000;
      expect(samples.length).toBeLessThanOrEqual(4 * span + 1);
    } finally {
      await c.stop();
    }
  });
});
