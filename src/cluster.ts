/** Reads across the cluster that several steps and commands share. */
import type { ClusterNode, ClusterState, Readiness } from './clients/schemas.js';
import { activeSessions } from './clients/runtime.js';
import type { Config } from './config/schema.js';
import type { NodeTarget, RunEnv } from './context.js';
import { UsageError } from './errors.js';
import { settleLimited } from './limit.js';

/** The node as the tool addresses it: CP facts, overridden by `nodes.<id>` of the config. */
export function targetOf(config: Config, n: ClusterNode): NodeTarget {
  const o = config.nodes[n.id];
  return { id: n.id, adminUrl: o?.admin_url ?? n.admin_url, lbMember: o?.lb_member ?? n.id, rack: n.rack };
}

/** Resolves node ids given on the command line against the cluster; unknown ids are usage errors (exit 2). */
export function resolveTargets(config: Config, state: ClusterState, ids: readonly string[]): NodeTarget[] {
  const known = new Map(state.nodes.map((n) => [n.id, n]));
  const seen = new Set<string>();
  return ids.map((id) => {
    const n = known.get(id);
    if (!n) {
      const near = nearest(id, [...known.keys()]);
      throw new UsageError(
        `unknown node "${id}"${near ? ` (did you mean ${near}?)` : ''}; the cluster has: ${[...known.keys()].join(', ')}`,
        { node: id, evidence: { known: [...known.keys()] } },
      );
    }
    if (seen.has(id)) throw new UsageError(`node "${id}" is named twice`, { node: id });
    seen.add(id);
    return targetOf(config, n);
  });
}

function nearest(id: string, ids: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of ids) {
    const d = levenshtein(id, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(id.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** How many node `/readyz` reads run at once: each node is its own endpoint (and TLS handshake). */
export const READYZ_CONCURRENCY = 32;

/**
 * A dry run reads one snapshot (src/snapshot.ts): every precheck of a plan gets the same
 * node list, and the same readiness for it. Shared per list, the plan of N nodes costs N
 * reads instead of N² lookups.
 */
const dryRunReadiness = new WeakMap<readonly ClusterNode[], Promise<Map<string, Readiness | Error>>>();

/** `/readyz` of every node that is not down, in parallel (bounded); a node that cannot be read maps to its error. */
export function readinessOfAll(env: RunEnv, nodes: readonly ClusterNode[], deadline = Date.now() + 10_000): Promise<Map<string, Readiness | Error>> {
  if (!env.options.dryRun) return readAll(env, nodes, deadline);
  let shared = dryRunReadiness.get(nodes);
  if (!shared) dryRunReadiness.set(nodes, (shared = readAll(env, nodes, deadline)));
  return shared;
}

async function readAll(env: RunEnv, nodes: readonly ClusterNode[], deadline: number): Promise<Map<string, Readiness | Error>> {
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

/** Cluster-wide active MQTT sessions over the nodes that answered. */
export function totalSessions(readiness: Map<string, Readiness | Error>): number {
  let n = 0;
  for (const r of readiness.values()) if (!(r instanceof Error)) n += activeSessions(r);
  return n;
}

export function prgReadyRatio(state: ClusterState): number {
  return state.prgs.total === 0 ? 1 : state.prgs.ready / state.prgs.total;
}
