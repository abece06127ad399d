/**
 * `status`: one view of the cluster, from the CP, every node's admin API, the LB and
 * the journal. Read only. What needs a person's attention is listed under the table:
 * above all a leaked drain (a node drained with no run in progress), which keeps a
 * healthy node out of service until someone notices.
 */
import { lbTargetOf } from '../steps/context.js';
import { activeSessions } from '../cluster/verdicts.js';
import type { DrainStatus, LeaseInfo, NodeInfo, Readiness } from '../clients/schemas.js';
import type { MemberStatus } from '../adapters/lb/types.js';
import { targetOf } from '../cluster/targets.js';
import { prgReadyRatio } from '../cluster/verdicts.js';
import { READYZ_CONCURRENCY } from '../steps/readiness.js';
import { mapLimited } from '../util/limit.js';
import { Journal } from '../run/journal.js';
import { LEASE_NAME } from '../run/lease.js';
import { placementViolations } from '../cluster/placement.js';
import { table } from '../render/plan.js';
import { type GlobalOptions, openSession } from './session.js';

type Maybe<T> = T | { error: string };
const settle = async <T>(p: Promise<T>): Promise<Maybe<T>> => p.catch((e: Error) => ({ error: e.message }));
const ok = <T extends object>(v: Maybe<T>): v is T => !('error' in v);

export interface Attention {
  node?: string;
  kind: 'leaked_drain' | 'left_drained' | 'lb_out_not_drained' | 'lb_down' | 'not_ready' | 'unreachable' | 'node_state' | 'cp' | 'prgs' | 'placement' | 'journal';
  severity: 'warning' | 'info';
  message: string;
  next?: string;
}

/** `quantum-roll@host:pid/<run_id>` → run_id */
const runOf = (initiator: string | null): string | undefined => /\/([^/]+)$/.exec(initiator ?? '')?.[1];
/** A drain belongs to the running roll when the lease holder is the run that set it (same initiator or run id). */
const setByHolder = (initiator: string | null, holder: string | null): boolean =>
  holder !== null && (initiator === holder || runOf(initiator) === runOf(holder));

