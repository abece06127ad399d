// spareElsewhere (steps/readiness.ts) must give exactly what the precheck's former loop
// over every node gave: the sum of the spare capacity of the ready nodes outside the
// wave, and the ready ones whose capacity is unknown, in node order.
import { describe, expect, it } from 'vitest';
import type { ClusterNode, Readiness } from '../../src/clients/schemas.js';
import { spareCapacity } from '../../src/cluster/verdicts.js';
import { spareElsewhere } from '../../src/steps/readiness.js';

function node(id: string): ClusterNode {
  return { id, admin_url: `http://127.0.0.1/n/${id}`, mqtt_endpoint: '127.0.0.1:1883', rack: 'r1', zone: 'z1', state: 'up', last_heartbeat_ms: 1 };
}

function readiness(ready: boolean, listeners: Array<[number, number | null | undefined]>): Readiness {
  return {
    ready,
    node_id: 'n',
    reasons: ready ? [] : ['draining'],
    draining: !ready,
    cp_cache: { fresh: true, age_ms: 0, routing_epoch: 1 },
    prgs: { total: 1, ready: 1, replaying: 0, strict_fallback: 0 },
    replay: { progress: 1 },
    listeners: listeners.map(([active, max], i) => ({ name: `l${i}`, port: 1883 + i, accepting: true, active_sessions: active, ...(max === undefined ? {} : { max_sessions: max }) })),
  };
}

/** The loop the precheck had. */
function reference(map: Map<string, Readiness | Error>, nodes: readonly ClusterNode[], wave: readonly string[]) {
  let spare = 0;
  const unknown: string[] = [];
  for (const n of nodes) {
    if (wave.includes(n.id)) continue;
    const r = map.get(n.id);
    if (!r || r instanceof Error || !r.ready) continue;
    const s = spareCapacity(r);
    if (s === undefined) unknown.push(n.id);
    else spare += s;
  }
  return { spare, unknown };
}

describe('spareElsewhere', () => {
  it('equals the walk over every node, for every wave, on one shared readiness map', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const ids = Array.from({ length: 60 }, (_, i) => `node-${i + 1}`);
    // node-5 listed twice (a CP bug): counted twice, as the loop did
    const nodes = [...ids.map(node), node('node-5')];
    const map = new Map<string, Readiness | Error>();
    for (const id of ids) {
      const k = rnd(6);
      if (k === 0) continue; // down: never read
      if (k === 1) map.set(id, new Error('timed out'));
      else if (k === 2) map.set(id, readiness(false, [[10, 100]]));
      else if (k === 3) map.set(id, readiness(true, [[5, null], [1, 50]])); // capacity unknown
      else map.set(id, readiness(true, [[rnd(90), 100], [rnd(300), 200]]));
    }
    map.set('node-5', readiness(true, [[3, 40]]));
    const waves = [[], ['node-1'], ['node-5'], ['node-2', 'node-9', 'node-33'], ['node-404'], ids.slice(0, 30), ids, ['node-3', 'node-3']];
    for (let i = 0; i < 40; i++) waves.push(Array.from({ length: 1 + rnd(5) }, () => ids[rnd(ids.length)]!));
    for (const w of waves) expect(spareElsewhere(map, nodes, w)).toEqual(reference(map, nodes, w));
  });

  it('sums again for another node list or another readiness map', () => {
    const a = [node('node-1'), node('node-2')];
    const m1 = new Map<string, Readiness | Error>([['node-1', readiness(true, [[0, 10]])], ['node-2', readiness(true, [[0, 20]])]]);
    const m2 = new Map<string, Readiness | Error>([['node-1', readiness(true, [[0, 1]])], ['node-2', readiness(true, [[0, 2]])]]);
    expect(spareElsewhere(m1, a, ['node-1']).spare).toBe(20);
    expect(spareElsewhere(m2, a, ['node-1']).spare).toBe(2);
    expect(spareElsewhere(m1, a.slice(0, 1), []).spare).toBe(10);
  });
});
