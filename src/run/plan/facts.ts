/** What a plan is made from: the cluster state, the CP's /readyz, every PRG, the lease, run history. Reads only. */
import type { ClusterState, LeaseInfo, Prg } from '../../clients/schemas.js';
import type { Config } from '../../config/schema.js';
import type { CpReads, NodeTarget } from '../../steps/context.js';
import { etaModel, readHistory } from '../eta.js';
import { LEASE_NAME } from '../lease.js';
import type { PlanFacts } from './types.js';

/** Where the facts come from (a command's session has all of it). */
export interface FactSources {
  cp: CpReads;
  lb: { name: string; endpoint: string };
  loaded: { file: string; config: Config };
  stateDir: string;
}

export async function gatherFacts(
  s: FactSources,
  targets: readonly NodeTarget[],
  wavesOf: (prgs: readonly Prg[]) => readonly (readonly string[])[],
  options: PlanFacts['options'],
  known?: ClusterState,
): Promise<PlanFacts> {
  const [state, cpReady, prgs, lease] = await Promise.all([
    known ?? s.cp.clusterState(),
    s.cp.readyz(),
    s.cp.listPrgs(),
    s.cp.lease(LEASE_NAME).then(
      (l): LeaseInfo | null => l ?? null,
      (e: Error) => ({ error: e.message }),
    ),
  ]);
  return {
    generatedAt: new Date().toISOString(),
    configFile: s.loaded.file,
    config: s.loaded.config,
    state,
    cpReady,
    prgs,
    targets,
    waves: wavesOf(prgs),
    lb: { name: s.lb.name, endpoint: s.lb.endpoint },
    lease,
    eta: etaModel(s.loaded.config, readHistory(s.stateDir)),
    options,
  };
}
