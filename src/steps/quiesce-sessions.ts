/**
 * Where the clients are while nodes quiesce: one sweep of every node's `/readyz`
 * (`active_sessions`) every 100 ms on a cluster of up to 40 nodes (about 400 node reads a
 * second at most; a larger cluster is swept less often), shared by every node of the run
 * that is quiescing (a wave of 333 nodes reads the cluster once per sweep, not 333 times),
 * plus each draining node's `GET /v1/sessions/disconnect` once it has asked for one. The
 * steps waiting on clients (the cohort's return, the pace, the wait before the restart) see
 * a change within a sweep: a slower sweep would add its interval to every wait of the roll.
 *
 * Each sweep wakes the steps waiting on it; at most four a second also write one
 * `sessions.sample` per quiescing node to the run log (the report's session series). A node that does not
 * answer counts with the sessions it last reported: a node of the wave being restarted
 * had let its sessions go before its restart began, and a slow answer on a loaded host
 * is not a node that lost its clients.
 */
import type { RuntimeClient } from '../clients/runtime.js';
import type { DisconnectProgress } from '../clients/schemas.js';
import { activeSessions } from '../cluster/verdicts.js';
import { type NodeTarget, targetOf } from '../cluster/targets.js';
import { sleep } from '../util/sleep.js';
import type { RunEnv } from './context.js';

export interface Sweep {
  /** epoch ms when the sweep began */
  at: number;
  /** active sessions by node id, every node of the cluster */
  sessions: Record<string, number>;
  total: number;
  /**
   * Clients pending: the most sessions the cluster held since the sweeps began, minus what
   * it holds now. An evicted client is pending until a broker has accepted it again.
   */
  pending: number;
  /** Clients each node has let go since its eviction began (monotonic), by node id. */
  evicted: ReadonlyMap<string, number>;
  /** Nodes whose `/readyz` did not answer this sweep (counted with their last answer). */
  unanswered: string[];
}

/** A node that quiesces, as the sweeps see it (the step updates `phase` and `rate`). */
export interface Quiescing {
  node: string;
  runtime: RuntimeClient;
  phase: 'quiesce' | 'absorb';
  /** the pace in force (null before any request, 0 while stopped) */
  rate: number | null;
  /** the last progress read (null before any request of this step) */
  progress: DisconnectProgress | null;
  /** its sessions when its eviction began (null before) */
  baseline: number | null;
}

/** The fewest ms between two sweeps: 100 ms, longer above 40 nodes (≈ 400 node reads a second at most). */
export function sweepIntervalMs(nodes: number): number {
  return Math.max(100, Math.round(nodes * 2.5));
}

/** The fewest ms between two `sessions.sample` events of one node: at most four a second. */
export const SAMPLE_INTERVAL_MS = 250;

const READ_CONCURRENCY = 32;
const READ_TIMEOUT_MS = 2_000;

class ClusterSessions {
  private nodes: NodeTarget[] | undefined;
  private readonly last = new Map<string, number>();
  private readonly evicted = new Map<string, number>();
  private ref = 0;
  private readonly members = new Set<Quiescing>();
  private waiters: Array<(s: Sweep) => void> = [];
  private running = false;
  /** The last sweep the steps saw, and the last one sampled into the run log per member. */
  private latest: Sweep | undefined;
  private readonly sampled = new Map<Quiescing, Sweep>();

  constructor(private readonly env: RunEnv) {}

  /** Starts sampling `q` (and sweeping, if no one else is); returns the leave function. */
  join(q: Quiescing): () => void {
    this.members.add(q);
    if (!this.running) {
      this.running = true;
      void this.loop();
    }
    return () => {
      // the run log ends each node's series on what the steps last saw (samples are thinned to 4/s)
      if (this.members.delete(q) && this.latest && this.latest !== this.sampled.get(q)) this.sample(q, this.latest);
      this.sampled.delete(q);
    };
  }

  /** The next sweep to complete. */
  next(): Promise<Sweep> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async loop(): Promise<void> {
    try {
      let lastSweep = Number.NEGATIVE_INFINITY;
      let lastSample = Number.NEGATIVE_INFINITY;
      while (this.members.size > 0) {
        const sweep = await this.sweep();
        // the steps' observations at least an interval apart, however long a sweep takes
        await sleep(lastSweep + sweepIntervalMs(this.nodes?.length ?? 0) - Date.now());
        lastSweep = Date.now();
        this.latest = sweep;
        if (lastSweep - lastSample >= SAMPLE_INTERVAL_MS) {
          lastSample = lastSweep;
          for (const q of this.members) this.sample(q, sweep);
        }
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w(sweep);
      }
    } finally {
      this.running = false;
      // A new wave counts from scratch: what it evicts, and what the cluster holds.
      this.evicted.clear();
      this.ref = 0;
      this.latest = undefined;
    }
  }

