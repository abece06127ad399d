/**
 * Whole-cluster rolls in placement-aware waves, against the simulator: every node
 * restarted exactly once, never two replicas of one PRG unavailable at once (from the
 * simulator's own record over time), R racks → R waves, leadership moved outside the
 * wave, wave-tagged planned events and the metrics file; a placement violation splits
 * the offending nodes; a wave that became unsafe stops the run; a node restarted by
 * someone else during the run is skipped (unless --force).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimEvent } from '../../src/sim/index.js';
import { now, spawnCli, startCluster, toResult, type TestCluster } from '../support/cli.js';
import { cpPrgs, parsePlan, readJournal } from '../support/plan.js';
import { type ParkRule, on, parkedCalls, parkThrough, unpark } from '../support/park.js';

const NODES = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6'];

/**
 * From the simulator's events: for each node, the intervals during which its replicas
 * were unavailable (process down, or replaying after a restart).
 */
function unavailability(events: SimEvent[], since: number): Map<string, Array<[number, number]>> {
  const out = new Map<string, Array<[number, number]>>();
  const open = new Map<string, number>();
  for (const e of [...events].filter((x) => x.t >= since && x.node).sort((a, b) => a.t - b.t)) {
    const node = e.node!;
    if (e.event === 'process_down' && !open.has(node)) open.set(node, e.t);
    if (e.event === 'replay_done' && open.has(node)) {
      const list = out.get(node) ?? [];
      list.push([open.get(node)!, e.t]);
      out.set(node, list);
      open.delete(node);
    }
  }
  for (const [node, t] of open) out.set(node, [...(out.get(node) ?? []), [t, Infinity]]);
  return out;
}

const overlaps = (a: Array<[number, number]>, b: Array<[number, number]>) => a.some(([s1, e1]) => b.some(([s2, e2]) => s1 < e2 && s2 < e1));

