import { describe, expect, it } from 'vitest';
import type { Prg } from '../../src/clients/schemas.js';
import { checkQuorumWithout, compareIds } from '../../src/cluster/quorum.js';
import { RefusedError } from '../../src/util/errors.js';
import { conflictGraph, planWaves, revalidateWave, validateWave, type WaveNode } from '../../src/cluster/waves.js';
import { prg, rackCluster, randomCluster } from '../support/fixtures.js';

/** Every node exactly once, no two conflicting nodes together, each wave passes quorum (unless alone). */
function expectValidPlan(plan: string[][], nodes: readonly WaveNode[], prgs: readonly Prg[], cap = Infinity): void {
  const flat = plan.flat();
  expect(new Set(flat).size).toBe(flat.length);
  expect(new Set(flat)).toEqual(new Set(nodes.map((n) => n.id)));
  const graph = conflictGraph(
    nodes.map((n) => n.id),
    prgs,
  );
  for (const wave of plan) {
    expect(wave.length).toBeGreaterThan(0);
    expect(wave.length).toBeLessThanOrEqual(cap);
    for (const a of wave) for (const b of wave) if (a !== b) expect(graph.get(a)?.has(b)).toBe(false);
    if (wave.length > 1) expect(checkQuorumWithout(prgs, wave).ok).toBe(true);
  }
}

function rackOf(nodes: readonly WaveNode[]): Map<string, string> {
  return new Map(nodes.map((n) => [n.id, n.rack]));
}

const wn = (id: string, rack: string, prgsLed = 0, hostsCpLeader = false): WaveNode => ({ id, rack, prgsLed, hostsCpLeader });

describe('conflictGraph', () => {
  it('links nodes that share a PRG, symmetric, restricted to the given nodes', () => {
    const prgs = [prg('prg-1', ['a', 'b', 'c']), prg('prg-2', ['c', 'd', 'x']), prg('prg-3', ['a', 'a', 'e'])];
    const g = conflictGraph(['a', 'b', 'c', 'd', 'e', 'f'], prgs);
    expect([...(g.get('a') ?? [])].sort()).toEqual(['b', 'c', 'e']);
    expect([...(g.get('c') ?? [])].sort()).toEqual(['a', 'b', 'd']);
    expect([...(g.get('d') ?? [])]).toEqual(['c']);
    expect(g.get('f')?.size).toBe(0);
    expect(g.has('x')).toBe(false);
    expect(g.get('a')?.has('a')).toBe(false);
  });
});

describe('planWaves: one replica per rack gives exactly R waves, one rack per wave', () => {
  it.each([
    [3, 2, 40],
    [3, 4, 200],
    [3, 3, 300],
    [4, 3, 300],
    [5, 4, 500],
  ])('%i racks × %i nodes, %i PRGs', (racks, perRack, prgCount) => {
    const { nodes, prgs } = rackCluster(racks, perRack, prgCount);
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expect(plan).toHaveLength(racks);
    expectValidPlan(plan, nodes, prgs);
    const racksOf = rackOf(nodes);
    for (const wave of plan) expect(new Set(wave.map((id) => racksOf.get(id))).size).toBe(1);
  });

  it('6 nodes / 3 racks with a hand-made clean placement', () => {
    const nodes = ['1', '2', '3', '4', '5', '6'].map((i, k) => wn(`node-${i}`, `r${(k % 3) + 1}`));
    // racks: r1 = node-1, node-4; r2 = node-2, node-5; r3 = node-3, node-6
    const prgs = [
      prg('prg-1', ['node-1', 'node-2', 'node-3']),
      prg('prg-2', ['node-4', 'node-5', 'node-6']),
      prg('prg-3', ['node-1', 'node-5', 'node-6']),
      prg('prg-4', ['node-4', 'node-2', 'node-3']),
      prg('prg-5', ['node-1', 'node-2', 'node-6']),
      prg('prg-6', ['node-4', 'node-5', 'node-3']),
    ];
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expect(plan.map((w) => [...w].sort())).toEqual([
      ['node-1', 'node-4'],
      ['node-2', 'node-5'],
      ['node-3', 'node-6'],
    ]);
  });
});

