/**
 * The invariants of a chaos run, checked from the simulator's own record (its calls
 * and events, chaos/run-one.mjs collects them), never from what the CLI says about
 * itself. Each violation is {invariant, node?, detail}; an `exposure` is a finding
 * that the contract does not forbid (a replica that went down elsewhere after the
 * node's precheck), counted apart; a `finding` is a contract deviation that leaves the
 * cluster safe (a signal that killed the CLI instead of reaching its handler).
 */

import { URLSearchParams } from 'node:url';
import { signalWhen } from './plan.mjs';

/** How late a heartbeat-borne event (replay_done) may be recorded after the fact. */
const HEARTBEAT_SLACK_MS = 250;

const isChaos = (c) => c.path.includes('by=chaos');

/**
 * @param {object} r
 * @returns {Array<{invariant: string, node?: string, detail: string, exposure?: boolean, finding?: boolean}>}
 */
export function checkRun(r) {
  const { plan, placement, calls, events, stats, nodes, lease, journal, outcome, last } = r;
  const out = [];
  const ids = nodes.map((n) => n.id);
  const ev = (name, node) => events.filter((e) => e.event === name && (node === undefined || e.node === node)).sort((a, b) => a.t - b.t);
  const restarts = ev('restart');

  // Drain flag and LB admin state of a node over time.
  const drainChanges = (node) =>
    calls
      .filter((c) => c.system === 'node' && c.node === node && c.path.split('?')[0] === '/v1/drain' && (c.method === 'PUT' || c.method === 'DELETE') && c.status < 300)
      .map((c) => ({ t: c.t, on: c.method === 'PUT' }))
      .sort((a, b) => a.t - b.t);
  const drainAt = (node, t) => drainChanges(node).filter((c) => c.t < t).at(-1)?.on ?? false;
  /** The CLI's reads of a member's state: the http LB's GET of the member, HAProxy's `show servers state` (every member). */
  const lbReads = (node) =>
    calls
      .filter((c) => c.system === 'lb' && c.method === 'GET' && !isChaos(c) && c.status < 300 && (c.node === node || c.node === '*'))
      .sort((a, b) => a.t - b.t);
  const lbAt = (node, t) => ev('lb_admin_state', node).filter((e) => e.t < t).at(-1)?.admin_state ?? 'enabled';

  /** [from, to) during which the roll had the node unavailable (restart → replay done). */
  const rollDown = (node) =>
    ev('restart', node).map((e) => {
      const done = ev('replay_done', node).find((x) => x.t > e.t);
      return { from: e.t, to: done ? done.t : Infinity };
    });
  const replicaDown = r.applied.filter((a) => a.kind === 'replica_down').map((a) => ({ node: a.node, from: a.t, applied: a.t_applied, to: a.cleared ?? Infinity }));

  for (const e of restarts) {
    const n = e.node;
    // Invariant 5 (and 4): the restart only with the LB member out of service and the drain flag set.
    const lb = lbAt(n, e.t);
    if (lb === 'enabled') {
      // Put back in service by the chaos driver after the CLI's last read of the LB (the
      // re-assertion just before the command): the CLI could not have seen it. A race no read
      // closes (the command's own start-up is in the window): an exposure, not the roll's fault.
      const lastRead = lbReads(n).filter((c) => (c.t_end ?? c.t) < e.t).at(-1);
      const chaosEnable = calls
        .filter((c) => c.system === 'lb' && c.method === 'PUT' && isChaos(c) && c.node === n && c.body?.admin_state === 'enabled' && c.status < 300 && c.t < e.t)
        .at(-1);
      // An exposure only when that last read was the re-assertion (in the restart step, whose start
      // the journal gives) and was received before the enable had been answered (taken effect).
      const stepStart = Date.parse(journal?.nodes?.[n]?.steps?.restart?.started_at ?? '');
      const unseen = Boolean(chaosEnable && lastRead && Number.isFinite(stepStart) && lastRead.t >= stepStart && lastRead.t < (chaosEnable.t_end ?? chaosEnable.t));
      out.push({
        invariant: 'no restart while the LB member is in service',
        node: n,
        ...(unseen ? { exposure: true } : {}),
        detail: `${n} restarted at +${Math.round(e.t - r.t0)} ms with its LB member enabled${
          unseen ? ` (re-enabled by the chaos driver at +${Math.round(chaosEnable.t - r.t0)} ms, after the CLI's last LB read${lastRead ? ` at +${Math.round(lastRead.t - r.t0)} ms` : ''})` : ''
        }`,
      });
    }
    if (!drainAt(n, e.t)) out.push({ invariant: 'no restart while the drain flag is clear', node: n, detail: `${n} restarted at +${Math.round(e.t - r.t0)} ms with its drain flag clear` });

    // Quorum: no PRG below a healthy quorum because of the roll. A replica down elsewhere counts
    // against the roll when the CLI could have seen it: it began before the node's drain, or
    // before the CLI's last read of the node's PRGs before the restart (the re-assertion) —
    // received after the fault was applied. One that began after both is an exposure.
    const drainStart = drainChanges(n).filter((c) => c.on && c.t < e.t).at(-1)?.t ?? e.t;
    const lastPrgRead = calls
      .filter((c) => c.system === 'cp' && c.method === 'GET' && c.status === 200 && c.path.startsWith('/v1/prgs?') && new URLSearchParams(c.path.split('?')[1]).get('node') === n && (c.t_end ?? c.t) < e.t)
      .sort((a, b) => a.t - b.t)
      .at(-1);
    const seenBy = (fault) => fault.from < drainStart || (lastPrgRead !== undefined && lastPrgRead.t >= (fault.applied ?? fault.from));
    for (const p of placement) {
      if (!p.nodes.includes(n)) continue;
      const quorum = Math.floor(p.nodes.length / 2) + 1;
      let unavailable = 1;
      const why = [];
      let exposureOnly = true;
      for (const m of p.nodes) {
        if (m === n) continue;
        const byRoll = rollDown(m).some((w) => w.from <= e.t && e.t < w.to);
        const byFault = replicaDown.find((w) => w.node === m && w.from <= e.t && e.t < w.to);
        if (byRoll) {
          unavailable++;
          exposureOnly = false;
          why.push(`${m} restarted by the roll and not yet replayed`);
        } else if (byFault) {
          unavailable++;
          if (seenBy(byFault)) exposureOnly = false;
          why.push(
            `${m} down (fault since +${Math.round(byFault.from - r.t0)} ms${byFault.from < drainStart ? ', before the node was drained' : seenBy(byFault) ? ", before the CLI's last read of the node's PRGs" : ", after the node was drained and after the CLI's last read of its PRGs"})`,
          );
        }
      }
      if (p.nodes.length - unavailable < quorum) {
        out.push({
          invariant: 'no PRG below a healthy quorum because of the roll',
          node: n,
          exposure: exposureOnly,
          detail: `${p.id}: ${n} restarted at +${Math.round(e.t - r.t0)} ms while ${why.join(', ')}`,
        });
        break; // one PRG per restart is enough to tell
      }
    }
  }
  if ((stats.maxUnavailablePerPrg ?? 0) > 1) {
    out.push({ invariant: 'no PRG below a healthy quorum because of the roll', detail: `the simulator counted ${stats.maxUnavailablePerPrg} replicas of one PRG down or replaying at once` });
  }

  // Readmit only once ready: drain cleared, then the LB member enabled, by the CLI (not the chaos driver).
  for (const n of ids) {
    const ups = ev('process_up', n);
    const readyAt = (t) => {
      const restartedBefore = ev('restart', n).some((x) => x.t < t);
      if (!restartedBefore) return true;
      const up = ups.filter((u) => u.t < t).at(-1);
      return ev('replay_done', n).some((d) => (!up || d.t > up.t) && d.t <= t + HEARTBEAT_SLACK_MS);
    };
    for (const c of drainChanges(n).filter((x) => !x.on)) {
      if (!readyAt(c.t)) out.push({ invariant: 'no readmit before ready', node: n, detail: `${n}: drain flag cleared at +${Math.round(c.t - r.t0)} ms before its replay was done` });
    }
    const enables = calls.filter((c) => c.system === 'lb' && c.method === 'PUT' && !isChaos(c) && c.path.includes(`/members/${n}/`) && c.body?.admin_state === 'enabled' && c.status < 300);
    for (const c of enables) {
      if (!readyAt(c.t)) out.push({ invariant: 'no readmit before ready', node: n, detail: `${n}: LB member enabled at +${Math.round(c.t - r.t0)} ms before its replay was done` });
      if (drainAt(n, c.t)) out.push({ invariant: 'no readmit before ready', node: n, detail: `${n}: LB member enabled at +${Math.round(c.t - r.t0)} ms while its drain flag was still set` });
    }
  }

  // Each node restarted at most once per run; exactly once (the targets) when the run says done.
  const targets = plan.target === 'all' ? ids : [plan.target];
  for (const n of ids) {
    const k = restarts.filter((e) => e.node === n).length;
    if (k > 1) out.push({ invariant: 'every node restarted at most once per run', node: n, detail: `${n} restarted ${k} times` });
    if (outcome === 'done') {
      const want = targets.includes(n) ? 1 : 0;
      if (k !== want) out.push({ invariant: 'exactly once when the run says done', node: n, detail: `the run said done; ${n} restarted ${k} time(s), expected ${want}` });
    }
  }
  if (outcome === 'done' && journal?.status !== 'done') out.push({ invariant: 'exactly once when the run says done', detail: `exit 0 but the journal says ${journal?.status}` });

  // Nothing left drained or out of the LB unless the run said so and named it.
  // Named by the outcome: its error, or the node's own entry (a parallel wave can fail on two nodes).
  const named = (id) => {
    const e = last?.json?.error;
    if (e && (e.node === id || String(e.message ?? '').includes(id))) return true;
    const n = last?.json?.nodes?.[id];
    return n?.status === 'failed' && String(n.error ?? '').includes(id);
  };
  for (const n of nodes) {
    const left = [n.draining ? 'drained' : null, n.adminState !== 'enabled' ? `LB ${n.adminState}` : null].filter(Boolean);
    if (!left.length) continue;
    if (outcome === 'done' || !named(n.id)) {
      out.push({ invariant: 'nothing left drained or out unless said and named', node: n.id, detail: `${n.id} left ${left.join(', ')}; the run ${outcome === 'done' ? 'said done' : `ended "${outcome}" without naming it`}` });
    }
  }

  // SIGINT/SIGTERM once the CLI has written its journal: its handler stops it (exit 130), the signal never kills it.
  (r.invocations ?? []).forEach((inv, k) => {
    const sig = plan.signals?.[k];
    if (!sig || sig.early || !inv.sent || inv.sent === 'SIGKILL' || inv.killedBy !== inv.sent) return;
    out.push({
      invariant: 'SIGINT/SIGTERM handled once the journal exists',
      finding: true,
      detail: `${inv.args?.[0] ?? 'cli'} (invocation ${k + 1}) was killed by ${inv.sent} ${signalWhen(sig)}: no handler, no JSON outcome`,
    });
  });

  if (r.load !== undefined) out.push(...checkClients(r));

  if (lease.status !== 404) out.push({ invariant: 'no lease left held', detail: `the rolling-restart lease is still held by ${lease.body?.holder} (${lease.status})` });
  if (outcome.startsWith('unexpected') || outcome === 'unfinished') {
    out.push({ invariant: 'the run ends done or failed safely', detail: `${outcome}: ${String(last?.json?.error?.message ?? last?.stderr?.slice(-400) ?? '').slice(0, 400)}` });
  }
  return out;
}

/**
 * Drain windows of a node from its own record: from the answer of a successful `PUT
 * /v1/drain` (the flag is set before the node answers) to the receipt of the next `DELETE
 * /v1/drain`; open at the end when it stays drained. The flag survives restarts.
 */
export function drainWindowsOf(calls) {
  const byNode = new Map();
  for (const c of calls) {
    if (c.system !== 'node' || !c.node || c.path.split('?')[0] !== '/v1/drain') continue;
    if (!((c.method === 'PUT' && c.status === 200) || c.method === 'DELETE')) continue;
    if (!byNode.has(c.node)) byNode.set(c.node, []);
    byNode.get(c.node).push(c);
  }
  const out = [];
  for (const [node, list] of byNode) {
    list.sort((a, b) => a.t - b.t);
    let from = null;
    for (const c of list) {
      if (c.method === 'PUT') from ??= c.t_end ?? c.t;
      else if (from !== null) {
        if (c.t > from) out.push({ node, from, to: c.t });
        from = null;
      }
    }
    if (from !== null) out.push({ node, from, to: Infinity });
  }
  return out;
}

/**
 * The MQTT campaign's client invariants, from `sim load`'s report (the clients' own record)
 * and the brokers' CONNECT traces in the simulator's events — never from the CLI:
 * nothing PUBACKed lost; no client stranded (every client connected at the end, no
 * session lost on a reconnect); no CONNECT accepted by a node while it was drained.
 */
function checkClients(r) {
  const out = [];
  const load = r.load;
  if (!load) {
    out.push({ invariant: 'the client load ran to its report', detail: `sim load gave no report (exit ${r.loadExit?.code}): ${String(r.loadExit?.stderr ?? '').slice(-400)}` });
  } else {
    if (!(load.messages.published > 0) || !(load.messages.acked > 0)) {
      out.push({ invariant: 'the client load ran to its report', detail: `${load.messages.published} published, ${load.messages.acked} PUBACKed: no load ran` });
    }
    if (load.messages.lost > 0) {
      const e = load.lost_samples?.slice(0, 5).map((x) => `${x.sender}#${x.seq}`).join(', ');
      out.push({ invariant: 'no PUBACKed message lost', detail: `${load.messages.lost} of ${load.messages.acked} PUBACKed messages never delivered${e ? ` (e.g. ${e})` : ''}` });
    }
    const stranded = load.clients.not_connected ?? [];
    if (stranded.length > 0) {
      out.push({ invariant: 'no client stranded', detail: `${stranded.length} of ${load.clients.total} clients not connected at the end (e.g. ${stranded.slice(0, 3).join(', ')})` });
    }
    if (load.sessions_lost > 0) {
      out.push({ invariant: 'no client stranded', detail: `${load.sessions_lost} reconnect(s) found their persistent session gone (CONNACK session present 0)` });
    }
    const d = load.draining_accepts;
    if (!d) out.push({ invariant: 'no CONNECT accepted while draining', detail: 'the load report has no drain check (no drain record to check against)' });
    else if (d.accepted_while_draining > 0) {
      const e = d.samples?.slice(0, 3).map((x) => `${x.client} by ${x.node}`).join(', ');
      out.push({ invariant: 'no CONNECT accepted while draining', detail: `the clients saw ${d.accepted_while_draining} of ${d.checked} identified CONNACKs sent and answered inside a drain of the accepting node${e ? ` (${e})` : ''}` });
    }
  }
  // The brokers' own record: a CONNECT that arrived after a node's drain was set and got its
  // CONNACK before the drain was cleared (the same rule as the clients' check, every protocol).
  const windows = drainWindowsOf(r.calls);
  const inside = [];
  for (const e of r.events) {
    if (e.event !== 'connect' || e.outcome !== 'connack' || !e.node) continue;
    const answered = e.t + (e.ms ?? 0);
    if (windows.some((w) => w.node === e.node && e.t >= w.from && answered <= w.to)) inside.push(e);
  }
  if (inside.length) {
    const e = inside.slice(0, 3).map((x) => `${x.client} by ${x.node} at +${Math.round(x.t - r.t0)} ms`).join(', ');
    out.push({ invariant: 'no CONNECT accepted while draining', node: inside[0].node, detail: `the brokers' CONNECT traces show ${inside.length} CONNECT(s) accepted inside a drain of their node (${e})` });
  }
  return out;
}
