/**
 * Quorum arithmetic for PRGs (pure, no I/O).
 *
 * Invariant 1 of the CLI contract: a node may go down only if every PRG with a replica
 * on it keeps a quorum of *healthy* replicas without it. Only `healthy` replicas count;
 * `lagging`, `replaying` and `down` ones do not. A PRG without a leader or in strict
 * fallback is not safe to disturb either.
 */
import type { Prg, Replica } from '../clients/schemas.js';

export interface UnavailableReplica {
  node: string;
  state: Replica['state'];
  /** true if it is one of the nodes going down */
  leaving: boolean;
}

export interface QuorumBlocker {
  prg: string;
  /** the most relevant reason: `quorum` first, then `no_leader`, then `strict_fallback` */
  reason: 'quorum' | 'no_leader' | 'strict_fallback';
  voters: number;
  needed: number;
  healthyRemaining: number;
  /** every replica that would not count: lagging/replaying/down ones, and the leaving ones */
  unavailable: UnavailableReplica[];
}

export interface QuorumVerdict {
  ok: boolean;
  /** PRGs with at least one replica on a leaving node */
  checked: number;
  /** one entry per blocking PRG, ordered by PRG id */
  blockers: QuorumBlocker[];
}

/**
 * Deterministic "natural" order for ids: digit runs compare numerically, so `node-9`
 * sorts before `node-10`; ties (e.g. `node-01` vs `node-1`) fall back to code-unit order.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      let ie = i;
      while (ie < a.length && isDigit(a.charCodeAt(ie))) ie++;
      let je = j;
      while (je < b.length && isDigit(b.charCodeAt(je))) je++;
      // strip leading zeros, then compare by length, then lexically
      let is = i;
      while (is < ie - 1 && a.charCodeAt(is) === 48) is++;
      let js = j;
      while (js < je - 1 && b.charCodeAt(js) === 48) js++;
      const la = ie - is;
      const lb = je - js;
      if (la !== lb) return la - lb;
      for (let k = 0; k < la; k++) {
        const d = a.charCodeAt(is + k) - b.charCodeAt(js + k);
        if (d !== 0) return d;
      }
      i = ie;
      j = je;
      continue;
    }
    if (ca !== cb) return ca - cb;
    i++;
    j++;
  }
  if (a.length - i !== b.length - j) return a.length - i - (b.length - j);
  return a < b ? -1 : 1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Majority of `voters`. */