describe('planWaves: violations and degraded PRGs force nodes apart', () => {
  it('a same-rack violation splits the offending nodes into different waves', () => {
    const { nodes, prgs } = rackCluster(3, 2, 60);
    // node-1-1 and node-1-2 share rack r1; make one PRG put replicas on both
    const bad = prg('prg-bad', ['node-1-1', 'node-1-2', 'node-2-1']);
    const all = [...prgs, bad];
    const plan = planWaves(nodes, all, { maxWaveSize: 'auto' });
    expectValidPlan(plan, nodes, all);
    const waveOf = (id: string) => plan.findIndex((w) => w.includes(id));
    expect(waveOf('node-1-1')).not.toBe(waveOf('node-1-2'));
    expect(plan.length).toBe(4);
  });

  it('a node whose own removal is blocked goes into a wave alone', () => {
    const nodes = [wn('a', 'r1'), wn('b', 'r1'), wn('c', 'r1'), wn('x', 'r2'), wn('y', 'r3')];
    const prgs = [
      // a cannot go: quorum would drop to 1 (y is down)
      prg('prg-1', ['a', 'x', ['y', 'down']]),
      prg('prg-2', ['b', 'x', 'y']),
      prg('prg-3', ['c', 'x', 'y']),
    ];
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expectValidPlan(plan, nodes, prgs);
    expect(plan.find((w) => w.includes('a'))).toEqual(['a']);
    // b and c share no PRG and stay together
    expect(plan.find((w) => w.includes('b'))).toEqual(['b', 'c']);
  });

  it('no-leader and strict-fallback PRGs also isolate their nodes', () => {
    const nodes = [wn('a', 'r1'), wn('b', 'r1'), wn('c', 'r1')];
    const prgs = [
      prg('prg-1', ['a', 'x', 'y'], { leader: null }),
      prg('prg-2', ['b', 'x', 'y'], { strict_fallback: true }),
      prg('prg-3', ['c', 'x', 'y']),
    ];
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expect(plan.map((w) => [...w].sort())).toEqual([['a'], ['b'], ['c']]);
  });

  it('5-voter PRGs: nodes sharing one still never share a wave', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((id) => wn(id, 'r1'));
    const plan = planWaves(nodes, [prg('prg-5', ['a', 'b', 'c', 'd', 'e'])], { maxWaveSize: 'auto' });
    expect(plan).toHaveLength(5);
  });

  it('when racks do not reflect placement, the whole-graph colouring wins', () => {
    // every node in its own rack, a ring of conflicts a-b-c-d-a: 2 waves, not 4
    const nodes = ['a', 'b', 'c', 'd'].map((id, i) => wn(id, `r${i}`));
    const prgs = [prg('prg-1', ['a', 'b', 'x']), prg('prg-2', ['b', 'c', 'x']), prg('prg-3', ['c', 'd', 'x']), prg('prg-4', ['d', 'a', 'x'])];
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expect(plan.map((w) => [...w].sort())).toEqual([
      ['a', 'c'],
      ['b', 'd'],
    ]);
  });

  it('nodes without PRGs, and PRGs on unknown nodes, are handled', () => {
    const nodes = [wn('a', 'r1'), wn('b', 'r2'), wn('idle', 'r3')];
    const prgs = [prg('prg-1', ['a', 'b', 'ghost'])];
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expectValidPlan(plan, nodes, prgs);
    expect(plan).toHaveLength(2);
    expect(planWaves([], prgs, { maxWaveSize: 'auto' })).toEqual([]);
  });

  it('duplicate nodes in the input are planned once', () => {
    const plan = planWaves([wn('a', 'r1'), wn('a', 'r1'), wn('b', 'r2')], [], { maxWaveSize: 1 });
    expect(plan).toEqual([['a'], ['b']]);
  });
});

