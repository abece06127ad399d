import { describe, expect, it } from 'vitest';
import { OTHER_NODES_KEY, SAMPLE_NODES_MAX, sampledSessions } from '../../src/steps/quiesce-sessions.js';

const cluster = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`node-${i + 1}`, i * 10]));

describe('sessions.sample: what one sample carries', () => {
  it('every node of a small cluster, as read', () => {
    const s = cluster(SAMPLE_NODES_MAX);
    expect(sampledSessions(s, 'node-3')).toEqual(s);
  });

  it('on a large cluster, the draining node and the sum of the others: bounded, and nothing uncounted', () => {
    const s = cluster(1_000);
    const total = Object.values(s).reduce((a, b) => a + b, 0);
    const out = sampledSessions(s, 'node-7');
    expect(Object.keys(out)).toEqual(['node-7', OTHER_NODES_KEY]);
    expect(out['node-7']).toBe(60);
    expect(out[OTHER_NODES_KEY]).toBe(total - 60);
  });
});
