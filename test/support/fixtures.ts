/** Small PRG / node builders shared by the pure-module unit tests. */
import type { ClusterNode, Prg, Replica } from '../../src/clients/schemas.js';
import type { WaveNode } from '../../src/cluster/waves.js';

export type ReplicaSpec = string | [node: string, state: Replica['state']];

/** A PRG whose replicas are `node` (healthy) or `[node, state]`; the leader is the first replica unless given. */
export function prg(
  id: string,
  replicas: readonly ReplicaSpec[],
  opts: { leader?: string | null; strict_fallback?: boolean } = {},
): Prg {
  const specs = replicas.map((spec) => (typeof spec === 'string' ? ([spec, 'healthy'] as const) : spec));
  const leader = 'leader' in opts ? (opts.leader ?? null) : (specs[0]?.[0] ?? null);
  const reps: Replica[] = specs.map(([node, state]) => ({ node, role: node === leader ? 'leader' : 'follower', state }));
  return { id, leader, strict_fallback: opts.strict_fallback ?? false, replicas: reps };
}

export function clusterNode(id: string, rack: string): ClusterNode {
  return {
    id,
    admin_url: `https://${id}.internal:9443`,
    mqtt_endpoint: `${id}.internal:8883`,
    rack,
    zone: 'z1',
    state: 'up',
    last_heartbeat_ms: 100,
  };
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pad = (n: number, w = 4): string => String(n).padStart(w, '0');

export interface Synthetic {
  nodes: WaveNode[];
  prgs: Prg[];
}

/**
 * `racks` racks of `perRack` nodes (`node-<rack>-<i>` in rack `r<rack>`), `prgCount` 3-voter
 * PRGs, each with one replica on each of 3 distinct racks (so one replica per rack), all healthy.
 * prgsLed counts the PRGs each node leads.
 */
export function rackCluster(racks: number, perRack: number, prgCount: number, seed = 1): Synthetic {
  const rand = rng(seed);
  const rackNodes: string[][] = [];
  const nodes: WaveNode[] = [];
  for (let r = 0; r < racks; r++) {
    const list: string[] = [];
    for (let i = 0; i < perRack; i++) {
      const id = `node-${r + 1}-${i + 1}`;
      list.push(id);
      nodes.push({ id, rack: `r${r + 1}`, prgsLed: 0 });
    }
    rackNodes.push(list);
  }
  const prgs: Prg[] = [];
  for (let p = 0; p < prgCount; p++) {
    const chosenRacks = pickDistinct(racks, Math.min(3, racks), rand);
    const reps = chosenRacks.map((r) => {
      const list = rackNodes[r] as string[];
      return list[Math.floor(rand() * list.length)] as string;
    });
    prgs.push(prg(`prg-${pad(p, 6)}`, reps));
  }
  countLeaders(nodes, prgs);
  return { nodes, prgs };
}

/** `nodeCount` nodes over `racks` racks (round-robin), PRGs on 3 distinct random nodes (racks ignored). */
export function randomCluster(nodeCount: number, prgCount: number, racks = 10, seed = 7): Synthetic {
  const rand = rng(seed);
  const nodes: WaveNode[] = [];
  for (let i = 0; i < nodeCount; i++) nodes.push({ id: `node-${pad(i)}`, rack: `r${i % racks}`, prgsLed: 0 });
  const prgs: Prg[] = [];
  for (let p = 0; p < prgCount; p++) {
    const reps = pickDistinct(nodeCount, 3, rand).map((i) => (nodes[i] as WaveNode).id);
    prgs.push(prg(`prg-${pad(p, 6)}`, reps));
  }
  countLeaders(nodes, prgs);
  return { nodes, prgs };
}

function pickDistinct(n: number, k: number, rand: () => number): number[] {
  const out: number[] = [];
  while (out.length < k) {
    const i = Math.floor(rand() * n);
    if (!out.includes(i)) out.push(i);
  }
  return out;
}

function countLeaders(nodes: WaveNode[], prgs: readonly Prg[]): void {
  const led = new Map<string, number>();
  for (const p of prgs) if (p.leader !== null) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
  for (const n of nodes) n.prgsLed = led.get(n.id) ?? 0;
}