describe('planWaves: maxWaveSize', () => {
  it('1 gives one node per wave, ordered by PRGs led then id', () => {
    const nodes = [wn('node-3', 'r1', 5), wn('node-1', 'r2', 9), wn('node-2', 'r3', 1), wn('node-4', 'r1', 5)];
    expect(planWaves(nodes, [], { maxWaveSize: 1 })).toEqual([['node-2'], ['node-3'], ['node-4'], ['node-1']]);
  });

  it('caps wave size and still respects conflicts', () => {
    const { nodes, prgs } = rackCluster(3, 4, 300);
    for (const cap of [1, 2, 3, 4, 5]) {
      const plan = planWaves(nodes, prgs, { maxWaveSize: cap });
      expectValidPlan(plan, nodes, prgs, cap);
      expect(plan.length).toBe(3 * Math.ceil(4 / Math.min(cap, 4)));
    }
  });

  it('without conflicts, a cap packs nodes', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((id) => wn(id, 'r1'));
    const plan = planWaves(nodes, [], { maxWaveSize: 2 });
    expect(plan).toHaveLength(3);
    expect(plan.map((w) => w.length).sort()).toEqual([1, 2, 2]);
    expect(plan.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(planWaves(nodes, [], { maxWaveSize: 'auto' })).toEqual([['a', 'b', 'c', 'd', 'e']]);
  });

  it('treats non-positive or fractional caps sanely', () => {
    const nodes = ['a', 'b', 'c'].map((id) => wn(id, 'r1'));
    expect(planWaves(nodes, [], { maxWaveSize: 0 })).toHaveLength(3);
    expect(planWaves(nodes, [], { maxWaveSize: 2.7 })).toHaveLength(2);
    expect(planWaves(nodes, [], { maxWaveSize: Infinity })).toHaveLength(1);
  });
});

describe('planWaves: ordering', () => {
  it('waves with the busiest leaders go last; nodes inside waves by ascending PRGs led', () => {
    const nodes = [wn('a1', 'r1', 50), wn('a2', 'r1', 1), wn('b1', 'r2', 10), wn('b2', 'r2', 12), wn('c1', 'r3', 3), wn('c2', 'r3', 2)];
    const prgs = [prg('prg-1', ['a1', 'b1', 'c1']), prg('prg-2', ['a2', 'b2', 'c2']), prg('prg-3', ['a1', 'b2', 'c2']), prg('prg-4', ['a2', 'b1', 'c1'])];
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expect(plan).toEqual([
      ['c2', 'c1'],
      ['b1', 'b2'],
      ['a2', 'a1'],
    ]);
  });

  it('the wave with the CP leader host goes last, that node last in it', () => {
    const nodes = [wn('a1', 'r1', 50), wn('a2', 'r1', 1), wn('b1', 'r2', 10, true), wn('b2', 'r2', 12), wn('c1', 'r3', 3), wn('c2', 'r3', 2)];
    const prgs = [prg('prg-1', ['a1', 'b1', 'c1']), prg('prg-2', ['a2', 'b2', 'c2']), prg('prg-3', ['a1', 'b2', 'c2']), prg('prg-4', ['a2', 'b1', 'c1'])];
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expect(plan).toEqual([
      ['c2', 'c1'],
      ['a2', 'a1'],
      ['b2', 'b1'],
    ]);
    const serial = planWaves(nodes, prgs, { maxWaveSize: 1 });
    expect(serial.flat()).toEqual(['a2', 'c2', 'c1', 'b2', 'a1', 'b1']);
  });

  it('is deterministic: same input (in any order) gives the same plan', () => {
    const { nodes, prgs } = randomCluster(60, 2000, 6, 3);
    const a = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    const b = planWaves([...nodes].reverse(), [...prgs].reverse(), { maxWaveSize: 'auto' });
    expect(b).toEqual(a);
    expect(planWaves(nodes, prgs, { maxWaveSize: 'auto' })).toEqual(a);
  });
});