  private async sweep(): Promise<Sweep> {
    const at = Date.now();
    if (!this.nodes) {
      const state = await this.env.cp.clusterState({ deadline: at + READ_TIMEOUT_MS }).catch(() => undefined);
      if (state) this.nodes = state.nodes.map((n) => targetOf(this.env.config, n));
    }
    const members = [...this.members];
    const reads: Array<() => Promise<void>> = [];
    for (const q of members) {
      if (q.progress === null) continue; // 0/0 before any request: nothing to read
      reads.push(async () => {
        q.progress = await q.runtime.disconnectProgress({ deadline: Date.now() + READ_TIMEOUT_MS, retry: false }).catch(() => q.progress);
      });
    }
    const runtimes = this.nodes
      ? this.nodes.map((n) => ({ id: n.id, read: () => this.env.runtimeFor(n) }))
      : members.map((q) => ({ id: q.node, read: () => q.runtime }));
    const unanswered: string[] = [];
    for (const n of runtimes) {
      reads.push(async () => {
        const r = await n
          .read()
          .readyz({ deadline: Date.now() + READ_TIMEOUT_MS, retry: false })
          .catch(() => undefined);
        if (r) this.last.set(n.id, activeSessions(r));
        else unanswered.push(n.id);
      });
    }
    let i = 0;
    await Promise.all(
      Array.from({ length: Math.min(READ_CONCURRENCY, reads.length) }, async () => {
        while (i < reads.length) await reads[i++]!();
      }),
    );
    const sessions: Record<string, number> = {};
    let total = 0;
    for (const n of runtimes) {
      const v = this.last.get(n.id) ?? 0;
      sessions[n.id] = v;
      total += v;
    }
    this.ref = Math.max(this.ref, total);
    for (const q of members) {
      if (q.baseline === null) continue;
      this.evicted.set(q.node, Math.max(this.evicted.get(q.node) ?? 0, q.baseline - (sessions[q.node] ?? 0)));
    }
    return { at, sessions, total, pending: this.ref - total, evicted: new Map(this.evicted), unanswered };
  }

  private sample(q: Quiescing, s: Sweep): void {
    this.sampled.set(q, s);
    const p = q.progress;
    this.env.log.info(
      {
        event: 'sessions.sample',
        node: q.node,
        phase: q.phase,
        sessions: sampledSessions(s.sessions, q.node),
        disconnected: p?.disconnected ?? 0,
        requested: p?.requested ?? 0,
        rate_per_s: q.rate,
      },
      `${q.node} ${q.phase}: ${s.sessions[q.node] ?? 0} sessions on it, ${s.total} in the cluster`,
    );
  }
}

/** Above this many nodes a sample names the draining node and sums the rest. */
export const SAMPLE_NODES_MAX = 32;
/** The key of that sum: a node id is never parenthesised. */
export const OTHER_NODES_KEY = '(other nodes)';

/**
 * What one `sessions.sample` carries: every node's sessions on a cluster of at most
 * SAMPLE_NODES_MAX nodes; on a larger one the draining node's and the sum of all the
 * others' under OTHER_NODES_KEY. A wave of 333 draining nodes on 1,000 would otherwise log
 * 333 samples of 1,000 entries (≈ 16 kB each) per sweep, ≈ 200 MB for one roll; the sum
 * still shows where the evicted clients went (the report's re-accepted count reads it).
 */
export function sampledSessions(sessions: Record<string, number>, node: string): Record<string, number> {
  const ids = Object.keys(sessions);
  if (ids.length <= SAMPLE_NODES_MAX) return sessions;
  let others = 0;
  for (const id of ids) if (id !== node) others += sessions[id]!;
  return { [node]: sessions[node] ?? 0, [OTHER_NODES_KEY]: others };
}

const runs = new Map<string, ClusterSessions>();

/** The run's shared sampler of every node's sessions. */
export function clusterSessions(env: RunEnv): ClusterSessions {
  let c = runs.get(env.runId);
  if (!c) {
    if (runs.size > 16) runs.delete(runs.keys().next().value!);
    c = new ClusterSessions(env);
    runs.set(env.runId, c);
  }
  return c;
}
export type { ClusterSessions };
