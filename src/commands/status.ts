/**
 * `status`: one view of the cluster, from the CP, every node's admin API, the LB and
 * the journal. Read only. This file gathers (the reads); cluster/diagnose.ts says what
 * needs a person's attention; render/status.ts draws it.
 */
import { lbTargetOf } from '../steps/context.js';
import { type PrgsPerNode, activeSessions, addPrgsPerNode, hardPlacementViolations } from '../cluster/verdicts.js';
import { type PlacementViolation, sortViolations } from '../cluster/placement.js';
import type { DrainStatus, LeaseInfo, NodeInfo, Readiness } from '../clients/schemas.js';
import type { MemberStatus } from '../adapters/lb/types.js';
import { targetOf } from '../cluster/targets.js';
import { type Failed, type StatusFacts, type StatusNode, holderOf, isFailed, isLeakedDrain, runOf, setByHolder, statusDocument } from '../cluster/diagnose.js';
import { READYZ_CONCURRENCY } from '../steps/readiness.js';
import { mapLimited } from '../util/limit.js';
import { Journal } from '../run/journal.js';
import { LEASE_NAME } from '../run/lease.js';
import { drawStatus } from '../render/status.js';
import { type GlobalOptions, type Session, openSession } from './session.js';
import { colorFor } from '../render/style.js';

type Maybe<T> = T | Failed;

/** The CP's other reads (its /readyz, the cluster state, the lease): answered within this, retries included. */
const STATUS_READS_MS = 10_000;
const settle = async <T>(p: Promise<T>): Promise<Maybe<T>> => p.catch((e: Error) => ({ error: e.message }));

export async function statusAction(opts: GlobalOptions): Promise<number> {
  const s = await openSession(opts);
  try {
    const doc = statusDocument(await gatherStatus(s));
    if (opts.json) process.stdout.write(`${JSON.stringify(doc)}\n`);
    else process.stdout.write(drawStatus(doc, { color: colorFor(process.stdout), now: Date.now() }));
    return 0;
  } finally {
    await s.close();
  }
}

/** Every read status makes, shaped per node. The CP reads must answer; a node's failed read is shown, not fatal. */
export async function gatherStatus(s: Session): Promise<StatusFacts> {
  const deadline = Date.now() + STATUS_READS_MS;
  // Its own 10 s each time: the second read (below) comes after the listing, however long that took.
  const readLease = () => settle(s.cp.lease(LEASE_NAME, { deadline: Date.now() + STATUS_READS_MS }).then((l): LeaseInfo | null => l ?? null));
  const statePromise = s.cp.clusterState({ deadline });
  // The PRGs are counted page by page (led and hosted per node, placement violations):
  // status holds one page at a time, not every PRG of the cluster. Each page has the
  // CP's request timeout from when it is asked for: a listing of 100,000 PRGs from a
  // slow (or loaded) CP goes on as long as it progresses, and fails when a page does.
  const perNode: PrgsPerNode = { led: new Map(), hosted: new Map() };
  const found: PlacementViolation[] = [];
  const pageTimeout = s.loaded.config.control_plane.request_timeout;
  const counted = s.cp.eachPrgPage({}, () => ({ deadline: Date.now() + pageTimeout }), async (items) => {
    addPrgsPerNode(perNode, items);
    const st = await statePromise;
    for (const v of hardPlacementViolations(items, st.nodes, st.placement.policy)) found.push(v);
  });
  const [cpReady, state, , firstLease] = await Promise.all([s.cp.readyz({ deadline }), statePromise, counted, readLease()]);
  let lease = firstLease;
  const { led, hosted } = perNode;
  const journal = Journal.read(s.stateDir);
  const holder = holderOf(lease);
  // Four reads per node, at most READYZ_CONCURRENCY nodes at a time (one pool per node: bound the sockets).
  const nodes = await mapLimited(state.nodes, READYZ_CONCURRENCY, async (n): Promise<StatusNode> => {
    const t = targetOf(s.loaded.config, n);
    const rt = s.runtimeFor(t);
    const ctl = { deadline: Date.now() + 3_000, retry: false };
    const [ready, drain, info, lb] = await Promise.all([
      settle<Readiness>(rt.readyz(ctl)),
      settle<DrainStatus>(rt.drainStatus(ctl)),
      settle<NodeInfo>(rt.node(ctl)),
      settle<MemberStatus>(s.lb.status(lbTargetOf(t), ctl)),
    ]);
    const r = isFailed(ready) ? undefined : ready;
    const i = isFailed(info) ? undefined : info;
    const drainView = isFailed(drain) ? drain : { draining: drain.draining, reason: drain.reason, since: drain.since, initiator: drain.initiator, run_id: runOf(drain.initiator) ?? null };
    return {
      id: n.id,
      state: n.state,
      rack: n.rack,
      zone: n.zone,
      admin_url: t.adminUrl,
      ready: r ? r.ready : null,
      reasons: r ? r.reasons : null,
      replay_progress: r ? r.replay.progress : null,
      sessions: r ? activeSessions(r) : null,
      drain: drainView,
      lb: isFailed(lb) ? { member: t.lbMember, ...lb } : { member: t.lbMember, admin_state: lb.adminState, health: lb.health, active_connections: lb.activeConnections ?? null },
      prgs_hosted: hosted.get(n.id) ?? 0,
      prgs_led: led.get(n.id)?.length ?? 0,
      boot_id: i ? i.boot_id : null,
      started_at: i ? i.started_at : null,
      version: i ? i.version : null,
      leaked_drain: isLeakedDrain(drainView, holder),
      ...(isFailed(ready) ? { error: ready.error } : {}),
    };
  });

  // The lease was read before the drains: a run that took it (and drained) in between
  // would look like a leaked drain. Read it again, after the drains, before saying so.
  if (nodes.some((n) => n.leaked_drain)) {
    lease = await readLease();
    const now = holderOf(lease);
    for (const n of nodes) if (n.leaked_drain && !isFailed(n.drain) && setByHolder(n.drain.initiator, now)) n.leaked_drain = false;
  }
  return {
    cpReady,
    state,
    violations: sortViolations(found),
    lease,
    nodes,
    journal: journal ? { file: journal.file, run_id: journal.data.run_id, status: journal.data.status, unfinished: journal.unfinished, error: journal.data.error } : undefined,
    minPrgsReadyRatio: s.loaded.config.checks.min_prgs_ready_ratio,
    now: Date.now(),
  };
}