describe('validateWave', () => {
  it('is the quorum verdict for the whole wave', () => {
    const prgs = [prg('prg-1', ['a', 'b', 'c']), prg('prg-2', ['a', 'd', ['e', 'lagging']])];
    expect(validateWave(['a'], prgs)).toMatchObject({ ok: false, checked: 2, blockers: [{ prg: 'prg-2' }] });
    expect(validateWave(['d', 'b'], prgs)).toMatchObject({ ok: false, blockers: [{ prg: 'prg-2' }] });
    expect(validateWave(['b'], prgs)).toEqual({ ok: true, checked: 1, blockers: [] });
  });
});

describe('revalidateWave', () => {
  const prgs = [prg('prg-1', ['a', 'b', 'c']), prg('prg-2', ['a', 'd', ['e', 'down']]), prg('prg-3', ['b', 'd', 'f'])];
  const byNode = (id: string) => Promise.resolve(prgs.filter((p) => p.replicas.some((r) => r.node === id)));

  it('passes a wave that still keeps every quorum, reading each wave node once', async () => {
    const asked: string[] = [];
    const v = await revalidateWave(1, 2, ['c', 'f'], (id) => {
      asked.push(id);
      return byNode(id);
    });
    expect(v.ok).toBe(true);
    expect(asked).toEqual(['c', 'f']);
  });

  it('refuses (exit 3) a wave no longer safe, naming the wave, the PRG and its unavailable replicas', async () => {
    const err = await revalidateWave(2, 3, ['d', 'a'], byNode).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    const e = err as RefusedError;
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/^wave 2 of 3 \(a, d\) is no longer safe to restart together on fresh state.*Nothing in this wave was changed \(wave 1 is done\)/s);
    expect(e.message).toContain('prg-2: 0 of 3 voters would stay healthy, quorum needs 2; unavailable: a (leaving), d (leaving), e (down)');
    expect(e.details.evidence).toMatchObject({ wave: 2, nodes: ['a', 'd'] });
  });
});

describe('planWaves: big inputs', () => {
  // Correctness at size only: how fast it is belongs to bench/ (B4 reports plan --all at 100k PRGs).
  it('1,000 nodes / 100,000 random PRGs: valid plan', () => {
    const { nodes, prgs } = randomCluster(1000, 100_000, 10, 42);
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expectValidPlan(plan, nodes, prgs);
    const capped = planWaves(nodes, prgs, { maxWaveSize: 5 });
    expect(capped.every((w) => w.length <= 5)).toBe(true);
    expect(capped.flat()).toHaveLength(1000);
  });

  it('1,000 nodes in 10 racks / 100,000 rack-clean PRGs: exactly 10 waves', () => {
    const { nodes, prgs } = rackCluster(10, 100, 100_000, 9);
    const plan = planWaves(nodes, prgs, { maxWaveSize: 'auto' });
    expect(plan).toHaveLength(10);
    expectValidPlan(plan, nodes, prgs);
  });

  it('one node per wave: every node alone (blocked ones too), by CP leader last, then PRGs led, then id', () => {
    const { nodes, prgs } = randomCluster(80, 3000, 8, 11);
    // degraded PRGs block some nodes; the CP leader host goes last
    for (let i = 0; i < 40; i++) {
      const p = prgs[i]!;
      prgs[i] = { ...p, replicas: p.replicas.map((r, j) => (j === 1 ? { ...r, state: 'lagging' } : r)) };
    }
    for (let i = 40; i < 45; i++) prgs[i] = { ...prgs[i]!, leader: null };
    nodes[17]!.hostsCpLeader = true;
    const serial = planWaves(nodes, prgs, { maxWaveSize: 1 });
    const expected = [...nodes]
      .sort((a, b) => Number(a.hostsCpLeader === true) - Number(b.hostsCpLeader === true) || a.prgsLed - b.prgsLed || compareIds(a.id, b.id))
      .map((n) => [n.id]);
    expect(serial).toEqual(expected);
    expectValidPlan(serial, nodes, prgs, 1);
  });
});
