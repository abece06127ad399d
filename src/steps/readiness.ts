/** Reads every node's `/readyz` for the steps and commands that judge the cluster as a whole. */
import type { ClusterNode, Readiness } from '../clients/schemas.js';
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
  if (!env.options.dryRun) return readAll(env, nodes, deadline);
  let shared = dryRunReadiness.get(nodes);
  if (!shared) dryRunReadiness.set(nodes, (shared = readAll(env, nodes, deadline)));
  return shared;
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

