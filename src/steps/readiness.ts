/** Reads every node's `/readyz` for the steps and commands that judge the cluster as a whole. */
import type { ClusterNode, Readiness } from '../clients/schemas.js';
import { spareCapacity, totalSessions } from '../cluster/verdicts.js';
import { targetOf } from '../cluster/targets.js';
import { settleLimited } from '../util/limit.js';
import type { ReadEnv } from './context.js';

/** How many node `/readyz` reads run at once: each node is its own endpoint (and TLS handshake). */
export const READYZ_CONCURRENCY = 32;

/**
 * A dry run reads one snapshot (src/clients/snapshot.ts): every precheck of a plan gets the same
 * node list, and the same readiness for it. Shared per list, the plan of N nodes costs N
 * reads instead of N² lookups.
 */
const dryRunReadiness = new WeakMap<readonly ClusterNode[], Promise<Map<string, Readiness | Error>>>();

/** `/readyz` of every node that is not down, in parallel (bounded); a node that cannot be read maps to its error. */
export function readinessOfAll(env: Pick<ReadEnv, 'options' | 'config' | 'runtimeFor'>, nodes: readonly ClusterNode[], deadline = Date.now() + 10_000): Promise<Map<string, Readiness | Error>> {
  if (!env.options.dryRun) return joinInFlight(env, nodes, deadline);
  let shared = dryRunReadiness.get(nodes);
  if (!shared) dryRunReadiness.set(nodes, (shared = readAll(env, nodes, deadline)));
  return shared;
}

/** Reads in flight, per runtime factory (one per session) and node list (by ids). */
const inFlight = new WeakMap<ReadEnv['runtimeFor'], Map<string, Promise<Map<string, Readiness | Error>>>>();

/**
 * A real run reads fresh: every call reads every node again, except that calls made while
 * a read of the same nodes is still in flight share it. The prechecks of one wave start
 * together and each asks for every node's readiness: a wave of 300 nodes on a 1,000-node
 * cluster would otherwise send 300,000 reads at once, for the same answers. A call made
 * after the read ended reads again.
 */
function joinInFlight(env: Pick<ReadEnv, 'options' | 'config' | 'runtimeFor'>, nodes: readonly ClusterNode[], deadline: number): Promise<Map<string, Readiness | Error>> {
  let reads = inFlight.get(env.runtimeFor);
  if (!reads) inFlight.set(env.runtimeFor, (reads = new Map()));
  const key = nodes.map((n) => `${n.id}\u0000${n.state}\u0000${n.admin_url}`).join('\u0001');
  const running = reads.get(key);
  if (running) return running;
  const p = readAll(env, nodes, deadline);
  reads.set(key, p);
  const done = () => {
    if (reads.get(key) === p) reads.delete(key);
  };
  p.then(done, done);
  return p;
}

async function readAll(env: Pick<ReadEnv, 'options' | 'config' | 'runtimeFor'>, nodes: readonly ClusterNode[], deadline: number): Promise<Map<string, Readiness | Error>> {
  const out = new Map<string, Readiness | Error>();
  await settleLimited(
    nodes
      .filter((n) => n.state !== 'down')
      .map((n) => async () => {
        try {
          out.set(n.id, await env.runtimeFor(targetOf(env.config, n)).readyz({ deadline }));
        } catch (err) {
          out.set(n.id, err as Error);
        }
      }),
    READYZ_CONCURRENCY,
  );
  return out;
}

/** What the other ready nodes can take: the sum of their spare capacity, and the ready nodes whose capacity is unknown. */
export interface SpareElsewhere {
  spare: number;
  /** ready nodes outside the wave without `max_sessions`, in `nodes` order */
  unknown: string[];
}

interface SpareTotals {
  spare: number;
  /** index into `nodes` of each ready node whose capacity is unknown */
  unknown: number[];
  /** each ready node's known spare capacity, and how often `nodes` lists it */
  known: Map<string, { spare: number; times: number }>;
}

const totalsOf = new WeakMap<Map<string, Readiness | Error>, WeakMap<readonly ClusterNode[], SpareTotals>>();

/**
 * Spare capacity on the ready nodes of `nodes` outside `wave`, from one readiness map:
 * exactly what a loop over `nodes` skipping the wave sums. The cluster-wide sum is made
 * once per (readiness, nodes) pair and the wave's own nodes taken out of it: a dry run of
 * 1,000 nodes shares one readiness map between its 1,000 prechecks, which would otherwise
 * each walk every node (10⁶ steps).
 */
export function spareElsewhere(readiness: Map<string, Readiness | Error>, nodes: readonly ClusterNode[], wave: readonly string[]): SpareElsewhere {
  let perNodes = totalsOf.get(readiness);
  if (!perNodes) totalsOf.set(readiness, (perNodes = new WeakMap()));
  let t = perNodes.get(nodes);
  if (!t) {
    const totals: SpareTotals = { spare: 0, unknown: [], known: new Map() };
    nodes.forEach((n, i) => {
      const r = readiness.get(n.id);
      if (!r || r instanceof Error || !r.ready) return;
      const s = spareCapacity(r);
      if (s === undefined) return void totals.unknown.push(i);
      const k = totals.known.get(n.id);
      if (k) k.times++;
      else totals.known.set(n.id, { spare: s, times: 1 });
      totals.spare += s;
    });
    perNodes.set(nodes, (t = totals));
  }
  const inWave = new Set(wave);
  let spare = t.spare;
  for (const id of inWave) {
    const k = t.known.get(id);
    if (k) spare -= k.spare * k.times;
  }
  const unknown: string[] = [];
  for (const i of t.unknown) {
    const id = nodes[i]!.id;
    if (!inWave.has(id)) unknown.push(id);
  }
  return { spare, unknown };
}

const sessionTotals = new WeakMap<Map<string, Readiness | Error>, number>();

/**
 * `totalSessions` of a readiness map this module handed out (complete when handed out,
 * never changed after): summed once per map. The 1,000 prechecks of a 1,000-node plan
 * share one map and each records the cluster's sessions before the drain (10⁶ listener
 * reads otherwise, ≈ 200 ms).
 */
export function sessionsOfAll(readiness: Map<string, Readiness | Error>): number {
  let n = sessionTotals.get(readiness);
  if (n === undefined) sessionTotals.set(readiness, (n = totalSessions(readiness)));
  return n;
}
