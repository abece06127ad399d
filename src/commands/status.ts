/** `status`: one view of the cluster, from the CP, every node's admin API, the LB and the journal. */
import { lbTargetOf } from '../context.js';
import { activeSessions } from '../clients/runtime.js';
import type { DrainStatus, NodeInfo, Readiness } from '../clients/schemas.js';
import type { MemberStatus } from '../adapters/lb/types.js';
import { prgReadyRatio, targetOf } from '../cluster.js';
import { Journal } from '../journal.js';
import { LEASE_NAME } from '../lease.js';
import { type GlobalOptions, openSession } from './session.js';

type Maybe<T> = T | { error: string };
const settle = async <T>(p: Promise<T>): Promise<Maybe<T>> => p.catch((e: Error) => ({ error: e.message }));
const ok = <T extends object>(v: Maybe<T>): v is T => !('error' in v);

export async function statusAction(opts: GlobalOptions): Promise<number> {
  const s = await openSession(opts);
  try {
    const deadline = Date.now() + 10_000;
    const [state, prgs, lease] = await Promise.all([s.cp.clusterState({ deadline }), s.cp.listPrgs({}, { deadline }), settle(s.cp.lease(LEASE_NAME, { deadline }))]);
    const hosted = new Map<string, number>();
    const led = new Map<string, number>();
    for (const p of prgs) {
      if (p.leader) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
      for (const r of p.replicas) hosted.set(r.node, (hosted.get(r.node) ?? 0) + 1);
    }
    const journal = Journal.read(s.stateDir);
    const running = journal?.unfinished === true && lease && ok(lease) && lease !== undefined;
    const nodes = await Promise.all(
      state.nodes.map(async (n) => {
        const t = targetOf(s.loaded.config, n);
        const rt = s.runtimeFor(t);
        const ctl = { deadline: Date.now() + 3_000, retry: false };
        const [ready, drain, info, lb] = await Promise.all([
          settle<Readiness>(rt.readyz(ctl)),
          settle<DrainStatus>(rt.drainStatus(ctl)),
          settle<NodeInfo>(rt.node(ctl)),
          settle<MemberStatus>(s.lb.status(lbTargetOf(t), ctl)),
        ]);
        const drained = ok(drain) && drain.draining;
        return {
          id: n.id,
          state: n.state,
          rack: n.rack,
          zone: n.zone,
          admin_url: t.adminUrl,
          ready: ok(ready) ? ready.ready : null,
          reasons: ok(ready) ? ready.reasons : null,
          replay_progress: ok(ready) ? ready.replay.progress : null,
          sessions: ok(ready) ? activeSessions(ready) : null,
          drain: ok(drain) ? { draining: drain.draining, reason: drain.reason, since: drain.since, initiator: drain.initiator } : drain,
          lb: ok(lb) ? { member: t.lbMember, admin_state: lb.adminState, health: lb.health, active_connections: lb.activeConnections ?? null } : { member: t.lbMember, ...lb },
          prgs_hosted: hosted.get(n.id) ?? 0,
          prgs_led: led.get(n.id) ?? 0,
          boot_id: ok(info) ? info.boot_id : null,
          started_at: ok(info) ? info.started_at : null,
          version: ok(info) ? info.version : null,
          leaked_drain: drained && !running,
          ...(ok(ready) ? {} : { error: ready.error }),
        };
      }),
    );
    const doc = {
      ok: true,
      exit_code: 0,
      cp: state.cp,
      routing_epoch: state.routing_epoch,
      prgs: { ...state.prgs, ready_ratio: prgReadyRatio(state) },
      placement: state.placement,
      lease: lease === undefined ? null : lease,
      nodes,
      journal: journal
        ? { file: journal.file, run_id: journal.data.run_id, status: journal.data.status, unfinished: journal.unfinished, ...(journal.unfinished ? { hint: 'quantum-roll resume' } : {}) }
        : null,
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(doc)}\n`);
      return 0;
    }
    const out: string[] = [];
    const sick = state.cp.members.filter((m) => !m.healthy).map((m) => m.id);
    out.push(`control plane: leader ${state.cp.leader ?? 'NONE'}, term ${state.cp.term}, ${state.cp.healthy ? 'healthy' : 'UNHEALTHY'}${sick.length ? ` (unhealthy: ${sick.join(', ')})` : ''}; routing epoch ${state.routing_epoch}`);
    out.push(`PRGs: ${state.prgs.ready}/${state.prgs.total} ready (${(doc.prgs.ready_ratio * 100).toFixed(2)} %), ${state.prgs.strict_fallback} in strict fallback; placement ${state.placement.policy}, ${state.placement.violations} violation(s)`);
    out.push(`lease ${LEASE_NAME}: ${lease === undefined ? 'free' : ok(lease) ? `held by ${lease.holder} until ${lease.expires_at}` : `unknown (${lease.error})`}`);
    out.push('');
    const header = ['NODE', 'STATE', 'RACK', 'READY', 'REASONS', 'DRAIN', 'LB', 'SESSIONS', 'PRGS', 'LED', 'STARTED'];
    const rows = nodes.map((n) => [
      n.id,
      n.state,
      n.rack,
      n.ready === null ? '?' : n.ready ? 'yes' : 'no',
      n.reasons?.join(',') || '-',
      'draining' in n.drain ? (n.drain.draining ? `yes${n.leaked_drain ? ' (LEAKED?)' : ''}` : 'no') : '?',
      'admin_state' in n.lb ? `${n.lb.admin_state}/${n.lb.health}` : '?',
      n.sessions === null ? '?' : String(n.sessions),
      String(n.prgs_hosted),
      String(n.prgs_led),
      n.started_at ?? '?',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
    out.push(fmt(header), ...rows.map(fmt));
    for (const n of nodes.filter((x) => x.leaked_drain)) {
      const d = n.drain as { reason: string | null; since: string | null; initiator: string | null };
      out.push(`\nwarning: ${n.id} is drained with no run in progress (reason ${d.reason}, since ${d.since}, by ${d.initiator}); if it is ready: quantum-roll undrain ${n.id}`);
    }
    if (journal?.unfinished) out.push(`\nunfinished run ${journal.data.run_id} (${journal.data.status}); continue it with: quantum-roll resume`);
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    await s.close();
  }
}
