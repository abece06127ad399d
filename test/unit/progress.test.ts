// The progress model (run/progress.ts) both reporters draw: a wave is done when its last
// node is, whatever order its nodes finish in, and a failed or skipped node counts as
// finished.
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/run/progress.js';

const plan = (waves: string[][]) => ({ waves, steps: ['precheck', 'restart'] as const, expectedMs: {}, pauseMs: 0, dryRun: false });

describe('Progress: wave ends', () => {
  it('a wave ends with its last node, not before, and only once', () => {
    const p = new Progress();
    p.begin(plan([['a', 'b'], ['c']]));
    for (const n of ['a', 'b', 'c']) p.started(n, 'precheck');
    expect(p.ended('b', 'precheck', 'done', 5)).toMatchObject({ nodeDone: false, waveDone: false });
    expect(p.ended('b', 'restart', 'done', 5)).toMatchObject({ nodeDone: true, waveDone: false });
    expect(p.ended('c', 'restart', 'done', 5)).toMatchObject({ nodeDone: true, waveDone: true }); // wave 2: its only node
    expect(p.ended('a', 'restart', 'done', 5)).toMatchObject({ nodeDone: true, waveDone: true });
    expect(p.waveEnd.size).toBe(2);
  });

  it('a failed or skipped node finishes its wave too', () => {
    const p = new Progress();
    p.begin(plan([['a', 'b', 'c']]));
    expect(p.ended('a', 'precheck', 'skipped', 1).waveDone).toBe(false);
    expect(p.ended('b', 'precheck', 'failed', 1).waveDone).toBe(false);
    expect(p.ended('c', 'restart', 'done', 1).waveDone).toBe(true);
  });

  it('1,000 one-node waves: each node ends its own wave', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `n${i}`);
    const p = new Progress();
    p.begin(plan(ids.map((id) => [id])));
    const ends = ids.map((id) => p.ended(id, 'restart', 'done', 1).waveDone);
    expect(ends.every(Boolean)).toBe(true);
    expect(p.waveEnd.size).toBe(1000);
  });
});
