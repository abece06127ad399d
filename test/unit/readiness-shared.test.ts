// readinessOfAll in a real run: the prechecks of one wave, asking at the same time, share
// one read of every node; a later call reads again (fresh state for every check).
import { describe, expect, it } from 'vitest';
import type { ClusterNode, Readiness } from '../../src/clients/schemas.js';
import type { Config } from '../../src/config/schema.js';
import type { NodeTarget } from '../../src/steps/context.js';
import { readinessOfAll } from '../../src/steps/readiness.js';

const node = (id: string, state: ClusterNode['state'] = 'up'): ClusterNode => ({ id, admin_url: `http://127.0.0.1/n/${id}`, mqtt_endpoint: 'x:1883', rack: 'r1', zone: 'z', state, last_heartbeat_ms: 0 });
const ready = (id: string, n: number): Readiness => ({
  ready: true,
  node_id: id,
  reasons: [],
  draining: false,
  cp_cache: { fresh: true, age_ms: 0, routing_epoch: 1 },
  prgs: { total: 1, ready: 1, replaying: 0, strict_fallback: 0 },
  replay: { progress: 1 },
  listeners: [{ name: 'mqtt', port: 1883, accepting: true, active_sessions: n, max_sessions: 100 }],
});

/** A session's runtime factory whose /readyz answers when `release()` is called; counts the reads. */
function cluster() {
  let reads = 0;
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const runtimeFor = (t: NodeTarget) => ({
    readyz: async () => {
      const n = ++reads;
      await gate;
      return ready(t.id, n);
    },
  });
  return {
    env: { options: { dryRun: false, allowOverload: false, force: false }, config: { nodes: {} } as unknown as Config, runtimeFor: runtimeFor as never },
    reads: () => reads,
    open() {
      release();
      gate = new Promise<void>((r) => (release = r));
    },
  };
}

describe('readinessOfAll, real run', () => {
  it('calls made while a read of the same nodes is in flight share it; a later call reads again', async () => {
    const c = cluster();
    const nodes = ['node-1', 'node-2', 'node-3', 'node-4'].map((id) => node(id));
    nodes.push(node('node-5', 'down'));
    // The same nodes as another clusterState() read would list them: equal, not identical.
    const again = nodes.map((n) => ({ ...n }));
    const a = readinessOfAll(c.env, nodes);
    const b = readinessOfAll(c.env, again);
    await Promise.resolve();
    c.open();
    const [ra, rb] = await Promise.all([a, b]);
    expect(c.reads()).toBe(4); // once per node that is not down, for both callers
    expect(rb).toBe(ra);
    const later = readinessOfAll(c.env, nodes);
    c.open();
    const rl = await later;
    expect(c.reads()).toBe(8);
    expect(rl).not.toBe(ra);
    expect([...rl.keys()]).toEqual(['node-1', 'node-2', 'node-3', 'node-4']);
  });

  it('another node list, or a node whose state changed, is read on its own', async () => {
    const c = cluster();
    const nodes = ['node-1', 'node-2'].map((id) => node(id));
    const a = readinessOfAll(c.env, nodes);
    const b = readinessOfAll(c.env, [node('node-1'), node('node-2', 'draining')]);
    const d = readinessOfAll(c.env, nodes.slice(0, 1));
    c.open();
    await Promise.all([a, b, d]);
    expect(c.reads()).toBe(5);
  });
});