function ago(iso: string | null, now: number): string {
  if (!iso) return '?';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export async function statusAction(opts: GlobalOptions): Promise<number> {
  const s = await openSession(opts);
  try {
    const deadline = Date.now() + 10_000;
    const [state, prgs, leaseRead] = await Promise.all([
      s.cp.clusterState({ deadline }),
      s.cp.listPrgs({}, { deadline }),
      settle(s.cp.lease(LEASE_NAME, { deadline }).then((l) => l ?? null)),
    ]);
    let lease: LeaseInfo | null | { error: string } = leaseRead;
    const hosted = new Map<string, number>();
    const led = new Map<string, number>();
    for (const p of prgs) {
      if (p.leader) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
      for (const n of new Set(p.replicas.map((r) => r.node))) hosted.set(n, (hosted.get(n) ?? 0) + 1);
    }
    const journal = Journal.read(s.stateDir);
    let holder = lease !== null && ok(lease) ? lease.holder : null;
    const now = Date.now();
    // Four reads per node, at most READYZ_CONCURRENCY nodes at a time (one pool per node: bound the sockets).
    const nodes = await mapLimited(state.nodes, READYZ_CONCURRENCY, async (n) => {
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
      const byRunningRoll = drained && setByHolder(drain.initiator, holder);
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
        drain: ok(drain) ? { draining: drain.draining, reason: drain.reason, since: drain.since, initiator: drain.initiator, run_id: runOf(drain.initiator) ?? null } : drain,
        lb: ok(lb) ? { member: t.lbMember, admin_state: lb.adminState, health: lb.health, active_connections: lb.activeConnections ?? null } : { member: t.lbMember, ...lb },
        prgs_hosted: hosted.get(n.id) ?? 0,
        prgs_led: led.get(n.id) ?? 0,
        boot_id: ok(info) ? info.boot_id : null,
        started_at: ok(info) ? info.started_at : null,
        version: ok(info) ? info.version : null,
        leaked_drain: drained && !byRunningRoll,
        ...(ok(ready) ? {} : { error: ready.error }),
      };
    });

    // The lease was read before the drains: a run that took it (and drained) in between
    // would look like a leaked drain. Read it again, after the drains, before saying so.
    if (nodes.some((n) => n.leaked_drain)) {
      lease = await settle(s.cp.lease(LEASE_NAME, { deadline }).then((l) => l ?? null));
      holder = lease !== null && ok(lease) ? lease.holder : null;
      for (const n of nodes) {
        const d = n.drain as { initiator?: string | null };
        if (n.leaked_drain && setByHolder(d.initiator ?? null, holder)) n.leaked_drain = false;
      }
    }

    const attention: Attention[] = [];
    if (!state.cp.healthy || !state.cp.leader) {
      attention.push({ kind: 'cp', severity: 'warning', message: `the control plane is not healthy (leader ${state.cp.leader ?? 'none'}, term ${state.cp.term})`, next: 'no restart can pass its prechecks until it is' });
    }
    const ratio = prgReadyRatio(state);
    if (state.prgs.strict_fallback > 0 || ratio < s.loaded.config.checks.min_prgs_ready_ratio) {
      attention.push({
        kind: 'prgs',
        severity: 'warning',
        message: `${state.prgs.ready}/${state.prgs.total} PRGs ready, ${state.prgs.strict_fallback} in strict fallback (a restart needs ≥ ${s.loaded.config.checks.min_prgs_ready_ratio} and none)`,
      });
    }
    const violations = placementViolations(prgs, state.nodes, state.placement.policy).filter((v) => v.kind !== 'unknown_node');
    if (violations.length || state.placement.violations) {
      attention.push({
        kind: 'placement',
        severity: 'warning',
        message: `${Math.max(violations.length, state.placement.violations)} placement violation(s) under ${state.placement.policy}${violations.length ? `: ${violations.slice(0, 3).map((v) => `${v.prg} (${v.nodes.join(', ')})`).join(', ')}${violations.length > 3 ? ', …' : ''}` : ''}`,
        next: 'quantum-roll placement check',
      });
    }
    const unfinished = journal?.unfinished === true ? journal : undefined;
    for (const n of nodes) {
      const d = 'draining' in n.drain ? n.drain : undefined;
      if (!('draining' in n.drain)) {
        attention.push({ node: n.id, kind: 'unreachable', severity: 'warning', message: `${n.id}: admin API unreachable (${n.drain.error})` });
        continue;
      }
      if (n.leaked_drain && d) {
        const fromRun = unfinished && d.run_id === unfinished.data.run_id;
        const who = `reason ${d.reason ?? '?'}, since ${d.since ?? '?'} (${ago(d.since, now)}), by ${d.initiator ?? '?'}`;
        if (fromRun) {
          attention.push({
            node: n.id,
            kind: 'left_drained',
            severity: 'warning',
            message: `${n.id} was left drained by run ${unfinished.data.run_id}, which ${unfinished.data.status === 'running' ? 'stopped without finishing' : `${unfinished.data.status}`} (${who})`,
            next: 'quantum-roll resume',
          });
        } else {
          attention.push({
            node: n.id,
            kind: 'leaked_drain',
            severity: 'warning',
            message: `${n.id} is drained with no run in progress: a leaked drain (${who})`,
            next: n.ready === false && n.reasons?.some((r) => r !== 'draining') ? `investigate ${n.id} (not ready: ${n.reasons.join(', ')}), then quantum-roll undrain ${n.id}` : `quantum-roll undrain ${n.id}`,
          });
        }
      }
      const lbState = 'admin_state' in n.lb ? n.lb : undefined;
      if (lbState && !d?.draining && lbState.admin_state !== 'enabled') {
        attention.push({ node: n.id, kind: 'lb_out_not_drained', severity: 'warning', message: `${n.id}: LB member ${lbState.member} is ${lbState.admin_state} but the node is not drained`, next: `quantum-roll undrain ${n.id} (puts the member back once the node is ready)` });
      } else if (lbState && lbState.admin_state === 'enabled' && lbState.health !== 'up') {
        attention.push({ node: n.id, kind: 'lb_down', severity: 'warning', message: `${n.id}: LB member ${lbState.member} is enabled but its health check says ${lbState.health}` });
      }
      const extra = (n.reasons ?? []).filter((r) => r !== 'draining');
      if (n.ready === false && extra.length && !d?.draining) {
        attention.push({ node: n.id, kind: 'not_ready', severity: 'info', message: `${n.id} is not ready: ${extra.join(', ')}${n.replay_progress !== null && n.replay_progress < 1 ? ` (replay ${(n.replay_progress * 100).toFixed(0)} %)` : ''}` });
      }
      if (n.state === 'down' || n.state === 'unknown') attention.push({ node: n.id, kind: 'node_state', severity: 'warning', message: `the CP reports ${n.id} as ${n.state}` });
    }
    if (unfinished) {
      attention.push({
        kind: 'journal',
        severity: 'info',
        message: `unfinished run ${unfinished.data.run_id} (${unfinished.data.status}${unfinished.data.error ? `: ${unfinished.data.error.split('\n')[0]}` : ''})`,
        next: 'quantum-roll resume',
      });
    }

    const doc = {
      ok: true,
      exit_code: 0,
      cp: state.cp,
      routing_epoch: state.routing_epoch,
      prgs: { ...state.prgs, ready_ratio: ratio },
      placement: { ...state.placement, found: violations.length },
      lease,
      run_in_progress: holder !== null && holder.startsWith('quantum-roll@') ? { holder, run_id: runOf(holder) ?? null } : null,
      nodes,
      leaked_drains: nodes.filter((n) => n.leaked_drain).map((n) => n.id),
      attention,
      journal: journal
        ? { file: journal.file, run_id: journal.data.run_id, status: journal.data.status, unfinished: journal.unfinished, ...(journal.unfinished ? { hint: 'quantum-roll resume' } : {}) }
        : null,
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(doc)}\n`);
      return 0;
    }

    const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
    const paint = (code: string) => (t: string) => (color ? `\x1b[${code}m${t}\x1b[0m` : t);
    const [bold, dim, red, yellow, green] = [paint('1'), paint('2'), paint('31'), paint('33'), paint('32')];
    const out: string[] = [];
    const sick = state.cp.members.filter((m) => !m.healthy).map((m) => m.id);
    out.push(
      `${bold('control plane')}  leader ${state.cp.leader ?? red('NONE')}, term ${state.cp.term}, ${state.cp.healthy ? green('healthy') : red('UNHEALTHY')}${sick.length ? ` (unhealthy: ${sick.join(', ')})` : ''}; routing epoch ${state.routing_epoch}`,
    );
    out.push(
      `${bold('PRGs')}           ${state.prgs.ready}/${state.prgs.total} ready (${(ratio * 100).toFixed(2)} %), ${state.prgs.strict_fallback} in strict fallback; placement ${state.placement.policy}, ${state.placement.violations ? yellow(`${state.placement.violations} violation(s)`) : '0 violations'}`,
    );
    out.push(
      `${bold('lease')}          ${LEASE_NAME}: ${lease === null ? 'free' : ok(lease) ? `held by ${lease.holder} until ${lease.expires_at}` : `unknown (${lease.error})`}`,
    );
    out.push('');
    const header = ['NODE', 'STATE', 'RACK', 'READY', 'REASONS', 'DRAIN', 'LB', 'SESSIONS', 'PRGS', 'LED', 'STARTED'];
    const rows = nodes.map((n) => {
      const drain = 'draining' in n.drain ? (n.drain.draining ? (n.leaked_drain ? 'LEAKED' : `yes ${ago(n.drain.since, now).replace(' ago', '')}`) : 'no') : '?';
      const reasons = n.reasons?.length ? n.reasons.map((r) => (r === 'prgs_replaying' && n.replay_progress !== null ? `replaying ${(n.replay_progress * 100).toFixed(0)}%` : r)).join(',') : '-';
      return [
        n.id,
        n.state,
        n.rack,
        n.ready === null ? '?' : n.ready ? 'yes' : 'no',
        reasons,
        drain,
        'admin_state' in n.lb ? `${n.lb.admin_state}/${n.lb.health}` : '?',
        n.sessions === null ? '?' : String(n.sessions),
        String(n.prgs_hosted),
        String(n.prgs_led),
        n.started_at ? ago(n.started_at, now) : '?',
      ];
    });
    const lines = table(header, rows);
    out.push(dim(lines[0] ?? ''));
    nodes.forEach((n, i) => {
      const line = lines[i + 1] ?? '';
      const bad = n.leaked_drain || n.ready === false || n.state !== 'up' || ('health' in n.lb && n.lb.health !== 'up');
      out.push(n.leaked_drain ? red(line) : bad ? yellow(line) : line);
    });
    if (attention.length) {
      out.push('');
      out.push(bold(`needs attention (${attention.length})`));
      for (const a of attention) {
        out.push(`  ${a.severity === 'warning' ? yellow('!') : dim('·')} ${a.kind === 'leaked_drain' ? red(a.message) : a.message}`);
        if (a.next) out.push(dim(`      next: ${a.next}`));
      }
    } else {
      out.push('');
      out.push(green('nothing needs attention'));
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    await s.close();
  }
}