export function quorumNeeded(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** Why a PRG touching a leaving node would be unsafe with `healthyRemaining` healthy replicas left, or null when it stays safe. */
function blockReason(prg: Prg, healthyRemaining: number): QuorumBlocker['reason'] | null {
  if (healthyRemaining < quorumNeeded(prg.replicas.length)) return 'quorum';
  if (prg.leader === null) return 'no_leader';
  if (prg.strict_fallback) return 'strict_fallback';
  return null;
}

function describeBlocker(prg: Prg, reason: QuorumBlocker['reason'], healthyRemaining: number, leavingNodes: ReadonlySet<string>): QuorumBlocker {
  const voters = prg.replicas.length;
  const unavailable: UnavailableReplica[] = [];
  for (const r of prg.replicas) {
    const leaving = leavingNodes.has(r.node);
    if (leaving || r.state !== 'healthy') unavailable.push({ node: r.node, state: r.state, leaving });
  }
  // leaving replicas first, then by node id: the operator reads "what I asked for" first
  unavailable.sort((x, y) => (x.leaving === y.leaving ? compareIds(x.node, y.node) : x.leaving ? -1 : 1));
  return { prg: prg.id, reason, voters, needed: quorumNeeded(voters), healthyRemaining, unavailable };
}

/**
 * Can the nodes in `leaving` all go down at once without any PRG losing its quorum of
 * healthy replicas? Only PRGs with at least one replica on a leaving node are checked.
 *
 * Cost: one pass over the replicas of `prgs`, no allocation for a PRG that stays safe
 * (the precheck and the plan run this for every node of a 100,000-PRG cluster); only a
 * blocking PRG is described (`describeBlocker`).
 */
export function checkQuorumWithout(prgs: readonly Prg[], leaving: ReadonlySet<string> | readonly string[]): QuorumVerdict {
  const set: ReadonlySet<string> = isSet(leaving) ? leaving : new Set(leaving);
  let checked = 0;
  const blockers: QuorumBlocker[] = [];
  if (set.size > 0) {
    // One leaving node (a serial plan, every precheck of one): compare strings, no set lookup.
    const only: string | undefined = set.size === 1 ? (set.values().next().value as string) : undefined;
    for (let p = 0; p < prgs.length; p++) {
      const prg = prgs[p]!;
      const reps = prg.replicas;
      let touched = false;
      let healthyRemaining = 0;
      for (let i = 0; i < reps.length; i++) {
        const r = reps[i]!;
        if (only !== undefined ? r.node === only : set.has(r.node)) touched = true;
        else if (r.state === 'healthy') healthyRemaining++;
      }
      if (!touched) continue;
      checked++;
      const reason = blockReason(prg, healthyRemaining);
      if (reason !== null) blockers.push(describeBlocker(prg, reason, healthyRemaining, set));
    }
  }
  blockers.sort((x, y) => compareIds(x.prg, y.prg));
  return { ok: blockers.length === 0, checked, blockers };
}

function isSet(v: ReadonlySet<string> | readonly string[]): v is ReadonlySet<string> {
  return !Array.isArray(v);
}

function formatReplica(r: UnavailableReplica): string {
  if (!r.leaving) return `${r.node} (${r.state})`;
  return r.state === 'healthy' ? `${r.node} (leaving)` : `${r.node} (leaving, ${r.state})`;
}

function formatBlocker(b: QuorumBlocker): string {
  const who = b.unavailable.map(formatReplica).join(', ');
  switch (b.reason) {
    case 'quorum':
      return `${b.prg}: ${b.healthyRemaining} of ${b.voters} voters would stay healthy, quorum needs ${b.needed}; unavailable: ${who}`;
    case 'no_leader':
      return `${b.prg}: has no leader; unavailable: ${who}`;
    case 'strict_fallback':
      return `${b.prg}: is in strict fallback; unavailable: ${who}`;
  }
}

/**
 * Operator text for a refused quorum check: every blocking PRG id (one line each up to
 * `max`, then "and N more:" grouped by their unavailable replicas), its unavailable replicas as `node-5 (down)` / `node-3 (leaving)`, and
 * what to do about it.
 */
export function describeBlockers(verdict: QuorumVerdict, leaving: readonly string[], max = 50): string {
  const nodes = [...new Set(leaving)].sort(compareIds);
  const subject = nodes.length === 0 ? 'no node' : nodes.length === 1 ? (nodes[0] ?? '') : `nodes ${nodes.join(', ')}`;
  if (verdict.blockers.length === 0) {
    return `Every PRG with a replica on ${subject} keeps a quorum of healthy replicas without it (${verdict.checked} checked).`;
  }
  const n = verdict.blockers.length;
  const limit = Math.max(0, Math.floor(max));
  const lines = [
    `Taking down ${subject} is unsafe: ${n} of ${verdict.checked} PRG${verdict.checked === 1 ? '' : 's'} with a replica there would be blocked:`,
  ];
  for (const b of verdict.blockers.slice(0, limit)) lines.push(`  ${formatBlocker(b)}`);
  if (n > limit) {
    // The contract wants every blocking id named: the rest compactly, grouped by what blocks them.
    const groups = new Map<string, string[]>();
    for (const b of verdict.blockers.slice(limit)) {
      const key = `${b.reason === 'quorum' ? '' : `${b.reason.replace('_', ' ')}; `}unavailable: ${b.unavailable.map(formatReplica).join(', ')}`;
      const ids = groups.get(key) ?? [];
      ids.push(b.prg);
      groups.set(key, ids);
    }
    lines.push(`  … and ${n - limit} more:`);
    for (const [key, ids] of groups) lines.push(`    ${ids.join(', ')} (${key})`);
  }

  const states = new Set<string>();
  const reasons = new Set<string>();
  const downNodes = new Set<string>();
  for (const b of verdict.blockers) {
    reasons.add(b.reason);
    for (const r of b.unavailable) {
      if (r.leaving && r.state === 'healthy') continue;
      states.add(r.state);
      if (r.state === 'down' && !r.leaving) downNodes.add(r.node);
    }
  }
  const hints: string[] = [];
  const catchUp = ['lagging', 'replaying'].filter((s) => states.has(s));
  if (catchUp.length > 0) hints.push(`wait for the ${catchUp.join('/')} replicas to catch up`);
  if (downNodes.size > 0) {
    const list = [...downNodes].sort(compareIds);
    const shown = list.length > 5 ? `${list.slice(0, 5).join(', ')}, …` : list.join(', ');
    hints.push(`restore the down node${list.length === 1 ? '' : 's'} (${shown})`);
  }
  if (reasons.has('no_leader')) hints.push('wait for the PRG to elect a leader');
  if (reasons.has('strict_fallback')) hints.push('wait for strict fallback to clear');
  hints.push('restart a different node first');
  const suggestion = hints.length === 1 ? hints[0] ?? '' : `${hints.slice(0, -1).join(', ')}, or ${hints[hints.length - 1] ?? ''}`;
  lines.push(`Suggestion: ${suggestion}.`);
  return lines.join('\n');
}