interface LogLine {
  event?: string;
  node?: string;
  wave?: number;
  run_id?: string;
  intent?: string;
  [k: string]: unknown;
}
const logLines = (stderr: string): LogLine[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

describe('restart --all --parallel auto: 6 nodes / 3 racks', { timeout: 240_000 }, () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 6, racks: 3, prgs: 90 });
  });
  afterAll(async () => c?.stop());

  it('restarts every node exactly once in 3 rack waves, never two replicas of a PRG down together, events and metrics tell it was planned', async () => {
    const t0 = now();
    const startedBefore = Date.now();
    const metricsFile = join(c.dir, 'textfile', 'quantum_roll.prom');
    // Read the metrics file while the run goes: every read must be a whole file (atomic writes).
    const samples: string[] = [];
    let running = true;
    const sampler = (async () => {
      while (running) {
        try {
          samples.push(await readFile(metricsFile, 'utf8'));
        } catch {
          // not written yet
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const r = toResult(await spawnCli(['restart', '--all', '--parallel', 'auto', '--yes', '--metrics-file', metricsFile, '--config', c.config, '--json'], { cwd: c.dir }));
    running = false;
    await sampler;
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const d = parsePlan(r.json);
    expect(d).toMatchObject({ ok: true, status: 'done', dry_run: false });

    // exactly 3 waves, one rack each, every node once
    expect(d.waves).toHaveLength(3);
    const waveOf = new Map<string, number>();
    for (const w of d.waves) {
      expect(w.racks).toHaveLength(1);
      for (const id of w.nodes) waveOf.set(id, w.index);
    }
    expect([...waveOf.keys()].sort()).toEqual(NODES);
    for (const id of NODES) expect(d.nodes[id]!.status).toBe('done');

    // the simulator: every node restarted exactly once, at most one replica of any PRG unavailable at a time
    const stats = await c.sim.stats();
    for (const id of NODES) expect(stats.restarts[id], id).toBe(1);
    expect(stats.maxUnavailablePerPrg).toBeLessThanOrEqual(1);
    // … and recomputed from its record of replica states over time
    const events = await c.sim.events();
    const down = unavailability(events, t0);
    expect([...down.keys()].sort()).toEqual(NODES);
    for (const p of await cpPrgs(c)) {
      const nodes = [...new Set(p.replicas.map((x) => x.node))];
      for (let i = 0; i < nodes.length; i++)
        for (let j = i + 1; j < nodes.length; j++) {
          expect(overlaps(down.get(nodes[i]!) ?? [], down.get(nodes[j]!) ?? []), `${p.id}: ${nodes[i]} and ${nodes[j]} unavailable together`).toBe(false);
        }
    }
    // the waves ran one after another: a wave's first restart after the previous wave's last replay ended
    for (const w of d.waves.slice(1)) {
      const prev = d.waves[w.index - 2]!;
      const prevEnd = Math.max(...prev.nodes.flatMap((id) => down.get(id)!.map(([, e]) => e)));
      const start = Math.min(...w.nodes.flatMap((id) => down.get(id)!.map(([s]) => s)));
      expect(start).toBeGreaterThan(prevEnd);
    }

    // leadership moved to nodes outside the wave: the batch excluded the wave mates, no transfer landed in the wave
    const calls = await c.callsSince(t0);
    const batches = calls.filter((x) => x.method === 'POST' && x.path === '/v1/leader-transfers');
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) {
      const body = b.body as { away_from: string; exclude?: string[] };
      const mates = d.waves[waveOf.get(body.away_from)! - 1]!.nodes.filter((n) => n !== body.away_from);
      expect(body.exclude ?? []).toEqual(expect.arrayContaining(mates));
    }
    const transfers = events.filter((e) => e.t >= t0 && e.event === 'leader_change' && e.cause === 'transfer');
    expect(transfers.length).toBeGreaterThan(0);
    for (const e of transfers) expect(waveOf.get(e.to as string)).not.toBe(waveOf.get(e.from as string));

    // every changing action logged as a planned event with node, wave and run id
    const logs = logLines(r.stderr);
    for (const id of NODES) {
      for (const event of ['leader_transfer.done', 'drain.start', 'lb.out', 'restart.exec', 'restart.done', 'drain.cleared', 'readmit.done']) {
        const e = logs.find((l) => l.event === event && l.node === id);
        expect(e, `${event} of ${id}`).toBeDefined();
        expect(e).toMatchObject({ wave: waveOf.get(id), run_id: d.run_id, intent: 'planned' });
      }
    }
    for (const w of d.waves) expect(logs.find((l) => l.event === 'wave.start' && l.wave === w.index)).toMatchObject({ run_id: d.run_id, nodes: w.nodes });
    expect(logs.filter((l) => l.event === 'progress').at(-1)).toMatchObject({ done: 6, total: 6 });

    // --metrics-file: Prometheus text, whole at every read, a planned drain visible while it lasted
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) {
      expect(s.startsWith('# HELP quantum_roll_run_started_timestamp_seconds')).toBe(true);
      expect(s.endsWith('\n')).toBe(true);
      expect(s).toContain('quantum_roll_planned_drain{node="node-6"}');
    }
    expect(samples.some((s) => /quantum_roll_planned_drain\{node="node-\d"\} 1/.test(s))).toBe(true);
    expect(samples.some((s) => /quantum_roll_node_phase\{node="node-\d",phase="quiesce"\} 1/.test(s))).toBe(true);
    const final = await readFile(metricsFile, 'utf8');
    const value = (re: RegExp) => Number(re.exec(final)?.[1]);
    const started = value(/^quantum_roll_run_started_timestamp_seconds\{run_id="[^"]+"\} (\S+)$/m);
    expect(started * 1000, 'the run began after the test started it').toBeGreaterThanOrEqual(Math.floor(startedBefore / 1000) * 1000);
    expect(started * 1000, 'and before it ended').toBeLessThanOrEqual(Date.now());
    for (const id of NODES) {
      expect(final).toContain(`quantum_roll_node_phase{node="${id}",phase="done"} 1`);
      expect(final).toContain(`quantum_roll_planned_drain{node="${id}"} 0`);
      for (const step of ['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck']) {
        expect(final).toMatch(new RegExp(`^quantum_roll_step_duration_seconds\\{node="${id}",step="${step}"\\} \\d+\\.\\d{3}$`, 'm'));
      }
    }
    expect(final).toMatch(/^quantum_roll_run_in_progress\{run_id="[^"]+"\} 0$/m);
    expect(final).not.toMatch(/\.tmp/);

    // the next plan learns from this run
    const next = parsePlan((await c.cli(['plan', '--all', '--parallel', 'auto'])).json);
    expect(next.eta.basis).toBe('history');
    expect(next.eta.history.node_restarts).toBe(6);
  });

  it('a placement with one violation: auto keeps the offending nodes apart, and placement check finds it', async () => {
    await c.sim.setFaults({ placementViolation: true });
    try {
      const prg1 = (await cpPrgs(c)).find((p) => p.id === 'prg-0001')!;
      const racks = new Map(c.sim.nodes.map((n) => [n.id, n.rack]));
      const offending = prg1.replicas.map((x) => x.node).filter((n, _, all) => all.filter((m) => racks.get(m) === racks.get(n)).length > 1);
      expect(offending).toHaveLength(2);
      const d = parsePlan((await c.cli(['plan', '--all', '--parallel', 'auto'])).json);
      const waveOf = (id: string) => d.waves.find((w) => w.nodes.includes(id))!.index;
      expect(waveOf(offending[0]!)).not.toBe(waveOf(offending[1]!));
      // no wave holds two replicas of any PRG
      for (const p of await cpPrgs(c)) {
        const waves = p.replicas.map((x) => waveOf(x.node));
        expect(new Set(waves).size, p.id).toBe(waves.length);
      }
      expect(d.waves.every((w) => w.quorum.ok)).toBe(true);
      expect(d.checks.find((x) => x.id === 'placement')).toMatchObject({ status: 'warn' });
      const check = await c.cli(['placement', 'check']);
      expect(check.code).toBe(3);
      expect((check.json as any).violations).toEqual([
        expect.objectContaining({ prg: 'prg-0001', kind: 'same_rack', nodes: [...offending].sort(), racks: [racks.get(offending[0]!)] }),
      ]);
    } finally {
      await c.sim.setFaults({ placementViolation: false });
    }
  });

  it('a wave that is no longer safe on fresh state stops the run before anything in it changes (exit 1: wave 1 changed)', async () => {
    const t0 = now();
    const [w1, w2, w3] = parsePlan((await c.cli(['plan', '--all', '--parallel', 'auto'])).json).waves.map((w) => ({ nodes: w.nodes }));
    expect(w2!.nodes.length, 'a wave of one node is not re-validated').toBeGreaterThan(1);
    // Held at wave 2's re-validation, its first read of a wave-2 node's PRGs (nothing before it reads them):
    // wave 1 is done, nothing of wave 2 was read or changed. The knob is set before the run starts.
    const rule: ParkRule = { system: 'cp', method: 'GET', pattern: `^/v1/prgs\\?(.*&)?node=(${w2!.nodes.join('|')})(&|$)` };
    await c.sim.setFaults({ park: rule });
    const run = spawnCli(['restart', '--all', '--parallel', 'auto', '--yes', '--config', c.config, '--json'], { cwd: c.dir });
    while ((await parkedCalls(c)).length === 0) {
      if (run.exitCode !== null) throw new Error(`the run ended before wave 2's re-validation: ${toResult(await run).stdout.slice(0, 1500)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const j: any = await readJournal(c);
    for (const id of w1!.nodes) expect(j.nodes[id].status).toBe('done');
    // A replica on a wave-1 node goes down: the wave-2 node sharing that PRG would now break its quorum.
    const [p] = await cpPrgs(c, `node=${w1!.nodes[0]}`);
    await c.sim.setFaults({ replicaDown: [{ node: w1!.nodes[0]!, prgs: [p!.id] }] });
    await unpark(c);
    try {
      const r = toResult(await run);
      // Invariant 8: wave 1 changed nodes, so the refusal of wave 2 exits 1, not 3 ("nothing changed").
      expect(r.code, r.stderr.slice(-2000)).toBe(1);
      const d = parsePlan(r.json);
      expect(d.status).toBe('failed');
      expect(d.error!.message).toMatch(/^wave 2 of 3 \(.*\) is no longer safe to restart together on fresh state/);
      expect(d.error!.message).toContain(p!.id);
      expect((d.error as any).evidence.wave).toBe(2);
      for (const id of w1!.nodes) expect(d.nodes[id]!.status).toBe('done');
      for (const id of [...w2!.nodes, ...w3!.nodes]) expect(d.nodes[id]!.status).toBe('pending');
      // nothing of wave 2 or 3 was touched, and the lease is free again
      const calls = await c.callsSince(t0);
      const touched = calls.filter((x) => x.method !== 'GET' && x.system === 'node' && [...w2!.nodes, ...w3!.nodes].includes(x.node!));
      expect(touched).toEqual([]);
      const drained = calls.filter((x) => x.system === 'node' && x.method === 'PUT' && x.path === '/v1/drain').map((x) => x.node);
      expect(drained.sort()).toEqual([...w1!.nodes].sort());
      expect((await fetch(`${c.sim.cpUrl}/v1/leases/rolling-restart`)).status).toBe(404);
    } finally {
      await c.sim.setFaults({ replicaDown: [] });
    }
  });

  it('a node restarted by someone else after the run began is reported and skipped; --force restarts it anyway', async () => {
    for (const force of [false, true]) {
      const t0 = now();
      const before = (await c.sim.stats()).restarts['node-2'] ?? 0;
      const previous = (await readJournal(c))?.run_id;
      const run = spawnCli(['restart', 'node-1', 'node-2', '--pause', '4s', '--yes', ...(force ? ['--force'] : []), '--config', c.config, '--json'], { cwd: c.dir });
      // Held at the second wave's first read (the CP's /readyz after node-1's drain): node-1 is done, node-2 not prechecked.
      await parkThrough(c, [on.drainFlag('node-1'), { system: 'cp', method: 'GET', pattern: '^/readyz(\\?|$)' }], run);
      const j: any = await readJournal(c);
      expect(j?.run_id).not.toBe(previous);
      expect(j?.nodes['node-1']?.status).toBe('done');
      await c.sim.restartNode('node-2');
      await unpark(c);
      const r = toResult(await run);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const d = parsePlan(r.json);
      const restarts = (await c.sim.stats()).restarts['node-2'] ?? 0;
      if (force) {
        expect(d.nodes['node-2']!.status).toBe('done');
        expect(restarts - before).toBe(2);
      } else {
        expect(d.nodes['node-2']!.status).toBe('skipped');
        expect(d.nodes['node-2']!.precheck).toMatchObject({ status: 'skip', summary: expect.stringMatching(/already booted at .* after this run began.*--force/) });
        expect(restarts - before).toBe(1);
        const puts = (await c.callsSince(t0)).filter((x) => x.system === 'node' && x.node === 'node-2' && x.method !== 'GET');
        expect(puts).toEqual([]);
      }
    }
  });
});
