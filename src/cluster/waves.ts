/**
 * Placement-aware restart waves (pure, no I/O).
 *
 * Two nodes conflict when some PRG has replicas on both: they never share a wave. On top
 * of that each wave must pass the quorum check as a whole (`checkQuorumWithout`), so an
 * already-degraded PRG can force nodes apart; a node whose own removal is blocked gets a
 * wave of its own (the precheck on fresh state refuses it later, with the reasons).
 *
 * Waves are a greedy graph colouring of the conflict graph. Two colourings are tried and
 * the one with fewer waves wins (ties go to the rack one, which operators find natural):
 *  - rack by rack: each rack's nodes are first-fit into waves of their own. With a clean
 *    one-replica-per-rack placement over R racks no two nodes of a rack share a PRG, so
 *    this gives exactly R waves (DSatur alone does not guarantee that for R ≥ 3);
 *  - DSatur over the whole graph, which copes with placements that are not rack-clean.
 *
 * Order: waves, and nodes inside waves, by ascending PRGs led (the nodes leading most go
 * last); the wave with the node hosting the CP leader goes last, that node last in it.
 * Ties break by id, so equal inputs give equal plans.
 *
 * Cost: the conflict graph comes from each PRG's replica list (O(Σ replicas²)), the
 * quorum checks only look at the PRGs of the node being placed (index node → PRGs).
 */
import type { Prg } from '../clients/schemas.js';
import { RefusedError } from '../util/errors.js';
import { checkQuorumWithout, compareIds, describeBlockers, type QuorumVerdict } from './quorum.js';
import { capOf, colourByRack, colourDsatur } from './waves-colouring.js';
import { blockedAlone, buildModel } from './waves-model.js';

export { conflictGraph } from './waves-model.js';

export interface WaveNode {
  id: string;
  rack: string;
  prgsLed: number;
  hostsCpLeader?: boolean;
}

export interface WavePlanOptions {
  /** a cap on nodes per wave (1 = serial), or `auto` = as few waves as possible */
  maxWaveSize: number | 'auto';
}

/** The quorum verdict for taking every node of `wave` down at once (run on fresh state). */
export function validateWave(wave: readonly string[], prgs: readonly Prg[]): QuorumVerdict {
  return checkQuorumWithout(prgs, wave);
}

/**
 * Re-validates wave `index` (1-based) of `total` against fresh PRGs, right before it
 * starts: placement or replica health may have changed since the plan was made. The
 * PRGs are read per wave node (`fetchPrgs(node)`, i.e. `/v1/prgs?node=`), deduplicated.
 * Throws a `RefusedError` (exit 3) naming every blocking PRG and its unavailable
 * replicas; nothing of the wave has changed at that point.
 */
export async function revalidateWave(
  index: number,
  total: number,
  wave: readonly string[],
  fetchPrgs: (node: string) => Promise<readonly Prg[]>,
): Promise<QuorumVerdict> {
  const byId = new Map<string, Prg>();
  for (const list of await Promise.all(wave.map((id) => fetchPrgs(id)))) for (const p of list) byId.set(p.id, p);
  const verdict = validateWave(wave, [...byId.values()]);
  if (verdict.ok) return verdict;
  const nodes = [...wave].sort(compareIds);
  throw new RefusedError(
    `wave ${index} of ${total} (${nodes.join(', ')}) is no longer safe to restart together on fresh state; ` +
      `placement or replica health changed since the plan was made. Nothing in this wave was changed` +
      `${index === 2 ? ' (wave 1 is done)' : index > 2 ? ` (waves 1–${index - 1} are done)` : ''}.\n${describeBlockers(verdict, nodes)}`,
    {
      step: 'precheck',
      next: 'check placement (quantum-roll placement check) and the cluster (quantum-roll status), then run the same command again: a new plan is made from fresh state',
      evidence: { wave: index, nodes, blockers: verdict.blockers },
    },
  );
}

/**
 * Split `nodes` into restart waves. Every node appears in exactly one wave; duplicates
 * in `nodes` are ignored (first occurrence wins).
 */
export function planWaves(nodes: readonly WaveNode[], prgs: readonly Prg[], opts: WavePlanOptions): string[][] {
  const byId = new Map<string, WaveNode>();
  for (const n of nodes) if (!byId.has(n.id)) byId.set(n.id, n);
  if (byId.size === 0) return [];
  const cap = capOf(opts.maxWaveSize);
  const ids = [...byId.keys()].sort(compareIds);
  // One node per wave: whatever the conflicts, every node is a wave of its own (a blocked
  // one too), and the order below alone decides. No model of 100,000 PRGs for that.
  if (cap === 1) return order(ids.map((id) => [id]), byId);
  const model = buildModel(ids, prgs);

  // Nodes whose own removal is already blocked go alone.
  const blocked: boolean[] = ids.map((_, v) => blockedAlone(model, v));

  const racks = ids.map((id) => (byId.get(id) as WaveNode).rack);
  const byRack = colourByRack(model, racks, blocked, cap);
  const dsatur = colourDsatur(model, blocked, cap);
  const best = dsatur.length < byRack.length ? dsatur : byRack;
  return order(
    best.map((w) => w.map((v) => ids[v] as string)),
    byId,
  );
}

function order(waves: string[][], byId: Map<string, WaveNode>): string[][] {
  const led = (id: string): number => (byId.get(id) as WaveNode).prgsLed;
  const cp = (id: string): boolean => (byId.get(id) as WaveNode).hostsCpLeader === true;
  const byNode = (a: string, b: string): number =>
    Number(cp(a)) - Number(cp(b)) || led(a) - led(b) || compareIds(a, b);
  const sorted = waves.filter((w) => w.length > 0).map((w) => [...w].sort(byNode));
  const key = (w: string[]) => ({
    cp: w.some(cp),
    max: Math.max(...w.map(led)),
    sum: w.reduce((s, id) => s + led(id), 0),
    first: w[0] as string,
  });
  const keyed = sorted.map((w) => ({ w, k: key(w) }));
  keyed.sort(
    (a, b) =>
      Number(a.k.cp) - Number(b.k.cp) || a.k.max - b.k.max || a.k.sum - b.k.sum || compareIds(a.k.first, b.k.first),
  );
  return keyed.map((x) => x.w);
}
