/**
 * The text of `status`: the CP, PRG and lease lines, one table row per node, then what
 * needs attention. Draws the document `status --json` prints; decides nothing (the
 * verdicts are cluster/diagnose.ts's: the CP is UNHEALTHY when its rule fired).
 */
import { type StatusDocument, ago, isFailed } from '../cluster/diagnose.js';
import { LEASE_NAME } from '../run/lease.js';
import { painter } from './style.js';
import { table } from './table.js';

export function drawStatus(doc: StatusDocument, opts: { color: boolean; now: number }): string {
  const { bold, dim, red, yellow, green } = painter(opts.color);
  const { cp, prgs, placement, lease, nodes, attention } = doc;
  const now = opts.now;
  const healthy = !attention.some((a) => a.kind === 'cp');
  const sick = cp.members.filter((m) => !m.healthy).map((m) => m.id);
  const out: string[] = [];
  out.push(
    `${bold('control plane')}  leader ${cp.leader ?? red('NONE')}, term ${cp.term}, ${healthy ? green('healthy') : red('UNHEALTHY')}${sick.length ? ` (unhealthy: ${sick.join(', ')})` : ''}; routing epoch ${doc.routing_epoch}`,
  );
  out.push(
    `${bold('PRGs')}           ${prgs.ready}/${prgs.total} ready (${(prgs.ready_ratio * 100).toFixed(2)} %), ${prgs.strict_fallback} in strict fallback; placement ${placement.policy}, ${placement.violations ? yellow(`${placement.violations} violation(s)`) : '0 violations'}`,
  );
  out.push(
    `${bold('lease')}          ${LEASE_NAME}: ${lease === null ? 'free' : isFailed(lease) ? `unknown (${lease.error})` : `held by ${lease.holder} until ${lease.expires_at}`}`,
  );
  out.push('');
  const header = ['NODE', 'STATE', 'RACK', 'READY', 'REASONS', 'DRAIN', 'LB', 'SESSIONS', 'PRGS', 'LED', 'STARTED'];
  const rows = nodes.map((n) => {
    const drain = isFailed(n.drain) ? '?' : n.drain.draining ? (n.leaked_drain ? 'LEAKED' : `yes ${ago(n.drain.since, now).replace(' ago', '')}`) : 'no';
    const reasons = n.reasons?.length ? n.reasons.map((r) => (r === 'prgs_replaying' && n.replay_progress !== null ? `replaying ${(n.replay_progress * 100).toFixed(0)}%` : r)).join(',') : '-';
    return [
      n.id,
      n.state,
      n.rack,
      n.ready === null ? '?' : n.ready ? 'yes' : 'no',
      reasons,
      drain,
      isFailed(n.lb) ? '?' : `${n.lb.admin_state}/${n.lb.health}`,
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
    const bad = n.leaked_drain || n.ready === false || n.state !== 'up' || (!isFailed(n.lb) && n.lb.health !== 'up');
    out.push(n.leaked_drain ? red(line) : bad ? yellow(line) : line);
  });
  out.push('');
  if (attention.length) {
    out.push(bold(`needs attention (${attention.length})`));
    for (const a of attention) {
      out.push(`  ${a.severity === 'warning' ? yellow('!') : dim('·')} ${a.kind === 'leaked_drain' ? red(a.message) : a.message}`);
      if (a.next) out.push(dim(`      next: ${a.next}`));
    }
  } else {
    out.push(green('nothing needs attention'));
  }
  return `${out.join('\n')}\n`;
}
